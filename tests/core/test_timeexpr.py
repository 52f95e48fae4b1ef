"""Expiry expressions resolved against fixed clocks in several zones and across DST changes.

Expected instants are written as local ISO 8601 times with their UTC offset, so a
wrong DST reading shows up as a wrong offset in the failure message.
"""

from __future__ import annotations

import calendar
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from presence_bridge.core.localtime import (
    describe_instant,
    end_of_day,
    start_of_day,
    wall_time_instants,
)
from presence_bridge.core.timeexpr import (
    Expiry,
    TimeContext,
    find_trailing_expiry,
    parse_duration,
    parse_expiry,
    resolve_predefined_clear_at,
    split_trailing_expiry,
)
from presence_bridge.core.timesyntax import format_duration
from presence_bridge.errors import CommandError, TimeExpressionError

NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"
KOLKATA = "Asia/Kolkata"
SYDNEY = "Australia/Sydney"
CHATHAM = "Pacific/Chatham"
HAVANA = "America/Havana"


def epoch(local_iso: str) -> int:
    """Return the Unix seconds of an ISO 8601 time that carries its UTC offset."""
    moment = dt.datetime.fromisoformat(local_iso)
    assert moment.tzinfo is not None, f"{local_iso} needs an offset"
    return int(moment.timestamp())


def at(zone: str, local_iso: str, week_start: int = calendar.MONDAY) -> TimeContext:
    """Build a context whose clock reads ``local_iso`` (with its offset) in ``zone``."""
    return TimeContext(epoch(local_iso), ZoneInfo(zone), week_start)


def local(ctx: TimeContext, instant: int | None) -> str | None:
    """Format an instant as local ISO 8601 with offset, for readable assertions."""
    if instant is None:
        return None
    return dt.datetime.fromtimestamp(instant, ctx.tz).isoformat()


# Friday 2026-12-04, 13:00 in New York (EST, UTC-5).
NY_FRIDAY = (NEW_YORK, "2026-12-04T13:00:00-05:00")

