"""The chat → Nextcloud gateway: commands, restore after an automation, presence and keep-alives."""

from __future__ import annotations

import dataclasses
import time

from presence_bridge.core.ids import NextcloudUserId, Platform
from presence_bridge.core.mapping_common import MappingOptions
from presence_bridge.core.status import NextcloudStatusType
from presence_bridge.core.sync_state import StatusChange, StatusMessage

from presence_bridge.linking.service import LinkingService
from presence_bridge.storage import SyncDirection
from presence_bridge.sync.accounts import LinkingCommands
from presence_bridge.sync.keepalive import KeepAlive
from presence_bridge.sync.platform import Conversation, PlatformRegistry

from .conftest import Bridge, identity


async def test_command_without_credentials_asks_to_link(bridge: Bridge) -> None:
    await bridge.link("carol", credentials=False)

    linked_reply = await bridge.command("carol", "dnd")
    unlinked_reply = await bridge.command("dave", "away 1h")

    matrix_reply = await bridge.gateway.handle_command(
        Conversation(Platform.RECORDING, "ws", "U-dave"), "away", prefix="!status "
    )

    expected = (
        "Your chat account is not linked to Nextcloud with an app password yet, so the bridge cannot "
        "act for you. Send link to connect your Nextcloud account."
    )
    assert not linked_reply.ok
    assert linked_reply.text == expected
    assert not unlinked_reply.ok
    assert unlinked_reply.text == expected
    assert matrix_reply.text == expected.replace("Send link", "Send !status link")


async def test_status_command_writes_nextcloud_and_chat(bridge: Bridge) -> None:
    await bridge.link("alice")

    reply = await bridge.command("alice", "dnd")
    await bridge.drain()

    assert reply.ok, reply.text
    assert bridge.nextcloud.own_status("alice")["status"] == "dnd"
    assert [line["desired"]["status"] for line in bridge.writes("alice")] == ["dnd"]
    assert bridge.writes("alice")[0]["reason"] == "command"


async def test_command_echo_not_written_again(bridge: Bridge) -> None:
    await bridge.link("alice")
    await bridge.command("alice", "🌴 On vacation")
    await bridge.drain()

    for _ in range(3):
        await bridge.engine.sweep()
        await bridge.drain()

    writes = bridge.writes("alice")
    assert len(writes) == 1
    assert writes[0]["desired"]["message"] == "On vacation"
    assert writes[0]["desired"]["icon"] == "🌴"


async def test_predefined_command_applies_clear_at_rule(bridge: Bridge) -> None:
    await bridge.link("alice")

    reply = await bridge.command("alice", "meeting")

    own = bridge.nextcloud.own_status("alice")
    assert reply.ok, reply.text
    assert own["messageId"] == "meeting"
    assert own["clearAt"] is not None
    assert own["clearAt"] > time.time()


async def test_status_with_expiry_sets_message(bridge: Bridge) -> None:
    await bridge.link("alice")

    reply = await bridge.command("alice", "away 1h")

    own = bridge.nextcloud.own_status("alice")
    assert reply.ok, reply.text
    assert own["status"] == "away"
    assert own["message"] == "Away"
    assert abs(own["clearAt"] - (time.time() + 3600)) < 120


async def test_automation_mirrored_and_restored(bridge: Bridge) -> None:
    await bridge.link("alice")
    bridge.nextcloud.set_status("alice", "away")
    await bridge.engine.sweep()
    await bridge.drain()
    bridge.nextcloud.control("POST", "/automations", {"user": "alice", "message_id": "call", "status": "busy"})

    await bridge.engine.sweep()
    await bridge.drain()
    mirrored = bridge.writes("alice")[-1]["desired"]
    reply = await bridge.command("alice", "restore")
    await bridge.drain()

    assert mirrored["status"] == "busy"
    assert mirrored["automated"] is True
    assert reply.ok, reply.text
    assert reply.text == "Restored the status you had before the call, meeting or out-of-office."
    assert bridge.nextcloud.own_status("alice")["status"] == "away"
    assert bridge.nextcloud.own_status("alice")["messageId"] is None
    restored = bridge.writes("alice")[-1]["desired"]
    assert restored["status"] == "away"
    assert restored["automated"] is False


