"""Sync planner: sweeps of ``GET /statuses``, missing users, backup rows, direction."""

from __future__ import annotations

from dataclasses import replace

import pytest

from presence_bridge.core.ids import NextcloudUserId, Platform
from presence_bridge.core.planner import plan_chat_event, plan_command, plan_sweep
from presence_bridge.core.sync_state import (
    ChatLink,
    CommandAction,
    CommandIntent,
    Direction,
    PlannerSettings,
    SkipReason,
    StatusChange,
    SweepObservation,
    Target,
    WriteReason,
)
from presence_bridge.errors import ConfigError
from tests.core.planner_support import (
    ALICE,
    BOB,
    T0,
    linked,
    nc,
    presence,
    reasons,
    statuses_written,
    sweep,
    writes_to,
)

ONLINE = nc("online")
AWAY = nc("away")
CHATS = {Target.SLACK, Target.MATRIX}


@pytest.mark.parametrize(
    ("listed", "expected_targets", "expected_status"),
    [
        pytest.param(ONLINE, set(), None, id="unchanged-plans-nothing"),
        pytest.param(AWAY, CHATS, "away", id="status-changed"),
        pytest.param(nc("online", message="Lunch", icon="🍔"), CHATS, "online", id="message-added"),
        pytest.param(nc("online", clear_at=int(T0) + 60), CHATS, "online", id="only-clear-at-changed"),
    ],
)
def test_sweep_writes_only_real_changes(listed, expected_targets, expected_status):
    plan = plan_sweep({ALICE: linked(ONLINE)}, sweep(("alice", listed)), T0)

    assert {write.target for write in plan.writes} == expected_targets
    for write in plan.writes:
        assert write.desired.status.value == expected_status
        assert write.reason is WriteReason.NEXTCLOUD_CHANGED
        assert write.automatic


def test_sweep_unchanged_keeps_state():
    plan = plan_sweep({ALICE: linked(ONLINE)}, sweep(("alice", ONLINE), at=T0), T0)

    assert plan.writes == ()
    assert plan.new_states == {}


def test_sweep_change_records_observed_at():
    plan = plan_sweep({ALICE: linked(ONLINE)}, sweep(("alice", AWAY), at=T0 - 2), T0)

    assert plan.new_states[ALICE].observed_at == T0 - 2
    assert plan.new_states[ALICE].status_changed_at == T0 - 2


def test_sweep_first_observation_publishes():
    state = linked(ONLINE)
    fresh = type(state)(user=ALICE, links=state.links)

    plan = plan_sweep({ALICE: fresh}, sweep(("alice", AWAY)), T0)

    assert statuses_written(plan) == {Target.SLACK: AWAY.status, Target.MATRIX: AWAY.status}


# Each case feeds sweeps one after another: "present" lists alice, "missing" does
# not (bob keeps the listing non-empty), "partial" is missing from an incomplete sweep.
MISSING_CASES = [
    pytest.param(["missing"], 0, 1, id="missing-once-waits"),
    pytest.param(["missing", "missing"], 2, 2, id="missing-twice-confirmed"),
    pytest.param(["partial", "partial", "partial"], 0, 0, id="incomplete-never-counts"),
    pytest.param(["missing", "partial", "missing"], 2, 2, id="incomplete-in-between"),
    pytest.param(["missing", "present", "missing"], 0, 1, id="reappearing-resets"),
    pytest.param(["missing", "missing", "missing"], 2, 2, id="confirmed-writes-once"),
]


@pytest.mark.parametrize(("sweeps", "expected_writes", "expected_count"), MISSING_CASES)
def test_missing_user_needs_two_complete_sweeps(sweeps, expected_writes, expected_count):
    states = {ALICE: linked(ONLINE), BOB: linked(ONLINE, user=BOB)}
    writes = []
    for step, kind in enumerate(sweeps):
        rows = [("bob", ONLINE)] + ([("alice", ONLINE)] if kind == "present" else [])
        observation = sweep(*rows, complete=kind != "partial", at=T0 + step)
        plan = plan_sweep(states, observation, T0 + step)
        states = {**states, **plan.new_states}
        writes.extend(plan.writes)

    assert len(writes) == expected_writes
    for write in writes:
        assert write.user == ALICE
        assert write.reason is WriteReason.NEXTCLOUD_MISSING
        assert write.desired == nc("offline")
    assert states[ALICE].missing_sweeps == expected_count


