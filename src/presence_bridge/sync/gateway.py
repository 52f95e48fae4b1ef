"""The chat → Nextcloud side: what chat adapters call for commands, activity and status changes.

An adapter calls :meth:`Gateway.handle_command` with the text after its command
word and sends back the returned :class:`~presence_bridge.sync.platform.Reply`
(escaping any markup itself).  It calls :meth:`Gateway.handle_presence` for chat
activity (online or away) and :meth:`Gateway.handle_chat_status` for a status the
person set in chat.  Every Nextcloud write uses the user's own app password, and
its fingerprint is recorded so that the bridge's own change coming back from a
sweep is recognised as an echo.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from presence_bridge.core.command_types import ClearCommand, RestoreCommand, SetCustomCommand, SetPredefinedCommand, SetStatusCommand
from presence_bridge.core.ids import ChatIdentity, NextcloudUserId
from presence_bridge.core.planner import plan_chat_event, plan_command, plan_sweep
from presence_bridge.core.planner_rules import OFFLINE
from presence_bridge.core.planner_status import is_automated
from presence_bridge.core.status import NextcloudStatus, NextcloudStatusType
from presence_bridge.core.sync_state import (
    ChangeOrigin,
    ChatEvent,
    ChatEventKind,
    CommandIntent,
    Direction,
    PlanNote,
    PlannedWrite,
    SkipReason,
    StatusChange,
    SweepObservation,
    WriteAction,
)
from presence_bridge.core.user_state import UserSyncState
from presence_bridge.errors import NextcloudNotFound
from presence_bridge.nextcloud import NextcloudClient, PrivateStatus
from presence_bridge.storage import Health, Link
from presence_bridge.sync.command_runner import CommandRunner
from presence_bridge.sync.executor import PlanExecutor, UserClientPool, apply_nextcloud_writes
from presence_bridge.sync.keepalive import KeepAlive
from presence_bridge.sync.platform import Conversation, PlatformRegistry, Reply
from presence_bridge.sync.queries import StatusQueries

logger = logging.getLogger(__name__)

StatusCommand = SetStatusCommand | SetPredefinedCommand | SetCustomCommand | ClearCommand | RestoreCommand


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """Result of a status command: the Nextcloud write errors, and whether an automation's backup was lost.

    ``lost_backup`` is true when the write replaced a status set by a call, meeting
    or out-of-office, so Nextcloud will no longer restore the user's earlier status.
    """

    errors: list[Exception]
    lost_backup: bool = False
    not_restored: str | None = None
    """For ``restore``: why no earlier status came back (None when Nextcloud restored one)."""
    ended_before: NextcloudStatus | None = None
    """For ``restore``: the status Nextcloud shows after it ended the automation itself before the revert."""


class AccountCommands(Protocol):
    """Interface of the linking service for ``link`` (a Login Flow) and ``unlink`` (revoking the app password)."""

    async def link(self, conversation: Conversation, *, prefix: str = "") -> Reply: ...

    async def unlink(self, conversation: Conversation) -> Reply: ...


class Gateway:
    """Entry point of the chat adapters; see the module docstring."""

    def __init__(
        self,
        executor: PlanExecutor,
        pool: UserClientPool,
        reader: NextcloudClient,
        platforms: PlatformRegistry,
        *,
        keepalive: KeepAlive | None = None,
        accounts: AccountCommands | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.executor = executor
        self.store = executor.store
        self.settings = executor.settings
        self.pool = pool
        self.keepalive = keepalive
        self.clock = clock
        queries = StatusQueries(
            executor.store, pool, reader, platforms, executor.settings.team_leads, clock=clock
        )
        self.commands = CommandRunner(self, queries, accounts)

    async def handle_command(self, conversation: Conversation, text: str, *, prefix: str = "") -> Reply:
        """Parse and run one command; ``prefix`` is the platform's command word for help texts (``"/ncstatus "``)."""
        return await self.commands.run(conversation, text, prefix)

    async def handle_presence(
        self, identity: ChatIdentity, status: NextcloudStatusType, event_time: float, *, origin: ChangeOrigin = ChangeOrigin.USER
    ) -> None:
        """Take chat activity (online or away) of a linked user: a heartbeat to Nextcloud, and a keep-alive later."""
        change = StatusChange(status_type=status)
        link = await self._chat_event(identity, ChatEventKind.PRESENCE, change, event_time, origin)
        if self.keepalive is not None and link is not None and _sends_to_nextcloud(link):
            self.keepalive.record_activity(link.nextcloud_user_id, status, event_time, sent=True)

    async def handle_chat_status(
        self, identity: ChatIdentity, change: StatusChange, event_time: float, *, origin: ChangeOrigin = ChangeOrigin.USER
    ) -> None:
        """Take a status the person set in chat (already in Nextcloud terms, see :mod:`presence_bridge.core.mapping`)."""
        await self._chat_event(identity, ChatEventKind.STATUS, change, event_time, origin)

    async def _chat_event(
        self, identity: ChatIdentity, kind: ChatEventKind, change: StatusChange, event_time: float, origin: ChangeOrigin
    ) -> Link | None:
        link = await self.store.get_link(identity)
        if link is None or identity.platform not in self.settings.platforms:
            return None
        user = link.nextcloud_user_id
        event = ChatEvent(identity.platform, user, kind, change, event_time, origin)
        async with self.executor.lock:
            links = await self.executor.linked_users([user])
            prepared = await self.executor.prepare(links)
            plan = plan_chat_event(prepared.states[user], event, self.clock(), self.settings.planner)
            plan, errors = await apply_nextcloud_writes(plan, self.pool, lambda _: identity, self.store, self.executor.metrics)
            await self.executor.commit(prepared, plan)
        for error in errors:
            logger.info("Chat %s of %s not written to Nextcloud: %s", kind.value, identity, error)
        return link

    async def run_status_command(self, link: Link, command: StatusCommand, intent: CommandIntent) -> CommandOutcome:
        """Plan and make a command's Nextcloud write, then queue its chat fan-out."""
        identity = link.identity
        user = link.nextcloud_user_id
        own = await self.read_own_status(identity)
        has_backup = await self._has_backup(identity, user, own)
        async with self.executor.lock:
            links = await self.executor.linked_users([user])
            if user not in links:
                links[user] = [link]
            prepared = await self.executor.prepare(links)
            state = prepared.states[user]
            current = _as_listed(own, has_backup, keep_message_id=isinstance(command, RestoreCommand))
            ended = isinstance(command, RestoreCommand) and _ended_by_nextcloud(state, current, has_backup)
            if not ended:
                prepared.states[user] = replace(state, nextcloud=current, has_backup=has_backup)
                plan = plan_command(prepared.states[user], intent, self.clock(), self.settings.planner)
                plan, errors = await apply_nextcloud_writes(plan, self.pool, lambda _: identity, self.store, self.executor.metrics)
                result = await self.executor.commit(prepared, plan)
        if ended:
            # The stored state is left as the last sweep saw it, so that publishing
            # finds the change and updates chat.
            await self._publish_current(link)
            return CommandOutcome([], ended_before=_as_listed(own, False, keep_message_id=False))
        reverted = isinstance(command, RestoreCommand) and not errors and bool(plan.writes)
        after = None
        if reverted or user in result.conflicts:
            # Another replica changed the state meanwhile, or Nextcloud restored a
            # status the plan could not know: publish what Nextcloud shows now.
            after = await self._publish_current(link)
        lost_backup = any(write.loses_backup for write in plan.writes)
        if not isinstance(command, RestoreCommand) or errors:
            return CommandOutcome(errors, lost_backup)
        return CommandOutcome(errors, lost_backup, _restore_problem(plan.writes, plan.notes, after))

    async def _publish_current(self, link: Link) -> PrivateStatus | None:
        """Read the user's status and publish it to chat, without waiting for the next sweep; return what was read."""
        user = link.nextcloud_user_id
        own = await self.read_own_status(link.identity)
        status = _as_listed(own, False, keep_message_id=False)
        now = self.clock()
        async with self.executor.lock:
            prepared = await self.executor.prepare(await self.executor.linked_users([user]))
            if user not in prepared.states:
                return own
            observation = SweepObservation({user: status}, frozenset(), False, now)
            plan = plan_sweep(prepared.states, observation, now, self.settings.planner)
            await self.executor.commit(prepared, plan)
        return own

    async def read_own_status(self, identity: ChatIdentity) -> PrivateStatus | None:
        """Read the user's own status with their app password; None when they have no status row."""
        try:
            return await self.pool.call(identity, lambda client: client.get_own_status())
        except NextcloudNotFound:
            return None

    async def _has_backup(self, identity: ChatIdentity, user: NextcloudUserId, own: PrivateStatus | None) -> bool:
        """Tell whether an automation saved the user's previous status (a ``_uid`` backup row exists)."""
        if own is None or not own.message_id:
            return False
        try:
            await self.pool.call(identity, lambda client: client.get_backup_status(user))
        except NextcloudNotFound:
            return False
        return True



