"""Sync planner: debouncing of flapping changes, and expiry of ``clear_at``."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import pytest

from presence_bridge.core.ids import NextcloudUserId, Platform
from presence_bridge.core.planner import plan_chat_event, plan_command, plan_sweep, plan_wake
from presence_bridge.core.planner_rules import next_wake_at
from presence_bridge.core.sync_state import (
    CommandAction,
    CommandIntent,
    Direction,
    PlannerSettings,
    StatusMessage,
    SkipReason,
    StatusChange,
    Target,
    WriteReason,
)
from tests.core.planner_support import (
    ALICE,
    BOB,
    T0,
    Driver,
    linked,
    nc,
    presence,
    reasons,
    status_event,
    sweep,
    writes_to,
)

ONLINE = nc("online")
AWAY = nc("away")
STEP = 0.1
EVENTS = 100
# Times near 1.8e9 s carry float rounding of about 1e-7 s.
ROUNDING = 1e-6


@pytest.mark.parametrize("debounce", [10.0, 2.5, 1.0, 0.35], ids=lambda d: f"window-{d}s")
@pytest.mark.parametrize(
    ("platform", "first", "second"),
    [
        pytest.param(Platform.MATRIX, "away", "online", id="matrix-ends-online"),
        pytest.param(Platform.MATRIX, "online", "away", id="matrix-ends-unavailable"),
        pytest.param(Platform.SLACK, "away", "online", id="slack-ends-active"),
    ],
)
def test_flapping_every_100ms_for_10s(platform, first, second, debounce):
    start = nc("away") if first == "online" else ONLINE
    driver = Driver(linked(start), PlannerSettings(debounce_seconds=debounce))
    sequence = [first if index % 2 == 0 else second for index in range(EVENTS)]

    for index, status in enumerate(sequence):
        driver.event(presence(platform, status, at=T0 + round(index * STEP, 1)))
    driver.wake_until(T0 + EVENTS * STEP + debounce + 1)

    nextcloud_times = driver.times(Target.NEXTCLOUD)
    assert 1 <= len(nextcloud_times) <= EVENTS * STEP / debounce + 2
    for earlier, later in pairwise(nextcloud_times):
        assert later - earlier >= debounce - ROUNDING
    assert driver.state.nextcloud.status.value == sequence[-1]
    assert driver.wake_at is None
    for other, link in driver.state.links.items():
        if other is not platform:
            assert link.target.synced.status.value == sequence[-1]
            for earlier, later in pairwise(driver.times(Target.of(other))):
                assert later - earlier >= debounce - ROUNDING


def test_held_change_waits_for_window_end():
    settings = PlannerSettings(debounce_seconds=10)
    first = plan_chat_event(linked(ONLINE), presence(Platform.SLACK, "away", at=T0), T0, settings)
    held = plan_chat_event(first.new_states[ALICE], presence(Platform.SLACK, "online", at=T0 + 1), T0 + 1, settings)
    states = held.new_states

    early = plan_wake(states, T0 + 5, settings)
    due = plan_wake(states, T0 + 10, settings)

    assert len(writes_to(first, Target.NEXTCLOUD)) == 1
    assert held.writes == ()
    assert reasons(held) == {SkipReason.DEBOUNCED.value}
    assert held.wake_at == T0 + 10
    assert early.writes == ()
    assert [write.desired.status for write in writes_to(due, Target.NEXTCLOUD)] == [ONLINE.status]
    assert due.new_states[ALICE].nextcloud_target.pending_change is None


def test_held_change_back_to_start_writes_nothing():
    settings = PlannerSettings(debounce_seconds=10)
    driver = Driver(linked(ONLINE), settings)

    for offset, status in [(0, "away"), (1, "online"), (2, "away")]:
        driver.event(presence(Platform.SLACK, status, at=T0 + offset))
    driver.wake_until(T0 + 30)

    assert driver.times(Target.NEXTCLOUD) == [T0]
    assert driver.state.nextcloud.status is AWAY.status


@pytest.mark.parametrize(
    ("observed_at", "expected_held_after_sweep"),
    [
        pytest.param(T0 + 2, False, id="automation-seen-after-change"),
        pytest.param(T0 + 0.5, True, id="automation-read-before-change"),
    ],
)
def test_held_change_dropped_when_automation_starts(observed_at, expected_held_after_sweep):
    settings = PlannerSettings(debounce_seconds=10)
    first = plan_chat_event(linked(ONLINE), presence(Platform.SLACK, "away", at=T0), T0, settings)
    held = plan_chat_event(first.new_states[ALICE], presence(Platform.SLACK, "online", at=T0 + 1), T0 + 1, settings)
    call = nc("dnd", message="In a call", icon="💬")
    listing = sweep(("alice", call), ("_alice", AWAY), at=observed_at)
    automated = plan_sweep(held.new_states, listing, T0 + 2, settings)
    state = automated.new_states[ALICE]

    due = plan_wake({ALICE: state}, T0 + 10, settings)

    assert (state.nextcloud_target.pending_change is not None) is expected_held_after_sweep
    assert state.has_backup
    assert writes_to(due, Target.NEXTCLOUD) == []
    if expected_held_after_sweep:
        assert SkipReason.AUTOMATION_ACTIVE.value in reasons(due)


def test_held_change_dropped_after_newer_nextcloud_change():
    settings = PlannerSettings(debounce_seconds=10)
    message = lambda text, at: status_event(Platform.SLACK, message=StatusMessage(message=text), at=at)  # noqa: E731
    first = plan_chat_event(linked(ONLINE), message("A", T0), T0, settings)
    held = plan_chat_event(first.new_states[ALICE], message("B", T0 + 1), T0 + 1, settings)
    changed = plan_sweep(held.new_states, sweep(("alice", nc("online", message="C")), at=T0 + 3), T0 + 3, settings)

    due = plan_wake(changed.new_states, T0 + 10, settings)

    assert writes_to(due, Target.NEXTCLOUD) == []
    assert changed.new_states[ALICE].nextcloud_target.pending_change is None
    assert changed.new_states[ALICE].nextcloud.message == "C"


def test_late_event_keeps_held_other_part():
    settings = PlannerSettings(debounce_seconds=10)
    lunch = status_event(Platform.SLACK, message=StatusMessage(message="Lunch"), at=T0 + 1)
    first = plan_chat_event(linked(ONLINE), presence(Platform.SLACK, "away", at=T0), T0, settings)
    held = plan_chat_event(first.new_states[ALICE], lunch, T0 + 1, settings)

    late = plan_chat_event(held.new_states[ALICE], presence(Platform.SLACK, "online", at=T0 + 12), T0 + 12, settings)

    [write] = writes_to(late, Target.NEXTCLOUD)
    assert write.desired.message == "Lunch"
    assert write.desired.status is ONLINE.status
    assert late.new_states[ALICE].nextcloud_target.pending_change is None
    assert late.wake_at is None


@pytest.mark.parametrize(
    ("direction", "expected_nextcloud_writes"),
    [
        pytest.param(Direction.BOTH, 1, id="both"),
        pytest.param(Direction.TO_CHAT, 0, id="to-chat"),
        pytest.param(Direction.OFF, 0, id="off"),
    ],
)
def test_held_change_follows_direction_change(direction, expected_nextcloud_writes):
    settings = PlannerSettings(debounce_seconds=10)
    first = plan_chat_event(linked(ONLINE), presence(Platform.SLACK, "away", at=T0), T0, settings)
    held = plan_chat_event(first.new_states[ALICE], presence(Platform.SLACK, "online", at=T0 + 1), T0 + 1, settings)
    state = held.new_states[ALICE]
    switched = replace(state, links={**state.links, Platform.SLACK: replace(state.links[Platform.SLACK], direction=direction)})

    due = plan_wake({ALICE: switched}, T0 + 10, settings)

    assert len(writes_to(due, Target.NEXTCLOUD)) == expected_nextcloud_writes
    assert due.new_states[ALICE].nextcloud_target.pending_change is None


def test_outward_hold_dropped_when_direction_off():
    settings = PlannerSettings(debounce_seconds=10)
    first = plan_sweep({ALICE: linked(ONLINE)}, sweep(("alice", AWAY), at=T0), T0, settings)
    second = plan_sweep(first.new_states, sweep(("alice", ONLINE), at=T0 + 1), T0 + 1, settings)
    state = second.new_states[ALICE]
    assert second.wake_at == T0 + 10
    links = {platform: replace(link, direction=Direction.OFF) for platform, link in state.links.items()}

    due = plan_wake({ALICE: replace(state, links=links)}, T0 + 10, settings)

    assert due.writes == ()
    assert due.wake_at is None
    assert due.next_wake_at is None


def test_late_event_after_window_writes_directly():
    settings = PlannerSettings(debounce_seconds=10)
    first = plan_chat_event(linked(ONLINE), presence(Platform.SLACK, "away", at=T0), T0, settings)
    held = plan_chat_event(first.new_states[ALICE], presence(Platform.SLACK, "online", at=T0 + 1), T0 + 1, settings)

    late = plan_chat_event(held.new_states[ALICE], presence(Platform.SLACK, "away", at=T0 + 15), T0 + 15, settings)

    assert writes_to(late, Target.NEXTCLOUD) == []
    assert late.new_states[ALICE].nextcloud_target.pending_change is None
    assert late.wake_at is None


def test_command_skips_debounce_window():
    settings = PlannerSettings(debounce_seconds=10)
    first = plan_chat_event(linked(ONLINE), presence(Platform.SLACK, "away", at=T0), T0, settings)
    intent = CommandIntent(ALICE, CommandAction.SET, T0 + 1, StatusChange(status_type=nc("dnd").status))

    plan = plan_command(first.new_states[ALICE], intent, T0 + 1, settings)

    assert len(writes_to(plan, Target.NEXTCLOUD)) == 1
    assert len(writes_to(plan, Target.SLACK)) == 1
    assert len(writes_to(plan, Target.MATRIX)) == 1


def test_nextcloud_flapping_debounced_outward():
    settings = PlannerSettings(debounce_seconds=10)
    states = {ALICE: linked(ONLINE)}
    log = []
    for second in range(1, 31):
        now = T0 + second
        due = plan_wake(states, now, settings)
        states = {**states, **due.new_states}
        listed = AWAY if second % 2 else ONLINE
        plan = plan_sweep(states, sweep(("alice", listed), at=now), now, settings)
        states = {**states, **plan.new_states}
        log.extend((now, write) for write in due.writes + plan.writes)
    final = plan_wake(states, T0 + 60, settings)
    log.extend((T0 + 60, write) for write in final.writes)
    states = {**states, **final.new_states}

    for target in (Target.SLACK, Target.MATRIX):
        times = [at for at, write in log if write.target is target]
        assert times
        for earlier, later in pairwise(times):
            assert later - earlier >= 10
    assert states[ALICE].links[Platform.SLACK].target.synced == ONLINE
    assert final.next_wake_at is None


@pytest.mark.parametrize(
    ("clear_at", "expected_status", "expected_message"),
    [
        pytest.param(T0 - 1, "offline", None, id="passed"),
        pytest.param(T0, "offline", None, id="equal-to-now"),
        pytest.param(T0 + 1, "dnd", "Focus", id="future"),
    ],
)
def test_expired_clear_at_reads_as_offline(clear_at, expected_status, expected_message):
    listed = nc("dnd", message="Focus", icon="🎯", clear_at=int(clear_at))

    plan = plan_sweep({ALICE: linked(ONLINE)}, sweep(("alice", listed)), T0)

    assert {write.target for write in plan.writes} == {Target.SLACK, Target.MATRIX}
    for write in plan.writes:
        assert write.desired.status.value == expected_status
        assert write.desired.message == expected_message


def test_next_wake_at_is_earliest_future_clear_at():
    carol = NextcloudUserId("carol")
    states = {
        ALICE: linked(nc("dnd", message="a", clear_at=int(T0) + 100)),
        BOB: linked(nc("away", message="b", clear_at=int(T0) + 50), user=BOB),
        carol: linked(nc("online", message="c", clear_at=int(T0) - 5), user=carol),
    }

    plan = plan_sweep(states, sweep(("alice", states[ALICE].nextcloud), ("bob", states[BOB].nextcloud)), T0)

    assert next_wake_at(states, T0, PlannerSettings()) == T0 + 50
    assert plan.next_wake_at == T0 + 50
    assert plan.wake_at is None
    assert plan.new_states[carol].nextcloud == nc("offline")
    assert {write.user for write in plan.writes} == {carol}


def test_chat_message_already_expired_clears():
    expired = StatusMessage(message="Lunch", clear_at=int(T0) - 1)
    state = linked(nc("online", message="Old"))

    plan = plan_chat_event(state, status_event(Platform.SLACK, message=expired), T0)

    [write] = writes_to(plan, Target.NEXTCLOUD)
    assert write.desired == nc("online")


def test_wake_at_clear_at_publishes_offline():
    state = linked(nc("dnd", message="Focus", clear_at=int(T0) + 100))

    plan = plan_wake({ALICE: state}, T0 + 100, PlannerSettings())

    assert {write.target for write in plan.writes} == {Target.SLACK, Target.MATRIX}
    for write in plan.writes:
        assert write.reason is WriteReason.EXPIRED
        assert write.desired == nc("offline")
    assert plan.new_states[ALICE].nextcloud == nc("offline")
    assert plan.next_wake_at is None


def test_wake_before_clear_at_does_nothing():
    state = linked(nc("dnd", message="Focus", clear_at=int(T0) + 100))

    plan = plan_wake({ALICE: state}, T0 + 99, PlannerSettings())

    assert plan.writes == ()
    assert plan.next_wake_at == T0 + 100


def test_next_wake_at_takes_pending_before_clear_at():
    settings = PlannerSettings(debounce_seconds=10)
    state = replace(linked(ONLINE), nextcloud=nc("online", message="x", clear_at=int(T0) + 30))
    first = plan_chat_event(state, presence(Platform.SLACK, "away", at=T0), T0, settings)
    held = plan_chat_event(first.new_states[ALICE], presence(Platform.SLACK, "online", at=T0 + 1), T0 + 1, settings)

    assert first.next_wake_at == T0 + 30
    assert held.wake_at == T0 + 10
    assert held.next_wake_at == T0 + 10
