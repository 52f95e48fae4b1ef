"""Building blocks of the sync planner: the default settings, the plan builder, wake
times, the two write steps (publish to chat, write to Nextcloud) and the per-part
change times.

The status rules they apply (expiry, outward safety, automations, echo comparison)
are in :mod:`presence_bridge.core.planner_status` and re-exported here.
:mod:`presence_bridge.core.planner` decides when these apply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from presence_bridge.core.ids import NextcloudUserId, Platform
from presence_bridge.core.planner_status import (  # noqa: F401 - re-exported for the planner modules
    HEARTBEAT_TYPES,
    OFFLINE,
    STICKY_TYPES,
    apply_change,
    changed_parts,
    effective_status,
    fingerprint,
    is_automated,
    is_nextcloud_echo,
    message_of,
    outward_status,
    same_part,
    within,
)
from presence_bridge.core.sync_state import (
    Plan,
    PlannedWrite,
    PlanNote,
    PlannerSettings,
    SkipReason,
    StatePart,
    StatusChange,
    Target,
    TargetState,
    Timestamp,
    UserSyncState,
    WriteAction,
    WriteReason,
)

DEFAULT_SETTINGS = PlannerSettings()


@dataclass
class PlanBuilder:
    """Collects the writes, notes and changed states of one planner call."""

    settings: PlannerSettings
    writes: list[PlannedWrite] = field(default_factory=list)
    notes: list[PlanNote] = field(default_factory=list)
    states: dict[NextcloudUserId, UserSyncState] = field(default_factory=dict)

    def add(self, write: PlannedWrite) -> None:
        self.writes.append(write)

    def note(self, user: NextcloudUserId | None, reason: SkipReason, detail: str = "") -> None:
        self.notes.append(PlanNote(user, reason, detail))

    def record(self, state: UserSyncState) -> None:
        self.states[state.user] = state

    def finish(self, old: Mapping[NextcloudUserId, UserSyncState], now: Timestamp) -> Plan:
        changed = {uid: s for uid, s in self.states.items() if old.get(uid) != s}
        merged = {**old, **changed}
        return Plan(
            writes=tuple(self.writes),
            new_states=changed,
            notes=tuple(self.notes),
            wake_at=pending_due_at(merged.values(), self.settings),
            next_wake_at=next_wake_at(merged, now, self.settings),
        )


def pending_due_at(states: Iterable[UserSyncState], settings: PlannerSettings) -> Timestamp | None:
    """Return when the earliest debounced write falls due, or None if nothing is held."""
    due: list[Timestamp] = []
    for state in states:
        targets = [state.nextcloud_target, *(link.target for link in state.links.values())]
        for target in targets:
            if target.pending_since is not None:
                start = target.auto_written_at if target.auto_written_at is not None else target.pending_since
                due.append(start + settings.debounce_seconds)
    return min(due, default=None)


def next_wake_at(
    states: Mapping[NextcloudUserId, UserSyncState], now: Timestamp, settings: PlannerSettings
) -> Timestamp | None:
    """Return the earliest of the debounced writes' due time and any future ``clear_at``."""
    clear_times = [
        float(state.nextcloud.clear_at)
        for state in states.values()
        if state.nextcloud is not None and state.nextcloud.clear_at is not None and state.nextcloud.clear_at > now
    ]
    due = pending_due_at(states.values(), settings)
    candidates = clear_times + ([due] if due is not None else [])
    return min(candidates, default=None)


