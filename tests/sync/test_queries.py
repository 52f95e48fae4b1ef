"""Who may see what: ``show`` with the asker's credentials, ``who`` for channels and groups."""

from __future__ import annotations

from presence_bridge.sync.queries import REFUSAL

from .conftest import WORKSPACE, Bridge, chat_id


async def test_who_group_answers_members(bridge: Bridge) -> None:
    await bridge.link("alice")
    bridge.nextcloud.set_status("bob", "dnd")

    reply = await bridge.command("alice", "who team-a")

    assert reply.ok, reply.text
    assert "bob: dnd" in reply.text
    assert "carol: offline" in reply.text
    assert "dave" not in reply.text


async def test_who_group_answers_configured_lead(bridge: Bridge) -> None:
    await bridge.link("dave")

    reply = await bridge.command("dave", "who team-a")

    assert reply.ok, reply.text
    assert "alice" in reply.text


async def test_who_group_refuses_outsider(bridge: Bridge) -> None:
    await bridge.link("carol")
    await bridge.link("admin")

    missing_group = await bridge.command("carol", "who no-such-group")
    other_group = await bridge.command("carol", "who admin")

    assert not missing_group.ok
    assert missing_group.text == REFUSAL
    assert not other_group.ok
    assert other_group.text == REFUSAL


async def test_who_lists_linked_channel_members(bridge: Bridge) -> None:
    await bridge.link("alice")
    await bridge.link("bob")
    bridge.nextcloud.set_status("bob", "away")
    bridge.recording.set_members(WORKSPACE, "C1", [chat_id("alice"), chat_id("bob"), "U-stranger"])

    reply = await bridge.command("alice", "who", channel="C1")
    no_channel = await bridge.command("alice", "who")

    assert reply.ok, reply.text
    assert "bob: away" in reply.text
    assert "alice" in reply.text
    assert "stranger" not in reply.text
    assert not no_channel.ok


async def test_show_uses_askers_credentials(bridge: Bridge) -> None:
    await bridge.link("alice")
    await bridge.link("dave")
    bridge.nextcloud.set_status("bob", "dnd")
    bridge.nextcloud.set_enumeration("group")

    member_view = await bridge.command("alice", "show Bo")
    outsider_view = await bridge.command("dave", "show Bo")
    outsider_exact = await bridge.command("dave", "show bob")

    assert member_view.ok, member_view.text
    assert "Bob Test: dnd" in member_view.text
    assert not outsider_view.ok
    assert "No Nextcloud user" in outsider_view.text
    assert "Bob Test" in outsider_exact.text


async def test_show_own_status(bridge: Bridge) -> None:
    await bridge.link("alice")
    bridge.nextcloud.set_custom("alice", "Reading")

    reply = await bridge.command("alice", "show")

    assert "Reading" in reply.text
