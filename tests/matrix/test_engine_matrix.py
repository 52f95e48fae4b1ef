"""Presence both ways between Nextcloud (the emulator) and a real Synapse, with the bridge running in full."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from tests.matrix.bot_helpers import Chat
from tests.matrix.bridge_harness import RunningBridge, wait_until
from tests.matrix.client_helpers import SyncingDevice, login_device, wait_for_presence
from tests.matrix.synapse_harness import MatrixUser

BUSY = "org.matrix.msc3026.busy"


async def linked_user(bridge: RunningBridge, nextcloud_user: str, *, rate_limited: bool = False) -> tuple[MatrixUser, Chat]:
    user = bridge.synapse.register_user(nextcloud_user, rate_limited=rate_limited)
    await bridge.link(nextcloud_user, user)
    return user, Chat(bridge.synapse.base_url, user)


def own_presence(bridge: RunningBridge, user: MatrixUser, matches: Any) -> Any:
    return wait_for_presence(bridge.synapse.base_url, user, user.user_id, matches)


def matrix_sample(bridge: RunningBridge, name: str, **labels: str) -> float:
    """Return the running process's metric sample ``name`` for the matrix platform (0 when absent)."""
    assert bridge.process is not None
    value = bridge.process.metrics.registry.get_sample_value(name, {"platform": "matrix", **labels})
    return value or 0.0


async def test_nextcloud_status_reaches_matrix(running_bridge: RunningBridge) -> None:
    nextcloud = running_bridge.nextcloud
    nextcloud.add_users("alice")
    alice, _ = await linked_user(running_bridge, "alice")
    await running_bridge.start()

    nextcloud.as_user("alice", "PUT", "/user_status/status", {"statusType": "away"})
    nextcloud.as_user("alice", "PUT", "/user_status/message/custom", {"statusIcon": "🍕", "message": "Lunch"})

    presence = await own_presence(running_bridge, alice, lambda p: p.get("status_msg") == "🍕 Lunch")
    assert presence["presence"] == "unavailable"


async def test_dnd_becomes_busy_and_back(running_bridge: RunningBridge) -> None:
    nextcloud = running_bridge.nextcloud
    nextcloud.add_users("alice")
    alice, _ = await linked_user(running_bridge, "alice")
    await running_bridge.start()
    second = await login_device(running_bridge.synapse.base_url, alice, "second device")

    async with SyncingDevice(running_bridge.synapse.base_url, second) as device:
        await device.wait_for_syncs(2)
        nextcloud.as_user("alice", "PUT", "/user_status/status", {"statusType": "dnd"})
        busy = await own_presence(running_bridge, alice, lambda p: p["presence"] == BUSY)
        await device.wait_for_syncs(2)

        nextcloud.as_user("alice", "PUT", "/user_status/status", {"statusType": "online"})
        online = await own_presence(running_bridge, alice, lambda p: p["presence"] != BUSY)

    assert busy["status_msg"] == "Do not disturb"
    assert online["presence"] == "online"


async def test_configured_dnd_message_reaches_matrix(running_bridge: RunningBridge) -> None:
    nextcloud = running_bridge.nextcloud
    nextcloud.add_users("alice")
    alice, _ = await linked_user(running_bridge, "alice")
    # The harness appends this text after the [matrix] keys, so it opens a table of its own.
    await running_bridge.start('\n[mapping]\nmatrix_dnd_message = "Focus time"\n')

    nextcloud.as_user("alice", "PUT", "/user_status/status", {"statusType": "dnd"})

    busy = await own_presence(running_bridge, alice, lambda p: p["presence"] == BUSY)
    assert busy["status_msg"] == "Focus time"


