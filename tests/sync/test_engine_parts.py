"""The engine's parts: per-user read spacing, held writes, compare-and-set saving, state documents, settings."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import pytest

from presence_bridge import config
from presence_bridge.core.ids import NextcloudUserId, Platform
from presence_bridge.core.status import NextcloudStatus, NextcloudStatusType
from presence_bridge.core.sync_state import (
    ChatEventKind,
    ChatLink,
    PendingChange,
    PlannerSettings,
    StatusChange,
    StatusMessage,
    TargetState,
    UserSyncState,
)
from presence_bridge.errors import ConfigError
from presence_bridge.storage.planner_state import OutboxRow, StateUpdate, commit_planned
from presence_bridge.sync.schedule import DueTimes
from presence_bridge.sync.settings import EngineSettings
from presence_bridge.sync.state_store import state_from_json, state_to_json
from presence_bridge.sync.worker import SyncEngine

from .conftest import Bridge, make_settings

MINIMAL_CONFIG = """
[nextcloud]
url = "https://cloud.example.org"
login = "bridge"
app_password = "secret"
[storage]
encryption_key = "{key}"
"""


async def test_per_user_reads_spread_over_interval(bridge: Bridge) -> None:
    for user in ("alice", "bob", "carol", "dave"):
        await bridge.link(user)
    bridge.nextcloud.set_enumeration("none")
    pauses: list[float] = []

    async def record_pause(seconds: float) -> None:
        pauses.append(seconds)

    settings = make_settings(sweep_interval=80.0, spread_fraction=0.5)
    engine = SyncEngine(bridge.store, bridge.reader, settings, metrics=bridge.metrics, sleep=record_pause)
    report = await engine.sweep()

    assert report.mode == "per_user"
    assert report.read == 4
    assert pauses == [10.0, 10.0, 10.0]


async def test_held_write_sent_at_wake(bridge: Bridge) -> None:
    settings = make_settings(planner=PlannerSettings(debounce_seconds=1.0))
    bridge.executor.settings = settings
    engine = SyncEngine(bridge.store, bridge.reader, settings, metrics=bridge.metrics, executor=bridge.executor)
    await bridge.link("alice")
    bridge.nextcloud.set_status("alice", "dnd")
    await engine.sweep()
    bridge.nextcloud.set_status("alice", "away")
    report = await engine.sweep()
    assert report.written == 0
    assert engine.next_wake_at is not None

    task = asyncio.create_task(engine.run())
    try:
        deadline = time.monotonic() + 20
        while len(bridge.writes("alice")) < 2:
            assert time.monotonic() < deadline, "the held write was not sent"
            await bridge.drain()
            await asyncio.sleep(0.05)
    finally:
        engine.stop()
        await asyncio.wait_for(task, 10)

    assert [line["desired"]["status"] for line in bridge.writes("alice")] == ["dnd", "away"]


async def test_commit_skips_user_changed_meanwhile(bridge: Bridge) -> None:
    await commit_planned(bridge.store, [StateUpdate("alice", None, "first")], [])
    row = OutboxRow("recording", "ws", "U-alice", "alice", {"version": 1}, "key-1")
    other = OutboxRow("recording", "ws", "U-bob", "bob", {"version": 1}, "key-2")

    result = await commit_planned(bridge.store, [StateUpdate("alice", "stale", "second")], [row, other])

    assert result.conflicts == {"alice"}
    assert result.enqueued == 1
    assert [item.user_id for item in await bridge.store.list_outbox()] == ["U-bob"]


async def test_commit_adds_same_key_once(bridge: Bridge) -> None:
    row = OutboxRow("recording", "ws", "U-alice", "alice", {"version": 1}, "key-1")

    first = await commit_planned(bridge.store, [], [row])
    second = await commit_planned(bridge.store, [], [row])

    assert first.enqueued == 1
    assert second.enqueued == 0
    assert len(await bridge.store.list_outbox()) == 1


def test_state_document_round_trip() -> None:
    pending = PendingChange(
        Platform.RECORDING,
        ChatEventKind.STATUS,
        StatusChange(NextcloudStatusType.AWAY, StatusMessage(message="Out", icon="🌴", clear_at=2_000_000_000)),
        1_800_000_000.5,
    )
    status = NextcloudStatus(NextcloudStatusType.DND, message_id="call", automated=True)
    target = TargetState(status, "abc", 1.5, 1.5, 2.0, pending)
    state = UserSyncState(
        NextcloudUserId("alice"),
        nextcloud=status,
        observed_at=3.0,
        has_backup=True,
        missing_sweeps=1,
        status_changed_at=4.0,
        message_changed_at=5.0,
        nextcloud_target=target,
        links={Platform.RECORDING: ChatLink(target=target)},
    )

    text = state_to_json(state)

    assert state_from_json(text) == state
    assert state_to_json(state_from_json(text)) == text


def test_config_sections_read(tmp_path: Path) -> None:
    from cryptography.fernet import Fernet

    source = MINIMAL_CONFIG.format(key=Fernet.generate_key().decode()) + (
        '[recording]\nenabled = true\npath = "out/recording.jsonl"\n'
        "[keepalive]\ninterval_seconds = 120\n"
        "[per_user_reads]\nspread_fraction = 0.25\n"
        '[who]\nteam_leads = { "team-a" = ["carol", "dave"] }\n'
    )

    settings = config.loads(source, environ={}, base_dir=tmp_path)
    engine = EngineSettings.from_config(settings, frozenset({Platform.RECORDING}))

    assert settings.recording.path == tmp_path / "out" / "recording.jsonl"
    assert settings.who.leads_of("team-a") == ("carol", "dave")
    assert settings.who.leads_of("team-b") == ()
    assert engine.keepalive_interval == 120.0
    assert engine.spread_fraction == 0.25
    assert engine.team_leads == {"team-a": ("carol", "dave")}


@pytest.mark.parametrize(
    ("section", "expected_key"),
    [
        ("[recording]\nenabled = true\n", "recording.path"),
        ("[keepalive]\ninterval_seconds = 900\n", "keepalive.interval_seconds"),
        ("[per_user_reads]\nspread_fraction = 1.5\n", "per_user_reads.spread_fraction"),
        ('[who]\nteam_leads = { "team-a" = "carol" }\n', "who.team_leads.team-a"),
    ],
)
def test_config_sections_reject_invalid(section: str, expected_key: str) -> None:
    from cryptography.fernet import Fernet

    source = MINIMAL_CONFIG.format(key=Fernet.generate_key().decode()) + section

    with pytest.raises(ConfigError) as caught:
        config.loads(source, environ={})

    assert str(caught.value).startswith(expected_key)


def test_engine_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        make_settings().sweep_interval = 1.0  # type: ignore[misc]


async def test_stop_ends_spread_per_user_sweep(bridge: Bridge) -> None:
    await bridge.link("alice")
    await bridge.link("bob")
    bridge.nextcloud.set_enumeration("none")
    settings = make_settings(sweep_interval=3600.0, spread_fraction=0.5)
    engine = SyncEngine(bridge.store, bridge.reader, settings, metrics=bridge.metrics)
    task = asyncio.create_task(engine.run())
    deadline = time.monotonic() + 20
    while bridge.metrics.value("presence_bridge_statuses_read_total") == 0 and not bridge.writes():
        await bridge.drain()
        assert time.monotonic() < deadline, "the first per-user read did not happen"
        await asyncio.sleep(0.05)

    engine.stop()
    await asyncio.wait_for(task, 10)

    assert [line["nextcloud_user_id"] for line in bridge.writes()] == ["alice"]


async def test_wake_plans_only_due_users(bridge: Bridge) -> None:
    offset = [0.0]
    engine = SyncEngine(
        bridge.store, bridge.reader, bridge.settings, metrics=bridge.metrics, clock=lambda: time.time() + offset[0]
    )
    await bridge.link("alice")
    await bridge.link("bob")
    soon = int(time.time()) + 60
    bridge.nextcloud.set_custom("alice", "Lunch", soon)
    bridge.nextcloud.set_custom("bob", "Holiday", soon + 86400)
    await engine.sweep()
    await bridge.drain()
    assert engine.next_wake_at == soon

    offset[0] = 120.0
    report = await engine.wake()
    await bridge.drain()

    assert report.written == 1
    assert [line["reason"] for line in bridge.writes("alice")] == ["nextcloud-changed", "expired"]
    assert [line["reason"] for line in bridge.writes("bob")] == ["nextcloud-changed"]
    assert engine.next_wake_at == soon + 86400


def test_due_times_track_states() -> None:
    due = DueTimes(PlannerSettings())
    status = NextcloudStatus(NextcloudStatusType.AWAY, message="Lunch", clear_at=1_000)
    due.update({NextcloudUserId("alice"): UserSyncState(NextcloudUserId("alice"), nextcloud=status)}, 500.0)
    due.update({NextcloudUserId("bob"): UserSyncState(NextcloudUserId("bob"))}, 500.0)

    assert due.next == 1_000
    assert due.due(999.0) == []
    assert due.due(1_000.0) == ["alice"]

    due.postpone(["alice"], 2_000.0)
    assert due.next == 2_000.0
    due.forget(["alice"])
    assert due.next is None
