"""Mapping rules: round trips through Slack and Matrix, and each documented lossy case.

A round trip maps a Nextcloud status to a chat platform, maps the result back to
Nextcloud writes and applies them to an empty Nextcloud account with the rules of
Nextcloud 31 (heartbeats do not replace a sticky status).  Where the platform can
represent the status, the account ends up with the original status.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import pytest

from presence_bridge.core.mapping import (
    SLACK_DEFAULT_STATUSES,
    ClearMessage,
    Heartbeat,
    MappingOptions,
    NextcloudWrite,
    NoWrite,
    PredefinedMessage,
    SetCustom,
    SetPredefined,
    SetStatus,
    matrix_to_nextcloud,
    nextcloud_to_matrix,
    nextcloud_to_slack,
    slack_to_nextcloud,
    truncate_text,
)
from presence_bridge.core.status import (
    MatrixPresence,
    MatrixPresenceState,
    NextcloudStatus,
    NextcloudStatusType,
    SlackPresence,
    SlackStatus,
)

NOW = 1_800_000_000
HOUR = 3600

ONLINE = NextcloudStatusType.ONLINE
AWAY = NextcloudStatusType.AWAY
DND = NextcloudStatusType.DND
BUSY = NextcloudStatusType.BUSY
INVISIBLE = NextcloudStatusType.INVISIBLE
OFFLINE = NextcloudStatusType.OFFLINE

PREDEFINED = {
    "meeting": PredefinedMessage("📅", "In a meeting"),
    "commuting": PredefinedMessage("🚌", "Commuting"),
    "be-right-back": PredefinedMessage("⏳", "Be right back"),
    "remote-work": PredefinedMessage("🏡", "Working remotely"),
    "sick-leave": PredefinedMessage("🤒", "Out sick"),
    "vacationing": PredefinedMessage("🌴", "Vacationing"),
    "call": PredefinedMessage("💬", "In a call"),
    "out-of-office": PredefinedMessage("🛑", "Out of office"),
}
"""Nextcloud 32's predefined messages as ``GET /predefined_statuses`` lists them in English."""

PREDEFINED_GERMAN = {
    "meeting": PredefinedMessage("📅", "In einer Besprechung"),
    "vacationing": PredefinedMessage("🌴", "Im Urlaub"),
}

ENGLAND_FLAG = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"

PERSISTENT = frozenset({AWAY, DND, BUSY, INVISIBLE})
MSC3026 = MappingOptions(msc3026_busy=True)


@dataclass(frozen=True)
class Account:
    """A Nextcloud account's status as the server stores it."""

    status: NextcloudStatusType = OFFLINE
    user_defined: bool = False
    message_id: str | None = None
    message: str | None = None
    icon: str | None = None
    clear_at: int | None = None


def apply(writes: Iterable[NextcloudWrite], account: Account | None = None) -> Account:
    """Apply writes the way Nextcloud 31 does, without its 15-minute timing rules."""
    account = account or Account()
    for write in writes:
        match write:
            case Heartbeat(status=status):
                if not (account.user_defined and account.status in PERSISTENT):
                    account = replace(account, status=status, user_defined=False)
            case SetStatus(status=status):
                account = replace(account, status=status, user_defined=True)
            case SetPredefined(message_id=message_id, clear_at=clear_at):
                account = replace(account, message_id=message_id, message=None, icon=None, clear_at=clear_at)
            case SetCustom(icon=icon, message=message, clear_at=clear_at):
                account = replace(account, message_id=None, message=message, icon=icon, clear_at=clear_at)
            case ClearMessage():
                account = replace(account, message_id=None, message=None, icon=None, clear_at=None)
            case NoWrite():
                pass
    return account


def view(status: NextcloudStatus) -> Account:
    """Return what a round trip must preserve: the type and the message as stored."""
    if status.message_id is not None:
        return Account(status.status, message_id=status.message_id, clear_at=status.clear_at)
    return Account(status.status, message=status.message, icon=status.icon, clear_at=status.clear_at)