async def test_restore_without_automation_changes_nothing(bridge: Bridge) -> None:
    await bridge.link("alice")
    bridge.nextcloud.set_status("alice", "dnd")

    reply = await bridge.command("alice", "restore")
    await bridge.drain()

    assert bridge.nextcloud.own_status("alice")["status"] == "dnd"
    assert bridge.writes("alice") == []
    assert not reply.ok
    assert reply.text == (
        "There is no saved status to restore: no call, meeting or out-of-office has set your current status."
    )


async def test_restore_without_backup_row(bridge: Bridge) -> None:
    await bridge.link("alice")
    # Alice has no status row, so the call's status gets no backup row to revert to.
    bridge.nextcloud.control("POST", "/automations", {"user": "alice", "message_id": "call", "status": "busy"})

    reply = await bridge.command("alice", "restore")

    assert bridge.nextcloud.own_status("alice")["messageId"] == "call"
    assert not reply.ok
    assert reply.text == (
        "There is no saved status to restore: Nextcloud keeps no earlier status behind the 'call' status, "
        "so it left that status unchanged."
    )


async def test_presence_sends_heartbeat(bridge: Bridge) -> None:
    await bridge.link("bob")

    await bridge.gateway.handle_presence(identity("bob"), NextcloudStatusType.ONLINE, time.time())

    assert bridge.nextcloud.own_status("bob")["status"] == "online"
    assert bridge.keepalive.is_active(NextcloudUserId("bob"), time.time())


async def test_keepalives_bounded_per_interval(bridge: Bridge) -> None:
    await bridge.link("bob")
    await bridge.gateway.handle_presence(identity("bob"), NextcloudStatusType.ONLINE, time.time())

    sent = [await bridge.keepalive.on_offline([NextcloudUserId("bob")]) for _ in range(10)]

    assert sum(sent) == bridge.settings.keepalive_max_per_interval
    assert bridge.metrics.value("presence_bridge_keepalives_total", result="sent") == 2
    assert bridge.metrics.value("presence_bridge_keepalives_total", result="skipped_bound") == 8


async def test_sweep_sends_keepalive_for_offline_active_user(bridge: Bridge) -> None:
    await bridge.link("bob")
    await bridge.gateway.handle_presence(identity("bob"), NextcloudStatusType.ONLINE, time.time())
    bridge.nextcloud.control("PUT", "/rows/bob", {"status_timestamp": 0})

    report = await bridge.engine.sweep()

    assert report.keepalives == 1
    assert bridge.nextcloud.own_status("bob")["status"] == "online"


async def test_keepalive_tick_renews_active_users(bridge: Bridge) -> None:
    await bridge.link("bob")
    await bridge.link("carol")
    now = time.time()
    interval = bridge.settings.keepalive_interval
    bridge.keepalive.record_activity(NextcloudUserId("bob"), NextcloudStatusType.AWAY, now - interval - 1, sent=True)
    bridge.keepalive.record_activity(NextcloudUserId("carol"), NextcloudStatusType.ONLINE, now - 1, sent=True)

    sent = await bridge.keepalive.tick()

    assert sent == 1
    assert bridge.nextcloud.own_status("bob")["status"] == "away"
    assert bridge.metrics.value("presence_bridge_keepalives_total", result="sent") == 1
    assert bridge.metrics.value("presence_bridge_nextcloud_writes_total", result="ok") == 0


async def test_unlink_forgets_link_and_state(bridge: Bridge) -> None:
    service = LinkingService(bridge.store, bridge.http, user_clients=bridge.pool)
    bridge.gateway.commands.accounts = LinkingCommands(service, PlatformRegistry([bridge.recording]))
    await bridge.link("alice")
    bridge.nextcloud.set_status("alice", "dnd")
    await bridge.engine.sweep()

    reply = await bridge.command("alice", "unlink")
    states = await bridge.executor.states.load(["alice"])

    assert reply.ok, reply.text
    assert reply.text == (
        "Unlinked from Nextcloud user alice and deleted the bridge's data about you. The bridge also revoked "
        "the app password it used in Nextcloud; your other devices keep their own app passwords."
    )
    assert await bridge.store.get_link(identity("alice")) is None
    assert states == {}


