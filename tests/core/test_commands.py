"""Every accepted command form and every CommandError reply of the command parser."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from presence_bridge.core.command_help import COMMAND_TABLE, HELP_TOPICS, describe_expiry_effect, help_text, usage_for
from presence_bridge.core.command_types import (
    ClearCommand,
    Command,
    HelpCommand,
    LinkCommand,
    RestoreCommand,
    SetCustomCommand,
    SetPredefinedCommand,
    SetStatusCommand,
    ShowCommand,
    SyncCommand,
    SyncMode,
    TimezoneCommand,
    UnlinkCommand,
    WhoCommand,
)
from presence_bridge.core.commands import parse_command
from presence_bridge.core.emoji import Icon
from presence_bridge.core.status import NextcloudStatusType
from presence_bridge.core.timeexpr import Expiry, TimeContext
from presence_bridge.errors import CommandError, TimeExpressionError

BERLIN = ZoneInfo("Europe/Berlin")
# Friday 2026-12-04, 13:00 in Berlin (CET, UTC+1).
NOW = int(dt.datetime(2026, 12, 4, 13, 0, tzinfo=BERLIN).timestamp())
CTX = TimeContext(NOW, BERLIN)
OFFERED = frozenset({"meeting", "commuting", "be-right-back", "remote-work", "sick-leave", "vacationing"})
PALM = Icon("🌴", ":palm_tree:")

END_OF_TODAY = int(dt.datetime(2026, 12, 4, 23, 59, 59, tzinfo=BERLIN).timestamp())
END_OF_DEC_24 = int(dt.datetime(2026, 12, 24, 23, 59, 59, tzinfo=BERLIN).timestamp())


def parse(text: str, offered: frozenset[str] = OFFERED) -> Command:
    return parse_command(text, CTX, offered)


ACCEPTED = [
    # Status types, with and without an expiry.
    ("online", SetStatusCommand(NextcloudStatusType.ONLINE)),
    ("away", SetStatusCommand(NextcloudStatusType.AWAY)),
    ("dnd", SetStatusCommand(NextcloudStatusType.DND)),
    ("busy", SetStatusCommand(NextcloudStatusType.BUSY)),
    ("invisible", SetStatusCommand(NextcloudStatusType.INVISIBLE)),
    ("offline", SetStatusCommand(NextcloudStatusType.OFFLINE)),
    ("DND 1h", SetStatusCommand(NextcloudStatusType.DND, Expiry("1h", NOW + 3600))),
    ("  dnd   for 90 minutes ", SetStatusCommand(NextcloudStatusType.DND, Expiry("for 1h30m", NOW + 5400))),
    ("away until today", SetStatusCommand(NextcloudStatusType.AWAY, Expiry("until today", END_OF_TODAY))),
    ("busy until never", SetStatusCommand(NextcloudStatusType.BUSY, Expiry("until never", None))),
    ("invisible eod", SetStatusCommand(NextcloudStatusType.INVISIBLE, Expiry("eod", END_OF_TODAY))),
    # Predefined statuses by id and by alias.
    ("meeting", SetPredefinedCommand("meeting")),
    ("meeting 30m", SetPredefinedCommand("meeting", Expiry("30m", NOW + 1800))),
    ("Commuting", SetPredefinedCommand("commuting")),
    ("remote", SetPredefinedCommand("remote-work")),
    ("wfh", SetPredefinedCommand("remote-work")),
    ("remote-work until friday", SetPredefinedCommand("remote-work", Expiry("until friday", END_OF_TODAY))),
    ("sick", SetPredefinedCommand("sick-leave")),
    ("sick-leave", SetPredefinedCommand("sick-leave")),
    ("vacation until 2026-12-24", SetPredefinedCommand("vacationing", Expiry("until 2026-12-24", END_OF_DEC_24))),
    ("vacationing until never", SetPredefinedCommand("vacationing", Expiry("until never", None))),
    ("brb", SetPredefinedCommand("be-right-back")),
    ("be-right-back 15m", SetPredefinedCommand("be-right-back", Expiry("15m", NOW + 900))),
    # Custom statuses.
    ("🌴", SetCustomCommand(PALM, "")),
    ("🌴 On vacation", SetCustomCommand(PALM, "On vacation")),
    (
        "🌴 On vacation until friday",
        SetCustomCommand(PALM, "On vacation", Expiry("until friday", END_OF_TODAY)),
    ),
    (
        ":palm_tree: On vacation until friday",
        SetCustomCommand(PALM, "On vacation", Expiry("until friday", END_OF_TODAY)),
    ),
    ("🌴 until 2026-12-24", SetCustomCommand(PALM, "", Expiry("until 2026-12-24", END_OF_DEC_24))),
    ("🌴Beach 2h", SetCustomCommand(PALM, "Beach", Expiry("2h", NOW + 7200))),
    ('🌴 "On vacation until friday"', SetCustomCommand(PALM, "On vacation until friday")),
    ('🌴 "On vacation" until friday', SetCustomCommand(PALM, "On vacation", Expiry("until friday", END_OF_TODAY))),
    ("🌴 “Back soon 1h” 30m", SetCustomCommand(PALM, "Back soon 1h", Expiry("30m", NOW + 1800))),
    ("🌴 'Out 2d'", SetCustomCommand(PALM, "Out 2d")),
    (":partyparrot: Party 1h", SetCustomCommand(Icon(None, ":partyparrot:"), "Party", Expiry("1h", NOW + 3600))),
    ("🌴 ‘Out’ 2d", SetCustomCommand(PALM, "Out", Expiry("2d", NOW + 172_800))),
    ('🌴 "He said "hi""', SetCustomCommand(PALM, 'He said "hi"')),
    ('🌴 ""', SetCustomCommand(PALM, "")),
    ("🌴 'til I'm back", SetCustomCommand(PALM, "'til I'm back")),
    ("🌴 'tis the season", SetCustomCommand(PALM, "'tis the season")),
    ("🌴 Working until the release ships", SetCustomCommand(PALM, "Working until the release ships")),
    ("🌴 Don't  disturb   1h", SetCustomCommand(PALM, "Don't  disturb", Expiry("1h", NOW + 3600))),
    ("🌴 " + "x" * 80, SetCustomCommand(PALM, "x" * 80)),
    (
        ":+1::skin-tone-4: Done for today",
        SetCustomCommand(Icon("👍🏽", ":+1::skin-tone-4:"), "Done for today"),
    ),
    ("👍🏽 Done", SetCustomCommand(Icon("👍🏽", ":+1::skin-tone-4:"), "Done")),
    # Everything else.
    ("clear", ClearCommand()),
    ("CLEAR", ClearCommand()),
    ("restore", RestoreCommand()),
    ("show", ShowCommand()),
    ("show @alice", ShowCommand("@alice")),
    ("show Alice Smith", ShowCommand("Alice Smith")),
    ("show <@U012AB3CD>", ShowCommand("<@U012AB3CD>")),
    ("who", WhoCommand()),
    ("who sales", WhoCommand("sales")),
    ("who #general", WhoCommand("#general")),
    ("who #team:example.org", WhoCommand("#team:example.org")),
    ("link", LinkCommand()),
    ("unlink", UnlinkCommand()),
    ("sync both", SyncCommand(SyncMode.BOTH)),
    ("sync to-chat", SyncCommand(SyncMode.TO_CHAT)),
    ("sync TO-NEXTCLOUD", SyncCommand(SyncMode.TO_NEXTCLOUD)),
    ("sync off", SyncCommand(SyncMode.OFF)),
    ("timezone Europe/Berlin", TimezoneCommand("Europe/Berlin")),
    ("timezone america/new_york", TimezoneCommand("America/New_York")),
    ("timezone utc", TimezoneCommand("UTC")),
    ("help", HelpCommand()),
    ("help DND", HelpCommand("dnd")),
    ("help sync", HelpCommand("sync")),
    ("help expiry", HelpCommand("expiry")),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_accepted_forms(text: str, expected: Command) -> None:
    """Each command form parses to the expected command object."""
    assert parse(text) == expected


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_render_parses_back(text: str, expected: Command) -> None:
    """A command's rendered text parses back to an equal command."""
    command = parse(text)

    assert parse(command.render()) == command


