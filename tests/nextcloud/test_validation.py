"""Local validation agrees with what the real Nextcloud 31.0.6 accepted and rejected.

The icon, message and clearAt cases come from the request bodies of the
recorded ``PUT message/custom`` and ``PUT message/predefined`` exchanges; the
server's verdict is the recorded response.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import regex

from presence_bridge.errors import NextcloudValidationError
from presence_bridge.nextcloud import endpoints, validation
from presence_bridge.nextcloud.models import ClearAtKind, ClearAtRule
from tests.recordings import load_exchanges

ICON_REJECTED = "Status-Icon is longer than one character"
MESSAGE_REJECTED = "Message is longer than supported length of 80 characters"
CLEAR_AT_REJECTED = "ClearAt is in the past"


def _server_message(exchange: dict[str, Any]) -> str | None:
    body = exchange["response"]["body"]
    if exchange["response"]["body_kind"] != "json":
        return None
    meta = body["ocs"]["meta"]
    return None if meta["statuscode"] in (100, 200) else meta["message"]


def _custom_bodies() -> list[dict[str, Any]]:
    return [
        exchange
        for exchange in load_exchanges()
        if exchange["request"]["path"].endswith("/user_status/message/custom")
        and isinstance(exchange["request"]["body"], dict)
    ]


def _is_clearing(body: dict[str, Any]) -> bool:
    """Whether Nextcloud treats the body as "clear the message" (icon, message and clearAt all empty)."""
    return not body.get("statusIcon") and not body.get("message") and body.get("clearAt") in (None, "", 0)


def _icon_cases() -> list[Any]:
    cases = []
    for exchange in _custom_bodies():
        body = exchange["request"]["body"]
        if "statusIcon" not in body or body["statusIcon"] in (None, "") or _is_clearing(body):
            continue
        accepted = _server_message(exchange) != ICON_REJECTED
        cases.append(pytest.param(body["statusIcon"], accepted, id=f"{exchange['seq']}-{body['statusIcon']!r}"))
    return cases


def _message_cases() -> list[Any]:
    cases = []
    for exchange in _custom_bodies():
        body = exchange["request"]["body"]
        # The client always sends the message as a string, never as null.
        if body.get("message") is None or _is_clearing(body):
            continue
        server = _server_message(exchange)
        # A message of the wrong JSON type gets 500 (no OCS message) and must be rejected locally too.
        accepted = server != MESSAGE_REJECTED and exchange["response"]["status"] != 500
        cases.append(pytest.param(body["message"], accepted, id=f"{exchange['seq']}"))
    return cases


@pytest.mark.parametrize(("icon", "server_accepted"), _icon_cases())
def test_icon_verdict_matches_server(icon: str, server_accepted: bool) -> None:
    """The local icon check accepts exactly the recorded icons Nextcloud accepted."""
    assert validation.is_single_emoji(icon) is server_accepted
    if server_accepted:
        assert validation.validate_icon(icon) == icon
    else:
        with pytest.raises(NextcloudValidationError):
            validation.validate_icon(icon)


def test_icon_cases_cover_recorded_variety() -> None:
    """The recordings hold both accepted and rejected icons, so the comparison can fail."""
    verdicts = [case.values[1] for case in _icon_cases()]
    assert verdicts.count(True) >= 15
    assert verdicts.count(False) >= 6


def test_empty_icon_is_left_out() -> None:
    """Nextcloud rejects an empty-string icon next to a message, so it is sent as no icon."""
    recorded = {exchange["seq"]: exchange for exchange in _custom_bodies()}
    assert _server_message(recorded[113]) == ICON_REJECTED
    assert _server_message(recorded[118]) is None
    assert validation.validate_icon("") is None
    request = endpoints.set_custom_message("icon test", "", None, now=0, supports_emoji=True)
    assert "statusIcon" not in request.json


@pytest.mark.parametrize(("message", "server_accepted"), _message_cases())
def test_message_verdict_matches_server(message: Any, server_accepted: bool) -> None:
    """The local message check accepts exactly the recorded messages Nextcloud accepted."""
    if server_accepted:
        assert validation.validate_message(message) == message
    else:
        with pytest.raises(NextcloudValidationError):
            validation.validate_message(message)


@pytest.mark.parametrize(
    ("message", "accepted"),
    [
        ("x" * 80, True),
        ("x" * 81, False),
        ("🌴" * 80, True),
        ("👨‍💻" * 26, True),
        ("👨‍💻" * 27, False),
        ("ä" * 80, True),
        ("line1\nline2 <b>bold</b>", True),
        ("bad \ud800 surrogate", False),
    ],
)
def test_message_length_in_code_points(message: str, accepted: bool) -> None:
    """The limit is 80 code points (mb_strlen), not graphemes or bytes."""
    if accepted:
        assert validation.validate_message(message) == message
    else:
        with pytest.raises(NextcloudValidationError):
            validation.validate_message(message)


@pytest.mark.parametrize(
    ("icon", "accepted"),
    [
        ("🪑", True),
        ("👩‍❤️‍👩", True),
        ("🤷🏼‍♀️", True),
        ("👨‍👨‍👦‍👦", True),
        ("📱📠", False),
        ("a", False),
        ("0", False),
        ("$", False),
        ("#", False),
        ("*", False),
        ("中", False),
        ("ä", False),
        ("→", False),
        ("©", True),
        ("™", True),
        ("🏴󠁧󠁢󠁳󠁣󠁴󠁿", True),
        ("🇩🇪🇫", False),
        (" ", False),
    ],
)
def test_icon_rule_beyond_recordings(icon: str, accepted: bool) -> None:
    """More icons: emoji sequences pass; text, two emojis and non-emoji symbols fail."""
    assert validation.is_single_emoji(icon) is accepted


def test_emoji_rule_within_nextcloud31_rule() -> None:
    """Every code point the local rule allows also passes Nextcloud 31's general-category rule.

    Nextcloud 31 allows in an icon the categories Sk, Lm, So, Cf, Po, Ll, Sm, Me,
    Nd, Pd and unassigned code points, plus ZWJ and VS16.
    """
    emoji_code_point = regex.compile(r"[\p{Emoji}\p{Emoji_Component}\p{Extended_Pictographic}]")
    nextcloud31 = regex.compile(r"[\p{Sk}\p{Lm}\p{So}\p{Cf}\p{Po}\p{Ll}\p{Sm}\p{Me}\p{Nd}\p{Pd}\p{Cn}\u200d\ufe0f]")
    candidates = "".join(emoji_code_point.findall("".join(map(chr, range(0x110000)))))
    outside = [f"U+{ord(code_point):04X}" for code_point in candidates if not nextcloud31.fullmatch(code_point)]
    assert len(candidates) > 2500
    assert outside == []


def test_icon_rejected_without_emoji_support() -> None:
    """A server whose supports_emoji is false cannot store icons."""
    with pytest.raises(NextcloudValidationError, match="supports_emoji"):
        validation.validate_icon("🌴", supports_emoji=False)


def _clear_at_cases() -> list[Any]:
    cases = []
    for exchange in load_exchanges():
        path = exchange["request"]["path"]
        body = exchange["request"]["body"]
        if not path.endswith(("/message/custom", "/message/predefined")) or not isinstance(body, dict):
            continue
        raw = body.get("clearAt")
        if "clearAt" not in body or _is_clearing(body):
            continue
        # The client sends whole seconds as JSON ints or null; the server casts digit strings the same way.
        if isinstance(raw, str) and raw.isdigit():
            raw = int(raw)
        if not (raw is None or type(raw) is int):
            continue
        server = _server_message(exchange)
        accepted = server != CLEAR_AT_REJECTED
        now = int(exchange["unix_time_sent"])
        cases.append(pytest.param(raw, now, accepted, id=f"{exchange['seq']}-{raw}"))
    return cases


@pytest.mark.parametrize(("clear_at", "now", "server_accepted"), _clear_at_cases())
def test_clear_at_verdict_matches_server(clear_at: int | None, now: int, server_accepted: bool) -> None:
    """The local clearAt check agrees with the recorded verdicts at the recorded send time."""
    if server_accepted:
        assert validation.validate_clear_at(clear_at, now=now) == clear_at
    else:
        with pytest.raises(NextcloudValidationError):
            validation.validate_clear_at(clear_at, now=now)


def test_clear_at_cases_include_rejections() -> None:
    verdicts = [case.values[2] for case in _clear_at_cases()]
    assert verdicts.count(False) >= 3
    assert verdicts.count(True) >= 5


@pytest.mark.parametrize(
    ("clear_at", "accepted"),
    [(1000, True), (1001, True), (999, False), (0, False), (None, True), (1000.0, False), ("1000", False),
     (True, False), (2**32 - 1, True), (2**32, False)],
)
def test_clear_at_rules(clear_at: Any, accepted: bool) -> None:
    """clearAt is whole seconds, not in the past (equal to now passes), and fits 32 bits."""
    if accepted:
        assert validation.validate_clear_at(clear_at, now=1000) == clear_at
    else:
        with pytest.raises(NextcloudValidationError):
            validation.validate_clear_at(clear_at, now=1000)


@pytest.mark.parametrize("status", ["online", "away", "dnd", "invisible", "offline", "busy"])
def test_status_types_accepted(status: str) -> None:
    assert validation.validate_status_type(status, busy_allowed=True).value == status


@pytest.mark.parametrize("status", ["ONLINE", "bogus", "", None, 1])
def test_status_types_rejected(status: Any) -> None:
    with pytest.raises(NextcloudValidationError):
        validation.validate_status_type(status, busy_allowed=True)


def test_busy_needs_capability() -> None:
    with pytest.raises(NextcloudValidationError, match="busy"):
        validation.validate_status_type("busy", busy_allowed=False)


def test_heartbeat_status_only_online_or_away() -> None:
    assert validation.validate_heartbeat_status("away").value == "away"
    for status in ("dnd", "bogus", None):
        with pytest.raises(NextcloudValidationError):
            validation.validate_heartbeat_status(status)


def test_message_ids_per_version() -> None:
    """Nextcloud 31 accepts the hidden ids too; be-right-back comes with 32."""
    known_31 = endpoints.known_message_ids(31)
    assert {"call", "out-of-office", "availability", "busy-tentative", "meeting"} <= known_31
    assert "be-right-back" not in known_31
    assert "be-right-back" in endpoints.known_message_ids(32)
    assert "custom-id" in endpoints.known_message_ids(31, ["custom-id"])
    with pytest.raises(NextcloudValidationError, match="bogus"):
        validation.validate_message_id("bogus", known_31)


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (-1, 0), (1, -1), (2.5, 0), (True, 0), ("2", 0)])
def test_page_bounds_rejected(limit: Any, offset: Any) -> None:
    """Values Nextcloud turns into an empty page or a 500 (offset -1) are rejected."""
    with pytest.raises(NextcloudValidationError):
        validation.validate_page(limit, offset)


@pytest.mark.parametrize("value", ["", "a/b", None])
def test_path_segment_rejected(value: Any) -> None:
    with pytest.raises(NextcloudValidationError):
        validation.validate_path_segment(value, "the user id")


def test_custom_message_needs_text_or_icon() -> None:
    """An all-empty custom message would clear the message instead, so it is rejected."""
    with pytest.raises(NextcloudValidationError, match="clear"):
        endpoints.set_custom_message("", None, None, now=0, supports_emoji=True)
    icon_only = endpoints.set_custom_message("", "🎧", None, now=0, supports_emoji=True)
    assert icon_only.json == {"message": "", "clearAt": None, "statusIcon": "🎧"}


BERLIN = ZoneInfo("Europe/Berlin")


def test_clear_at_rule_period() -> None:
    now = dt.datetime(2026, 12, 4, 10, 0, tzinfo=BERLIN)
    rule = ClearAtRule(ClearAtKind.PERIOD, period=3600)
    assert rule.resolve(now) == int(now.timestamp()) + 3600


def test_clear_at_rule_end_of_day() -> None:
    now = dt.datetime(2026, 12, 4, 10, 0, tzinfo=BERLIN)
    rule = ClearAtRule(ClearAtKind.END_OF, end_of="day")
    assert rule.resolve(now) == int(dt.datetime(2026, 12, 4, 23, 59, 59, tzinfo=BERLIN).timestamp())


def test_clear_at_rule_end_of_week() -> None:
    friday = dt.datetime(2026, 12, 4, 10, 0, tzinfo=BERLIN)
    rule = ClearAtRule(ClearAtKind.END_OF, end_of="week")
    sunday_end = int(dt.datetime(2026, 12, 6, 23, 59, 59, tzinfo=BERLIN).timestamp())
    saturday_end = int(dt.datetime(2026, 12, 5, 23, 59, 59, tzinfo=BERLIN).timestamp())
    assert rule.resolve(friday) == sunday_end
    assert rule.resolve(friday, first_weekday=6) == saturday_end


def test_clear_at_rule_needs_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone"):
        ClearAtRule(ClearAtKind.PERIOD, period=60).resolve(dt.datetime(2026, 12, 4))