def result(account: Account) -> Account:
    return replace(account, user_defined=False)


def through_slack(status: NextcloudStatus, options: MappingOptions = MappingOptions()) -> Account:
    slack = nextcloud_to_slack(status, now=NOW, predefined=PREDEFINED, options=options)
    return result(apply(slack_to_nextcloud(slack, now=NOW, predefined=PREDEFINED, options=options)))


def through_matrix(status: NextcloudStatus, options: MappingOptions = MSC3026) -> Account:
    matrix = nextcloud_to_matrix(status, now=NOW, predefined=PREDEFINED, options=options)
    return result(apply(matrix_to_nextcloud(matrix, predefined=PREDEFINED, options=options)))


SLACK_ROUND_TRIPS = [
    NextcloudStatus(ONLINE),
    NextcloudStatus(AWAY),
    NextcloudStatus(DND),
    NextcloudStatus(DND, message="Focus time", icon="🎧", clear_at=NOW + 2 * HOUR),
    NextcloudStatus(ONLINE, message="Reviewing", icon="🧪"),
    NextcloudStatus(ONLINE, message="Text without icon"),
    NextcloudStatus(AWAY, icon="🍕"),
    NextcloudStatus(AWAY, message_id="meeting", clear_at=NOW + HOUR),
    NextcloudStatus(ONLINE, message_id="commuting", message="Commuting", icon="🚌"),
    NextcloudStatus(ONLINE, message_id="be-right-back", clear_at=NOW + 900),
    NextcloudStatus(ONLINE, message_id="remote-work"),
    NextcloudStatus(AWAY, message_id="sick-leave"),
    NextcloudStatus(AWAY, message_id="vacationing"),
    NextcloudStatus(ONLINE, message="Thumbs", icon="👍🏽"),
    NextcloudStatus(ONLINE, message="Coding", icon="👨‍💻"),
    NextcloudStatus(ONLINE, message="Berlin", icon="🇩🇪"),
    NextcloudStatus(ONLINE, message="London", icon=ENGLAND_FLAG),
    NextcloudStatus(ONLINE, message="x" * 80, icon="📝"),
]


@pytest.mark.parametrize("status", SLACK_ROUND_TRIPS, ids=repr)
def test_slack_round_trip(status: NextcloudStatus) -> None:
    """A status Slack can represent comes back from Slack unchanged."""
    assert through_slack(status) == view(status)


MATRIX_ROUND_TRIPS = [
    NextcloudStatus(ONLINE),
    NextcloudStatus(AWAY),
    NextcloudStatus(DND),
    NextcloudStatus(DND, message="Focus time", icon="🎧"),
    NextcloudStatus(ONLINE, message="Reviewing", icon="🧪"),
    NextcloudStatus(ONLINE, message="Text without icon"),
    NextcloudStatus(AWAY, icon="🍕"),
    NextcloudStatus(AWAY, message_id="meeting"),
    NextcloudStatus(ONLINE, message_id="remote-work"),
    NextcloudStatus(AWAY, message_id="vacationing"),
    NextcloudStatus(ONLINE, message="Family day", icon="👨‍👩‍👧‍👦"),
    NextcloudStatus(ONLINE, message="Thumbs", icon="👍🏽"),
]


@pytest.mark.parametrize("status", MATRIX_ROUND_TRIPS, ids=repr)
def test_matrix_round_trip(status: NextcloudStatus) -> None:
    """A status Matrix can represent comes back from Matrix unchanged (MSC3026 on)."""
    assert through_matrix(status) == view(status)


# Nextcloud → Slack


def test_slack_online_is_auto_without_dnd() -> None:
    """Online is Slack presence auto with DND off."""
    slack = nextcloud_to_slack(NextcloudStatus(ONLINE), now=NOW)

    assert slack == SlackStatus(presence=SlackPresence.AUTO)


