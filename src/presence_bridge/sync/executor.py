"""Carrying out a plan: chat writes into the outbox, Nextcloud writes with the user's app password.

:class:`PlanExecutor` is shared by the sweeping worker and the chat gateway.  It
holds the lock that serialises planning in one process, matches the planner's
per-user state with the user's current links, and saves new states together with
the outbox rows they plan.  With ``[linking] matrix_user_template`` set and Matrix
served, a Nextcloud user without an explicit Matrix link also gets an implicit
Matrix target (see :mod:`presence_bridge.linking.mapping_rule`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from presence_bridge.core.ids import ChatIdentity, NextcloudUserId, Platform
from presence_bridge.core.sync_state import (
    ChatLink,
    Direction,
    Plan,
    PlannedWrite,
    StatePart,
    Target,
    TargetState,
    UserSyncState,
    WriteAction,
)
from presence_bridge.errors import LinkingError, NextcloudError
from presence_bridge.linking.mapping_rule import MirrorTarget, implicit_matrix_identity, implicit_targets
from presence_bridge.linking.matrix_template import MatrixUserRule
from presence_bridge.nextcloud import NextcloudClient
from presence_bridge.storage import NEXTCLOUD_PLATFORM, Link, Store
from presence_bridge.storage.planner_state import CommitResult, OutboxRow
from presence_bridge.sync.metrics import EngineMetrics
from presence_bridge.sync.platform import ChatWrite, idempotency_key
from presence_bridge.sync.settings import EngineSettings
from presence_bridge.sync.state_store import LoadedState, PlannerStateStore

logger = logging.getLogger(__name__)

T = TypeVar("T")

ChatTarget = Link | MirrorTarget
"""A chat identity a Nextcloud user is mirrored to: a stored link, or an implicit Matrix target.