def _as_listed(own: PrivateStatus | None, has_backup: bool, *, keep_message_id: bool) -> NextcloudStatus:
    """Return the user's own status as ``/statuses`` lists it, so the next sweep sees no change.

    The list shows a predefined message by its text, without the message id.
    ``restore`` keeps the id, which tells the planner which automation to revert.
    """
    if own is None:
        return OFFLINE
    status = own.to_status(automated=has_backup)
    if keep_message_id or not own.message:
        return status
    return replace(status, message_id=None)


def _ended_by_nextcloud(state: UserSyncState, current: NextcloudStatus, has_backup: bool) -> bool:
    """Tell whether the automation the last sweep saw is gone by the time ``restore`` reads the status.

    Reading the own status makes Nextcloud 31 end a calendar meeting that is over
    and restore its backup, so ``restore`` finds nothing left to revert.
    """
    return is_automated(state.nextcloud, state.has_backup) and not is_automated(current, has_backup)


def _restore_problem(
    writes: Sequence[PlannedWrite], notes: Sequence[PlanNote], after: PrivateStatus | None
) -> str | None:
    """Explain why ``restore`` brought no earlier status back, or return None when it did.

    Nextcloud returns an empty result for a revert, and leaves the status as it
    was, when no backup row exists or the current message is not the automation's.
    The bridge drops that result, so a status still showing the same automation
    message after the revert means nothing was restored.
    """
    reverts = [write for write in writes if write.action is WriteAction.REVERT]
    if not reverts:
        if any(note.reason is SkipReason.AUTOMATION_ID_UNKNOWN for note in notes):
            return "the bridge cannot tell which automation set your current status"
        return "no call, meeting or out-of-office has set your current status"
    message_id = reverts[0].revert_message_id
    if after is not None and message_id is not None and after.message_id == message_id:
        return f"Nextcloud keeps no earlier status behind the {message_id!r} status, so it left that status unchanged"
    return None


def _sends_to_nextcloud(link: Link) -> bool:
    """Tell whether chat activity of this link may reach Nextcloud (direction, app password, health)."""
    direction = Direction(link.sync_direction.value)
    return direction.accepts_from_chat and link.has_credentials and link.health is Health.HEALTHY