@pytest.mark.parametrize("status_type", [AWAY, INVISIBLE, OFFLINE])
def test_slack_away_types_force_away(status_type: NextcloudStatusType) -> None:
    """Away, invisible and offline force Slack presence away, never auto."""
    slack = nextcloud_to_slack(NextcloudStatus(status_type, message="Hidden"), now=NOW)

    assert slack.presence == SlackPresence.AWAY
    assert slack.dnd_until is None


def test_slack_invisible_comes_back_away() -> None:
    """Lossy: invisible is Slack away and comes back as an away heartbeat."""
    assert through_slack(NextcloudStatus(INVISIBLE)) == Account(AWAY)


def test_slack_offline_comes_back_away() -> None:
    """Lossy: offline is Slack away, because Slack has no offline, and comes back away."""
    assert through_slack(NextcloudStatus(OFFLINE)) == Account(AWAY)


def test_slack_busy_is_message_only() -> None:
    """Lossy: busy sets no DND, keeps presence auto and comes back online with its message."""
    status = NextcloudStatus(BUSY, message="In a call", icon="📞")

    slack = nextcloud_to_slack(status, now=NOW)

    assert slack.dnd_until is None
    assert slack.presence == SlackPresence.AUTO
    assert (slack.text, slack.emoji) == ("In a call", ":telephone_receiver:")
    assert through_slack(status) == Account(ONLINE, message="In a call", icon="📞")


def test_slack_dnd_without_clear_at_uses_maximum() -> None:
    """DND without clear-at snoozes Slack for the configured maximum, 24 h by default."""
    default = nextcloud_to_slack(NextcloudStatus(DND), now=NOW)
    one_hour = MappingOptions(dnd_max_seconds=HOUR)
    configured = nextcloud_to_slack(NextcloudStatus(DND), now=NOW, options=one_hour)

    assert default.dnd_until == NOW + 24 * HOUR
    assert configured.dnd_until == NOW + HOUR
    assert default.presence == SlackPresence.AUTO


def test_slack_dnd_ends_at_clear_at() -> None:
    """DND with clear-at snoozes Slack until clear-at, capped at the maximum."""
    soon = nextcloud_to_slack(NextcloudStatus(DND, message="Focus", clear_at=NOW + HOUR), now=NOW)
    later = nextcloud_to_slack(NextcloudStatus(DND, message="Away", clear_at=NOW + 72 * HOUR), now=NOW)

    assert soon.dnd_until == NOW + HOUR
    assert later.dnd_until == NOW + 24 * HOUR
    assert later.expiration == NOW + 72 * HOUR


def test_slack_message_fields() -> None:
    """A custom message becomes status text, emoji shortcode and absolute expiration."""
    status = NextcloudStatus(ONLINE, message="Lunch", icon="🍕", clear_at=NOW + HOUR)

    slack = nextcloud_to_slack(status, now=NOW)

    assert (slack.text, slack.emoji, slack.expiration) == ("Lunch", ":pizza:", NOW + HOUR)


def test_slack_predefined_uses_lookup_text() -> None:
    """A predefined message without server-filled text takes text and icon from the lookup."""
    status = NextcloudStatus(AWAY, message_id="meeting")

    slack = nextcloud_to_slack(status, now=NOW, predefined=PREDEFINED_GERMAN)

    assert (slack.text, slack.emoji) == ("In einer Besprechung", ":date:")


def test_slack_predefined_server_text_wins() -> None:
    """An out-of-office message keeps the text Nextcloud filled in over the listed one."""
    status = NextcloudStatus(DND, message_id="out-of-office", message="Back on Monday")

    slack = nextcloud_to_slack(status, now=NOW, predefined=PREDEFINED)

    assert (slack.text, slack.emoji) == ("Back on Monday", ":octagonal_sign:")


def test_slack_unknown_predefined_id_is_empty() -> None:
    """Lossy: an id without text or icon (``availability``) sends no Slack status."""
    status = NextcloudStatus(DND, message_id="availability")

    slack = nextcloud_to_slack(status, now=NOW, predefined=PREDEFINED)

    assert (slack.text, slack.emoji) == ("", "")