@pytest.mark.parametrize(
    ("command", "rendered"),
    [
        (SetStatusCommand(NextcloudStatusType.DND, Expiry("1h", NOW + 3600)), "dnd 1h"),
        (SetPredefinedCommand("remote-work"), "remote-work"),
        (SetCustomCommand(PALM, "On vacation", Expiry("until friday", END_OF_TODAY)), "🌴 On vacation until friday"),
        (SetCustomCommand(PALM, "Meeting 1h"), '🌴 "Meeting 1h"'),
        (SetCustomCommand(PALM, "x for", Expiry("1h", NOW + 3600)), '🌴 "x for" 1h'),
        (SetCustomCommand(PALM, " padded "), '🌴 " padded "'),
        (SetCustomCommand(PALM, "'quoted"), "🌴 \"'quoted\""),
        (SetCustomCommand(PALM, "", Expiry("1h", NOW + 3600)), "🌴 1h"),
        (SyncCommand(SyncMode.TO_CHAT), "sync to-chat"),
        (ShowCommand(), "show"),
        (WhoCommand("#general"), "who #general"),
        (HelpCommand("dnd"), "help dnd"),
    ],
)
def test_render_text(command: Command, rendered: str) -> None:
    """render() gives canonical text, quoting a message only where the parser needs it."""
    assert command.render() == rendered


