"""Sync planner inputs: chat events built from the mapping layer's Nextcloud writes."""

from __future__ import annotations

import pytest

from presence_bridge.core.ids import Platform
from presence_bridge.core.mapping import (
    ClearMessage,
    Heartbeat,
    NoWrite,
    SetCustom,
    SetPredefined,
    SetStatus,
    matrix_to_nextcloud,
)
from presence_bridge.core.planner import plan_chat_event
from presence_bridge.core.status import MatrixPresence, MatrixPresenceState, NextcloudStatusType
from presence_bridge.core.sync_state import (
    ChangeOrigin,
    ChatEventKind,
    StatusChange,
    StatusMessage,
    Target,
    chat_events_from_writes,
)
from tests.core.planner_support import ALICE, T0, linked, nc, writes_to

ONLINE = NextcloudStatusType.ONLINE
AWAY = NextcloudStatusType.AWAY
DND = NextcloudStatusType.DND


@pytest.mark.parametrize(
    ("writes", "expected"),
    [
        pytest.param([NoWrite("offline")], [], id="no-write"),
        pytest.param([Heartbeat(AWAY)], [(ChatEventKind.PRESENCE, StatusChange(status_type=AWAY))], id="heartbeat"),
        pytest.param([SetStatus(DND)], [(ChatEventKind.STATUS, StatusChange(status_type=DND))], id="explicit-status"),
        pytest.param(
            [SetPredefined("meeting", clear_at=5)],
            [(ChatEventKind.STATUS, StatusChange(message=StatusMessage(message_id="meeting", clear_at=5)))],
            id="predefined",
        ),
        pytest.param(
            [SetCustom("🍔", "Lunch")],
            [(ChatEventKind.STATUS, StatusChange(message=StatusMessage(message="Lunch", icon="🍔")))],
            id="custom",
        ),
        pytest.param(
            [ClearMessage()],
            [(ChatEventKind.STATUS, StatusChange(message=StatusMessage()))],
            id="clear",
        ),
        pytest.param(
            [Heartbeat(ONLINE), SetCustom(None, "Back")],
            [
                (ChatEventKind.PRESENCE, StatusChange(status_type=ONLINE)),
                (ChatEventKind.STATUS, StatusChange(message=StatusMessage(message="Back"))),
            ],
            id="heartbeat-and-message",
        ),
        pytest.param(
            [SetStatus(DND), ClearMessage()],
            [(ChatEventKind.STATUS, StatusChange(status_type=DND, message=StatusMessage()))],
            id="status-and-clear",
        ),
    ],
)
def test_events_from_mapping_writes(writes, expected):
    events = chat_events_from_writes(Platform.MATRIX, ALICE, writes, T0, ChangeOrigin.OTHER_APP)

    assert [(event.kind, event.change) for event in events] == expected
    for event in events:
        assert event.platform is Platform.MATRIX
        assert event.user == ALICE
        assert event.event_time == T0
        assert event.origin is ChangeOrigin.OTHER_APP


@pytest.mark.parametrize(
    ("presence", "expected_nextcloud"),
    [
        pytest.param(MatrixPresence(MatrixPresenceState.UNAVAILABLE), ["away"], id="unavailable"),
        pytest.param(MatrixPresence(MatrixPresenceState.ONLINE), [], id="online-unchanged"),
        pytest.param(MatrixPresence(MatrixPresenceState.OFFLINE), [], id="offline"),
    ],
)
def test_matrix_presence_through_mapping(presence, expected_nextcloud):
    state = linked(nc("online"))
    plans = [
        plan_chat_event(state, event, T0)
        for event in chat_events_from_writes(Platform.MATRIX, ALICE, matrix_to_nextcloud(presence), T0)
    ]

    written = [write.desired.status.value for plan in plans for write in writes_to(plan, Target.NEXTCLOUD)]
    assert written == expected_nextcloud
