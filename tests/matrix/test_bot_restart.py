"""Restarts do not replay old commands: the plain bot's sync token and the appservice's transaction ids are stored."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from starlette.applications import Starlette

from presence_bridge.matrix.store_log import StoreTransactionLog
from presence_bridge.matrix.transactions import TransactionEndpoint
from presence_bridge.storage import open_store
from tests.matrix.bot_helpers import Chat
from tests.matrix.test_bot_commands import command, linked_chat
from tests.matrix.bridge_harness import RunningBridge, wait_until


PING_OK = "reached the bridge's appservice endpoint"
"""Logged once per start when the appservice ping reached the bridge."""
SYNCING = "is syncing"
"""Logged by the plain bot once its first sync of a process is handled."""


def plain_bot_table(localpart: str, token: str) -> str:
    return f'bot_localpart = "{localpart}"\nbot_access_token = "{token}"\n'


async def wait_for_first_sync(caplog: pytest.LogCaptureFixture, count: int) -> None:
    """Wait until the bot's first sync of the ``count``-th start was handled, so later messages are live."""
    await wait_until(lambda: caplog.text.count(SYNCING) >= count, f"first sync number {count}")


async def test_plain_bot_never_replays_commands(running_bridge: RunningBridge, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="presence_bridge.matrix.bot_sync")
    nextcloud = running_bridge.nextcloud
    nextcloud.add_users("alice")
    synapse = running_bridge.synapse
    bot = synapse.register_user("statusbot")
    localpart = bot.user_id[1:].split(":", 1)[0]
    running_bridge.bot_user_id = bot.user_id
    table = plain_bot_table(localpart, bot.access_token)
    alice = synapse.register_user("alice")
    await running_bridge.link("alice", alice)
    chat = Chat(synapse.base_url, alice)
    room_id = await chat.open_room(bot.user_id)
    await Chat(synapse.base_url, bot).join(room_id)
    # Sent before the bridge ever ran: the first sync skips it.
    await chat.say(room_id, "!status away")

    await running_bridge.start(matrix_table=table)
    await wait_for_first_sync(caplog, 1)
    await chat.say(room_id, "!status show")
    first = await chat.wait_for_replies(room_id, bot.user_id, 1)
    assert "offline" in first[0]["body"]
    assert nextcloud.row("alice").get("status") != "away"

    await running_bridge.stop()
    # Sent while the bridge is down: answered after the restart, exactly once.
    await chat.say(room_id, "!status dnd")
    await running_bridge.start(matrix_table=table)
    await wait_for_first_sync(caplog, 2)
    await chat.wait_for_replies(room_id, bot.user_id, 2)
    await wait_until(lambda: nextcloud.row("alice").get("status") == "dnd", "dnd in Nextcloud")
    await chat.say(room_id, "!status show")
    replies = await chat.wait_for_replies(room_id, bot.user_id, 3)

    assert len(replies) == 3
    assert "dnd" in replies[2]["body"].lower() or "do not disturb" in replies[2]["body"].lower()


async def test_appservice_restart_runs_only_the_new_command(
    running_bridge: RunningBridge, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="presence_bridge.matrix.platform")
    nextcloud = running_bridge.nextcloud
    nextcloud.add_users("alice")
    await running_bridge.start()
    chat, _, room_id = await linked_chat(running_bridge, "alice")
    bot = running_bridge.bot_user_id
    await command(chat, bot, room_id, "!status away")
    await command(chat, bot, room_id, "!status 🍕 Lunch")
    before = nextcloud.row("alice")
    assert before["status"] == "away"
    assert before["custom_message"] == "Lunch"

    await running_bridge.stop()
    # While the bridge is down the relay forwards to the emulator, which returns 404 on
    # appservice paths, so Synapse keeps the transaction and retries it with backoff.
    running_bridge.relay.target_url = nextcloud.server.base_url
    # Undo the old commands in Nextcloud: running either again would show here.
    nextcloud.as_user("alice", "PUT", "/user_status/status", {"statusType": "online"})
    nextcloud.as_user("alice", "DELETE", "/user_status/message")
    await chat.say(room_id, "!status dnd")
    caplog.clear()
    await running_bridge.start()

    # The start-up ping makes Synapse send the held-back transaction now, not after its backoff.
    await wait_until(lambda: PING_OK in caplog.text, "the start-up ping")
    await chat.wait_for_replies(room_id, bot, 3)
    await wait_until(lambda: nextcloud.row("alice").get("status") == "dnd", "dnd in Nextcloud")
    # Synapse sends one transaction at a time, in order, so once this gets its reply the backlog was handled.
    show_reply = await command(chat, bot, room_id, "!status show")

    row = nextcloud.row("alice")
    assert row["status"] == "dnd"
    assert row.get("custom_message") is None
    assert "Lunch" not in show_reply["body"]
    assert len(await chat.messages_from(room_id, bot)) == 4
    assert running_bridge.nextcloud_writes() == 1


async def test_plain_bot_presence_reaches_nextcloud(running_bridge: RunningBridge, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="presence_bridge.matrix.bot_sync")
    nextcloud = running_bridge.nextcloud
    nextcloud.add_users("alice")
    synapse = running_bridge.synapse
    bot = synapse.register_user("statusbot")
    running_bridge.bot_user_id = bot.user_id
    alice = synapse.register_user("alice")
    await running_bridge.link("alice", alice)
    chat = Chat(synapse.base_url, alice)
    room_id = await chat.open_room(bot.user_id)
    await Chat(synapse.base_url, bot).join(room_id)
    await running_bridge.start(matrix_table=plain_bot_table(bot.user_id[1:].split(":", 1)[0], bot.access_token))
    await wait_for_first_sync(caplog, 1)
    await chat.say(room_id, "!status show")
    await chat.wait_for_replies(room_id, bot.user_id, 1)

    await chat.set_presence("unavailable", "🚆 Train")

    row = await wait_until(lambda: (r := nextcloud.row("alice")).get("custom_message") == "Train" and r, "Train in Nextcloud")
    assert row["custom_icon"] == "🚆"


async def test_transaction_ids_survive_restart(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.sqlite3'}"
    key = Fernet.generate_key().decode()
    handled: list[object] = []

    async def on_events(events: Sequence[object]) -> None:
        handled.extend(events)

    async def on_presence(updates: Sequence[object]) -> None:
        pass

    body = {"events": [{"type": "m.room.message", "sender": "@a:localhost", "room_id": "!r:localhost", "content": {}}]}
    for _ in range(2):
        async with await open_store(url, encryption_keys=[key]) as store:
            endpoint = TransactionEndpoint(
                hs_token="hs", on_presence=on_presence, on_events=on_events, log=StoreTransactionLog(store, "bridge")
            )
            transport = httpx.ASGITransport(app=Starlette(routes=endpoint.routes()))
            async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as http:
                response = await http.put(
                    "/_matrix/app/v1/transactions/7", json=body, headers={"Authorization": "Bearer hs"}
                )
            assert response.status_code == 200

    assert len(handled) == 1