def test_missing_once_is_noted():
    plan = plan_sweep({ALICE: linked(ONLINE), BOB: linked(ONLINE, user=BOB)}, sweep(("bob", ONLINE)), T0)

    assert reasons(plan) == {SkipReason.MISSING_UNCONFIRMED.value}


def test_empty_complete_sweep_is_inconclusive():
    states = {ALICE: linked(ONLINE)}
    for step in range(3):
        plan = plan_sweep(states, sweep(at=T0 + step), T0 + step)
        states = {**states, **plan.new_states}
        assert plan.writes == ()

    assert SkipReason.INCONCLUSIVE_SWEEP.value in reasons(plan)
    assert states[ALICE].missing_sweeps == 0


def test_never_seen_user_is_not_missing():
    fresh = type(linked())(user=ALICE)

    plan = plan_sweep({ALICE: fresh, BOB: linked(user=BOB)}, sweep(("bob", ONLINE)), T0)

    assert plan.writes == ()
    assert ALICE not in plan.new_states


@pytest.mark.parametrize(
    ("rows", "expected_users", "expected_backups"),
    [
        pytest.param([("_alice", ONLINE), ("alice", AWAY)], {"alice": AWAY}, {"alice"}, id="backup-then-user"),
        pytest.param([("alice", AWAY), ("_alice", ONLINE)], {"alice": AWAY}, {"alice"}, id="user-then-backup"),
        pytest.param([("_alice", ONLINE)], {}, {"alice"}, id="backup-only"),
        pytest.param([("alice", ONLINE), ("alice", AWAY)], {"alice": AWAY}, set(), id="duplicate-keeps-last"),
        pytest.param([("_", ONLINE)], {}, set(), id="bare-underscore-ignored"),
    ],
)
def test_listing_splits_backup_rows(rows, expected_users, expected_backups):
    observation = SweepObservation.from_listing(rows, complete=True, observed_at=T0)

    assert dict(observation.users) == expected_users
    assert observation.backups == expected_backups


def test_backup_row_never_becomes_a_user():
    call = nc("dnd", message="In a call", icon="💬")
    listing = sweep(("_alice", nc("online", message="WFH")), ("alice", call))

    plan = plan_sweep({ALICE: linked(ONLINE)}, listing, T0)

    assert set(plan.new_states) == {ALICE}
    assert {write.user for write in plan.writes} == {ALICE}
    assert plan.new_states[ALICE].has_backup
    assert all(write.desired.automated for write in plan.writes)


def test_backup_key_passed_as_user_is_ignored():
    listing = SweepObservation({NextcloudUserId("_alice"): ONLINE}, frozenset(), True, T0)
    state = linked(AWAY)

    plan = plan_sweep({ALICE: state, NextcloudUserId("_alice"): linked(AWAY, user=NextcloudUserId("_alice"))}, listing, T0)

    assert plan.writes == ()
    assert SkipReason.BACKUP_ROW.value in reasons(plan)


def test_user_listed_only_by_backup_is_not_missing():
    states = {ALICE: linked(ONLINE), BOB: linked(ONLINE, user=BOB)}
    for step in range(3):
        plan = plan_sweep(states, sweep(("bob", ONLINE), ("_alice", ONLINE), at=T0 + step), T0 + step)
        states = {**states, **plan.new_states}

    assert plan.writes == ()
    assert states[ALICE].missing_sweeps == 0


def test_unknown_user_in_listing_is_ignored():
    plan = plan_sweep({ALICE: linked(ONLINE)}, sweep(("alice", ONLINE), ("carol", AWAY)), T0)

    assert plan.writes == ()
    assert set(plan.new_states) <= {ALICE}


def test_sweep_reports_only_changed_users():
    states = {ALICE: linked(ONLINE), BOB: linked(ONLINE, user=BOB)}

    plan = plan_sweep(states, sweep(("alice", AWAY), ("bob", ONLINE)), T0)

    assert {write.user for write in plan.writes} == {ALICE}
    assert plan.new_states[ALICE].nextcloud == AWAY


