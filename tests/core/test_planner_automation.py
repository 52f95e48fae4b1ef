"""Sync planner: Nextcloud automations (call, meeting, out-of-office, availability)."""

from __future__ import annotations

import pytest

from presence_bridge.core.ids import Platform
from presence_bridge.core.planner import plan_chat_event, plan_command, plan_sweep
from presence_bridge.core.sync_state import (
    CommandAction,
    CommandIntent,
    SkipReason,
    StatusChange,
    StatusMessage,
    Target,
    WriteAction,
    WriteReason,
)
from tests.core.planner_support import (
    ALICE,
    T0,
    linked,
    nc,
    presence,
    reasons,
    status_event,
    sweep,
    writes_to,
)

ONLINE = nc("online")
CALL = nc("dnd", message_id="call", message="In a call", icon="💬")
MEETING = nc("away", message_id="meeting", message="In a meeting", icon="📅")
OUT_OF_OFFICE = nc("dnd", message_id="out-of-office", message="On vacation", icon="🛑")
AVAILABILITY = nc("dnd", message_id="availability")
# The listing carries no message id, only the text.
LISTED_CALL = nc("dnd", message="In a call", icon="💬")


@pytest.mark.parametrize(
    ("listed", "backup", "expected_automated"),
    [
        pytest.param(LISTED_CALL, True, True, id="listed-call-with-backup"),
        pytest.param(LISTED_CALL, False, False, id="listed-call-without-backup"),
        pytest.param(CALL, False, True, id="call-id"),
        pytest.param(MEETING, True, True, id="meeting-with-backup"),
        pytest.param(MEETING, False, False, id="meeting-picked-by-hand"),
        pytest.param(OUT_OF_OFFICE, False, True, id="out-of-office-id"),
        pytest.param(AVAILABILITY, False, True, id="availability-id"),
    ],
)
def test_automation_is_mirrored_outward(listed, backup, expected_automated):
    rows = [("alice", listed)] + ([("_alice", ONLINE)] if backup else [])

    plan = plan_sweep({ALICE: linked(ONLINE)}, sweep(*rows), T0)

    assert {write.target for write in plan.writes} == {Target.SLACK, Target.MATRIX}
    for write in plan.writes:
        assert write.desired.status is listed.status
        assert write.desired.message == listed.message
        assert write.desired.automated is expected_automated


AUTOMATED_STATES = [
    pytest.param(linked(LISTED_CALL, has_backup=True), id="backup-row"),
    pytest.param(linked(OUT_OF_OFFICE), id="out-of-office-id"),
    pytest.param(linked(nc("dnd", automated=True)), id="automated-flag"),
]

CHAT_EVENTS = [
    pytest.param(presence(Platform.SLACK, "online"), id="slack-active"),
    pytest.param(presence(Platform.MATRIX, "away"), id="matrix-unavailable"),
    pytest.param(status_event(Platform.SLACK, status="online"), id="slack-dnd-ended"),
    pytest.param(status_event(Platform.SLACK, message=StatusMessage(message="Lunch", icon="🍔")), id="slack-message"),
    pytest.param(status_event(Platform.MATRIX, message=StatusMessage(message="Back soon")), id="matrix-message"),
]


@pytest.mark.parametrize("state", AUTOMATED_STATES)
@pytest.mark.parametrize("event", CHAT_EVENTS)
def test_automation_blocks_automatic_sync(state, event):
    plan = plan_chat_event(state, event, T0)

    assert writes_to(plan, Target.NEXTCLOUD) == []
    assert plan.writes == ()
    assert SkipReason.AUTOMATION_ACTIVE.value in reasons(plan)