def publish(
    builder: PlanBuilder,
    state: UserSyncState,
    now: Timestamp,
    reason: WriteReason,
    *,
    automatic: bool = True,
    exclude: Platform | None = None,
    only_pending: bool = False,
    only_new: bool = False,
) -> UserSyncState:
    """Plan a write of the Nextcloud status to every chat platform that lacks it.

    ``only_pending`` limits it to links with a held write, ``only_new`` to links the
    bridge has never synced.  A link whose direction does not send to chat is skipped.  An automatic write
    inside the debounce window is held (``pending_since``) for :func:`plan_wake`.
    """
    if state.nextcloud is None:
        return state
    if only_new and all(link.target.fingerprint is not None for link in state.links.values()):
        return state
    desired = outward_status(state.nextcloud, now)
    desired_fingerprint = fingerprint(desired)
    links = dict(state.links)
    for platform, link in state.links.items():
        target = link.target
        if not link.direction.sends_to_chat:
            links[platform] = replace(link, target=replace(target, pending_since=None))
            continue
        if platform == exclude:
            continue
        if only_pending and target.pending_since is None:
            continue
        if only_new and target.fingerprint is not None:
            continue
        if target.fingerprint == desired_fingerprint:
            links[platform] = replace(link, target=replace(target, pending_since=None))
            continue
        if automatic and within(target.auto_written_at, builder.settings.debounce_seconds, now):
            since = target.pending_since if target.pending_since is not None else now
            links[platform] = replace(link, target=replace(target, pending_since=since))
            builder.note(state.user, SkipReason.DEBOUNCED, f"write to {platform} held")
            continue
        builder.add(
            PlannedWrite(
                Target.of(platform),
                state.user,
                WriteAction.SET,
                reason,
                automatic,
                desired=desired,
                parts=changed_parts(Target.of(platform), target.synced, desired),
                fingerprint=desired_fingerprint,
            )
        )
        written = TargetState(
            synced=desired,
            fingerprint=desired_fingerprint,
            written_at=now,
            auto_written_at=now if automatic else target.auto_written_at,
        )
        links[platform] = replace(link, target=written)
    if links == state.links:
        return state
    return replace(state, links=links)


def write_nextcloud(
    builder: PlanBuilder,
    state: UserSyncState,
    change: StatusChange,
    now: Timestamp,
    reason: WriteReason,
    *,
    automatic: bool,
    exclude: Platform | None = None,
    deletes_backup: bool = True,
    heartbeat: bool = False,
) -> UserSyncState:
    """Plan a Nextcloud write of ``change`` and publish the result to the other platforms.

    ``deletes_backup`` is false for clearing the message, the one manual write that
    leaves Nextcloud's backup row in place.  A heartbeat keeps the backup row too.
    """
    current = effective_status(state.nextcloud, now) if state.nextcloud is not None else None
    desired = apply_change(current, change)
    desired_fingerprint = fingerprint(desired)
    only_status = change.parts == {StatePart.STATUS_TYPE}
    loses_backup = deletes_backup and state.has_backup and not (heartbeat and only_status)
    builder.add(
        PlannedWrite(
            Target.NEXTCLOUD,
            state.user,
            WriteAction.SET,
            reason,
            automatic,
            desired=desired,
            parts=change.parts,
            fingerprint=desired_fingerprint,
            loses_backup=loses_backup,
            heartbeat=heartbeat,
        )
    )
    old = state.nextcloud_target
    written = TargetState(
        synced=desired,
        fingerprint=desired_fingerprint,
        written_at=now,
        auto_written_at=now if automatic else old.auto_written_at,
    )
    has_backup = state.has_backup and not loses_backup
    state = replace(state, nextcloud=desired, has_backup=has_backup, nextcloud_target=written)
    return publish(builder, state, now, reason, automatic=automatic, exclude=exclude)


def _applied_at(state: UserSyncState, part: StatePart) -> Timestamp | None:
    if part is StatePart.STATUS_TYPE:
        return state.status_changed_at
    return state.message_changed_at


def _stamp(state: UserSyncState, parts: frozenset[StatePart] | set[StatePart], at: Timestamp) -> UserSyncState:
    if StatePart.STATUS_TYPE in parts:
        state = replace(state, status_changed_at=at)
    if StatePart.MESSAGE in parts:
        state = replace(state, message_changed_at=at)
    return state
