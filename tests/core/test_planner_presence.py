"""Sync planner: DND protection, invisible, Matrix offline, fingerprints."""

from __future__ import annotations

import pytest

from presence_bridge.core.ids import Platform
from presence_bridge.core.planner import plan_chat_event, plan_sweep, plan_wake
from presence_bridge.core.planner_rules import fingerprint, outward_status
from presence_bridge.core.sync_state import PlannerSettings, SkipReason, StatusMessage, Target
from tests.core.planner_support import (
    ALICE,
    T0,
    linked,
    nc,
    presence,
    reasons,
    status_event,
    statuses_written,
    sweep,
    writes_to,
)

ONLINE = nc("online")


@pytest.mark.parametrize(
    ("nextcloud", "event", "expected_write"),
    [
        pytest.param("dnd", presence(Platform.SLACK, "away"), None, id="slack-away-keeps-dnd"),
        pytest.param("busy", presence(Platform.SLACK, "away"), None, id="slack-away-keeps-busy"),
        pytest.param("dnd", presence(Platform.MATRIX, "away"), None, id="matrix-unavailable-keeps-dnd"),
        pytest.param("busy", presence(Platform.MATRIX, "away"), None, id="matrix-unavailable-keeps-busy"),
        pytest.param("dnd", presence(Platform.SLACK, "online"), None, id="slack-active-keeps-dnd"),
        pytest.param("invisible", presence(Platform.MATRIX, "online"), None, id="matrix-online-keeps-invisible"),
        pytest.param("online", presence(Platform.SLACK, "away"), "away", id="slack-away-lowers-online"),
        pytest.param("away", presence(Platform.MATRIX, "online"), "online", id="matrix-online-raises-away"),
        pytest.param("dnd", status_event(Platform.SLACK, status="online"), "online", id="slack-dnd-ended-on-purpose"),
        pytest.param("online", status_event(Platform.SLACK, status="dnd"), "dnd", id="slack-dnd-started"),
    ],
)
def test_presence_never_lowers_dnd(nextcloud, event, expected_write):
    plan = plan_chat_event(linked(nc(nextcloud)), event, T0)

    written = writes_to(plan, Target.NEXTCLOUD)
    if expected_write is None:
        assert plan.writes == ()
        assert SkipReason.STICKY_STATUS.value in reasons(plan)
    else:
        assert [write.desired.status.value for write in written] == [expected_write]


def test_presence_on_dnd_still_takes_message():
    event = status_event(Platform.SLACK, message=StatusMessage(message="Focus"))

    plan = plan_chat_event(linked(nc("dnd")), event, T0)

    [write] = writes_to(plan, Target.NEXTCLOUD)
    assert write.desired.status.value == "dnd"
    assert write.desired.message == "Focus"


@pytest.mark.parametrize(
    ("listed", "expected_status", "expected_message"),
    [
        pytest.param(nc("invisible"), "offline", None, id="invisible"),
        pytest.param(nc("invisible", message="Hiding", icon="🥷"), "offline", "Hiding", id="invisible-with-message"),
        pytest.param(nc("online", message="Here"), "online", "Here", id="online-unchanged"),
    ],
)
def test_invisible_published_as_offline(listed, expected_status, expected_message):
    plan = plan_sweep({ALICE: linked(nc("away"))}, sweep(("alice", listed)), T0)

    assert {write.target for write in plan.writes} == {Target.SLACK, Target.MATRIX}
    for write in plan.writes:
        assert write.desired.status.value == expected_status
        assert write.desired.message == expected_message


def test_invisible_after_offline_writes_nothing():
    plan = plan_sweep({ALICE: linked(nc("offline"))}, sweep(("alice", nc("invisible"))), T0)

    assert plan.writes == ()


