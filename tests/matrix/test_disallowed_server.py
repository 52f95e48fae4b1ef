"""A user whose homeserver is not in ``[matrix] allowed_servers``, end to end on a real Synapse.

The test Synapse is the only homeserver, so the bridge is configured to allow only
``example.org``: every account on the test server is then from a disallowed server.
Alice is listed in ``admins``, which are allowed from any server, so she can bring
the bot into a room and her commands mark when earlier ones were handled.
"""

from __future__ import annotations

from urllib.parse import quote

from tests.matrix.bot_helpers import Chat
from tests.matrix.bridge_harness import RunningBridge, wait_until
from tests.matrix.test_bot_commands import command

REFUSAL = "not one of them"
"""Part of the bridge's refusal for a sender it does not serve."""


async def membership(chat: Chat, room_id: str, user_id: str) -> str:
    event = await chat.request("GET", f"/rooms/{quote(room_id)}/state/m.room.member/{quote(user_id)}")
    return str(event["membership"])


async def test_user_from_disallowed_server_refused_once(running_bridge: RunningBridge) -> None:
    nextcloud = running_bridge.nextcloud
    nextcloud.add_users("alice", "mallory")
    synapse = running_bridge.synapse
    alice = synapse.register_user("alice")
    mallory = synapse.register_user("mallory")
    await running_bridge.link("alice", alice)
    await running_bridge.link("mallory", mallory)
    assert synapse.server_name != "example.org"
    await running_bridge.start(matrix_extra=f'allowed_servers = ["example.org"]\nadmins = ["{alice.user_id}"]\n')
    bot = running_bridge.bot_user_id
    mallory_chat = Chat(synapse.base_url, mallory)
    alice_chat = Chat(synapse.base_url, alice)

    # Mallory's invite is rejected: the bot leaves the invite instead of joining.
    declined = await mallory_chat.open_room(bot)

    async def rejected() -> bool:
        return await membership(mallory_chat, declined, bot) == "leave"

    await wait_until(rejected, "the bot to reject Mallory's invite")

    room_id = await alice_chat.open_room(bot, mallory.user_id, direct=False)
    await alice_chat.wait_for_member(room_id, bot)
    await mallory_chat.join(room_id)
    refusal = await command(mallory_chat, bot, room_id, "!status away")
    await mallory_chat.say(room_id, "!status dnd")
    # The bot handles the room's messages in order, so Alice's answer comes after
    # anything it would have sent for Mallory's second command.
    answer = await command(alice_chat, bot, room_id, "!status away")

    assert REFUSAL in refusal["body"]
    assert mallory.user_id in refusal["body"]
    assert REFUSAL not in answer["body"]
    assert len(await alice_chat.messages_from(room_id, bot)) == 2
    assert nextcloud.row("mallory").get("status") in (None, "offline")
    assert nextcloud.row("alice")["status"] == "away"
    # Alice's command is the only Nextcloud write the bridge made.
    assert running_bridge.nextcloud_writes() == 1
    assert bot not in await mallory_chat.members(declined)