RESOLVE_CASES = [
    # (zone, now, expression, expected local clear-at, canonical text)
    (*NY_FRIDAY, "until today", "2026-12-04T23:59:59-05:00", "until today"),
    (*NY_FRIDAY, "eod", "2026-12-04T23:59:59-05:00", "eod"),
    (*NY_FRIDAY, "until eod", "2026-12-04T23:59:59-05:00", "until today"),
    (*NY_FRIDAY, "until end of day", "2026-12-04T23:59:59-05:00", "until today"),
    (*NY_FRIDAY, "till end of today", "2026-12-04T23:59:59-05:00", "until today"),
    (*NY_FRIDAY, "30m", "2026-12-04T13:30:00-05:00", "30m"),
    (*NY_FRIDAY, "1h30m", "2026-12-04T14:30:00-05:00", "1h30m"),
    (*NY_FRIDAY, "1h 30m", "2026-12-04T14:30:00-05:00", "1h30m"),
    (*NY_FRIDAY, "90 minutes", "2026-12-04T14:30:00-05:00", "1h30m"),
    (*NY_FRIDAY, "1 hour and 30 minutes", "2026-12-04T14:30:00-05:00", "1h30m"),
    (*NY_FRIDAY, "1 hour", "2026-12-04T14:00:00-05:00", "1h"),
    (*NY_FRIDAY, "2d", "2026-12-06T13:00:00-05:00", "2d"),
    (*NY_FRIDAY, "for 2 days", "2026-12-06T13:00:00-05:00", "for 2d"),
    (*NY_FRIDAY, "for 10 days", "2026-12-14T13:00:00-05:00", "for 1w3d"),
    (*NY_FRIDAY, "1 week", "2026-12-11T13:00:00-05:00", "1w"),
    (*NY_FRIDAY, "FOR 45 Mins", "2026-12-04T13:45:00-05:00", "for 45m"),
    (*NY_FRIDAY, "until 17:00", "2026-12-04T17:00:00-05:00", "until 17:00"),
    (*NY_FRIDAY, "until 5pm", "2026-12-04T17:00:00-05:00", "until 17:00"),
    (*NY_FRIDAY, "until 5 PM", "2026-12-04T17:00:00-05:00", "until 17:00"),
    (*NY_FRIDAY, "until 5:30p.m.", "2026-12-04T17:30:00-05:00", "until 17:30"),
    (*NY_FRIDAY, "until 12am", "2026-12-05T00:00:00-05:00", "until 00:00"),
    (*NY_FRIDAY, "until 17:00:30", "2026-12-04T17:00:30-05:00", "until 17:00:30"),
    (*NY_FRIDAY, "until 9:00", "2026-12-05T09:00:00-05:00", "until 09:00"),
    (*NY_FRIDAY, "until 13:00", "2026-12-05T13:00:00-05:00", "until 13:00"),
    (*NY_FRIDAY, "until noon", "2026-12-05T12:00:00-05:00", "until 12:00"),
    (*NY_FRIDAY, "until tomorrow", "2026-12-05T23:59:59-05:00", "until tomorrow"),
    (*NY_FRIDAY, "until tomorrow 9:00", "2026-12-05T09:00:00-05:00", "until tomorrow 09:00"),
    (*NY_FRIDAY, "until tomorrow at 9am", "2026-12-05T09:00:00-05:00", "until tomorrow 09:00"),
    (*NY_FRIDAY, "until 9am tomorrow", "2026-12-05T09:00:00-05:00", "until tomorrow 09:00"),
    (*NY_FRIDAY, "until today 18:00", "2026-12-04T18:00:00-05:00", "until today 18:00"),
    (*NY_FRIDAY, "until friday", "2026-12-04T23:59:59-05:00", "until friday"),
    (*NY_FRIDAY, "until fri 17:00", "2026-12-04T17:00:00-05:00", "until friday 17:00"),
    (*NY_FRIDAY, "until friday 9:00", "2026-12-11T09:00:00-05:00", "until friday 09:00"),
    (*NY_FRIDAY, "until 5pm on friday", "2026-12-04T17:00:00-05:00", "until friday 17:00"),
    (*NY_FRIDAY, "until monday", "2026-12-07T23:59:59-05:00", "until monday"),
    (*NY_FRIDAY, "until Thursday", "2026-12-10T23:59:59-05:00", "until thursday"),
    (*NY_FRIDAY, "until 2026-12-24", "2026-12-24T23:59:59-05:00", "until 2026-12-24"),
    (*NY_FRIDAY, "until 2026-12-04", "2026-12-04T23:59:59-05:00", "until 2026-12-04"),
    (*NY_FRIDAY, "until 2026-12-24 8:15", "2026-12-24T08:15:00-05:00", "until 2026-12-24 08:15"),
    (*NY_FRIDAY, "until 2026-12-24T17:00", "2026-12-24T17:00:00-05:00", "until 2026-12-24T17:00"),
    (*NY_FRIDAY, "until 2026-12-24t17:00z", "2026-12-24T12:00:00-05:00", "until 2026-12-24T17:00Z"),
    (*NY_FRIDAY, "until 2026-12-24T17:00+01:00", "2026-12-24T11:00:00-05:00", "until 2026-12-24T17:00+01:00"),
    (*NY_FRIDAY, "until 2026-12-04T13:00:00.5-05:00", "2026-12-04T13:00:01-05:00", None),
    (*NY_FRIDAY, "until end of week", "2026-12-06T23:59:59-05:00", "until end of week"),
    (*NY_FRIDAY, "until end of the week", "2026-12-06T23:59:59-05:00", "until end of week"),
    (*NY_FRIDAY, "eow", "2026-12-06T23:59:59-05:00", "eow"),
    (*NY_FRIDAY, "until never", None, "until never"),
    # The week ends on Sunday with a Monday start, also late on Sunday itself.
    (BERLIN, "2026-12-06T23:30:00+01:00", "until end of week", "2026-12-06T23:59:59+01:00", "until end of week"),
    (BERLIN, "2026-12-07T00:00:00+01:00", "eow", "2026-12-13T23:59:59+01:00", "eow"),
    (BERLIN, "2026-12-04T10:00:00+01:00", "until 2026-12-24", "2026-12-24T23:59:59+01:00", "until 2026-12-24"),
    # Kolkata has a half-hour offset and no DST.
    (KOLKATA, "2026-12-04T13:00:00+05:30", "until 17:00", "2026-12-04T17:00:00+05:30", "until 17:00"),
    (KOLKATA, "2026-12-04T13:00:00+05:30", "until 2026-12-24T17:00Z", "2026-12-24T22:30:00+05:30", None),
    (KOLKATA, "2026-12-04T23:59:58+05:30", "until today", "2026-12-04T23:59:59+05:30", "until today"),
    (KOLKATA, "2026-12-04T13:00:00+05:30", "1h", "2026-12-04T14:00:00+05:30", "1h"),
    # Chatham has a 45-minute offset.
    (CHATHAM, "2026-12-04T13:00:00+13:45", "until friday", "2026-12-04T23:59:59+13:45", "until friday"),
    (CHATHAM, "2026-12-04T13:00:00+13:45", "until 2026-12-24T17:00+01:00", "2026-12-25T05:45:00+13:45", None),
]