@pytest.mark.parametrize(
    ("event", "expected_nextcloud"),
    [
        pytest.param(presence(Platform.MATRIX, "offline"), None, id="matrix-presence-offline"),
        pytest.param(status_event(Platform.MATRIX, status="offline"), None, id="matrix-status-offline"),
        pytest.param(
            status_event(Platform.MATRIX, status="offline", message=StatusMessage(message="Gone")),
            "online",
            id="matrix-offline-keeps-message-part",
        ),
        pytest.param(status_event(Platform.SLACK, status="offline"), "offline", id="slack-offline-on-purpose"),
    ],
)
def test_matrix_offline_never_written(event, expected_nextcloud):
    plan = plan_chat_event(linked(ONLINE), event, T0)

    written = writes_to(plan, Target.NEXTCLOUD)
    if expected_nextcloud is None:
        assert plan.writes == ()
        assert SkipReason.MATRIX_OFFLINE.value in reasons(plan)
    else:
        assert [write.desired.status.value for write in written] == [expected_nextcloud]


def test_matrix_offline_fan_out_to_slack_never_happens():
    plan = plan_chat_event(linked(ONLINE), presence(Platform.MATRIX, "offline"), T0)

    assert statuses_written(plan) == {}


@pytest.mark.parametrize(
    ("left", "right", "expected_equal"),
    [
        pytest.param(nc("online"), nc("online"), True, id="same"),
        pytest.param(nc("online", message="a"), nc("online", message="a"), True, id="same-message"),
        pytest.param(nc("online"), nc("away"), False, id="other-type"),
        pytest.param(nc("online", message="a"), nc("online", message="b"), False, id="other-message"),
        pytest.param(nc("online", clear_at=1), nc("online", clear_at=2), False, id="other-clear-at"),
        pytest.param(nc("dnd"), nc("dnd", automated=True), False, id="automated-flag"),
        pytest.param(nc("online", message_id="x"), nc("online", message="x"), False, id="id-is-not-text"),
    ],
)
def test_fingerprint_is_canonical(left, right, expected_equal):
    assert (fingerprint(left) == fingerprint(right)) is expected_equal
    assert len(fingerprint(left)) == 64


def test_fingerprint_of_nothing_is_stable():
    assert fingerprint(None) == fingerprint(None)
    assert fingerprint(None) != fingerprint(nc("offline"))


def test_outward_never_shows_invisible_as_online():
    for status in ("online", "away", "dnd", "busy", "invisible", "offline"):
        shown = outward_status(nc(status), T0)
        assert shown.status.value != "invisible"
        if status == "invisible":
            assert shown.status.value == "offline"


@pytest.mark.parametrize(
    ("start", "event", "expected_heartbeat"),
    [
        pytest.param("online", presence(Platform.SLACK, "away"), True, id="slack-idle"),
        pytest.param("away", presence(Platform.MATRIX, "online"), True, id="matrix-active"),
        pytest.param("online", presence(Platform.MATRIX, "dnd"), False, id="presence-dnd-is-put"),
        pytest.param("online", status_event(Platform.SLACK, status="dnd"), False, id="slack-dnd"),
        pytest.param("online", status_event(Platform.SLACK, status="away"), False, id="explicit-away"),
        pytest.param("online", status_event(Platform.SLACK, message=StatusMessage(message="Hi")), False, id="message"),
    ],
)
def test_activity_written_as_heartbeat(start, event, expected_heartbeat):
    plan = plan_chat_event(linked(nc(start)), event, T0)

    [write] = writes_to(plan, Target.NEXTCLOUD)
    assert write.heartbeat is expected_heartbeat
    assert not write.loses_backup


def test_held_activity_with_message_keeps_heartbeat():
    settings = PlannerSettings(debounce_seconds=10)
    first = plan_chat_event(linked(ONLINE), status_event(Platform.SLACK, message=StatusMessage(message="A")), T0, settings)
    idle = plan_chat_event(first.new_states[ALICE], presence(Platform.SLACK, "away", at=T0 + 1), T0 + 1, settings)
    message = status_event(Platform.SLACK, message=StatusMessage(message="B"), at=T0 + 2)
    held = plan_chat_event(idle.new_states[ALICE], message, T0 + 2, settings)

    due = plan_wake(held.new_states, T0 + 10, settings)

    [write] = writes_to(due, Target.NEXTCLOUD)
    assert write.heartbeat
    assert write.desired.status.value == "away"
    assert write.desired.message == "B"
