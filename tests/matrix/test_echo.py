"""Recognising the bridge's own presence writes, and the user's own client state."""

from __future__ import annotations

import pytest

from presence_bridge.core.status import MatrixPresence, MatrixPresenceState
from presence_bridge.matrix.echo import EchoFilter
from presence_bridge.matrix.presence_events import PresenceUpdate

ONLINE = MatrixPresence(MatrixPresenceState.ONLINE, "💻 Working")
AWAY = MatrixPresence(MatrixPresenceState.UNAVAILABLE, "💻 Working")
DECAYED = MatrixPresence(MatrixPresenceState.OFFLINE, "💻 Working")
BUSY = MatrixPresence(MatrixPresenceState.UNAVAILABLE, "⛔ Focus", busy=True)
BUSY_FALLBACK = MatrixPresence(MatrixPresenceState.UNAVAILABLE, "⛔ Focus")


def update(presence: MatrixPresence, received_at: float, user_id: str = "@a:x") -> PresenceUpdate:
    return PresenceUpdate(user_id, presence, None, None, received_at, backlog=False, txn_id="1")


@pytest.mark.parametrize(
    ("written", "seen", "seconds_later", "echo"),
    [
        (ONLINE, ONLINE, 1, True),
        (ONLINE, ONLINE, 61, False),
        (AWAY, ONLINE, 1, False),
        (ONLINE, DECAYED, 35, False),
        (ONLINE, MatrixPresence(MatrixPresenceState.ONLINE, "🍽️ Lunch"), 1, False),
        (BUSY, BUSY, 1, True),
        (BUSY_FALLBACK, BUSY, 1, False),
        (MatrixPresence(MatrixPresenceState.OFFLINE, ""), MatrixPresence(MatrixPresenceState.OFFLINE), 1, True),
    ],
)
def test_is_echo_table(written: MatrixPresence, seen: MatrixPresence, seconds_later: float, echo: bool) -> None:
    now = [1000.0]
    echoes = EchoFilter(clock=lambda: now[0])
    echoes.record_write("@a:x", written)

    assert echoes.is_echo(update(seen, 1000.0 + seconds_later)) is echo


def test_no_write_no_echo() -> None:
    assert EchoFilter().is_echo(update(ONLINE, 0.0)) is False


def test_other_user_not_echo() -> None:
    echoes = EchoFilter(clock=lambda: 1000.0)
    echoes.record_write("@a:x", ONLINE)

    assert echoes.is_echo(update(ONLINE, 1001.0, user_id="@b:x")) is False


def test_own_client_tracking() -> None:
    echoes = EchoFilter(clock=lambda: 1000.0)
    echoes.record_write("@a:x", AWAY)

    assert echoes.own_client_present("@a:x") is False
    assert echoes.observe(update(AWAY, 1001.0)) is True
    assert echoes.own_client_present("@a:x") is False
    assert echoes.observe(update(ONLINE, 1002.0)) is False
    assert echoes.own_client_present("@a:x") is True
    assert echoes.observe(update(DECAYED, 1040.0)) is False
    assert echoes.own_client_present("@a:x") is False