@pytest.mark.parametrize(("zone", "now", "text", "expected", "canonical"), RESOLVE_CASES)
def test_expiry_resolves(zone: str, now: str, text: str, expected: str | None, canonical: str | None) -> None:
    """Each expression resolves to the expected local instant and canonical text."""
    ctx = at(zone, now)
    expiry = parse_expiry(text, ctx)

    assert local(ctx, expiry.clear_at) == (dt.datetime.fromisoformat(expected).isoformat() if expected else None)
    if canonical is not None:
        assert expiry.text == canonical


@pytest.mark.parametrize(("zone", "now", "text", "expected", "canonical"), RESOLVE_CASES)
def test_canonical_text_resolves_alike(
    zone: str, now: str, text: str, expected: str | None, canonical: str | None
) -> None:
    """Parsing the canonical text again gives the same expiry."""
    ctx = at(zone, now)
    expiry = parse_expiry(text, ctx)

    assert parse_expiry(expiry.text, ctx) == expiry


def test_until_today_at_1300_new_york() -> None:
    """'until today' at 13:00 in New York ends at 23:59:59 local the same day."""
    ctx = at(NEW_YORK, "2026-12-04T13:00:00-05:00")

    assert parse_expiry("until today", ctx).clear_at == epoch("2026-12-04T23:59:59-05:00")


def test_end_of_week_late_sunday_berlin() -> None:
    """'until end of week' on Sunday 23:30 in Berlin ends the same Sunday with a Monday week start."""
    ctx = at(BERLIN, "2026-12-06T23:30:00+01:00")

    assert parse_expiry("until end of week", ctx).clear_at == epoch("2026-12-06T23:59:59+01:00")


@pytest.mark.parametrize(
    ("week_start", "expected"),
    [
        (calendar.MONDAY, "2026-12-06T23:59:59-05:00"),
        (calendar.SUNDAY, "2026-12-05T23:59:59-05:00"),
        (calendar.SATURDAY, "2026-12-04T23:59:59-05:00"),
        (calendar.FRIDAY, "2026-12-10T23:59:59-05:00"),
    ],
)
def test_end_of_week_follows_week_start(week_start: int, expected: str) -> None:
    """The week ends on the day before the configured week start (now is a Friday)."""
    ctx = at(NEW_YORK, "2026-12-04T13:00:00-05:00", week_start)

    assert parse_expiry("eow", ctx).clear_at == epoch(expected)