STATUS_USAGE = "online | away | dnd | busy | invisible | offline [<expiry>]"
PREDEFINED_USAGE = "meeting | commuting | remote | sick | vacation | brb [<expiry>]"
CUSTOM_USAGE = "<emoji> [<message>] [<expiry>]"
BAD_EXPIRY = (
    "'{}' is not a valid expiry. Use a duration such as 30m or 1h30m, or 'until' with a time, "
    "day or date, such as 'until 17:00', 'until friday' or 'until never'."
)
UNKNOWN_COMMAND = (
    "Unknown command '{}'. Start with a status (online, away, dnd, busy, invisible, offline), a "
    "predefined status such as meeting, an emoji for a custom status, or one of clear, restore, "
    "show, who, link, unlink, sync, timezone and help."
)
ZONE_HINT = "Give an IANA zone name such as Europe/Berlin or America/New_York."

REJECTED = [
    # (text, exact reply, usage line)
    ("", "No command given. Send 'help' for the list of commands.", "help [command]"),
    ("   \n ", "No command given. Send 'help' for the list of commands.", "help [command]"),
    ("blah", UNKNOWN_COMMAND.format("blah"), None),
    (
        "🌴 " + "word " * 200,
        "The command has 1002 characters, but the maximum is 1000. Send a shorter command, or "
        "'help' for the list of commands.",
        None,
    ),
    ("holiday until friday", UNKNOWN_COMMAND.format("holiday"), None),
    ("“Hi” 1h", UNKNOWN_COMMAND.format("“Hi”"), None),
    ("dnd with Bob", BAD_EXPIRY.format("with Bob"), STATUS_USAGE),
    ("dnd until the release", BAD_EXPIRY.format("until the release"), STATUS_USAGE),
    (
        "dnd until 25:00",
        "Invalid time '25:00'. Use 24-hour HH:MM (00:00 to 23:59) or 1 to 12 with am/pm, such as 17:00 or 5pm.",
        STATUS_USAGE,
    ),
    ("away 0m", "Invalid duration '0m': it must be longer than zero.", STATUS_USAGE),
    ("meeting with Bob", BAD_EXPIRY.format("with Bob"), PREDEFINED_USAGE),
    (
        "vacation until 2026-01-01",
        "'until 2026-01-01' is in the past (23:59 on Thursday 1 Jan, Europe/Berlin). Give a time in the future.",
        PREDEFINED_USAGE,
    ),
    (
        "ooo",
        "Your Nextcloud server does not offer the predefined status 'out-of-office'. It offers: "
        "be-right-back, commuting, meeting, remote-work, sick-leave, vacationing.",
        PREDEFINED_USAGE,
    ),
    (
        "call",
        "Your Nextcloud server does not offer the predefined status 'call'. It offers: "
        "be-right-back, commuting, meeting, remote-work, sick-leave, vacationing.",
        PREDEFINED_USAGE,
    ),
    (
        "🌴 " + "x" * 81,
        "The message has 81 characters, but Nextcloud allows at most 80. Shorten it to 80 characters or fewer.",
        CUSTOM_USAGE,
    ),
    (
        "🌴 " + "👨‍👩‍👧" * 17,
        "The message has 85 characters, but Nextcloud allows at most 80. Shorten it to 80 characters or fewer.",
        CUSTOM_USAGE,
    ),
    (
        '🌴 "On vacation',
        'The message starts with " but has no closing ". Close the quote, or leave out the quote marks.',
        CUSTOM_USAGE,
    ),
    (
        "🌴 “On vacation",
        "The message starts with “ but has no closing ”. Close the quote, or leave out the quote marks.",
        CUSTOM_USAGE,
    ),
    (
        '🌴 "On vacation" soon',
        "Unexpected text after the quoted message: 'soon'. Only an expiry may follow the closing "
        "quote, or put the whole message in the quotes.",
        CUSTOM_USAGE,
    ),
    (
        "🌴 Meeting until 25:00",
        "Invalid time '25:00'. Use 24-hour HH:MM (00:00 to 23:59) or 1 to 12 with am/pm, such as 17:00 or 5pm. "
        "To keep those words in the message, put the message in quotes.",
        CUSTOM_USAGE,
    ),
    (
        '🌴 "Meeting" until 2026-02-30',
        "Invalid date '2026-02-30': use an existing date as YYYY-MM-DD, such as 2026-12-24.",
        CUSTOM_USAGE,
    ),
    (
        "🌴 Lunch until today 12:00",
        "'until today 12:00' is in the past (12:00 today, Europe/Berlin). Give a time in the future. "
        "To keep those words in the message, put the message in quotes.",
        CUSTOM_USAGE,
    ),
    (
        ":+1::skin-tone-9: Great",
        "':+1::skin-tone-9:' is not one emoji. Start a custom status with one emoji or one shortcode, "
        "such as :palm_tree: or :+1::skin-tone-2:.",
        CUSTOM_USAGE,
    ),
    (
        ":palm_tree::palm_tree:",
        "':palm_tree::palm_tree:' is not one emoji. Start a custom status with one emoji or one shortcode, "
        "such as :palm_tree: or :+1::skin-tone-2:.",
        CUSTOM_USAGE,
    ),
    ("clear now", "'clear' takes no arguments, but got 'now'.", "clear"),
    ("restore it", "'restore' takes no arguments, but got 'it'.", "restore"),
    ("link me please", "'link' takes no arguments, but got 'me please'.", "link"),
    ("unlink x", "'unlink' takes no arguments, but got 'x'.", "unlink"),
    ("sync", "Missing sync mode. Choose both, to-chat, to-nextcloud or off.", "sync both | to-chat | to-nextcloud | off"),
    (
        "sync sideways",
        "Unknown sync mode 'sideways'. Choose both, to-chat, to-nextcloud or off.",
        "sync both | to-chat | to-nextcloud | off",
    ),
    (
        "sync both off",
        "Unknown sync mode 'both off'. Choose both, to-chat, to-nextcloud or off.",
        "sync both | to-chat | to-nextcloud | off",
    ),
    ("timezone", f"Missing time zone. {ZONE_HINT}", "timezone <IANA zone>"),
    (
        "timezone Europe/Berln",
        f"Unknown time zone 'Europe/Berln'. {ZONE_HINT} Did you mean Europe/Berlin?",
        "timezone <IANA zone>",
    ),
    ("timezone Nowhere/Atlantis", f"Unknown time zone 'Nowhere/Atlantis'. {ZONE_HINT}", "timezone <IANA zone>"),
    (
        "help me",
        "No help for 'me'. Send 'help' alone for all commands, or 'help' with a command word such "
        "as dnd, clear or sync.",
        "help [command]",
    ),
]


