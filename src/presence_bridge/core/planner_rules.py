"""Rules and building blocks of the sync planner: expiry, outward safety, automations,
echo comparison, and the two write steps (publish to chat, write to Nextcloud).

:mod:`presence_bridge.core.planner` decides when these apply.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from presence_bridge.core.status import (
    AUTOMATION_MESSAGE_IDS,
    NextcloudStatus,
    NextcloudStatusType,
)
from presence_bridge.core.ids import NextcloudUserId, Platform
from presence_bridge.core.sync_state import (
    Plan,
    PlannedWrite,
    PlanNote,
    PlannerSettings,
    SkipReason,
    StatePart,
    StatusChange,
    StatusMessage,
    Target,
    TargetState,
    Timestamp,
    UserSyncState,
    WriteAction,
    WriteReason,
)

OFFLINE = NextcloudStatus(NextcloudStatusType.OFFLINE)
"""The status Nextcloud reports for a user with no status row, or after ``clear_at`` passed."""

STICKY_TYPES = frozenset(
    {NextcloudStatusType.DND, NextcloudStatusType.BUSY, NextcloudStatusType.INVISIBLE}
)
"""Status types that activity-driven chat presence never replaces.

Nextcloud's own heartbeats leave a user-set dnd, busy or invisible alone, and so does
the bridge: a chat client going idle or active is not a decision to leave DND.
"""

HEARTBEAT_TYPES = frozenset({NextcloudStatusType.ONLINE, NextcloudStatusType.AWAY})
"""Status types Nextcloud's heartbeat endpoint accepts."""

_AUTOMATION_IDS_WITHOUT_BACKUP = AUTOMATION_MESSAGE_IDS - {"meeting"}

# Classes of Nextcloud status types that each chat platform shows alike.  A change
# within one class is no change on that platform, because Slack, for example, shows
# dnd and busy both as Do Not Disturb.
_PRESENCE_CLASSES: dict[Target, dict[NextcloudStatusType, str]] = {
    Target.SLACK: {
        NextcloudStatusType.ONLINE: "active",
        NextcloudStatusType.AWAY: "away",
        NextcloudStatusType.DND: "dnd",
        NextcloudStatusType.BUSY: "dnd",
        NextcloudStatusType.INVISIBLE: "away",
        NextcloudStatusType.OFFLINE: "away",
    },
    Target.MATRIX: {
        NextcloudStatusType.ONLINE: "online",
        NextcloudStatusType.AWAY: "unavailable",
        NextcloudStatusType.DND: "busy",
        NextcloudStatusType.BUSY: "busy",
        NextcloudStatusType.INVISIBLE: "offline",
        NextcloudStatusType.OFFLINE: "offline",
    },
}


def fingerprint(status: NextcloudStatus | None) -> str:
    """Hash a status canonically, so equal states written at different times match."""
    if status is None:
        canonical = "null"
    else:
        canonical = json.dumps(
            [
                status.status.value,
                status.message_id,
                status.message,
                status.icon,
                status.clear_at,
                status.automated,
            ],
            ensure_ascii=False,
            separators=(",", ":"),
        )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def effective_status(status: NextcloudStatus, now: Timestamp) -> NextcloudStatus:
    """Return the status as Nextcloud will report it at ``now``.

    Once ``clear_at`` has passed (``clear_at <= now``) Nextcloud clears the message
    and resets the status to offline.
    """
    if status.clear_at is not None and status.clear_at <= now:
        return OFFLINE
    return status


def outward_status(status: NextcloudStatus, now: Timestamp) -> NextcloudStatus:
    """Return the status to publish on chat platforms.

    Invisible is published as offline, never as online; its message stays visible,
    as Nextcloud itself shows it to other users.
    """
    status = effective_status(status, now)
    if status.status is NextcloudStatusType.INVISIBLE:
        return replace(status, status=NextcloudStatusType.OFFLINE)
    return status


def is_automated(status: NextcloudStatus | None, has_backup: bool) -> bool:
    """Tell whether a Nextcloud automation (call, meeting, out-of-office, availability) set it.

    A ``_uid`` backup row exists only while an automation has set the status.  Without
    one, the message id still identifies ``call``, ``out-of-office`` and
    ``availability``, but not ``meeting``, which users can also pick by hand.
    """
    if has_backup:
        return True
    if status is None:
        return False
    return status.automated or status.message_id in _AUTOMATION_IDS_WITHOUT_BACKUP


def message_of(status: NextcloudStatus | None) -> StatusMessage:
    if status is None:
        return StatusMessage()
    return StatusMessage(status.message_id, status.message, status.icon, status.clear_at)


def apply_change(current: NextcloudStatus | None, change: StatusChange) -> NextcloudStatus:
    """Return ``current`` with the parts ``change`` sets replaced; the result is user-set."""
    base = current or OFFLINE
    status_type = change.status_type or base.status
    message = change.message if change.message is not None else message_of(base)
    return NextcloudStatus(
        status_type,
        message_id=message.message_id,
        message=message.message,
        icon=message.icon,
        clear_at=message.clear_at,
    )


def _presence_class(target: Target, status_type: NextcloudStatusType) -> str:
    return _PRESENCE_CLASSES.get(target, {}).get(status_type, status_type.value)


def _message_key(target: Target, message: StatusMessage) -> tuple[str, str, int | None]:
    # A chat platform reports a predefined message by its text, so the id only counts
    # when there is no text.  Matrix has no expiry, so clear_at is left out there.
    clear_at = None if target is Target.MATRIX else message.clear_at
    return (message.message or message.message_id or "", message.icon or "", clear_at)


def same_part(
    target: Target, part: StatePart, left: NextcloudStatus | None, right: NextcloudStatus | None
) -> bool:
    """Tell whether two statuses look the same on ``target`` in one part."""
    if left is None or right is None:
        return left is right
    if part is StatePart.STATUS_TYPE:
        return _presence_class(target, left.status) == _presence_class(target, right.status)
    return _message_key(target, message_of(left)) == _message_key(target, message_of(right))


def changed_parts(
    target: Target, old: NextcloudStatus | None, new: NextcloudStatus
) -> frozenset[StatePart]:
    return frozenset(part for part in StatePart if not same_part(target, part, old, new))


def is_nextcloud_echo(written: NextcloudStatus | None, seen: NextcloudStatus) -> bool:
    """Tell whether ``seen`` is what Nextcloud shows after the bridge wrote ``written``.

    ``GET /statuses`` lists a predefined message by its text and icon, without the
    message id the bridge wrote, so an id-only write matches any text there.
    """
    if written is None:
        return False
    if fingerprint(replace(seen, automated=False)) == fingerprint(written):
        return True
    id_only = written.message_id is not None and not written.message and not written.icon
    listed_by_text = seen.message_id is None and bool(seen.message or seen.icon)
    same_rest = seen.status is written.status and seen.clear_at == written.clear_at
    return id_only and listed_by_text and same_rest


def within(start: Timestamp | None, seconds: float, now: Timestamp) -> bool:
    """Tell whether ``now`` is less than ``seconds`` after ``start``."""
    return start is not None and now < start + seconds


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
