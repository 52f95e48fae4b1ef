"""Sync planner: echo suppression of the bridge's own writes, and event ordering."""

from __future__ import annotations

from dataclasses import replace

import pytest

from presence_bridge.core.ids import Platform
from presence_bridge.core.planner import plan_chat_event, plan_sweep
from presence_bridge.core.sync_state import (
    ChangeOrigin,
    ChatLink,
    Direction,
    PlannerSettings,
    SkipReason,
    StatusMessage,
    Target,
    UserSyncState,
)
from tests.core.planner_support import (
    ALICE,
    LONG_AGO,
    T0,
    Driver,
    linked,
    nc,
    presence,
    reasons,
    status_event,
    sweep,
    synced_target,
    writes_to,
)

ONLINE = nc("online")
WRITTEN_AT = T0 - 10
LUNCH = StatusMessage(message="Lunch", icon="🍔", clear_at=int(T0) + 3600)


def wrote_to_chat(platform: Platform, status) -> UserSyncState:
    """Alice is online in Nextcloud; the bridge wrote ``status`` to ``platform`` at WRITTEN_AT."""
    state = linked(ONLINE)
    link = ChatLink(Direction.BOTH, synced_target(status, at=WRITTEN_AT))
    return replace(state, links={**state.links, platform: link})


@pytest.mark.parametrize(
    ("written", "event", "now", "settings", "expect_nextcloud_write"),
    [
        pytest.param(nc("away"), presence(Platform.SLACK, "away"), T0, PlannerSettings(), False, id="slack-within-window"),
        pytest.param(nc("away"), presence(Platform.SLACK, "away", at=T0 + 50), T0 + 50, PlannerSettings(), True, id="slack-window-boundary"),
        pytest.param(nc("away"), presence(Platform.SLACK, "away", at=T0 + 100), T0 + 100, PlannerSettings(), True, id="slack-after-window"),
        pytest.param(nc("away"), presence(Platform.SLACK, "away"), T0, PlannerSettings(settle_seconds=5), True, id="short-window-setting"),
        pytest.param(nc("away"), presence(Platform.MATRIX, "away"), T0, PlannerSettings(), False, id="matrix-within-window"),
        pytest.param(nc("busy"), status_event(Platform.SLACK, status="dnd"), T0, PlannerSettings(), False, id="slack-dnd-echo-of-busy"),
        pytest.param(
            nc("online", message="Lunch", icon="🍔", clear_at=LUNCH.clear_at),
            status_event(Platform.SLACK, message=LUNCH),
            T0,
            PlannerSettings(),
            False,
            id="slack-message-echo",
        ),
        pytest.param(
            nc("online", message="Lunch", icon="🍔", clear_at=LUNCH.clear_at),
            status_event(Platform.SLACK, message=replace(LUNCH, message="Dinner")),
            T0,
            PlannerSettings(),
            True,
            id="slack-other-message",
        ),
        pytest.param(
            nc("online", message="Lunch", icon="🍔", clear_at=LUNCH.clear_at),
            status_event(Platform.MATRIX, message=replace(LUNCH, clear_at=None)),
            T0,
            PlannerSettings(),
            False,
            id="matrix-message-echo-without-expiry",
        ),
        pytest.param(
            nc("online", message="Lunch", icon="🍔", clear_at=LUNCH.clear_at),
            status_event(Platform.SLACK, message=replace(LUNCH, clear_at=None)),
            T0,
            PlannerSettings(),
            True,
            id="slack-expiry-removed",
        ),
    ],
)
def test_chat_echo_within_settle_window(written, event, now, settings, expect_nextcloud_write):
    state = wrote_to_chat(event.platform, written)

    plan = plan_chat_event(state, event, now, settings)

    assert bool(writes_to(plan, Target.NEXTCLOUD)) is expect_nextcloud_write
    if not expect_nextcloud_write:
        assert plan.writes == ()
        assert SkipReason.ECHO.value in reasons(plan)


def test_bridge_origin_is_always_echo():
    event = replace(presence(Platform.SLACK, "away"), origin=ChangeOrigin.BRIDGE)

    plan = plan_chat_event(linked(ONLINE), event, T0)

    assert plan.writes == ()
    assert reasons(plan) == {SkipReason.ECHO.value}


def test_event_equal_to_nextcloud_is_no_change():
    plan = plan_chat_event(linked(ONLINE), presence(Platform.SLACK, "online"), T0)

    assert plan.writes == ()
    assert reasons(plan) == {SkipReason.NO_CHANGE.value}


def wrote_dnd_to_nextcloud() -> UserSyncState:
    """Nextcloud was last seen away; the bridge then wrote dnd there at WRITTEN_AT."""
    state = linked(nc("away"))
    return replace(state, nextcloud_target=synced_target(nc("dnd"), at=WRITTEN_AT))