@pytest.mark.parametrize(("text", "reply", "usage"), REJECTED)
def test_rejected_forms(text: str, reply: str, usage: str | None) -> None:
    """Each invalid command raises CommandError with the exact reply and the command's usage line."""
    with pytest.raises(CommandError) as caught:
        parse(text)

    assert caught.value.reply == reply
    assert caught.value.usage == usage


def test_time_errors_are_time_expression_errors() -> None:
    """A bad expiry raises the TimeExpressionError subclass, carrying the usage line."""
    with pytest.raises(TimeExpressionError) as caught:
        parse("dnd 1.5h")

    assert caught.value.usage == STATUS_USAGE
    assert str(caught.value) == (
        "Invalid duration '1.5h': use whole numbers, such as 1h30m instead of 1.5h.\n"
        f"Usage: {STATUS_USAGE}"
    )


def test_predefined_needs_offered_ids() -> None:
    """With no ids offered every predefined word is rejected, and the reply says none are offered."""
    with pytest.raises(CommandError) as caught:
        parse("meeting", frozenset())

    assert caught.value.reply == (
        "Your Nextcloud server does not offer the predefined status 'meeting'. It offers: none."
    )


def test_offered_id_unknown_to_bridge_is_accepted() -> None:
    """A predefined id that a newer server lists is accepted by its id."""
    assert parse("focus-time 1h", OFFERED | {"focus-time"}) == SetPredefinedCommand(
        "focus-time", Expiry("1h", NOW + 3600)
    )