async def test_unlink_reply_when_not_revoked(bridge: Bridge) -> None:
    service = LinkingService(bridge.store, bridge.http, user_clients=bridge.pool)
    bridge.gateway.commands.accounts = LinkingCommands(service, PlatformRegistry([bridge.recording]))
    await bridge.link("alice")
    await bridge.store.mark_unhealthy(identity("alice"), "HTTP 401")

    reply = await bridge.command("alice", "unlink")

    assert reply.ok, reply.text
    assert reply.text == (
        "Unlinked from Nextcloud user alice and deleted the bridge's data about you. The app password the "
        "bridge used was not revoked, because the link was unhealthy (HTTP 401) and another failed login "
        "would count against the bridge; remove it in Nextcloud under Settings > Security if nothing else uses it."
    )


async def test_link_without_service_is_refused(bridge: Bridge) -> None:
    reply = await bridge.command("alice", "link")

    assert not reply.ok
    assert "operator" in reply.text


async def test_predefined_command_unlinked_asks_to_link(bridge: Bridge) -> None:
    reply = await bridge.command("dave", "meeting")

    assert not reply.ok
    assert reply.text.endswith("Send link to connect your Nextcloud account.")


async def test_unhealthy_link_asks_to_link_again(bridge: Bridge) -> None:
    await bridge.link("alice")
    bridge.nextcloud.set_status("alice", "away")
    await bridge.store.mark_unhealthy(identity("alice"), "Nextcloud rejected the app password (HTTP 401)")

    reply = await bridge.command("alice", "dnd")

    assert not reply.ok
    assert reply.text == (
        "Nextcloud no longer accepts the app password the bridge holds for you, so it sends no request "
        "as you. Send link to connect your Nextcloud account again."
    )
    assert bridge.nextcloud.own_status("alice")["status"] == "away"


async def test_chat_status_written_to_nextcloud(bridge: Bridge) -> None:
    await bridge.link("alice")
    change = StatusChange(message=StatusMessage(message="In the lab", icon="🔬"))

    await bridge.gateway.handle_chat_status(identity("alice"), change, time.time())
    await bridge.engine.sweep()
    await bridge.drain()

    own = bridge.nextcloud.own_status("alice")
    assert own["message"] == "In the lab"
    assert own["icon"] == "🔬"
    assert bridge.writes("alice") == []
    assert bridge.metrics.value("presence_bridge_nextcloud_writes_total", result="ok") == 1


async def test_presence_leaves_sticky_dnd(bridge: Bridge) -> None:
    await bridge.link("alice")
    bridge.nextcloud.set_status("alice", "dnd")
    await bridge.engine.sweep()

    await bridge.gateway.handle_presence(identity("alice"), NextcloudStatusType.ONLINE, time.time())

    assert bridge.nextcloud.own_status("alice")["status"] == "dnd"


async def test_keepalive_uses_activity_of_other_replica(bridge: Bridge) -> None:
    await bridge.link("bob")
    receiving = KeepAlive(bridge.pool, bridge.settings, bridge.metrics, store=bridge.store)
    sweeping = KeepAlive(bridge.pool, bridge.settings, bridge.metrics, store=bridge.store)
    receiving.record_activity(NextcloudUserId("bob"), NextcloudStatusType.ONLINE, time.time(), sent=True)
    await receiving.tick()

    sent = await sweeping.on_offline([NextcloudUserId("bob"), NextcloudUserId("carol")])

    assert sent == 1
    assert bridge.nextcloud.own_status("bob")["status"] == "online"


async def test_command_over_automation_warns(bridge: Bridge) -> None:
    await bridge.link("alice")
    bridge.nextcloud.set_status("alice", "away")
    bridge.nextcloud.control("POST", "/automations", {"user": "alice", "message_id": "call", "status": "busy"})

    reply = await bridge.command("alice", "dnd")

    assert reply.ok, reply.text
    assert "will not restore" in reply.text
    assert bridge.nextcloud.own_status("alice")["status"] == "dnd"