def test_slack_automation_message_comes_back_custom() -> None:
    """Lossy: a Talk call message returns as a custom message, which the caller must drop as echo."""
    status = NextcloudStatus(BUSY, message_id="call")

    assert through_slack(status) == Account(ONLINE, message="In a call")


def test_slack_icon_without_name_keeps_text() -> None:
    """Lossy: an icon Slack has no name for is dropped and the text kept."""
    status = NextcloudStatus(ONLINE, message="Letter D", icon="\U0001f1e9")

    slack = nextcloud_to_slack(status, now=NOW)

    assert (slack.text, slack.emoji) == ("Letter D", "")
    assert through_slack(status) == Account(ONLINE, message="Letter D")


def test_slack_icon_without_name_alone_is_lost() -> None:
    """Lossy: an icon-only message whose icon Slack cannot name sends no status at all."""
    slack = nextcloud_to_slack(NextcloudStatus(ONLINE, icon="\U0001f1e9", clear_at=NOW + HOUR), now=NOW)

    assert (slack.text, slack.emoji, slack.expiration) == ("", "", 0)


def test_slack_speech_balloon_with_text_is_lost() -> None:
    """Lossy: a 💬 icon with text looks like Slack's default and comes back without icon."""
    status = NextcloudStatus(ONLINE, message="Chatting", icon="💬")

    assert nextcloud_to_slack(status, now=NOW).emoji == ":speech_balloon:"
    assert through_slack(status) == Account(ONLINE, message="Chatting")


def test_slack_long_predefined_text_is_truncated() -> None:
    """A listed text over Slack's 100 characters is cut with an ellipsis."""
    lookup = {"meeting": PredefinedMessage("📅", "m" * 120)}

    slack = nextcloud_to_slack(NextcloudStatus(AWAY, message_id="meeting"), now=NOW, predefined=lookup)

    assert slack.text == "m" * 99 + "…"


def test_slack_expired_clear_at_is_offline() -> None:
    """A clear-at in the past means Nextcloud reset to offline, so no message and away."""
    status = NextcloudStatus(DND, message="Old", icon="🍕", clear_at=NOW - 1)

    assert nextcloud_to_slack(status, now=NOW) == SlackStatus(presence=SlackPresence.AWAY)


# Slack → Nextcloud


@pytest.mark.parametrize(("shortcode", "default"), sorted(SLACK_DEFAULT_STATUSES.items()))
def test_slack_default_status_is_predefined(shortcode: str, default: tuple[str, str]) -> None:
    """Each built-in Slack status becomes its Nextcloud predefined id, keeping the expiry."""
    message_id, text = default
    slack = SlackStatus(text=text, emoji=shortcode, expiration=NOW + HOUR)

    writes = slack_to_nextcloud(slack, now=NOW)

    assert writes == (Heartbeat(ONLINE), SetPredefined(message_id, NOW + HOUR))


def test_slack_default_status_in_listed_language() -> None:
    """A built-in Slack emoji with the text Nextcloud lists in the user's language matches too."""
    slack = SlackStatus(text="Im Urlaub", emoji=":palm_tree:")

    writes = slack_to_nextcloud(slack, now=NOW, predefined=PREDEFINED_GERMAN)

    assert writes[-1] == SetPredefined("vacationing")


def test_slack_default_emoji_other_text_is_custom() -> None:
    """A built-in Slack emoji with other text stays a custom message."""
    slack = SlackStatus(text="Bus to Berlin", emoji=":bus:")

    assert slack_to_nextcloud(slack, now=NOW)[-1] == SetCustom("🚌", "Bus to Berlin")


def test_slack_call_text_never_sets_automation_id() -> None:
    """Text equal to the Talk call message stays custom, since only Talk may set ``call``."""
    slack = SlackStatus(text="In a call", emoji=":speech_balloon:")

    assert slack_to_nextcloud(slack, now=NOW, predefined=PREDEFINED)[-1] == SetCustom(None, "In a call")


