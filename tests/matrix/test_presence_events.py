"""Parsing m.presence events from transaction bodies, and the startup backlog rule."""

from __future__ import annotations

import pytest

from presence_bridge.core.status import MatrixPresence, MatrixPresenceState
from presence_bridge.matrix.presence_events import BacklogRule, PresenceUpdate, parse_presence_updates

START = 1_000_000.0
LIVE = BacklogRule(started_at=START, window_seconds=0)


def parse(body: dict[str, object], *, rule: BacklogRule = LIVE, received_at: float = START + 100, seen: set[str] | None = None) -> list[PresenceUpdate]:
    return parse_presence_updates(body, txn_id="7", received_at=received_at, backlog_rule=rule, seen_users=seen if seen is not None else set())


def event(sender: str, **content: object) -> dict[str, object]:
    return {"type": "m.presence", "sender": sender, "content": content}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"presence": "online"}, MatrixPresence(MatrixPresenceState.ONLINE)),
        ({"presence": "unavailable", "status_msg": "🍽️ Lunch"}, MatrixPresence(MatrixPresenceState.UNAVAILABLE, "🍽️ Lunch")),
        ({"presence": "offline", "status_msg": ""}, MatrixPresence(MatrixPresenceState.OFFLINE)),
        (
            {"presence": "org.matrix.msc3026.busy", "status_msg": "⛔ Focus"},
            MatrixPresence(MatrixPresenceState.UNAVAILABLE, "⛔ Focus", busy=True),
        ),
    ],
)
def test_presence_states(content: dict[str, object], expected: MatrixPresence) -> None:
    [update] = parse({"ephemeral": [event("@bob:x", **content)]})

    assert update.presence == expected
    assert update.user_id == "@bob:x"
    assert update.txn_id == "7"


def test_activity_fields() -> None:
    body = {"ephemeral": [event("@bob:x", presence="online", last_active_ago=2500, currently_active=True)]}

    [update] = parse(body, received_at=START + 10)

    assert update.last_active_at == START + 7.5
    assert update.currently_active is True


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "m.typing", "content": {"user_ids": []}},
        {"type": "m.receipt", "content": {}},
        event("@bob:x", presence="busy"),
        event("@bob:x"),
        {"type": "m.presence", "sender": "bob", "content": {"presence": "online"}},
        {"type": "m.presence", "sender": "@bob:x", "content": "online"},
        "not an event",
    ],
)
def test_other_or_malformed_skipped(bad: object) -> None:
    assert parse({"ephemeral": [bad, event("@carol:x", presence="online")]})[0].user_id == "@carol:x"
    assert len(parse({"ephemeral": [bad]})) == 0


def test_unstable_key_read() -> None:
    body = {"de.sorunome.msc2409.ephemeral": [event("@bob:x", presence="online")]}

    assert [update.user_id for update in parse(body)] == ["@bob:x"]


def test_both_keys_read_once() -> None:
    events = [event("@bob:x", presence="online")]
    body = {"ephemeral": events, "de.sorunome.msc2409.ephemeral": events}

    assert len(parse(body)) == 1


def test_no_ephemeral_key() -> None:
    assert parse({"events": []}) == []


WINDOW = BacklogRule(started_at=START, window_seconds=30)


@pytest.mark.parametrize(
    ("received_after_start", "last_active_ago_ms", "seen_before", "backlog"),
    [
        (5, None, False, True),
        (5, 60_000, False, True),
        (5, 1_000, False, False),
        (5, None, True, False),
        (30, None, False, False),
        (300, 600_000, False, False),
    ],
)
def test_backlog_rule_table(
    received_after_start: float, last_active_ago_ms: int | None, seen_before: bool, backlog: bool
) -> None:
    content: dict[str, object] = {"presence": "unavailable"}
    if last_active_ago_ms is not None:
        content["last_active_ago"] = last_active_ago_ms
    seen = {"@bob:x"} if seen_before else set()

    [update] = parse({"ephemeral": [event("@bob:x", **content)]}, rule=WINDOW, received_at=START + received_after_start, seen=seen)

    assert update.backlog is backlog


def test_second_update_in_burst_is_live() -> None:
    seen: set[str] = set()
    body = {"ephemeral": [event("@bob:x", presence="offline"), event("@bob:x", presence="online")]}

    updates = parse(body, rule=WINDOW, received_at=START + 1, seen=seen)

    assert [update.backlog for update in updates] == [True, False]
    assert seen == {"@bob:x"}