async def test_own_presence_reaches_nextcloud(running_bridge: RunningBridge) -> None:
    nextcloud = running_bridge.nextcloud
    nextcloud.add_users("alice")
    _, chat = await linked_user(running_bridge, "alice")
    await running_bridge.start()
    # Right after the start, a first update without activity since the start counts as the
    # homeserver's startup backlog and is not mirrored; setting online first is activity.
    await chat.set_presence("online")

    await chat.set_presence("unavailable", "🚆 Commuting home")

    row = await wait_until(lambda: (r := nextcloud.row("alice")).get("custom_message") == "Commuting home" and r, "the message in Nextcloud")
    assert row["custom_icon"] == "🚆"


async def test_echo_of_own_write_dropped(running_bridge: RunningBridge) -> None:
    nextcloud = running_bridge.nextcloud
    nextcloud.add_users("alice")
    alice, chat = await linked_user(running_bridge, "alice")
    await running_bridge.start()
    nextcloud.as_user("alice", "PUT", "/user_status/message/custom", {"statusIcon": "🎧", "message": "Focus"})
    await own_presence(running_bridge, alice, lambda p: p.get("status_msg") == "🎧 Focus")
    before = running_bridge.nextcloud_writes()

    # A change of her own after the bridge's write: once it reached Nextcloud, the echo came and went.
    await chat.set_presence("unavailable", "🍵 Tea")
    await wait_until(lambda: nextcloud.row("alice").get("custom_message") == "Tea", "her own message in Nextcloud")

    # Her change is a heartbeat (away) and a message; the echo of "🎧 Focus" added nothing.
    assert running_bridge.nextcloud_writes() - before == 2


async def test_flapping_presence_debounced(running_bridge: RunningBridge) -> None:
    debounce = 3.0
    flapping_seconds = 10.0
    nextcloud = running_bridge.nextcloud
    nextcloud.add_users("alice")
    _, chat = await linked_user(running_bridge, "alice")
    await running_bridge.start(debounce=debounce)
    before = running_bridge.nextcloud_writes()

    started = time.monotonic()
    state = "online"
    while time.monotonic() - started < flapping_seconds:
        await chat.set_presence(state)
        state = "unavailable" if state == "online" else "online"
        await asyncio.sleep(0.1)
    await chat.set_presence("unavailable", "💤 Done flapping")
    await wait_until(lambda: nextcloud.row("alice").get("custom_message") == "Done flapping", "the final message")

    writes = running_bridge.nextcloud_writes() - before
    windows = math.ceil((time.monotonic() - started) / debounce)
    assert writes >= 1
    # One write per debounce window, plus the final message, which is a status write of its own.
    assert writes <= windows + 1


async def test_rate_limited_user_does_not_stall_others(running_bridge: RunningBridge) -> None:
    nextcloud = running_bridge.nextcloud
    nextcloud.add_users("alice", "bob")
    alice, _ = await linked_user(running_bridge, "alice", rate_limited=True)
    bob, _ = await linked_user(running_bridge, "bob", rate_limited=True)
    limited = running_bridge.synapse.limited
    await running_bridge.start(matrix_table=running_bridge.appservice_table(limited))
    nextcloud.as_user("alice", "PUT", "/user_status/status", {"statusType": "away"})
    await own_presence(running_bridge, alice, lambda p: p["presence"] == "unavailable")

    # Alice's second change within Synapse's 10 s presence limit gets 429; Bob's goes through meanwhile.
    nextcloud.as_user("alice", "PUT", "/user_status/status", {"statusType": "dnd"})
    nextcloud.as_user("bob", "PUT", "/user_status/status", {"statusType": "away"})
    await wait_until(lambda: matrix_sample(running_bridge, "presence_bridge_rate_limit_waits_total") >= 1, "a 429 from Synapse")
    await own_presence(running_bridge, bob, lambda p: p["presence"] == "unavailable")
    alice_meanwhile = (await own_presence(running_bridge, alice, lambda p: True))["presence"]
    await own_presence(running_bridge, alice, lambda p: p["presence"] == BUSY)

    assert alice_meanwhile == "unavailable"
    assert matrix_sample(running_bridge, "presence_bridge_writes_total", result="transient") >= 1
    assert matrix_sample(running_bridge, "presence_bridge_rate_limit_wait_seconds_total") > 0