def test_slack_custom_emoji_without_fallback() -> None:
    """Lossy: a custom workspace emoji gives no icon but keeps the text."""
    slack = SlackStatus(text="Party", emoji=":partyparrot:")

    assert slack_to_nextcloud(slack, now=NOW)[-1] == SetCustom(None, "Party")


def test_slack_custom_emoji_with_fallback() -> None:
    """A configured fallback icon replaces a custom workspace emoji."""
    slack = SlackStatus(text="Party", emoji=":partyparrot:")
    options = MappingOptions(custom_emoji_fallback="🎉")

    assert slack_to_nextcloud(slack, now=NOW, options=options)[-1] == SetCustom("🎉", "Party")


def test_slack_custom_emoji_alone_becomes_text() -> None:
    """Lossy: a custom emoji without text keeps its name as the message."""
    slack = SlackStatus(emoji=":partyparrot:")

    assert slack_to_nextcloud(slack, now=NOW)[-1] == SetCustom(None, ":partyparrot:")


def test_slack_speech_balloon_with_text_is_no_icon() -> None:
    """Slack's default 💬 with text is read as no icon."""
    slack = SlackStatus(text="Around", emoji=":speech_balloon:")

    assert slack_to_nextcloud(slack, now=NOW)[-1] == SetCustom(None, "Around")


def test_slack_skin_tone_icon() -> None:
    """A skin-tone shortcode becomes the toned glyph."""
    slack = SlackStatus(text="Agreed", emoji=":+1::skin-tone-4:")

    assert slack_to_nextcloud(slack, now=NOW)[-1] == SetCustom("👍🏽", "Agreed")


def test_slack_long_text_is_truncated() -> None:
    """Lossy: Slack text over 80 code points is cut to 79 and ends with an ellipsis."""
    slack = SlackStatus(text="w" * 100, emoji=":memo:")

    write = slack_to_nextcloud(slack, now=NOW)[-1]

    assert write == SetCustom("📝", "w" * 79 + "…")


def test_slack_inline_shortcodes_become_emoji() -> None:
    """Standard codes inside the text become emoji; custom ones stay as typed."""
    slack = SlackStatus(text="Lunch :pizza: with :partyparrot:", emoji=":fork_and_knife:")

    assert slack_to_nextcloud(slack, now=NOW)[-1] == SetCustom("🍴", "Lunch 🍕 with :partyparrot:")


def test_slack_presence_is_heartbeat() -> None:
    """Slack activity is a heartbeat, never a sticky status."""
    active = slack_to_nextcloud(SlackStatus(presence=SlackPresence.AUTO), now=NOW)
    away = slack_to_nextcloud(SlackStatus(presence=SlackPresence.AWAY), now=NOW)

    assert active == (Heartbeat(ONLINE),)
    assert away == (Heartbeat(AWAY),)


def test_slack_dnd_on_is_sticky_dnd() -> None:
    """Turning Slack DND on sets Nextcloud dnd explicitly, once."""
    dnd = SlackStatus(dnd_until=NOW + HOUR)

    first = slack_to_nextcloud(dnd, now=NOW)
    repeated = slack_to_nextcloud(dnd, dnd, now=NOW)

    assert first == (SetStatus(DND),)
    assert repeated == (NoWrite("Slack DND and status are unchanged"),)


def test_slack_dnd_off_is_explicit_online() -> None:
    """Turning Slack DND off sets online explicitly, as a heartbeat cannot end a sticky dnd."""
    before = SlackStatus(dnd_until=NOW + HOUR)
    after = SlackStatus(presence=SlackPresence.AWAY)

    assert slack_to_nextcloud(after, before, now=NOW) == (SetStatus(ONLINE),)


def test_slack_dnd_in_past_is_off() -> None:
    """A DND end time already passed counts as DND off."""
    assert slack_to_nextcloud(SlackStatus(dnd_until=NOW - 1), now=NOW) == (Heartbeat(ONLINE),)


def test_slack_cleared_status_clears_message() -> None:
    """An emptied Slack status clears the Nextcloud message."""
    before = SlackStatus(text="Lunch", emoji=":pizza:")

    assert slack_to_nextcloud(SlackStatus(), before, now=NOW) == (Heartbeat(ONLINE), ClearMessage())


