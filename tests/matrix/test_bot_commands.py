"""The bot answering ``!status`` commands from real Matrix accounts, with the bridge running in full."""

from __future__ import annotations

import time
import zoneinfo
from typing import Any

import httpx

from presence_bridge.core.command_help import help_text
from presence_bridge.core.localtime import describe_instant

from tests.matrix.bot_helpers import Chat
from tests.matrix.bridge_harness import RunningBridge, wait_until
from tests.matrix.synapse_harness import MatrixUser


async def linked_chat(bridge: RunningBridge, nextcloud_user: str, *, link: bool = True) -> tuple[Chat, MatrixUser, str]:
    """Register a Matrix user (linked to ``nextcloud_user``) and open a room with the running bot."""
    user = bridge.synapse.register_user(nextcloud_user)
    if link:
        await bridge.link(nextcloud_user, user)
    chat = Chat(bridge.synapse.base_url, user)
    room_id = await chat.open_room(bridge.bot_user_id)
    await chat.wait_for_member(room_id, bridge.bot_user_id)
    return chat, user, room_id


async def command(chat: Chat, bot: str, room_id: str, text: str) -> dict[str, Any]:
    """Send ``text`` and return the bot's next message in the room."""
    before = len(await chat.messages_from(room_id, bot))
    await chat.say(room_id, text)
    replies = await chat.wait_for_replies(room_id, bot, before + 1)
    return replies[before]


def clears_at(clear_at: int) -> str:
    """Word a clear-at time as the bot does (the bridge runs with its default time zone, UTC)."""
    return f"{describe_instant(clear_at, int(time.time()), zoneinfo.ZoneInfo('UTC'))} (UTC)"


AFTER_CLEAR = "Nextcloud then sets your status to offline, and your next activity in Nextcloud brings you back online."


async def test_status_commands_write_nextcloud(running_bridge: RunningBridge) -> None:
    nextcloud = running_bridge.nextcloud
    nextcloud.add_users("alice")
    await running_bridge.start()
    chat, _, room_id = await linked_chat(running_bridge, "alice")
    bot = running_bridge.bot_user_id

    reply = await command(chat, bot, room_id, "!status away")
    assert reply["format"] == "org.matrix.custom.html"
    assert reply["msgtype"] == "m.notice"
    assert reply["body"] == "Done: away. Your status stays away until you change it."
    assert nextcloud.row("alice")["status"] == "away"

    reply = await command(chat, bot, room_id, "!status dnd 1h")
    row = nextcloud.row("alice")
    assert row["status"] == "dnd"
    assert row["clear_at"] is not None
    assert reply["body"] == (
        f"Done: dnd 1h. Your status is dnd. Nextcloud can only clear a status message, not a status, "
        f"so your current status message is set to clear at {clears_at(row['clear_at'])}. {AFTER_CLEAR} "
        "The status message reads 'Do not disturb'."
    )

    reply = await command(chat, bot, room_id, "!status 🌴 On vacation until friday")
    row = nextcloud.row("alice")
    assert row["custom_message"] == "On vacation"
    assert row["custom_icon"] == "🌴"
    assert row["clear_at"] is not None
    assert reply["body"] == (
        f"Done: 🌴 On vacation until friday. Your status message clears at {clears_at(row['clear_at'])}. {AFTER_CLEAR}"
    )

    reply = await command(chat, bot, room_id, "!status show")
    assert reply["body"] == f"Your Nextcloud status: dnd, 🌴 On vacation (until {describe_instant(row['clear_at'], int(time.time()), zoneinfo.ZoneInfo('UTC'))})."

    reply = await command(chat, bot, room_id, "!status clear")
    assert reply["body"] == "Cleared your Nextcloud status message."
    assert nextcloud.row("alice").get("custom_message") is None

    reply = await command(chat, bot, room_id, "!status timezone Europe/Berlin")
    assert reply["body"] == "Times you type are now read in Europe/Berlin."

    reply = await command(chat, bot, room_id, "!status sync")
    assert reply["body"] == (
        "Missing sync mode. Choose both, to-chat, to-nextcloud or off.\n"
        "Usage: !status sync both | to-chat | to-nextcloud | off"
    )

    reply = await command(chat, bot, room_id, "!status sync to-chat")
    assert reply["body"] == "Sync direction set to to-chat."

    reply = await command(chat, bot, room_id, "!status help")
    assert reply["body"] == help_text(None, prefix="!status ")
    assert "!status online | away | dnd" in reply["body"]


async def test_restore_reverts_a_call_status(running_bridge: RunningBridge) -> None:
    nextcloud = running_bridge.nextcloud
    nextcloud.add_users("alice")
    nextcloud.as_user("alice", "PUT", "/user_status/status", {"statusType": "online"})
    await running_bridge.start()
    chat, _, room_id = await linked_chat(running_bridge, "alice")
    httpx.post(
        nextcloud.server.base_url + "/_emulator/automations",
        json={"user": "alice", "message_id": "call", "status": "busy"},
        timeout=10,
    ).raise_for_status()
    # A call, unlike a calendar meeting, stays until reverted: reading the own status does not end it.
    assert nextcloud.row("alice")["message_id"] == "call"

    reply = await command(chat, running_bridge.bot_user_id, room_id, "!status restore")

    assert reply["body"] == "Restored the status you had before the call, meeting or out-of-office."
    assert nextcloud.row("alice")["status"] == "online"
    assert nextcloud.row("alice").get("message_id") != "call"