def test_unknown_offered_id_rejects_bad_expiry() -> None:
    """A bad expiry after a server-only id raises with the predefined usage line."""
    with pytest.raises(TimeExpressionError) as caught:
        parse("focus-time soon", OFFERED | {"focus-time"})

    assert caught.value.reply == BAD_EXPIRY.format("soon")
    assert caught.value.usage == PREDEFINED_USAGE


def test_command_words_win_over_offered_ids() -> None:
    """A server id that equals a command word cannot hide the command."""
    assert parse("clear", OFFERED | {"clear"}) == ClearCommand()


def test_commands_are_frozen() -> None:
    """Command objects cannot be changed after parsing."""
    command = parse("dnd 1h")

    with pytest.raises(AttributeError):
        command.status = NextcloudStatusType.AWAY  # type: ignore[misc, union-attr]


def test_help_text_lists_every_usage_line() -> None:
    """'help' lists every usage line of the command table, with the chat's prefix."""
    text = help_text(prefix="/ncstatus ")

    for spec in COMMAND_TABLE:
        assert spec.usage in text
    assert "/ncstatus sync both | to-chat | to-nextcloud | off" in text
    assert text.splitlines()[-1].startswith("<expiry> is a duration")


@pytest.mark.parametrize("topic", HELP_TOPICS)
def test_help_topic_has_usage_and_summary(topic: str) -> None:
    """'help <topic>' shows that command's usage line and what it does."""
    text = help_text(topic, prefix="!status ")

    usage, summary = text.split("\n")
    assert usage_for(topic) in usage
    assert summary


def test_errors_reuse_help_table() -> None:
    """The usage line in an error is the one 'help' prints for that command."""
    with pytest.raises(CommandError) as caught:
        parse("sync")

    assert caught.value.usage is not None
    assert caught.value.usage in help_text()


def test_expiry_effect_for_status_with_empty_message() -> None:
    """'dnd 1h' explains that an empty message carries the expiry and Nextcloud then sets offline."""
    text = describe_expiry_effect(NextcloudStatusType.DND, NOW + 3600, CTX)

    assert text == (
        "Your status is dnd. Nextcloud can only clear a status message, not a status, so an empty "
        "status message is set to clear at 14:00 today (Europe/Berlin). Nextcloud then sets your "
        "status to offline, and your next activity in Nextcloud brings you back online."
    )


def test_expiry_effect_for_status_with_current_message() -> None:
    """With a message already set, the reply says the current message carries the expiry."""
    text = describe_expiry_effect(NextcloudStatusType.AWAY, END_OF_TODAY, CTX, has_message=True)

    assert "so your current status message is set to clear at 23:59 today (Europe/Berlin)." in text


def test_expiry_effect_for_message_only() -> None:
    """A custom or predefined status says when its message clears and that the status drops to offline."""
    text = describe_expiry_effect(None, END_OF_DEC_24, CTX)

    assert text == (
        "Your status message clears at 23:59 on Thursday 24 Dec (Europe/Berlin). Nextcloud then "
        "sets your status to offline, and your next activity in Nextcloud brings you back online."
    )


def test_expiry_effect_without_expiry() -> None:
    """Without a clear-at the reply says the status stays."""
    assert describe_expiry_effect(NextcloudStatusType.DND, None, CTX) == "Your status stays dnd until you change it."
    assert describe_expiry_effect(None, None, CTX) == "Your status message stays until you change it."