An implicit target comes from ``[linking] matrix_user_template``.  It has no
credentials and mirrors Nextcloud -> Matrix only.
"""


class UserClientPool(Protocol):
    """Per-user Nextcloud clients (:class:`presence_bridge.linking.user_clients.UserClients`).

    ``call`` raises a :class:`~presence_bridge.errors.LinkingError` when the user
    has no usable app password, and marks the link unhealthy on a 401.
    """

    async def call(
        self, who: ChatIdentity | str, operation: Callable[[NextcloudClient], Awaitable[T]]
    ) -> T: ...


@dataclass(frozen=True, slots=True)
class Prepared:
    """The states to plan from (matched with the links) and what was stored before."""

    states: dict[NextcloudUserId, UserSyncState]
    loaded: dict[NextcloudUserId, LoadedState]
    links: dict[NextcloudUserId, list[ChatTarget]]


def match_links(
    state: UserSyncState | None, user: NextcloudUserId, links: Sequence[ChatTarget], platforms: Collection[Platform]
) -> UserSyncState:
    """Return ``state`` (or a new one) with one planner link per platform the user is linked on.

    A link whose platform this process does not serve is left out.
    NOTE: the planner keeps one state per platform, so a user linked in two
    workspaces of one platform gets the same writes in both, and the second link
    gets its first write only on the next change.
    """
    state = state or UserSyncState(user)
    matched: dict[Platform, ChatLink] = {}
    for link in links:
        platform = link.identity.platform
        if platform not in platforms or platform in matched:
            continue
        existing = state.links.get(platform)
        target = existing.target if existing is not None else TargetState()
        matched[platform] = ChatLink(Direction(link.sync_direction.value), target)
    if matched != dict(state.links):
        state = replace(state, links=matched)
    return state


class PlanExecutor:
    """Loads, plans and saves under one lock per process; see the module docstring."""

    def __init__(
        self,
        store: Store,
        settings: EngineSettings,
        metrics: EngineMetrics,
        *,
        clock: Callable[[], float] = time.time,
        on_enqueued: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.states = PlannerStateStore(store)
        self.settings = settings
        self.metrics = metrics
        self.clock = clock
        self.lock = asyncio.Lock()
        self.on_enqueued = on_enqueued
        self.wake_listeners: list[Callable[[Mapping[NextcloudUserId, UserSyncState], float], None]] = []
        """Called after each commit with the states saved and the time; the engine learns due times from them."""

    @property
    def matrix_user_rule(self) -> MatrixUserRule | None:
        """The rule that makes implicit Matrix targets, or None when it is unset or Matrix is not served."""
        if Platform.MATRIX not in self.settings.platforms:
            return None
        return self.settings.matrix_user_rule

    async def linked_users(self, user_ids: Collection[str] | None = None) -> dict[NextcloudUserId, list[ChatTarget]]:
        """Return the mirror targets by Nextcloud user, on the platforms this process serves.

        Without ``user_ids``, every stored link is read in one query and no implicit
        target is added, because the users to apply the rule to are not known yet
        (a sweep adds them with :meth:`add_implicit_targets` after listing Nextcloud).
        With ``user_ids``, the implicit Matrix targets of those users are included.
        """
        if user_ids is None:
            found = await self.store.list_links()
        else:
            found = [link for uid in user_ids for link in await self.store.list_links(nextcloud_user_id=uid)]
        links: dict[NextcloudUserId, list[ChatTarget]] = {}
        for link in found:
            if link.identity.platform in self.settings.platforms:
                links.setdefault(link.nextcloud_user_id, []).append(link)
        rule = self.matrix_user_rule
        if user_ids is None or rule is None:
            return links
        # The Matrix id the rule makes may be linked explicitly to another Nextcloud user.
        deciding = list(found)
        for uid in user_ids:
            identity = implicit_matrix_identity(rule, uid)
            other = None if identity is None else await self.store.get_link(identity)
            if other is not None:
                deciding.append(other)
        _add_targets(links, implicit_targets(rule, deciding, user_ids))
        return links

    def add_implicit_targets(
        self, links: Mapping[NextcloudUserId, list[ChatTarget]], nextcloud_user_ids: Iterable[str]
    ) -> dict[NextcloudUserId, list[ChatTarget]]:
        """Return ``links`` plus the implicit Matrix targets of ``nextcloud_user_ids``, without reading the store.

        ``links`` must be what :meth:`linked_users` returned without ``user_ids``:
        it then contains every explicit Matrix link, which decides who gets no
        implicit target.
        """
        combined = {uid: list(targets) for uid, targets in links.items()}
        rule = self.matrix_user_rule
        if rule is not None:
            explicit = [target for targets in links.values() for target in targets if isinstance(target, Link)]
            _add_targets(combined, implicit_targets(rule, explicit, nextcloud_user_ids))
        return combined

    async def prepare(self, links: Mapping[NextcloudUserId, list[ChatTarget]]) -> Prepared:
        """Load the stored states of the linked users and match them with their links."""
        loaded = await self.states.load(list(links))
        states = {
            uid: match_links(loaded[uid].state if uid in loaded else None, uid, user_links, self.settings.platforms)
            for uid, user_links in links.items()
        }
        return Prepared(states, loaded, dict(links))

    async def commit(self, prepared: Prepared, plan: Plan) -> CommitResult:
        """Save the plan's states (and the link changes ``prepare`` made) with its chat writes.

        Nextcloud writes in the plan must have been made before: their result is part
        of the saved state.
        """
        final = {**prepared.states, **plan.new_states}
        rows = self.outbox_rows(plan.writes, prepared.links, prepared.states)
        result = await self.states.commit(prepared.loaded, final, rows)
        for platform in sorted({row.platform for row in rows if row.nextcloud_user_id not in result.conflicts}):
            count = sum(1 for row in rows if row.platform == platform and row.nextcloud_user_id not in result.conflicts)
            self.metrics.writes_enqueued.labels(platform=platform).inc(count)
        if result.enqueued and self.on_enqueued is not None:
            self.on_enqueued()
        saved = {user: state for user, state in final.items() if user not in result.conflicts}
        now = self.clock()
        for listener in list(self.wake_listeners):
            listener(saved, now)
        return result

    def outbox_rows(
        self,
        writes: Sequence[PlannedWrite],
        links: Mapping[NextcloudUserId, list[ChatTarget]],
        before: Mapping[NextcloudUserId, UserSyncState],
    ) -> list[OutboxRow]:
        """Turn the planned chat writes into outbox rows, one per linked chat identity.

        ``before`` are the states planned from; each key names the fingerprint the
        target had before the write (see :func:`idempotency_key`).
        """
        rows = []
        for write in writes:
            if write.target is Target.NEXTCLOUD or write.desired is None or write.fingerprint is None:
                continue
            platform = Platform(write.target.value)
            state = before.get(write.user)
            chat_link = state.links.get(platform) if state is not None else None
            previous = chat_link.target.fingerprint if chat_link is not None else None
            for link in links.get(write.user, []):
                if link.identity.platform is not platform or not Direction(link.sync_direction.value).sends_to_chat:
                    continue
                identity = link.identity
                key = idempotency_key(
                    write.user, platform, identity.workspace, identity.user_id, write.fingerprint, previous=previous or "none"
                )
                chat_write = ChatWrite(
                    platform, identity.workspace, identity.user_id, write.user, write.desired, write.fingerprint, key,
                    reason=write.reason.value,
                )
                rows.append(
                    OutboxRow(platform.value, identity.workspace, identity.user_id, write.user, chat_write.to_payload(), key)
                )
        return rows


def _add_targets(links: dict[NextcloudUserId, list[ChatTarget]], targets: Iterable[MirrorTarget]) -> None:
    for target in targets:
        links.setdefault(target.nextcloud_user_id, []).append(target)


async def write_nextcloud(
    pool: UserClientPool, who: ChatIdentity | str, write: PlannedWrite, store: Store, metrics: EngineMetrics
) -> None:
    """Make one planned Nextcloud write as the user, then record it for echo suppression.

    Raises :class:`~presence_bridge.errors.LinkingError` when the user has no usable
    app password and :class:`~presence_bridge.errors.NextcloudError` when Nextcloud
    rejects the write.
    """
    try:
        await pool.call(who, lambda client: _send(client, write))
    except Exception:
        metrics.nextcloud_writes.labels(result="error").inc()
        raise
    metrics.nextcloud_writes.labels(result="ok").inc()
    if write.fingerprint is not None:
        await store.record_write(write.user, NEXTCLOUD_PLATFORM, "", write.fingerprint)


async def apply_nextcloud_writes(
    plan: Plan,
    pool: UserClientPool | None,
    who: Callable[[NextcloudUserId], ChatIdentity | str],
    store: Store,
    metrics: EngineMetrics,
) -> tuple[Plan, list[Exception]]:
    """Make the plan's Nextcloud writes; return the plan without the users whose write failed, and the errors.

    A user whose write failed keeps the stored state and gets no chat write, so the
    next sweep or event plans that user again from what Nextcloud really shows.
    """
    failed: set[NextcloudUserId] = set()
    errors: list[Exception] = []
    for write in plan.writes:
        if write.target is not Target.NEXTCLOUD or write.user in failed:
            continue
        if pool is None:
            failed.add(write.user)
            errors.append(LinkingError(f"no user-client pool to write the Nextcloud status of {write.user}"))
            continue
        try:
            await write_nextcloud(pool, who(write.user), write, store, metrics)
        except (LinkingError, NextcloudError) as error:
            failed.add(write.user)
            errors.append(error)
            logger.warning("Nextcloud write for %s failed: %s", write.user, error)
    if not failed:
        return plan, errors
    writes = tuple(write for write in plan.writes if write.user not in failed)
    states = {uid: state for uid, state in plan.new_states.items() if uid not in failed}
    return Plan(writes, states, plan.notes, plan.wake_at, plan.next_wake_at), errors


async def _send(client: NextcloudClient, write: PlannedWrite) -> None:
    if write.action is WriteAction.REVERT:
        if write.revert_message_id is not None:
            await client.revert_status(write.revert_message_id)
        return
    desired = write.desired
    if desired is None:
        return
    if write.heartbeat and write.parts == {StatePart.STATUS_TYPE}:
        await client.heartbeat(desired.status.value)
        return
    if StatePart.STATUS_TYPE in write.parts:
        await client.set_status(desired.status.value)
    if StatePart.MESSAGE in write.parts:
        if desired.message_id:
            await client.set_predefined_message(desired.message_id, desired.clear_at)
        elif desired.message or desired.icon:
            await client.set_custom_message(desired.message or "", desired.icon, desired.clear_at)
        else:
            await client.clear_message()