def test_slack_empty_status_first_contact_keeps_message() -> None:
    """With no previous status an empty Slack status writes no message."""
    assert slack_to_nextcloud(SlackStatus(), now=NOW) == (Heartbeat(ONLINE),)


def test_slack_unchanged_status_writes_no_message() -> None:
    """An unchanged Slack status writes only the heartbeat."""
    slack = SlackStatus(text="Lunch", emoji=":pizza:")

    assert slack_to_nextcloud(slack, slack, now=NOW) == (Heartbeat(ONLINE),)


def test_slack_expired_status_clears_message() -> None:
    """A Slack status whose expiration passed counts as cleared."""
    before = SlackStatus(text="Lunch", emoji=":pizza:", expiration=NOW + 10)
    after = SlackStatus(text="Lunch", emoji=":pizza:", expiration=NOW - 10)

    assert slack_to_nextcloud(after, before, now=NOW)[-1] == ClearMessage()


# Nextcloud → Matrix


@pytest.mark.parametrize(
    ("status_type", "state"),
    [
        (ONLINE, MatrixPresenceState.ONLINE),
        (AWAY, MatrixPresenceState.UNAVAILABLE),
        (INVISIBLE, MatrixPresenceState.OFFLINE),
        (OFFLINE, MatrixPresenceState.OFFLINE),
    ],
)
def test_matrix_states(status_type: NextcloudStatusType, state: MatrixPresenceState) -> None:
    """Online, away, invisible and offline map to one Matrix state each."""
    assert nextcloud_to_matrix(NextcloudStatus(status_type), now=NOW) == MatrixPresence(state)


@pytest.mark.parametrize(("status_type", "text"), [(DND, "Do not disturb"), (BUSY, "Busy")])
def test_matrix_busy_with_msc3026(status_type: NextcloudStatusType, text: str) -> None:
    """DND and busy go out as MSC3026 busy, with a status message saying which."""
    matrix = nextcloud_to_matrix(NextcloudStatus(status_type), now=NOW, options=MSC3026)

    assert matrix == MatrixPresence(MatrixPresenceState.UNAVAILABLE, status_msg=text, busy=True)


def test_matrix_dnd_without_msc3026() -> None:
    """Without MSC3026, DND is unavailable with "Do not disturb" as its message."""
    matrix = nextcloud_to_matrix(NextcloudStatus(DND), now=NOW)

    assert matrix == MatrixPresence(MatrixPresenceState.UNAVAILABLE, status_msg="Do not disturb")


def test_matrix_dnd_without_msc3026_comes_back_away() -> None:
    """Lossy: without MSC3026, DND comes back as an away heartbeat and no message."""
    status = NextcloudStatus(DND)

    assert through_matrix(status, MappingOptions()) == Account(AWAY)


def test_matrix_busy_comes_back_dnd() -> None:
    """Lossy: Nextcloud busy and dnd share Matrix busy, which comes back as dnd."""
    status = NextcloudStatus(BUSY, message="On a call", icon="📞")

    assert through_matrix(status) == Account(DND, message="On a call", icon="📞")


def test_matrix_dnd_message_wins_over_placeholder() -> None:
    """A DND with its own message sends that message, not "Do not disturb"."""
    status = NextcloudStatus(DND, message="Focus", icon="🎧")

    assert nextcloud_to_matrix(status, now=NOW).status_msg == "🎧 Focus"


def test_matrix_placeholders_configurable() -> None:
    """The DND and busy placeholders can be changed or turned off."""
    options = MappingOptions(matrix_dnd_message=None, matrix_busy_message="Beschäftigt")

    assert nextcloud_to_matrix(NextcloudStatus(DND), now=NOW, options=options).status_msg is None
    assert nextcloud_to_matrix(NextcloudStatus(BUSY), now=NOW, options=options).status_msg == "Beschäftigt"


