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

This module holds the sweep and wake planning.  Chat events are planned in
:mod:`~presence_bridge.core.planner_chat` and commands in
:mod:`~presence_bridge.core.planner_command`; both entry points are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from presence_bridge.core.ids import NextcloudUserId
from presence_bridge.core.planner_chat import _drop_superseded, _flush_nextcloud, plan_chat_event
from presence_bridge.core.planner_command import plan_command
from presence_bridge.core.planner_rules import (
    DEFAULT_SETTINGS,
    OFFLINE,
    PlanBuilder,
    _applied_at,
    _stamp,
    apply_change,
    changed_parts,
    effective_status,
    fingerprint,
    is_automated,
    is_nextcloud_echo,
    message_of,
    publish,
    within,
)
from presence_bridge.core.status import NextcloudStatus
from presence_bridge.core.sync_state import (
    BACKUP_PREFIX,
    Plan,
    PlannerSettings,
    SkipReason,
    StatePart,
    StatusChange,
    SweepObservation,
    Target,
    Timestamp,
    UserSyncState,
    WriteReason,
)

__all__ = ["DEFAULT_SETTINGS", "plan_chat_event", "plan_command", "plan_sweep", "plan_wake"]


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