async def test_presence_ignored_for_to_chat_link(bridge: Bridge) -> None:
    await bridge.link("bob")
    await bridge.store.update_link(identity("bob"), sync_direction=SyncDirection.TO_CHAT)

    await bridge.gateway.handle_presence(identity("bob"), NextcloudStatusType.ONLINE, time.time())

    assert not bridge.keepalive.is_active(NextcloudUserId("bob"), time.time())
    assert bridge.metrics.value("presence_bridge_nextcloud_writes_total", result="ok") == 0


async def test_timezone_and_sync_commands_update_link(bridge: Bridge) -> None:
    await bridge.link("alice")

    zone_reply = await bridge.command("alice", "timezone Europe/Berlin")
    sync_reply = await bridge.command("alice", "sync to-chat")
    link = await bridge.store.get_link(identity("alice"))

    assert zone_reply.ok, zone_reply.text
    assert sync_reply.ok, sync_reply.text
    assert link is not None
    assert link.time_zone == "Europe/Berlin"
    assert link.sync_direction is SyncDirection.TO_CHAT


async def test_help_and_invalid_command_replies(bridge: Bridge) -> None:
    help_reply = await bridge.gateway.handle_command(
        Conversation(Platform.RECORDING, "ws", "U-dave"), "help", prefix="/ncstatus "
    )
    invalid = await bridge.command("dave", "sync sideways")

    assert help_reply.ok
    assert "/ncstatus restore" in help_reply.text
    assert not invalid.ok
    assert "Usage:" in invalid.text


async def test_status_replies_explain_expiry(bridge: Bridge) -> None:
    await bridge.link("alice")

    online = await bridge.command("alice", "online")
    away = await bridge.command("alice", "away 1h")

    assert "while one of your clients is active" in online.text
    assert "The status message reads 'Away'." in away.text


async def test_custom_emoji_alone_kept_as_text(bridge: Bridge) -> None:
    await bridge.link("alice")
    await bridge.command("alice", "🌴 On vacation")

    reply = await bridge.command("alice", ":partyparrot:")

    assert reply.ok, reply.text
    assert "reads ':partyparrot:'" in reply.text
    own = bridge.nextcloud.own_status("alice")
    assert own["message"] == ":partyparrot:"
    assert own["icon"] is None


async def test_custom_emoji_with_text_keeps_text(bridge: Bridge) -> None:
    await bridge.link("alice")

    reply = await bridge.command("alice", ":partyparrot: Release party")

    assert reply.ok, reply.text
    assert "without an icon" in reply.text
    own = bridge.nextcloud.own_status("alice")
    assert own["message"] == "Release party"
    assert own["icon"] is None


async def test_custom_emoji_uses_fallback_icon(bridge: Bridge) -> None:
    fallback = dataclasses.replace(bridge.settings, mapping=MappingOptions(custom_emoji_fallback="💬"))
    bridge.gateway.settings = fallback
    await bridge.link("alice")

    reply = await bridge.command("alice", ":partyparrot: Release party")

    assert reply.ok, reply.text
    assert "shows 💬 in its place" in reply.text
    own = bridge.nextcloud.own_status("alice")
    assert own["message"] == "Release party"
    assert own["icon"] == "💬"


async def test_restore_after_meeting_already_ended(bridge: Bridge) -> None:
    await bridge.link("alice")
    bridge.nextcloud.set_status("alice", "online")
    bridge.nextcloud.control("POST", "/automations", {"user": "alice", "message_id": "meeting", "status": "busy"})
    await bridge.engine.sweep()
    await bridge.drain()

    # Without a calendar event, reading the own status makes Nextcloud end the meeting status.
    reply = await bridge.command("alice", "restore")
    await bridge.drain()

    assert reply.ok, reply.text
    assert reply.text == (
        "Nextcloud had already ended the call, meeting or out-of-office status. Your status is now online."
    )
    assert bridge.writes("alice")[-1]["desired"]["status"] == "online"
