"""Sync planner invariants over random chat event sequences (hypothesis)."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from presence_bridge.core.ids import Platform
from presence_bridge.core.planner import plan_sweep, plan_wake
from presence_bridge.core.planner_rules import fingerprint, outward_status
from presence_bridge.core.sync_state import PlannerSettings, Target
from tests.core.planner_support import ALICE, T0, Driver, linked, nc, presence, sweep

ROUNDING = 1e-6

steps = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=60),
        st.sampled_from([Platform.SLACK, Platform.MATRIX]),
        st.sampled_from(["online", "away"]),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=80, deadline=None)
@given(steps=steps, debounce=st.sampled_from([0.0, 0.5, 2.0, 10.0]))
def test_random_presence_sequences(steps, debounce):
    # Inside the settle window, a change equal to the bridge's last write is dropped
    # as its echo. A zero window keeps every change, so the last one always wins.
    planner_settings = PlannerSettings(debounce_seconds=debounce, settle_seconds=0)
    driver = Driver(linked(nc("online")), planner_settings)
    now = T0
    for gap_tenths, platform, status in steps:
        now += gap_tenths / 10
        driver.event(presence(platform, status, at=now))
    driver.wake_until(now + debounce + 1)

    assert driver.state.nextcloud.status.value == steps[-1][2]
    assert driver.wake_at is None
    last_platform = steps[-1][1]
    assert driver.state.links[last_platform].target.synced.status.value == steps[-1][2]
    for target in (Target.NEXTCLOUD, Target.SLACK, Target.MATRIX):
        automatic = [at for at, write in driver.log if write.target is target and write.automatic]
        for earlier, later in pairwise(automatic):
            assert later - earlier >= debounce - ROUNDING
    for _, write in driver.log:
        assert write.desired.status.value != "invisible"


sweeps = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=40),
        st.sampled_from(["online", "away", "dnd", "busy", "invisible", "offline"]),
        st.sampled_from([None, "Lunch", "Focus"]),
        st.booleans(),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(sweeps=sweeps, debounce=st.sampled_from([0.0, 1.0, 5.0]))
def test_random_sweeps_converge_outward(sweeps, debounce):
    planner_settings = PlannerSettings(debounce_seconds=debounce)
    states = {ALICE: linked(nc("online"))}
    log = []
    now = T0
    for gap_tenths, status, message, complete in sweeps:
        now += gap_tenths / 10
        woken = plan_wake(states, now, planner_settings)
        states = {**states, **woken.new_states}
        listing = sweep(("alice", nc(status, message=message)), complete=complete, at=now)
        plan = plan_sweep(states, listing, now, planner_settings)
        states = {**states, **plan.new_states}
        log.extend((now, write) for write in woken.writes + plan.writes)
    final = plan_wake(states, now + debounce + 1, planner_settings)
    states = {**states, **final.new_states}
    log.extend((now + debounce + 1, write) for write in final.writes)

    expected = outward_status(states[ALICE].nextcloud, now)
    assert expected.status.value != "invisible"
    for link in states[ALICE].links.values():
        assert link.target.fingerprint == fingerprint(expected)
        assert link.target.pending_since is None
    for target in (Target.SLACK, Target.MATRIX):
        times = [at for at, write in log if write.target is target]
        for earlier, later in pairwise(times):
            assert later - earlier >= debounce - ROUNDING
    assert all(write.desired.status.value != "invisible" for _, write in log)