async def test_who_lists_room_members(running_bridge: RunningBridge) -> None:
    nextcloud = running_bridge.nextcloud
    nextcloud.add_users("alice", "bob")
    nextcloud.as_user("bob", "PUT", "/user_status/status", {"statusType": "dnd"})
    await running_bridge.start()
    chat, _, room_id = await linked_chat(running_bridge, "alice")
    bob = running_bridge.synapse.register_user("bob")
    await running_bridge.link("bob", bob)
    await chat.invite(room_id, bob.user_id)
    await Chat(running_bridge.synapse.base_url, bob).join(room_id)

    reply = await command(chat, running_bridge.bot_user_id, room_id, "!status who")
    elsewhere = await command(chat, running_bridge.bot_user_id, room_id, "!status who #nowhere:localhost")

    assert reply["body"] == "Nextcloud statuses in this room:\nalice: offline (no status)\nbob: dnd"
    assert elsewhere["body"] == (
        "!status who lists only the room it is sent in, and #nowhere:localhost is not this room. "
        "Send !status who in that room, or !status who <group> for a Nextcloud group."
    )

    group_reply = await command(chat, running_bridge.bot_user_id, room_id, "!status who team")
    assert "bob: dnd" in group_reply["body"]


async def test_html_in_status_shows_as_text(running_bridge: RunningBridge) -> None:
    nextcloud = running_bridge.nextcloud
    nextcloud.add_users("alice")
    await running_bridge.start()
    chat, _, room_id = await linked_chat(running_bridge, "alice")
    bot = running_bridge.bot_user_id

    set_reply = await command(chat, bot, room_id, "!status 🧪 <b>bold</b> & <script>x</script>")
    reply = await command(chat, bot, room_id, "!status show")

    assert "<script>" not in set_reply["formatted_body"], set_reply

    assert "<b>bold</b>" in reply["body"]
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;" in reply["formatted_body"]
    assert "<script>" not in reply["formatted_body"]


async def test_link_url_goes_to_a_direct_message(running_bridge: RunningBridge) -> None:
    nextcloud = running_bridge.nextcloud
    nextcloud.add_users("carol")
    await running_bridge.start()
    carol = running_bridge.synapse.register_user("carol")
    chat = Chat(running_bridge.synapse.base_url, carol)
    friend = running_bridge.synapse.register_user("friend")
    room_id = await chat.open_room(running_bridge.bot_user_id, friend.user_id, direct=False)
    await chat.wait_for_member(room_id, running_bridge.bot_user_id)
    bot = running_bridge.bot_user_id

    pointer = await command(chat, bot, room_id, "!status link")

    assert "direct message" in pointer["body"]
    assert "http" not in pointer["body"]

    async def invited_room() -> str | None:
        sync = await chat.request("GET", "/sync", params={"timeout": "0"})
        invites = list(sync["rooms"].get("invite", {}))
        return invites[0] if invites else None

    direct = await wait_until(invited_room, "the bot's direct-message invite")
    await chat.join(direct)
    messages = await chat.wait_for_replies(direct, bot, 1)
    login_url = next(word for word in messages[0]["body"].split() if word.startswith("http"))
    token = login_url.rsplit("/", 1)[1]
    httpx.post(f"{nextcloud.server.base_url}/_emulator/login-flow/{token}/grant", json={"user": "carol"}, timeout=10)

    confirmation = (await chat.wait_for_replies(direct, bot, 2))[1]
    assert "Linked to Nextcloud user carol" in confirmation["body"]

    reply = await command(chat, bot, room_id, "!status unlink")
    assert "Unlinked" in reply["body"]


async def test_disallowed_user_refused_once(running_bridge: RunningBridge) -> None:
    running_bridge.nextcloud.add_users("alice", "mallory")
    allowed = running_bridge.synapse.register_user("alice")
    await running_bridge.link("alice", allowed)
    await running_bridge.start(matrix_extra=f'allowed_users = ["{allowed.user_id}"]')
    mallory = running_bridge.synapse.register_user("mallory")
    await running_bridge.link("mallory", mallory)
    bot = running_bridge.bot_user_id
    # Mallory cannot bring the bot into a room: her invite is declined.
    mallory_chat = Chat(running_bridge.synapse.base_url, mallory)
    declined = await mallory_chat.open_room(bot)
    alice_chat = Chat(running_bridge.synapse.base_url, allowed)
    room_id = await alice_chat.open_room(bot, mallory.user_id, direct=False)
    await alice_chat.wait_for_member(room_id, bot)
    await mallory_chat.join(room_id)

    refusal = await command(mallory_chat, bot, room_id, "!status away")
    await mallory_chat.say(room_id, "!status dnd")
    # Alice's command is answered after Mallory's second one, so that one was ignored.
    answer = await command(alice_chat, bot, room_id, "!status away")

    assert "not one of them" in refusal["body"]
    assert "not one of them" not in answer["body"]
    assert len(await alice_chat.messages_from(room_id, bot)) == 2
    assert running_bridge.nextcloud.row("mallory").get("status") in (None, "offline")
    assert bot not in await mallory_chat.members(declined)


async def test_admin_sees_health_and_unlinked(running_bridge: RunningBridge) -> None:
    running_bridge.nextcloud.add_users("alice")
    admin = running_bridge.synapse.register_user("boss")
    await running_bridge.start(matrix_extra=f'admins = ["{admin.user_id}"]')
    chat = Chat(running_bridge.synapse.base_url, admin)
    stranger = running_bridge.synapse.register_user("stranger")
    room_id = await chat.open_room(running_bridge.bot_user_id, stranger.user_id, direct=False)
    await chat.wait_for_member(room_id, running_bridge.bot_user_id)
    await Chat(running_bridge.synapse.base_url, stranger).join(room_id)

    reply = await command(chat, running_bridge.bot_user_id, room_id, "!status health")

    assert "Links: 0" in reply["body"]
    assert "Writes queued for chat: 0" in reply["body"]
    assert stranger.user_id in reply["body"]
    assert "<strong>Bridge health</strong>" in reply["formatted_body"]
