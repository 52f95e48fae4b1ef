"""The sweeping worker against the emulator: changes reach chat once, expiries at their time, hidden lists."""

from __future__ import annotations

import asyncio
import time

from presence_bridge.core.ids import NextcloudUserId
from presence_bridge.core.status import NextcloudStatusType
from presence_bridge.core.sync_state import StatusChange, StatusMessage
from presence_bridge.nextcloud import Credential, NextcloudClient, PublicStatus
from presence_bridge.sync.worker import SyncEngine

from .conftest import Bridge, Nextcloud, identity, make_settings


async def wait_for(condition: object, timeout: float = 20.0) -> None:
    """Poll ``condition()`` until it is true; fail after ``timeout`` seconds (a bound, not a measurement)."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_change_reaches_platform_once(bridge: Bridge) -> None:
    await bridge.link("alice")
    await bridge.engine.sweep()
    await bridge.drain()
    bridge.nextcloud.set_status("alice", "dnd")

    await bridge.engine.sweep()
    await bridge.drain()
    for _ in range(3):
        await bridge.engine.sweep()
        await bridge.drain()

    writes = bridge.writes("alice")
    assert [line["desired"]["status"] for line in writes] == ["offline", "dnd"]
    assert writes[1]["chat_user_id"] == "U-alice"
    assert writes[1]["reason"] == "nextcloud-changed"


async def test_ten_quiet_sweeps_write_nothing(bridge: Bridge) -> None:
    for user in ("alice", "bob", "carol"):
        await bridge.link(user)
    bridge.nextcloud.set_status("alice", "dnd")
    bridge.nextcloud.set_custom("bob", "Reading")
    bridge.nextcloud.set_status("carol", "invisible")
    # Carol is active in chat but invisible, so every sweep lists her offline and
    # asks for a keep-alive, which Nextcloud ignores for a sticky status.
    bridge.keepalive.record_activity(NextcloudUserId("carol"), NextcloudStatusType.ONLINE, time.time(), sent=True)
    await bridge.engine.sweep()
    await bridge.drain()
    first = len(bridge.writes())

    for _ in range(10):
        report = await bridge.engine.sweep()
        assert report.written == 0
        await bridge.drain()

    assert first == 3
    assert len(bridge.writes()) == first
    assert bridge.metrics.value("presence_bridge_keepalives_total", result="sent") == 2
    assert bridge.metrics.value("presence_bridge_keepalives_total", result="skipped_bound") == 9
    assert bridge.nextcloud.own_status("carol")["status"] == "invisible"


async def test_invisible_published_as_offline(bridge: Bridge) -> None:
    await bridge.link("carol")
    bridge.nextcloud.set_status("carol", "invisible")

    await bridge.engine.sweep()
    await bridge.drain()

    assert [line["desired"]["status"] for line in bridge.writes("carol")] == ["offline"]


async def test_expiry_delivered_at_clear_at(bridge: Bridge) -> None:
    await bridge.link("alice")
    clear_at = int(time.time()) + 2
    bridge.nextcloud.set_status("alice", "dnd")
    bridge.nextcloud.set_custom("alice", "Lunch", clear_at)
    assert bridge.settings.sweep_interval >= 3600
    task = asyncio.create_task(bridge.engine.run())
    try:
        await wait_for(lambda: bridge.engine.sweeps >= 1)
        assert bridge.engine.next_wake_at == clear_at
        while len(bridge.writes("alice")) < 2:
            await bridge.drain()
            assert not task.done()
            await asyncio.sleep(0.05)
    finally:
        bridge.engine.stop()
        await asyncio.wait_for(task, 10)

    first, expired = bridge.writes("alice")
    assert first["desired"]["message"] == "Lunch"
    assert expired["desired"] == {**expired["desired"], "status": "offline", "message": None, "clear_at": None}
    assert expired["reason"] == "expired"
    assert expired["at"] >= clear_at
    assert bridge.engine.sweeps == 1


async def test_hidden_list_keeps_users_in_sync(bridge: Bridge) -> None:
    for user in ("alice", "bob", "carol"):
        await bridge.link(user)
    bridge.nextcloud.set_status("alice", "dnd")
    bridge.nextcloud.set_custom("bob", "Reading")
    bridge.nextcloud.as_user("carol", "PUT", "/heartbeat", {"status": "online"})
    await bridge.engine.sweep()
    await bridge.drain()
    before = len(bridge.writes())

    bridge.nextcloud.set_enumeration("none")
    for _ in range(3):
        report = await bridge.engine.sweep()
        assert report.mode == "per_user"
        assert report.read == 3
        await bridge.drain()
    assert len(bridge.writes()) == before

    bridge.nextcloud.set_status("bob", "away")
    report = await bridge.engine.sweep()
    await bridge.drain()

    assert report.written == 1
    assert len(bridge.writes()) == before + 1
    assert bridge.writes("bob")[-1]["desired"]["status"] == "away"
    assert all(line["desired"]["status"] != "offline" for line in bridge.writes()[before:])


async def test_hidden_list_reads_automation_backup(bridge: Bridge) -> None:
    await bridge.link("alice")
    bridge.nextcloud.as_user("alice", "PUT", "/heartbeat", {"status": "online"})
    bridge.nextcloud.set_enumeration("none")
    await bridge.engine.sweep()
    bridge.nextcloud.control("POST", "/automations", {"user": "alice", "message_id": "call", "status": "busy"})

    await bridge.engine.sweep()
    await bridge.drain()

    states = await bridge.executor.states.load(["alice"])
    assert states[NextcloudUserId("alice")].state.has_backup
    assert bridge.writes("alice")[-1]["desired"]["automated"] is True


class GateClosingReader(NextcloudClient):
    """A read client that restricts user enumeration right after the first ``/statuses`` page."""

    nextcloud: Nextcloud | None = None

    async def get_statuses_page(self, limit: int, offset: int = 0) -> tuple[PublicStatus, ...]:
        rows = await super().get_statuses_page(limit, offset)
        if offset == 0 and self.nextcloud is not None:
            self.nextcloud.set_enumeration("none")
            self.nextcloud = None
        return rows


async def test_gate_closing_mid_sweep_writes_no_offline(bridge: Bridge) -> None:
    users = ("alice", "bob", "carol", "dave")
    for user in users:
        await bridge.link(user)
        bridge.nextcloud.set_status(user, "dnd")
    settings = make_settings(page_limit=1)
    reader = GateClosingReader(bridge.reader._http, Credential("admin", "admin-app"))
    engine = SyncEngine(bridge.store, reader, settings, metrics=bridge.metrics, executor=bridge.executor)
    await bridge.engine.sweep()
    await bridge.drain()
    before = len(bridge.writes())

    reader.nextcloud = bridge.nextcloud
    cut_short = await engine.sweep()
    per_user = [await engine.sweep() for _ in range(3)]
    await bridge.drain()

    assert before == len(users)
    assert cut_short.mode == "list"
    assert cut_short.read == 1
    assert [report.mode for report in per_user] == ["per_user"] * 3
    assert len(bridge.writes()) == before


async def test_sweep_without_links_reads_nothing(bridge: Bridge) -> None:
    bridge.nextcloud.set_status("alice", "dnd")
    requests_before = bridge.reader.requests_sent

    report = await bridge.engine.sweep()

    assert report.read == 0
    assert bridge.reader.requests_sent == requests_before
    assert bridge.engine.sweeps == 1


async def test_return_to_queued_state_ends_there(bridge: Bridge) -> None:
    await bridge.link("alice")
    for status in ("dnd", "away", "dnd"):
        bridge.nextcloud.set_status("alice", status)
        await bridge.engine.sweep()

    queued = await bridge.store.list_outbox()
    await bridge.drain()

    assert len(queued) == 3
    assert bridge.writes("alice")[-1]["desired"]["status"] == "dnd"


async def test_gateway_expiry_wakes_running_engine(bridge: Bridge) -> None:
    await bridge.link("alice")
    task = asyncio.create_task(bridge.engine.run())
    try:
        await wait_for(lambda: bridge.engine.sweeps >= 1)
        clear_at = int(time.time()) + 2
        change = StatusChange(NextcloudStatusType.DND, StatusMessage(message="Lunch", clear_at=clear_at))
        await bridge.gateway.handle_chat_status(identity("alice"), change, time.time())
        assert bridge.engine.next_wake_at == clear_at
        while not any(line["reason"] == "expired" for line in bridge.writes("alice")):
            await bridge.drain()
            assert not task.done()
            await asyncio.sleep(0.05)
    finally:
        bridge.engine.stop()
        await asyncio.wait_for(task, 10)

    expired = bridge.writes("alice")[-1]
    assert expired["reason"] == "expired"
    assert expired["desired"]["status"] == "offline"
    assert bridge.engine.sweeps == 1


async def test_running_engine_survives_gate_switch(bridge: Bridge) -> None:
    for user in ("alice", "bob", "carol"):
        await bridge.link(user)
        bridge.nextcloud.set_status(user, "dnd")
    settings = make_settings(sweep_interval=1.0)
    engine = SyncEngine(bridge.store, bridge.reader, settings, metrics=bridge.metrics, executor=bridge.executor)
    tasks = [asyncio.create_task(engine.run()), asyncio.create_task(bridge.dispatcher.run())]
    bridge.dispatcher.wake()
    bridge.executor.on_enqueued = bridge.dispatcher.wake
    try:
        await wait_for(lambda: len(bridge.writes()) == 3)
        bridge.nextcloud.set_enumeration("none")
        sweeps = engine.sweeps
        await wait_for(lambda: engine.sweeps >= sweeps + 2)
        bridge.nextcloud.set_status("bob", "away")
        await wait_for(lambda: len(bridge.writes()) == 4)
        await wait_for(lambda: engine.sweeps >= sweeps + 4)
    finally:
        engine.stop()
        bridge.dispatcher.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)

    assert [line["desired"]["status"] for line in bridge.writes()] == ["dnd", "dnd", "dnd", "away"]
    assert bridge.writes()[-1]["nextcloud_user_id"] == "bob"
    assert bridge.metrics.value("presence_bridge_sweeps_total", mode="per_user") >= 2