@pytest.mark.parametrize(
    ("state", "action", "change", "expected_loses_backup"),
    [
        pytest.param(
            linked(LISTED_CALL, has_backup=True),
            CommandAction.SET,
            StatusChange(status_type=ONLINE.status),
            True,
            id="set-over-backup",
        ),
        pytest.param(
            linked(LISTED_CALL, has_backup=True),
            CommandAction.SET,
            StatusChange(message=StatusMessage(message="Focus", icon="🎯")),
            True,
            id="message-over-backup",
        ),
        pytest.param(
            linked(LISTED_CALL, has_backup=True),
            CommandAction.CLEAR_MESSAGE,
            StatusChange(),
            False,
            id="clear-message-keeps-backup",
        ),
        pytest.param(
            linked(OUT_OF_OFFICE),
            CommandAction.SET,
            StatusChange(status_type=ONLINE.status),
            False,
            id="set-without-backup",
        ),
    ],
)
def test_command_overrides_automation(state, action, change, expected_loses_backup):
    plan = plan_command(state, CommandIntent(ALICE, action, T0, change, Platform.SLACK), T0)

    [write] = writes_to(plan, Target.NEXTCLOUD)
    assert write.action is WriteAction.SET
    assert write.reason is WriteReason.COMMAND
    assert not write.automatic
    assert write.loses_backup is expected_loses_backup
    assert plan.new_states[ALICE].has_backup is (state.has_backup and not expected_loses_backup)
    assert writes_to(plan, Target.SLACK)
    assert writes_to(plan, Target.MATRIX)


def test_chat_sync_resumes_after_command_override():
    override = plan_command(
        linked(LISTED_CALL, has_backup=True),
        CommandIntent(ALICE, CommandAction.SET, T0, StatusChange(status_type=ONLINE.status)),
        T0,
    )
    state = override.new_states[ALICE]

    plan = plan_chat_event(state, presence(Platform.SLACK, "away", at=T0 + 100), T0 + 100)

    assert len(writes_to(plan, Target.NEXTCLOUD)) == 1


@pytest.mark.parametrize(
    ("state", "expected_message_id"),
    [
        pytest.param(linked(CALL, has_backup=True), "call", id="call"),
        pytest.param(linked(MEETING, has_backup=True), "meeting", id="meeting"),
        pytest.param(linked(OUT_OF_OFFICE), "out-of-office", id="out-of-office"),
        pytest.param(linked(AVAILABILITY, has_backup=True), "availability", id="availability"),
    ],
)
def test_restore_plans_only_a_revert(state, expected_message_id):
    plan = plan_command(state, CommandIntent(ALICE, CommandAction.RESTORE, T0), T0)

    [write] = plan.writes
    assert write.target is Target.NEXTCLOUD
    assert write.action is WriteAction.REVERT
    assert write.reason is WriteReason.RESTORE
    assert write.revert_message_id == expected_message_id
    assert write.desired is None
    assert not write.loses_backup


@pytest.mark.parametrize(
    ("state", "expected_reason"),
    [
        pytest.param(linked(ONLINE), SkipReason.NOTHING_TO_RESTORE, id="no-automation"),
        pytest.param(linked(MEETING), SkipReason.NOTHING_TO_RESTORE, id="meeting-without-backup"),
        pytest.param(linked(LISTED_CALL, has_backup=True), SkipReason.AUTOMATION_ID_UNKNOWN, id="id-unknown"),
    ],
)
def test_restore_without_revertible_automation(state, expected_reason):
    plan = plan_command(state, CommandIntent(ALICE, CommandAction.RESTORE, T0), T0)

    assert plan.writes == ()
    assert reasons(plan) == {expected_reason.value}


def test_restore_drops_held_chat_change():
    state = linked(ONLINE)
    first = plan_chat_event(state, presence(Platform.SLACK, "away", at=T0), T0)
    held = plan_chat_event(first.new_states[ALICE], presence(Platform.SLACK, "online", at=T0 + 1), T0 + 1)
    assert held.new_states[ALICE].nextcloud_target.pending_change is not None
    # The sweep read the listing before the held change, so the change stays held.
    automated = plan_sweep(held.new_states, sweep(("alice", CALL), ("_alice", ONLINE), at=T0 + 0.5), T0 + 2)
    assert automated.new_states[ALICE].nextcloud_target.pending_change is not None

    plan = plan_command(automated.new_states[ALICE], CommandIntent(ALICE, CommandAction.RESTORE, T0 + 3), T0 + 3)

    assert [write.action for write in plan.writes] == [WriteAction.REVERT]
    assert plan.new_states[ALICE].nextcloud_target.pending_change is None
    assert plan.new_states[ALICE].nextcloud_target.pending_since is None