DST_CASES = [
    # New York springs forward at 02:00 to 03:00 on 2026-03-08.
    (NEW_YORK, "2026-03-08T01:30:00-05:00", "1h", "2026-03-08T03:30:00-04:00"),
    (NEW_YORK, "2026-03-08T01:00:00-05:00", "until 2:30", "2026-03-08T03:30:00-04:00"),
    (NEW_YORK, "2026-03-08T01:00:00-05:00", "until 2026-03-08T02:30", "2026-03-08T03:30:00-04:00"),
    (NEW_YORK, "2026-03-08T01:00:00-05:00", "until today", "2026-03-08T23:59:59-04:00"),
    (NEW_YORK, "2026-03-07T12:00:00-05:00", "until tomorrow 12:00", "2026-03-08T12:00:00-04:00"),
    (NEW_YORK, "2026-03-07T12:00:00-05:00", "1d", "2026-03-08T13:00:00-04:00"),
    # New York falls back at 02:00 to 01:00 on 2026-11-01, so 01:30 happens twice.
    (NEW_YORK, "2026-11-01T00:30:00-04:00", "until 1:30", "2026-11-01T01:30:00-04:00"),
    (NEW_YORK, "2026-11-01T01:10:00-05:00", "until 1:30", "2026-11-01T01:30:00-05:00"),
    (NEW_YORK, "2026-11-01T01:45:00-05:00", "until 1:30", "2026-11-02T01:30:00-05:00"),
    (NEW_YORK, "2026-11-01T01:30:00-04:00", "1h", "2026-11-01T01:30:00-05:00"),
    (NEW_YORK, "2026-11-01T00:30:00-04:00", "eod", "2026-11-01T23:59:59-05:00"),
    # Berlin springs forward at 02:00 on 2026-03-29 and falls back at 03:00 on 2026-10-25.
    (BERLIN, "2026-03-29T01:00:00+01:00", "until 2:30", "2026-03-29T03:30:00+02:00"),
    (BERLIN, "2026-03-29T01:30:00+01:00", "1h", "2026-03-29T03:30:00+02:00"),
    (BERLIN, "2026-10-25T01:00:00+02:00", "until 2:30", "2026-10-25T02:30:00+02:00"),
    (BERLIN, "2026-10-25T02:10:00+01:00", "until 2:30", "2026-10-25T02:30:00+01:00"),
    (BERLIN, "2026-10-25T02:30:00+02:00", "1h", "2026-10-25T02:30:00+01:00"),
    (BERLIN, "2026-10-25T01:00:00+02:00", "until today", "2026-10-25T23:59:59+01:00"),
    # Sydney falls back at 03:00 on 2026-04-05 and springs forward at 02:00 on 2026-10-04.
    (SYDNEY, "2026-04-05T01:00:00+11:00", "until 2:30", "2026-04-05T02:30:00+11:00"),
    (SYDNEY, "2026-04-05T01:00:00+11:00", "eod", "2026-04-05T23:59:59+10:00"),
    (SYDNEY, "2026-10-04T01:00:00+10:00", "until 2:30", "2026-10-04T03:30:00+11:00"),
    (SYDNEY, "2026-10-04T01:30:00+10:00", "1h", "2026-10-04T03:30:00+11:00"),
    # Chatham moves by an hour at 02:45 (back, 2026-04-05) and 02:45 (forward, 2026-09-27).
    (CHATHAM, "2026-04-05T01:00:00+13:45", "until 3:00", "2026-04-05T03:00:00+13:45"),
    (CHATHAM, "2026-04-05T02:50:00+12:45", "until 3:00", "2026-04-05T03:00:00+12:45"),
    (CHATHAM, "2026-04-05T01:00:00+13:45", "until 2:50", "2026-04-05T02:50:00+13:45"),
    (CHATHAM, "2026-09-27T01:00:00+12:45", "until 3:00", "2026-09-27T04:00:00+13:45"),
    (CHATHAM, "2026-09-27T02:00:00+12:45", "1h", "2026-09-27T04:00:00+13:45"),
    (CHATHAM, "2026-09-26T22:00:00+12:45", "until sunday 3:15", "2026-09-27T04:15:00+13:45"),
]


@pytest.mark.parametrize(("zone", "now", "text", "expected"), DST_CASES)
def test_expiry_across_dst(zone: str, now: str, text: str, expected: str) -> None:
    """Gaps move a wall time forward, repeats take the first one still ahead, durations stay exact."""
    ctx = at(zone, now)

    clear_at = parse_expiry(text, ctx).clear_at

    assert local(ctx, clear_at) == dt.datetime.fromisoformat(expected).isoformat()


@pytest.mark.parametrize("zone", [NEW_YORK, BERLIN, KOLKATA, SYDNEY, CHATHAM])
@pytest.mark.parametrize(
    "now_utc",
    ["2026-03-08T06:30:00+00:00", "2026-11-01T05:30:00+00:00", "2026-03-29T00:30:00+00:00", "2026-10-03T15:30:00+00:00"],
)
def test_one_hour_is_3600_seconds(zone: str, now_utc: str) -> None:
    """'1h' is exactly 3600 s after now in every zone, also when a DST change falls inside it."""
    ctx = TimeContext(epoch(now_utc), ZoneInfo(zone))

    assert parse_expiry("1h", ctx).clear_at == ctx.now + 3600


