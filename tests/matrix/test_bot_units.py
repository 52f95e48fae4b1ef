"""The bot's pure parts: reply rendering, the command word, mapped writes and renewals."""

from __future__ import annotations

from typing import Any

from presence_bridge.core.mapping_common import ClearMessage, Heartbeat, NoWrite, SetCustom, SetStatus
from presence_bridge.core.status import MatrixPresence, MatrixPresenceState, NextcloudStatusType
from presence_bridge.core.sync_state import StatusChange, StatusMessage
from presence_bridge.matrix.commands import command_text
from presence_bridge.matrix.echo import EchoFilter
from presence_bridge.matrix.inbound import status_change
from presence_bridge.matrix.platform import MatrixPlatform
from presence_bridge.matrix.presence_policy import RenewalSettings
from presence_bridge.matrix.replies import reply_content, to_html
from presence_bridge.sync.platform import Reply


def test_html_escapes_user_text() -> None:
    assert to_html("<b>x</b> & y") == "&lt;b&gt;x&lt;/b&gt; &amp; y"


def test_html_bold_and_line_breaks() -> None:
    assert to_html("*Title*\nline <i>") == "<strong>Title</strong><br>line &lt;i&gt;"


def test_reply_content_plain_and_html() -> None:
    content = reply_content(Reply("a <tag>", formatted="*a* <tag>"))

    assert content["body"] == "a <tag>"
    assert content["formatted_body"] == "<strong>a</strong> &lt;tag&gt;"
    assert content["format"] == "org.matrix.custom.html"
    assert content["msgtype"] == "m.notice"


def test_command_word_required() -> None:
    assert command_text("!status away") == "away"
    assert command_text("  !STATUS   dnd 1h ") == "dnd 1h"
    assert command_text("!status") == ""
    assert command_text("!statusaway") is None
    assert command_text("status away") is None


def test_mapped_writes_become_status_changes() -> None:
    assert status_change(SetStatus(NextcloudStatusType.DND)) == StatusChange(status_type=NextcloudStatusType.DND)
    assert status_change(SetCustom("🌴", "Away")) == StatusChange(message=StatusMessage(message="Away", icon="🌴"))
    assert status_change(ClearMessage()) == StatusChange(message=StatusMessage())
    assert status_change(Heartbeat(NextcloudStatusType.AWAY)) is None
    assert status_change(NoWrite("offline")) is None


class FakeWriter:
    def __init__(self, echo_filter: EchoFilter) -> None:
        self.echo_filter = echo_filter
        self.writes: list[tuple[str, MatrixPresence]] = []

    async def write(self, user_id: str, desired: MatrixPresence) -> None:
        self.writes.append((user_id, desired))
        self.echo_filter.record_write(user_id, desired)


async def test_renewal_rewrites_decaying_presence() -> None:
    now = [1000.0]
    echo_filter = EchoFilter(clock=lambda: now[0])
    writer = FakeWriter(echo_filter)
    platform: Any = MatrixPlatform(
        bot=None,  # type: ignore[arg-type]
        sync_loop=None,
        commands=None,  # type: ignore[arg-type]
        echo_filter=echo_filter,
        writer=writer,  # type: ignore[arg-type]
        renewal=RenewalSettings(renew_interval=20.0),
        clock=lambda: now[0],
    )
    away = MatrixPresence(MatrixPresenceState.UNAVAILABLE, "🍕 Lunch")
    echo_filter.record_write("@a:x", away)
    echo_filter.record_write("@b:x", MatrixPresence(MatrixPresenceState.OFFLINE))
    platform._mirrored.update({"@a:x", "@b:x"})

    now[0] += 10
    assert await platform.renew_due() == 0
    now[0] += 15
    assert await platform.renew_due() == 1

    assert writer.writes == [("@a:x", away)]


class RecordingCommands:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str, str]] = []

    async def handle_message(self, room_id: str, sender: str, body: str) -> None:
        self.messages.append((room_id, sender, body))


async def test_bot_ignores_stale_commands() -> None:
    from presence_bridge.matrix.bot import COMMAND_MAX_AGE, MatrixBot, make_client
    from presence_bridge.matrix.settings import MatrixSettings

    now = 2_000_000.0
    client = make_client("http://127.0.0.1:9", "@bot:x", "token")
    commands = RecordingCommands()
    settings = MatrixSettings(homeserver_url="http://127.0.0.1:9", server_name="x")
    bot = MatrixBot(client, settings, commands, clock=lambda: now)  # type: ignore[arg-type]

    def message(body: str, age: float) -> dict[str, Any]:
        content = {"msgtype": "m.text", "body": body}
        return {"type": "m.room.message", "sender": "@a:x", "room_id": "!r:x", "content": content, "origin_server_ts": int((now - age) * 1000)}

    await bot.handle_events([message("!status away", COMMAND_MAX_AGE + 1), message("!status dnd", 5)])
    await bot.idle()
    await client.close()

    assert commands.messages == [("!r:x", "@a:x", "!status dnd")]
