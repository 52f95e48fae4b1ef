"""``who`` with a channel or room argument, and the platform's word for a conversation in replies."""

from __future__ import annotations

from presence_bridge.core.ids import ChatIdentity, Platform
from presence_bridge.sync.gateway import Gateway
from presence_bridge.sync.platform import Conversation, PlatformRegistry
from presence_bridge.sync.recording import RecordingPlatform

from .conftest import WORKSPACE, Bridge, chat_id

CHANNEL_LIST = "Nextcloud statuses in this channel:\nalice: offline (no status)\nbob: dnd"


class MatrixRecording(RecordingPlatform):
    """A recording platform that registers as Matrix, to see Matrix wording without a homeserver."""

    @property
    def platform(self) -> Platform:
        return Platform.MATRIX


async def test_who_lists_current_channel(bridge: Bridge) -> None:
    await bridge.link("alice")
    await bridge.link("bob")
    bridge.nextcloud.set_status("bob", "dnd")
    bridge.recording.set_members(WORKSPACE, "C1", [chat_id("alice"), chat_id("bob")])

    plain = await bridge.command("alice", "who", channel="C1")
    mention = await bridge.command("alice", "who <#C1|general>", channel="C1")

    assert plain.ok, plain.text
    assert plain.text == CHANNEL_LIST
    assert mention.text == CHANNEL_LIST


async def test_who_other_channel_not_looked_up(bridge: Bridge) -> None:
    await bridge.link("alice")
    bridge.recording.set_members(WORKSPACE, "C1", [chat_id("alice")])

    reply = await bridge.gateway.handle_command(
        Conversation(Platform.RECORDING, WORKSPACE, chat_id("alice"), "C1"), "who #nowhere", prefix="/ncstatus "
    )

    assert not reply.ok
    assert reply.text == (
        "/ncstatus who lists only the channel it is sent in, and #nowhere is not this channel. "
        "Send /ncstatus who in that channel, or /ncstatus who <group> for a Nextcloud group."
    )


async def test_who_in_matrix_room_says_room(bridge: Bridge) -> None:
    matrix = MatrixRecording(bridge.recording.path.with_name("matrix.jsonl"))
    gateway = Gateway(bridge.executor, bridge.pool, bridge.reader, PlatformRegistry([matrix]))
    alice = ChatIdentity(Platform.MATRIX, "example.org", "@alice:example.org")
    await bridge.store.link(alice, "alice")
    matrix.set_members("example.org", "!room:example.org", [alice.user_id])
    conversation = Conversation(Platform.MATRIX, "example.org", alice.user_id, "!room:example.org")

    here = await gateway.handle_command(conversation, "who", prefix="!status ")
    by_id = await gateway.handle_command(conversation, "who !room:example.org", prefix="!status ")
    elsewhere = await gateway.handle_command(conversation, "who #nowhere:example.org", prefix="!status ")
    direct = await gateway.handle_command(
        Conversation(Platform.MATRIX, "example.org", alice.user_id, None), "who", prefix="!status "
    )

    assert here.text == "Nextcloud statuses in this room:\nalice: offline (no status)"
    assert by_id.text == here.text
    assert not elsewhere.ok
    assert elsewhere.text == (
        "!status who lists only the room it is sent in, and #nowhere:example.org is not this room. "
        "Send !status who in that room, or !status who <group> for a Nextcloud group."
    )
    assert direct.text == "Send !status who in a room to list its members, or use !status who <group>."