ERROR_CASES = [
    # (expression, exact reply), all at Friday 2026-12-04 13:00 in New York.
    (
        "blah",
        "'blah' is not a valid expiry. Use a duration such as 30m or 1h30m, or 'until' with a "
        "time, day or date, such as 'until 17:00', 'until friday' or 'until never'.",
    ),
    (
        "until",
        "'until' is not a valid expiry. Use a duration such as 30m or 1h30m, or 'until' with a "
        "time, day or date, such as 'until 17:00', 'until friday' or 'until never'.",
    ),
    ("1.5h", "Invalid duration '1.5h': use whole numbers, such as 1h30m instead of 1.5h."),
    ("for 1,5 hours", "Invalid duration '1,5 hours': use whole numbers, such as 1h30m instead of 1.5h."),
    ("0m", "Invalid duration '0m': it must be longer than zero."),
    ("for 0 hours 0 minutes", "Invalid duration '0 hours 0 minutes': it must be longer than zero."),
    ("400d", "Invalid duration '400d': the maximum is 366 days. Use a shorter duration or 'until never'."),
    (
        "until 25:00",
        "Invalid time '25:00'. Use 24-hour HH:MM (00:00 to 23:59) or 1 to 12 with am/pm, "
        "such as 17:00 or 5pm.",
    ),
    (
        "until 12:60",
        "Invalid time '12:60'. Use 24-hour HH:MM (00:00 to 23:59) or 1 to 12 with am/pm, "
        "such as 17:00 or 5pm.",
    ),
    (
        "until 13pm",
        "Invalid time '13pm'. Use 24-hour HH:MM (00:00 to 23:59) or 1 to 12 with am/pm, "
        "such as 17:00 or 5pm.",
    ),
    (
        "until friday 0pm",
        "Invalid time '0pm'. Use 24-hour HH:MM (00:00 to 23:59) or 1 to 12 with am/pm, "
        "such as 17:00 or 5pm.",
    ),
    ("until 2026-02-30", "Invalid date '2026-02-30': use an existing date as YYYY-MM-DD, such as 2026-12-24."),
    (
        "until 25:00 2026-02-30",
        "Invalid date '2026-02-30': use an existing date as YYYY-MM-DD, such as 2026-12-24.",
    ),
    (
        "until 2026-13-01T10:00",
        "Invalid date and time '2026-13-01T10:00': use ISO 8601, such as 2026-12-24T17:00 "
        "or 2026-12-24T17:00+01:00.",
    ),
    (
        "until 2025-01-01",
        "'until 2025-01-01' is in the past (23:59 on Wednesday 1 Jan 2025, America/New_York). "
        "Give a time in the future.",
    ),
    (
        "until today 9:00",
        "'until today 09:00' is in the past (09:00 today, America/New_York). Give a time in the future.",
    ),
    (
        "until 2026-12-04T12:00",
        "'until 2026-12-04T12:00' is in the past (12:00 today, America/New_York). Give a time in the future.",
    ),
    (
        "until 2026-12-04T12:00-05:00",
        "'until 2026-12-04T12:00-05:00' is in the past (12:00 today, America/New_York). "
        "Give a time in the future.",
    ),
    (
        "until 2026-12-04T13:00-05:00",
        "'until 2026-12-04T13:00-05:00' is in the past (13:00 today, America/New_York). "
        "Give a time in the future.",
    ),
    (
        "until 2027-12-06",
        "'until 2027-12-06' is more than 366 days ahead. Give an earlier time, or 'until never' for no expiry.",
    ),
    (
        "until 9999-12-31",
        "'until 9999-12-31' is more than 366 days ahead. Give an earlier time, or 'until never' for no expiry.",
    ),
    (
        "until 9999-12-31T23:00+14:00",
        "'until 9999-12-31T23:00+14:00' is more than 366 days ahead. "
        "Give an earlier time, or 'until never' for no expiry.",
    ),
    (
        "until 2027-12-05T23:00Z",
        "'until 2027-12-05T23:00Z' is more than 366 days ahead. "
        "Give an earlier time, or 'until never' for no expiry.",
    ),
]


@pytest.mark.parametrize(("text", "reply"), ERROR_CASES)
def test_expiry_error_messages(text: str, reply: str) -> None:
    """Each invalid expiry raises TimeExpressionError with a reply that names the value and the fix."""
    ctx = at(*NY_FRIDAY)

    with pytest.raises(TimeExpressionError) as caught:
        parse_expiry(text, ctx)

    assert caught.value.reply == reply
    assert isinstance(caught.value, CommandError)