@pytest.mark.parametrize("status_type", [INVISIBLE, OFFLINE])
def test_matrix_offline_comes_back_as_no_write(status_type: NextcloudStatusType) -> None:
    """Lossy: invisible and offline are Matrix offline, which never writes to Nextcloud."""
    matrix = nextcloud_to_matrix(NextcloudStatus(status_type), now=NOW)

    writes = matrix_to_nextcloud(matrix)

    assert len(writes) == 1
    assert isinstance(writes[0], NoWrite)
    assert "timeout" in writes[0].reason


def test_matrix_clear_at_is_lost() -> None:
    """Lossy: Matrix has no expiry, so the message comes back without clear-at."""
    status = NextcloudStatus(ONLINE, message="Lunch", icon="🍕", clear_at=NOW + HOUR)

    assert through_matrix(status) == Account(ONLINE, message="Lunch", icon="🍕")


def test_matrix_expired_clear_at_is_offline() -> None:
    """A clear-at in the past means Nextcloud reset to offline, so Matrix offline without message."""
    status = NextcloudStatus(ONLINE, message="Lunch", clear_at=NOW)

    assert nextcloud_to_matrix(status, now=NOW) == MatrixPresence(MatrixPresenceState.OFFLINE)


def test_matrix_predefined_in_user_language() -> None:
    """A predefined message goes out in the listed language and matches again on return."""
    status = NextcloudStatus(AWAY, message_id="vacationing")

    matrix = nextcloud_to_matrix(status, now=NOW, predefined=PREDEFINED_GERMAN)
    writes = matrix_to_nextcloud(matrix, predefined=PREDEFINED_GERMAN)

    assert matrix.status_msg == "🌴 Im Urlaub"
    assert writes == (Heartbeat(AWAY), SetPredefined("vacationing"))


# Matrix → Nextcloud


def test_matrix_online_and_unavailable_are_heartbeats() -> None:
    """Matrix online and unavailable are heartbeats, never sticky statuses."""
    online = matrix_to_nextcloud(MatrixPresence(MatrixPresenceState.ONLINE))
    unavailable = matrix_to_nextcloud(MatrixPresence(MatrixPresenceState.UNAVAILABLE))

    assert online == (Heartbeat(ONLINE),)
    assert unavailable == (Heartbeat(AWAY),)


def test_matrix_busy_is_sticky_dnd_once() -> None:
    """Matrix busy sets dnd explicitly, and not again while it stays busy."""
    busy = MatrixPresence(MatrixPresenceState.UNAVAILABLE, busy=True)

    assert matrix_to_nextcloud(busy) == (SetStatus(DND),)
    assert matrix_to_nextcloud(busy, busy) == (NoWrite("Matrix busy and status message are unchanged"),)


def test_matrix_busy_ended_is_explicit_online() -> None:
    """Leaving busy for online sets online explicitly, as a heartbeat cannot end a sticky dnd."""
    busy = MatrixPresence(MatrixPresenceState.UNAVAILABLE, busy=True)

    assert matrix_to_nextcloud(MatrixPresence(MatrixPresenceState.ONLINE), busy) == (SetStatus(ONLINE),)


def test_matrix_busy_timeout_is_no_write() -> None:
    """Busy timing out to offline changes nothing in Nextcloud."""
    busy = MatrixPresence(MatrixPresenceState.UNAVAILABLE, busy=True)

    writes = matrix_to_nextcloud(MatrixPresence(MatrixPresenceState.OFFLINE), busy)

    assert len(writes) == 1
    assert isinstance(writes[0], NoWrite)


def test_matrix_new_status_msg_is_custom() -> None:
    """A changed status message becomes a custom message with its leading emoji as icon."""
    before = MatrixPresence(MatrixPresenceState.ONLINE, status_msg="Working")
    after = MatrixPresence(MatrixPresenceState.ONLINE, status_msg="🌮 Taco Tuesday")

    assert matrix_to_nextcloud(after, before) == (Heartbeat(ONLINE), SetCustom("🌮", "Taco Tuesday"))