@pytest.mark.parametrize(
    ("now", "expected_targets"),
    [
        pytest.param(T0, set(), id="within-window"),
        pytest.param(T0 + 100, {Target.SLACK, Target.MATRIX}, id="after-window"),
    ],
)
def test_nextcloud_echo_within_settle_window(now, expected_targets):
    plan = plan_sweep({ALICE: wrote_dnd_to_nextcloud()}, sweep(("alice", nc("dnd")), at=now), now)

    assert {write.target for write in plan.writes} == expected_targets
    assert plan.new_states[ALICE].nextcloud == nc("dnd")
    if not expected_targets:
        assert reasons(plan) == {SkipReason.ECHO.value}


@pytest.mark.parametrize(
    ("listed", "expected_targets"),
    [
        pytest.param(nc("online", message="Working remotely", icon="🏡"), set(), id="predefined-listed-by-text"),
        # Slack got the bridge's write 5 s ago, so its update waits for the debounce window.
        pytest.param(nc("away", message="Working remotely", icon="🏡"), {Target.MATRIX}, id="other-status"),
        pytest.param(nc("online", message_id="remote-work"), set(), id="same-id"),
    ],
)
def test_nextcloud_echo_of_predefined_message(listed, expected_targets):
    predefined = status_event(Platform.MATRIX, message=StatusMessage(message_id="remote-work"), at=T0)
    written = plan_chat_event(linked(ONLINE), predefined, T0)

    plan = plan_sweep(written.new_states, sweep(("alice", listed), at=T0 + 5), T0 + 5)

    assert {write.target for write in plan.writes} == expected_targets


@pytest.mark.parametrize(
    ("event", "expect_write"),
    [
        pytest.param(presence(Platform.SLACK, "away", at=T0 - 1), False, id="older-dropped"),
        pytest.param(presence(Platform.SLACK, "away", at=T0), True, id="same-time-applied"),
        pytest.param(presence(Platform.SLACK, "away", at=T0 + 1), True, id="newer-applied"),
        pytest.param(status_event(Platform.SLACK, message=LUNCH, at=T0 - 1), True, id="other-part-applied"),
        pytest.param(presence(Platform.MATRIX, "away", at=T0 - 1), False, id="older-matrix-dropped"),
    ],
)
def test_change_older_than_applied_is_dropped(event, expect_write):
    state = replace(linked(ONLINE), status_changed_at=T0, message_changed_at=LONG_AGO)

    plan = plan_chat_event(state, event, T0 + 5)

    assert bool(writes_to(plan, Target.NEXTCLOUD)) is expect_write
    if not expect_write:
        assert plan.writes == ()
        assert SkipReason.STALE.value in reasons(plan)


@pytest.mark.parametrize(
    "arrival",
    [
        pytest.param([0, 1, 2], id="in-order"),
        pytest.param([2, 1, 0], id="reversed"),
        pytest.param([1, 2, 0], id="last-first"),
        pytest.param([0, 2, 1], id="swapped-tail"),
    ],
)
def test_out_of_order_events_end_at_newest(arrival):
    messages = ["first", "second", "third"]
    events = [
        status_event(Platform.SLACK, message=StatusMessage(message=text), at=T0 + index)
        for index, text in enumerate(messages)
    ]
    driver = Driver(linked(ONLINE), PlannerSettings(debounce_seconds=0))

    for index in arrival:
        driver.event(events[index])

    assert driver.state.nextcloud.message == "third"
    assert driver.state.message_changed_at == T0 + 2
    written = [write.desired.message for _, write in driver.log if write.target is Target.NEXTCLOUD]
    assert written[-1] == "third"


def test_nextcloud_change_is_stamped_when_observed():
    observed = plan_sweep({ALICE: linked(ONLINE)}, sweep(("alice", nc("away")), at=T0 + 5), T0 + 5)
    state = observed.new_states[ALICE]

    late = plan_chat_event(state, presence(Platform.SLACK, "online", at=T0 + 3), T0 + 6)
    fresh = plan_chat_event(state, presence(Platform.SLACK, "online", at=T0 + 6), T0 + 6)

    assert state.status_changed_at == T0 + 5
    assert late.writes == ()
    assert SkipReason.STALE.value in reasons(late)
    assert writes_to(fresh, Target.NEXTCLOUD)


def test_sweep_read_before_chat_write_is_stale():
    applied = plan_chat_event(linked(ONLINE), presence(Platform.SLACK, "away", at=T0 + 10), T0 + 10)
    state = applied.new_states[ALICE]

    plan = plan_sweep({ALICE: state}, sweep(("alice", ONLINE), at=T0 + 5), T0 + 11)

    assert plan.writes == ()
    assert SkipReason.STALE.value in reasons(plan)
    assert plan.new_states.get(ALICE, state).nextcloud.status is nc("away").status