def test_end_of_today_at_last_second_is_past() -> None:
    """At 23:59:59 the end of today is not in the future, so 'eod' is rejected rather than moved."""
    ctx = at(NEW_YORK, "2026-12-04T23:59:59-05:00")

    with pytest.raises(TimeExpressionError, match="'eod' is in the past"):
        parse_expiry("eod", ctx)


def test_weekday_at_last_second_moves_a_week() -> None:
    """A weekday means its next end still ahead, so Friday at 23:59:59 gives next Friday."""
    ctx = at(NEW_YORK, "2026-12-04T23:59:59-05:00")

    assert parse_expiry("until friday", ctx).clear_at == epoch("2026-12-11T23:59:59-05:00")


def test_latest_accepted_date_is_366_days_ahead() -> None:
    """A date whose end lies within 366 days of now is accepted."""
    ctx = at(NEW_YORK, "2026-12-04T13:00:00-05:00")

    assert parse_expiry("until 2027-12-04", ctx).clear_at == epoch("2027-12-04T23:59:59-05:00")
    assert parse_expiry("366d", ctx).clear_at == ctx.now + 366 * 86_400


SPLIT_CASES = [
    ("On vacation until friday", "On vacation", "until friday"),
    ("On vacation", "On vacation", None),
    ("Working until the release ships", "Working until the release ships", None),
    ("Available until 5", "Available until 5", None),
    ("Out for lunch for 1h", "Out for lunch", "for 1h"),
    ("Back in 5 minutes", "Back in", "5m"),
    ("Focus  time   1h30m", "Focus  time", "1h30m"),
    ("Focus time 1h 30m", "Focus time", "1h30m"),
    ("WFH till eod", "WFH", "until today"),
    ("WFH today", "WFH today", None),
    ("until friday", "", "until friday"),
    ("Room 42", "Room 42", None),
    ("", "", None),
]


@pytest.mark.parametrize(("text", "message", "expiry_text"), SPLIT_CASES)
def test_split_trailing_expiry(text: str, message: str, expiry_text: str | None) -> None:
    """The longest final run of words that forms an expiry comes off; other words stay text."""
    ctx = at(*NY_FRIDAY)

    found_message, expiry = split_trailing_expiry(text, ctx)

    assert found_message == message
    assert (expiry.text if expiry else None) == expiry_text


def test_split_invalid_trailing_expiry_raises() -> None:
    """Words that form an expiry but name an impossible time are an error, not message text."""
    ctx = at(*NY_FRIDAY)

    with pytest.raises(TimeExpressionError, match="Invalid time '25:00'"):
        split_trailing_expiry("Meeting until 25:00", ctx)


def test_find_trailing_expiry_needs_no_clock() -> None:
    """find_trailing_expiry returns where the expiry starts, without resolving it."""
    found = find_trailing_expiry("Meeting until 25:00 is late")

    assert found is None
    assert find_trailing_expiry("Gone 2d")[0] == 5  # type: ignore[index]


def test_parse_duration() -> None:
    """parse_duration returns seconds and rejects anything but a duration."""
    assert parse_duration("1h30m") == 5400
    assert parse_duration("2 weeks") == 1_209_600
    with pytest.raises(TimeExpressionError) as caught:
        parse_duration("until friday")
    assert caught.value.reply == (
        "'until friday' is not a valid duration. Use a form such as 30m, 1h30m or 2 hours."
    )


def test_format_duration() -> None:
    """Durations format largest unit first and drop empty units."""
    assert format_duration(5400) == "1h30m"
    assert format_duration(694_860) == "1w1d1h1m"
    assert format_duration(0) == "0m"


def test_expiry_is_frozen() -> None:
    """An Expiry cannot be changed after it is built."""
    expiry = Expiry("1h", 100)

    with pytest.raises(AttributeError):
        expiry.clear_at = 5  # type: ignore[misc]


def test_week_start_out_of_range() -> None:
    """A week start outside 0 to 6 is a programming error."""
    with pytest.raises(ValueError, match="week_start must be 0"):
        TimeContext(0, ZoneInfo("UTC"), 7)


