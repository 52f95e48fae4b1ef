"""Sync planner: decide what to write where, given the last state and a new observation.

Nextcloud is the source of truth.  Four entry points take the recorded per-user
state, one observation and the current time, and return a :class:`Plan`:

- :func:`plan_sweep` for a pass over ``GET /statuses``;
- :func:`plan_chat_event` for a presence or status change reported by a chat platform;
- :func:`plan_command` for a user's explicit command;
- :func:`plan_wake` when ``Plan.next_wake_at`` is reached (debounced writes fall due,
  a ``clear_at`` passes).

The rules, in the order they apply:

- A user is taken as having no status (offline) only after being absent from
  ``missing_sweeps_to_confirm`` (2) complete sweeps.  An incomplete sweep never counts,
  and neither does a complete one that lists no rows at all.  ``_uid`` rows are backups.
- An automation (a ``_uid`` backup row, or the message id ``call``,
  ``out-of-office`` or ``availability``) is published outward and blocks every
  automatic chat→Nextcloud change; a command overrides it (``loses_backup``).
- A chat change equal to the bridge's own write to that platform within
  ``settle_seconds`` (60 s) is its echo.  The same check applies to Nextcloud.
- A change older than the newest one applied to the same part (status type or
  message) is dropped.  Nextcloud changes carry the time the bridge observed them.
- Chat activity never replaces dnd, busy or invisible; Matrix offline is never
  written; invisible is published as offline; a passed ``clear_at`` reads as offline.
- At most one automatic write per user and system per ``debounce_seconds`` (10 s);
  the newest change inside the window is held and written when it ends.

The planner reads no clock and does no I/O; the worker executes the writes and then
records ``Plan.new_states``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from presence_bridge.core.ids import NextcloudUserId, Platform
from presence_bridge.core.planner_rules import (
    HEARTBEAT_TYPES,
    OFFLINE,
    STICKY_TYPES,
    PlanBuilder,
    apply_change,
    changed_parts,
    effective_status,
    fingerprint,
    is_automated,
    is_nextcloud_echo,
    message_of,
    publish,
    same_part,
    within,
    write_nextcloud,
)
from presence_bridge.core.status import AUTOMATION_MESSAGE_IDS, NextcloudStatus, NextcloudStatusType
from presence_bridge.core.sync_state import (
    BACKUP_PREFIX,
    ChangeOrigin,
    ChatEvent,
    ChatEventKind,
    CommandAction,
    CommandIntent,
    PendingChange,
    Plan,
    PlannedWrite,
    PlannerSettings,
    SkipReason,
    StatePart,
    StatusChange,
    StatusMessage,
    SweepObservation,
    Target,
    Timestamp,
    UserSyncState,
    WriteAction,
    WriteReason,
)

DEFAULT_SETTINGS = PlannerSettings()


def plan_sweep(
    states: Mapping[NextcloudUserId, UserSyncState],
    sweep: SweepObservation,
    now: Timestamp,
    settings: PlannerSettings = DEFAULT_SETTINGS,
) -> Plan:
    """Plan the writes that one ``/statuses`` pass calls for.

    Only users with a state are considered.  A complete sweep that lists no rows
    while users were known is treated as inconclusive, because Nextcloud returns an
    empty list when user enumeration is disabled.
    """
    builder = PlanBuilder(settings)
    users = {uid: status for uid, status in sweep.users.items() if not uid.startswith(BACKUP_PREFIX)}
    backups = set(sweep.backups)
    for uid in sweep.users.keys() - users.keys():
        backups.add(NextcloudUserId(uid[len(BACKUP_PREFIX) :]))
        builder.note(None, SkipReason.BACKUP_ROW, f"row {uid!r} is a backup, not a user")
    known = any(state.nextcloud is not None for state in states.values())
    counts_missing = sweep.complete
    if sweep.complete and not users and not backups and known:
        counts_missing = False
        builder.note(None, SkipReason.INCONCLUSIVE_SWEEP, "complete sweep listed no rows")
    for uid, state in states.items():
        observed = users.get(uid)
        if observed is not None:
            if state.missing_sweeps:
                state = replace(state, missing_sweeps=0)
            state = _observe(builder, state, observed, uid in backups, sweep.observed_at, now)
        elif uid in backups:
            builder.note(uid, SkipReason.BACKUP_ROW, "listed only through its backup row")
        elif counts_missing and state.nextcloud is not None:
            state = _count_missing(builder, state, sweep.observed_at, now)
        state = _expire_if_due(builder, state, now)
        builder.record(state)
    return builder.finish(states, now)


def plan_chat_event(
    state: UserSyncState,
    event: ChatEvent,
    now: Timestamp,
    settings: PlannerSettings = DEFAULT_SETTINGS,
) -> Plan:
    """Plan the Nextcloud write (and fan-out to other platforms) for one chat change."""
    builder = PlanBuilder(settings)
    builder.record(_apply_chat_event(builder, state, event, now))
    return builder.finish({state.user: state}, now)


def plan_command(
    state: UserSyncState,
    intent: CommandIntent,
    now: Timestamp,
    settings: PlannerSettings = DEFAULT_SETTINGS,
) -> Plan:
    """Plan an explicit command: it overrides automations and skips the debounce window.

    A command always writes Nextcloud, whatever the direction of the platform it was
    typed on; the fan-out to chat platforms follows each link's direction.  ``restore``
    plans only a revert of the active automation.
    """
    builder = PlanBuilder(settings)
    if intent.action is CommandAction.RESTORE:
        new_state = _restore(builder, state)
    else:
        new_state = _command_write(builder, state, intent, now)
    builder.record(new_state)
    return builder.finish({state.user: state}, now)


def plan_wake(
    states: Mapping[NextcloudUserId, UserSyncState],
    now: Timestamp,
    settings: PlannerSettings = DEFAULT_SETTINGS,
) -> Plan:
    """Publish expired statuses and write the debounced changes whose window has ended."""
    builder = PlanBuilder(settings)
    for state in states.values():
        state = _expire_if_due(builder, state, now)
        state = _flush_nextcloud(builder, state, now)
        state = publish(builder, state, now, WriteReason.NEXTCLOUD_CHANGED, only_pending=True)
        builder.record(state)
    return builder.finish(states, now)


def _expire_if_due(builder: PlanBuilder, state: UserSyncState, now: Timestamp) -> UserSyncState:
    """Publish the offline status Nextcloud falls back to once ``clear_at`` has passed."""
    current = state.nextcloud
    if current is None or current.clear_at is None or current.clear_at > now:
        return state
    return _observe(builder, state, current, state.has_backup, now, now, WriteReason.EXPIRED)


def _count_missing(
    builder: PlanBuilder, state: UserSyncState, observed_at: Timestamp, now: Timestamp
) -> UserSyncState:
    confirm = builder.settings.missing_sweeps_to_confirm
    if state.missing_sweeps >= confirm:
        return state
    state = replace(state, missing_sweeps=state.missing_sweeps + 1)
    if state.missing_sweeps < confirm:
        builder.note(
            state.user,
            SkipReason.MISSING_UNCONFIRMED,
            f"absent from {state.missing_sweeps} of {confirm} complete sweeps",
        )
        return state
    return _observe(builder, state, OFFLINE, False, observed_at, now, WriteReason.NEXTCLOUD_MISSING)


def _observe(
    builder: PlanBuilder,
    state: UserSyncState,
    observed: NextcloudStatus,
    has_backup: bool,
    observed_at: Timestamp,
    now: Timestamp,
    reason: WriteReason = WriteReason.NEXTCLOUD_CHANGED,
) -> UserSyncState:
    """Take in a status seen in Nextcloud and publish it if it is a real change."""
    seen = effective_status(observed, now)
    automated = is_automated(seen, has_backup)
    if seen.automated != automated:
        seen = replace(seen, automated=automated)
    current = state.nextcloud
    if current is not None and (seen == current or fingerprint(seen) == fingerprint(current)):
        if state.has_backup != has_backup:
            state = replace(state, has_backup=has_backup)
        return publish(builder, state, now, reason, only_new=True)

    state = replace(state, observed_at=observed_at, has_backup=has_backup)

    written = state.nextcloud_target
    settle = builder.settings.settle_seconds
    if is_nextcloud_echo(written.synced, seen) and within(written.written_at, settle, now):
        builder.note(state.user, SkipReason.ECHO, "Nextcloud shows the bridge's own write")
        return replace(state, nextcloud=seen)

    changed = changed_parts(Target.NEXTCLOUD, current, seen)
    stale = set()
    for part in sorted(changed):
        applied_at = _applied_at(state, part)
        if applied_at is not None and observed_at < applied_at:
            stale.add(part)
            builder.note(state.user, SkipReason.STALE, f"{part} observed before a newer change")
    if changed and stale == changed:
        return state

    merged = seen
    if current is not None and StatePart.MESSAGE in stale:
        kept = apply_change(seen, StatusChange(message=message_of(current)))
        merged = replace(kept, automated=seen.automated)
    if current is not None and StatePart.STATUS_TYPE in stale:
        merged = replace(merged, status=current.status)
    fresh = changed - stale
    state = _stamp(replace(state, nextcloud=merged), fresh, observed_at)
    held = state.nextcloud_target.pending_change
    if held is not None and held.event_time < observed_at:
        state = _drop_superseded(state, frozenset(fresh))
    return publish(builder, state, now, reason)


def _apply_chat_event(
    builder: PlanBuilder, state: UserSyncState, event: ChatEvent, now: Timestamp
) -> UserSyncState:
    user = state.user
    link = state.links.get(event.platform)
    if link is None:
        builder.note(user, SkipReason.NOT_LINKED, f"no {event.platform} link")
        return state
    if not link.direction.accepts_from_chat:
        builder.note(user, SkipReason.DIRECTION, f"{event.platform} direction is {link.direction}")
        return state
    if event.origin is ChangeOrigin.BRIDGE:
        builder.note(user, SkipReason.ECHO, "the adapter marked the change as the bridge's own")
        return state

    change = event.change
    target = Target.of(event.platform)
    message = change.message
    if message is not None and message.clear_at is not None and message.clear_at <= now:
        # Nextcloud rejects a clear_at in the past, and such a message is over anyway.
        change = StatusChange(change.status_type, StatusMessage())
    offline = event.change.status_type is NextcloudStatusType.OFFLINE
    if event.platform is Platform.MATRIX and offline:
        change = change.without(StatePart.STATUS_TYPE)
        builder.note(user, SkipReason.MATRIX_OFFLINE, "Matrix offline is a timeout, not a decision")
    for part in sorted(change.parts):
        applied_at = _applied_at(state, part)
        if applied_at is not None and event.event_time < applied_at:
            change = change.without(part)
            builder.note(user, SkipReason.STALE, f"{part} from {event.event_time} is older than {applied_at}")

    synced = link.target.synced
    if synced is not None and within(link.target.written_at, builder.settings.settle_seconds, now):
        for part in sorted(change.parts):
            if same_part(target, part, apply_change(synced, change), synced):
                change = change.without(part)
                builder.note(user, SkipReason.ECHO, f"{part} equals the bridge's write to {target}")
    if not change.parts:
        return state

    reported = apply_change(synced or state.nextcloud, change)
    link = replace(link, target=replace(link.target, synced=reported, fingerprint=fingerprint(reported)))
    state = replace(state, links={**state.links, event.platform: link})
    state = _drop_superseded(state, change.parts)
    change = _nextcloud_change(builder, state, event.platform, event.kind, change, now)
    if not change.parts:
        return state
    state = _stamp(state, change.parts, event.event_time)
    pending = PendingChange(event.platform, event.kind, change, event.event_time)
    return _write_or_hold(builder, state, pending, now)


def _drop_superseded(state: UserSyncState, parts: frozenset[StatePart]) -> UserSyncState:
    """Forget the held parts that a newer change sets again, whatever becomes of that change."""
    target = state.nextcloud_target
    held = target.pending_change
    if held is None:
        return state
    change = held.change
    for part in parts:
        change = change.without(part)
    if change.parts:
        return replace(state, nextcloud_target=replace(target, pending_change=replace(held, change=change)))
    return replace(state, nextcloud_target=replace(target, pending_change=None, pending_since=None))


def _nextcloud_change(
    builder: PlanBuilder,
    state: UserSyncState,
    platform: Platform,
    kind: ChatEventKind,
    change: StatusChange,
    now: Timestamp,
) -> StatusChange:
    """Drop the parts of an automatic chat change that Nextcloud must not take."""
    user = state.user
    current = effective_status(state.nextcloud, now) if state.nextcloud is not None else None
    if is_automated(current, state.has_backup):
        builder.note(user, SkipReason.AUTOMATION_ACTIVE, "a Nextcloud automation holds the status")
        return StatusChange()
    sticky = current is not None and current.status in STICKY_TYPES
    if kind is ChatEventKind.PRESENCE and sticky and change.status_type is not None:
        change = change.without(StatePart.STATUS_TYPE)
        builder.note(user, SkipReason.STICKY_STATUS, f"chat presence does not replace {current.status}")
    target = Target.of(platform)
    for part in sorted(change.parts):
        if same_part(target, part, apply_change(current, change), current):
            change = change.without(part)
    if not change.parts:
        builder.note(user, SkipReason.NO_CHANGE, "Nextcloud already shows this")
    return change


def _write_or_hold(
    builder: PlanBuilder, state: UserSyncState, pending: PendingChange, now: Timestamp
) -> UserSyncState:
    """Write an automatic change to Nextcloud, or hold it while the debounce window lasts.

    A change still held from an ended window (``plan_wake`` came late) is written
    together with the new one, so that neither is lost.
    """
    target = state.nextcloud_target
    held = target.pending_change
    if within(target.auto_written_at, builder.settings.debounce_seconds, now):
        merged = held.merged_with(pending) if held else pending
        since = target.pending_since if target.pending_since is not None else now
        held_target = replace(target, pending_change=merged, pending_since=since)
        builder.note(state.user, SkipReason.DEBOUNCED, "held until the debounce window ends")
        return replace(state, nextcloud_target=held_target)

    if held is not None:
        state = replace(state, nextcloud_target=replace(target, pending_change=None, pending_since=None))
        still_valid = _revalidate(builder, state, held, now)
        pending = still_valid.merged_with(pending) if still_valid else pending
    return _write_pending(builder, state, pending, now)


def _flush_nextcloud(builder: PlanBuilder, state: UserSyncState, now: Timestamp) -> UserSyncState:
    target = state.nextcloud_target
    pending = target.pending_change
    if pending is None or within(target.auto_written_at, builder.settings.debounce_seconds, now):
        return state
    state = replace(state, nextcloud_target=replace(target, pending_change=None, pending_since=None))
    still_valid = _revalidate(builder, state, pending, now)
    if still_valid is None:
        return state
    return _write_pending(builder, state, still_valid, now)


def _revalidate(
    builder: PlanBuilder, state: UserSyncState, held: PendingChange, now: Timestamp
) -> PendingChange | None:
    """Apply the rules again to a held change, since Nextcloud or the link may have changed."""
    link = state.links.get(held.platform)
    if link is None or not link.direction.accepts_from_chat:
        builder.note(state.user, SkipReason.DIRECTION, f"{held.platform} no longer sends to Nextcloud")
        return None
    change = _nextcloud_change(builder, state, held.platform, held.kind, held.change, now)
    return replace(held, change=change) if change.parts else None


def _write_pending(
    builder: PlanBuilder, state: UserSyncState, pending: PendingChange, now: Timestamp
) -> UserSyncState:
    # Activity from chat becomes a heartbeat, as Nextcloud's own clients send one: a
    # PUT would make away sticky and outlast the user's return.
    # NOTE: Nextcloud ignores an away heartbeat while a fresh online is stored, but the
    # state still records away until the next sweep shows otherwise and republishes.
    heartbeat = pending.kind is ChatEventKind.PRESENCE and pending.change.status_type in HEARTBEAT_TYPES
    return write_nextcloud(
        builder,
        state,
        pending.change,
        now,
        WriteReason.CHAT_CHANGED,
        automatic=True,
        exclude=pending.platform,
        heartbeat=heartbeat,
    )


def _restore(builder: PlanBuilder, state: UserSyncState) -> UserSyncState:
    current = state.nextcloud
    if not is_automated(current, state.has_backup):
        builder.note(state.user, SkipReason.NOTHING_TO_RESTORE, "no automation is active")
        return state
    message_id = current.message_id if current is not None else None
    if message_id not in AUTOMATION_MESSAGE_IDS:
        builder.note(
            state.user,
            SkipReason.AUTOMATION_ID_UNKNOWN,
            "the automation's message id is unknown; read the user's own status first",
        )
        return state
    builder.add(
        PlannedWrite(
            Target.NEXTCLOUD,
            state.user,
            WriteAction.REVERT,
            WriteReason.RESTORE,
            automatic=False,
            revert_message_id=message_id,
        )
    )
    target = replace(state.nextcloud_target, pending_change=None, pending_since=None)
    return replace(state, nextcloud_target=target)


def _command_write(
    builder: PlanBuilder, state: UserSyncState, intent: CommandIntent, now: Timestamp
) -> UserSyncState:
    change = intent.change
    if intent.action is CommandAction.CLEAR_MESSAGE:
        change = StatusChange(message=StatusMessage())
    if not change.parts:
        builder.note(state.user, SkipReason.NO_CHANGE, "the command sets nothing")
        return state
    stamp_at = max(intent.issued_at, *(_applied_at(state, part) or 0.0 for part in change.parts))
    state = _stamp(state, change.parts, stamp_at)
    return write_nextcloud(
        builder,
        state,
        change,
        now,
        WriteReason.COMMAND,
        automatic=False,
        deletes_backup=intent.action is CommandAction.SET,
    )


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
