"""Chat-event planning: turn a presence or status change reported by a chat platform
into a Nextcloud write (held while the debounce window lasts) and a fan-out to the
other platforms.  :mod:`presence_bridge.core.planner` re-exports :func:`plan_chat_event`.
"""

from __future__ import annotations

from dataclasses import replace

from presence_bridge.core.ids import Platform
from presence_bridge.core.planner_rules import (
    DEFAULT_SETTINGS,
    HEARTBEAT_TYPES,
    STICKY_TYPES,
    PlanBuilder,
    _applied_at,
    _stamp,
    apply_change,
    effective_status,
    fingerprint,
    is_automated,
    same_part,
    within,
    write_nextcloud,
)
from presence_bridge.core.status import NextcloudStatusType
from presence_bridge.core.sync_state import (
    ChangeOrigin,
    ChatEvent,
    ChatEventKind,
    PendingChange,
    Plan,
    PlannerSettings,
    SkipReason,
    StatePart,
    StatusChange,
    StatusMessage,
    Target,
    Timestamp,
    UserSyncState,
    WriteReason,
)


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