def test_matrix_offline_status_msg_change_is_written() -> None:
    """A new status message is written even while the user is offline."""
    before = MatrixPresence(MatrixPresenceState.OFFLINE)
    after = MatrixPresence(MatrixPresenceState.OFFLINE, status_msg="Back Monday")

    assert matrix_to_nextcloud(after, before) == (SetCustom(None, "Back Monday"),)


def test_matrix_cleared_status_msg_clears_message() -> None:
    """Removing the status message clears the Nextcloud message."""
    before = MatrixPresence(MatrixPresenceState.ONLINE, status_msg="Lunch")

    assert matrix_to_nextcloud(MatrixPresence(MatrixPresenceState.ONLINE), before)[-1] == ClearMessage()


def test_matrix_first_contact_without_msg_keeps_message() -> None:
    """With no previous presence, a missing status message writes no message."""
    assert matrix_to_nextcloud(MatrixPresence(MatrixPresenceState.ONLINE)) == (Heartbeat(ONLINE),)


def test_matrix_placeholder_is_no_message() -> None:
    """The bridge's own "Do not disturb" text is not read back as a message."""
    busy = MatrixPresence(MatrixPresenceState.UNAVAILABLE, status_msg="Do not disturb", busy=True)

    assert matrix_to_nextcloud(busy) == (SetStatus(DND),)


def test_matrix_unknown_word_stays_text() -> None:
    """A leading ``:word:`` that is no standard emoji stays part of the text."""
    presence = MatrixPresence(MatrixPresenceState.ONLINE, status_msg=":partyparrot: party")

    assert matrix_to_nextcloud(presence)[-1] == SetCustom(None, ":partyparrot: party")


def test_matrix_long_status_msg_is_truncated() -> None:
    """Lossy: a status message over 80 code points is cut to 79 plus an ellipsis."""
    presence = MatrixPresence(MatrixPresenceState.ONLINE, status_msg="🚀 " + "z" * 90)

    assert matrix_to_nextcloud(presence)[-1] == SetCustom("🚀", "z" * 79 + "…")


# Truncation, options and write types


def test_truncate_keeps_short_text() -> None:
    """Text within the limit is unchanged."""
    assert truncate_text("x" * 80, 80) == "x" * 80


def test_truncate_keeps_emoji_whole() -> None:
    """The cut moves before an emoji sequence it would split."""
    text = "a" * 77 + "👨‍👩‍👧‍👦" + "tail"

    assert truncate_text(text, 80) == "a" * 77 + "…"


def test_truncate_keeps_combining_marks() -> None:
    """The cut moves before a letter whose combining mark would be cut off."""
    text = "a" * 78 + "e\u0301" + "tail"

    assert truncate_text(text, 80) == "a" * 78 + "…"


def test_truncate_strips_trailing_space() -> None:
    """Whitespace before the ellipsis is removed."""
    assert truncate_text("word " * 20, 11) == "word word…"


def test_options_reject_non_emoji_fallback() -> None:
    """A fallback icon must be one Unicode emoji."""
    with pytest.raises(ValueError, match="custom_emoji_fallback"):
        MappingOptions(custom_emoji_fallback=":partyparrot:")
    with pytest.raises(ValueError, match="custom_emoji_fallback"):
        MappingOptions(custom_emoji_fallback="x")


def test_options_reject_short_dnd() -> None:
    """Slack snoozes in minutes, so less than 60 seconds is rejected."""
    with pytest.raises(ValueError, match="dnd_max_seconds"):
        MappingOptions(dnd_max_seconds=30)


def test_heartbeat_rejects_sticky_types() -> None:
    """Nextcloud's heartbeat accepts only online and away."""
    with pytest.raises(ValueError, match="heartbeat"):
        Heartbeat(DND)


def test_set_custom_rejects_empty_and_long() -> None:
    """A custom message needs an icon or text, and text of at most 80 code points."""
    with pytest.raises(ValueError, match="ClearMessage"):
        SetCustom(None, "")
    with pytest.raises(ValueError, match="truncate"):
        SetCustom(None, "x" * 81)