PREDEFINED_CASES = [
    (NEW_YORK, "2026-12-04T13:00:00-05:00", "period", 3600, calendar.MONDAY, "2026-12-04T14:00:00-05:00"),
    (NEW_YORK, "2026-03-08T01:30:00-05:00", "period", 1800, calendar.MONDAY, "2026-03-08T03:00:00-04:00"),
    (NEW_YORK, "2026-12-04T13:00:00-05:00", "end-of", "day", calendar.MONDAY, "2026-12-04T23:59:59-05:00"),
    (BERLIN, "2026-10-25T01:00:00+02:00", "end-of", "day", calendar.MONDAY, "2026-10-25T23:59:59+01:00"),
    (BERLIN, "2026-12-06T23:30:00+01:00", "end-of", "week", calendar.MONDAY, "2026-12-06T23:59:59+01:00"),
    (BERLIN, "2026-12-06T23:30:00+01:00", "end-of", "week", calendar.SUNDAY, "2026-12-12T23:59:59+01:00"),
    (SYDNEY, "2026-10-03T20:00:00+10:00", "end-of", "day", calendar.MONDAY, "2026-10-03T23:59:59+10:00"),
    (KOLKATA, "2026-12-04T13:00:00+05:30", "end-of", "week", calendar.MONDAY, "2026-12-06T23:59:59+05:30"),
]


@pytest.mark.parametrize(("zone", "now", "rule", "time", "week_start", "expected"), PREDEFINED_CASES)
def test_resolve_predefined_clear_at(
    zone: str, now: str, rule: str, time: int | str, week_start: int, expected: str
) -> None:
    """Nextcloud's predefined clear-at hints resolve in the user's zone."""
    resolved = resolve_predefined_clear_at(rule, time, epoch(now), ZoneInfo(zone), week_start)  # type: ignore[arg-type]

    assert resolved == epoch(expected)


@pytest.mark.parametrize(("rule", "time"), [("period", 0), ("period", "day"), ("end-of", "month"), ("at", 5), ("period", True)])
def test_resolve_predefined_clear_at_rejects_bad_hint(rule: str, time: object) -> None:
    """A hint of an unknown shape raises ValueError naming it."""
    with pytest.raises(ValueError, match="unsupported predefined clear-at .*Expected a positive period"):
        resolve_predefined_clear_at(rule, time, 0, ZoneInfo("UTC"))  # type: ignore[arg-type]


def test_wall_time_instants() -> None:
    """A normal time has one instant, a repeated one two (earlier first), a missing one the shifted one."""
    tz = ZoneInfo(NEW_YORK)

    assert wall_time_instants(dt.date(2026, 12, 4), dt.time(9), tz) == (epoch("2026-12-04T09:00:00-05:00"),)
    assert wall_time_instants(dt.date(2026, 11, 1), dt.time(1, 30), tz) == (
        epoch("2026-11-01T01:30:00-04:00"),
        epoch("2026-11-01T01:30:00-05:00"),
    )
    assert wall_time_instants(dt.date(2026, 3, 8), dt.time(2, 30), tz) == (epoch("2026-03-08T03:30:00-04:00"),)


def test_day_bounds_when_clocks_change_at_midnight() -> None:
    """Havana changes clocks at midnight, and days still start at their first instant and end a second before the next."""
    tz = ZoneInfo(HAVANA)

    assert start_of_day(dt.date(2026, 3, 8), tz) == epoch("2026-03-08T01:00:00-04:00")
    assert end_of_day(dt.date(2026, 3, 7), tz) == epoch("2026-03-07T23:59:59-05:00")
    assert end_of_day(dt.date(2026, 10, 31), tz) == epoch("2026-10-31T23:59:59-04:00")
    assert end_of_day(dt.date(2026, 11, 1), tz) - start_of_day(dt.date(2026, 11, 1), tz) == 25 * 3600 - 1


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        ("2026-12-04T17:00:00-05:00", "17:00 today"),
        ("2026-12-05T09:00:00-05:00", "09:00 tomorrow"),
        ("2026-12-11T23:59:59-05:00", "23:59 on Friday 11 Dec"),
        ("2027-01-04T08:00:00-05:00", "08:00 on Monday 4 Jan 2027"),
    ],
)
def test_describe_instant(instant: str, expected: str) -> None:
    """Instants are described relative to the day of now, in the user's zone."""
    ctx = at(*NY_FRIDAY)

    assert describe_instant(epoch(instant), ctx.now, ctx.tz) == expected