# Direction table: what a Nextcloud change and a chat change do for each setting.
@pytest.mark.parametrize(
    ("direction", "sweep_writes_slack", "slack_event_writes_nextcloud"),
    [
        pytest.param(Direction.BOTH, True, True, id="both"),
        pytest.param(Direction.TO_CHAT, True, False, id="to-chat"),
        pytest.param(Direction.TO_NEXTCLOUD, False, True, id="to-nextcloud"),
        pytest.param(Direction.OFF, False, False, id="off"),
    ],
)
def test_direction_is_respected(direction, sweep_writes_slack, slack_event_writes_nextcloud):
    state = linked(ONLINE, slack=direction)

    outward = plan_sweep({ALICE: state}, sweep(("alice", AWAY)), T0)
    inward = plan_chat_event(state, presence(Platform.SLACK, "away"), T0)

    assert bool(writes_to(outward, Target.SLACK)) is sweep_writes_slack
    assert writes_to(outward, Target.MATRIX)
    assert bool(writes_to(inward, Target.NEXTCLOUD)) is slack_event_writes_nextcloud
    if not slack_event_writes_nextcloud:
        assert SkipReason.DIRECTION.value in reasons(inward)


@pytest.mark.parametrize(
    ("direction", "command_writes_slack"),
    [
        pytest.param(Direction.BOTH, True, id="both"),
        pytest.param(Direction.TO_CHAT, True, id="to-chat"),
        pytest.param(Direction.TO_NEXTCLOUD, False, id="to-nextcloud"),
        pytest.param(Direction.OFF, False, id="off"),
    ],
)
def test_command_fan_out_follows_direction(direction, command_writes_slack):
    state = linked(ONLINE, slack=direction)
    intent = CommandIntent(ALICE, CommandAction.SET, T0, StatusChange(status_type=AWAY.status), Platform.SLACK)

    plan = plan_command(state, intent, T0)

    assert len(writes_to(plan, Target.NEXTCLOUD)) == 1
    assert bool(writes_to(plan, Target.SLACK)) is command_writes_slack


def test_unlinked_platform_event_is_noted():
    state = linked(ONLINE, matrix=None)

    plan = plan_chat_event(state, presence(Platform.MATRIX, "away"), T0)

    assert plan.writes == ()
    assert reasons(plan) == {SkipReason.NOT_LINKED.value}


def test_chat_change_fans_out_to_other_platforms():
    plan = plan_chat_event(linked(ONLINE), presence(Platform.SLACK, "away"), T0)

    assert statuses_written(plan) == {Target.NEXTCLOUD: AWAY.status, Target.MATRIX: AWAY.status}
    assert plan.new_states[ALICE].nextcloud.status is AWAY.status


def test_new_link_gets_first_write():
    state = linked(ONLINE)
    state = replace(state, links={**state.links, Platform.MATRIX: ChatLink()})

    plan = plan_sweep({ALICE: state}, sweep(("alice", ONLINE)), T0)

    assert statuses_written(plan) == {Target.MATRIX: ONLINE.status}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("settle_seconds", -1.0, id="negative-settle"),
        pytest.param("debounce_seconds", -0.5, id="negative-debounce"),
        pytest.param("missing_sweeps_to_confirm", 0, id="zero-sweeps"),
    ],
)
def test_settings_reject_invalid_values(field, value):
    with pytest.raises(ConfigError) as raised:
        PlannerSettings(**{field: value})

    assert raised.value.key == field


@pytest.mark.parametrize("module", ["planner", "planner_rules", "sync_state"])
def test_planner_modules_stay_pure(module):
    import ast
    import importlib.util

    spec = importlib.util.find_spec(f"presence_bridge.core.{module}")
    tree = ast.parse(open(spec.origin, encoding="utf-8").read())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    allowed_stdlib = {"__future__", "collections.abc", "dataclasses", "enum", "hashlib", "json"}
    allowed_project = {"presence_bridge.errors"}

    for name in imported:
        assert name in allowed_stdlib or name in allowed_project or name.startswith("presence_bridge.core."), name
