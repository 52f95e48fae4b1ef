"""Command planning: a user's explicit request overrides automations and skips the
debounce window.  :mod:`presence_bridge.core.planner` re-exports :func:`plan_command`.
"""

from __future__ import annotations

from dataclasses import replace

from presence_bridge.core.planner_rules import (
    DEFAULT_SETTINGS,
    PlanBuilder,
    _applied_at,
    _stamp,
    is_automated,
    write_nextcloud,
)
from presence_bridge.core.status import AUTOMATION_MESSAGE_IDS
from presence_bridge.core.sync_state import (
    CommandAction,
    CommandIntent,
    Plan,
    PlannedWrite,
    PlannerSettings,
    SkipReason,
    StatusChange,
    StatusMessage,
    Target,
    Timestamp,
    UserSyncState,
    WriteAction,
    WriteReason,
)


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
