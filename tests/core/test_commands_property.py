"""Randomized checks of the command parser: no crash on any input, and render() round trips.

Inputs come from two strategies: arbitrary Unicode text, and word sequences drawn
from the grammar's own vocabulary (command words, emoji, quote marks, time words),
which reach the deeper branches far more often than random text does.
"""

from __future__ import annotations

import calendar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from presence_bridge.core.commands import parse_command
from presence_bridge.core.timeexpr import TimeContext
from presence_bridge.errors import CommandError

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Australia/Sydney",
    "Pacific/Chatham",
    "America/Havana",
]
OFFERED = frozenset({"meeting", "commuting", "be-right-back", "remote-work", "sick-leave", "vacationing"})

VOCABULARY = [
    *"online away dnd busy invisible offline clear restore show who link unlink sync help".split(),
    *"timezone Europe/Berlin america/new_york both to-chat to-nextcloud off".split(),
    *"meeting commuting remote sick vacation brb wfh ooo call be-right-back".split(),
    *"for until till never today tomorrow eod eow end of the week day this at on".split(),
    *"friday fri monday sun noon 17:00 9:00 5pm 5 pm am 12:60 25:00 0m 1h 30m 1h30m".split(),
    *"90 minutes hour 2d 1w 1.5h 400d 2026-12-24 2026-02-30 2026-12-24T17:00 2026-12-04T12:00Z".split(),
    *"🌴 👍🏽 👨‍👩‍👧 :palm_tree: :+1::skin-tone-4: :partyparrot: © On vacation x".split(),
    '"', "'", "“", "”", "‘", "’", '"quoted"', "'tis", "I'm", "\n", "\t",
]

CONTEXTS = st.builds(
    TimeContext,
    now=st.integers(min_value=946_684_800, max_value=2_100_000_000),
    tz=st.sampled_from(ZONES).map(ZoneInfo),
    week_start=st.integers(min_value=calendar.MONDAY, max_value=calendar.SUNDAY),
)
TIME_WORDS = [
    *"never today tomorrow eod eow end of week day at on friday tue sunday noon 17:00 9:00 23:59:59".split(),
    *"5pm 5 pm 12am 25:00 30m 1h 1h30m 90 minutes and hour 2d 1w 0m 2026-12-24 2027-01-05".split(),
    *"2026-12-24T17:00 2026-12-24T17:00+01:00 2030-01-01T00:00Z 2001-01-01".split(),
]
EXPIRY_TEXT = st.builds(
    "{}{}".format,
    st.sampled_from(["", "for ", "until ", "till "]),
    st.lists(st.sampled_from(TIME_WORDS), min_size=1, max_size=3).map(" ".join),
)
GRAMMAR_TEXT = st.lists(st.sampled_from(VOCABULARY), max_size=9).map(" ".join)
STRUCTURED_TEXT = st.one_of(
    st.builds(
        "{} {}".format,
        st.sampled_from(["dnd", "away", "offline", "meeting", "remote", "brb", "vacation"]),
        EXPIRY_TEXT,
    ),
    st.builds(
        "{} {} {}".format,
        st.sampled_from(["🌴", ":palm_tree:", "👍🏽", '🌴 "', "🌴 “"]),
        st.lists(st.sampled_from(VOCABULARY), max_size=4).map(" ".join),
        EXPIRY_TEXT,
    ),
)
ANY_TEXT = st.one_of(
    st.text(max_size=120),
    GRAMMAR_TEXT,
    STRUCTURED_TEXT,
    st.builds("{}{}".format, GRAMMAR_TEXT, st.text(max_size=20)),
)


def check_parse_and_round_trip(text: str, ctx: TimeContext) -> None:
    """Parse ``text``; if accepted, its rendering must parse to an equal command."""
    try:
        command = parse_command(text, ctx, OFFERED)
    except CommandError as exc:
        assert exc.reply
        return
    rendered = command.render()
    assert parse_command(rendered, ctx, OFFERED) == command, rendered
    assert command.render() == rendered


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=ANY_TEXT, ctx=CONTEXTS)
def test_parser_never_crashes_and_round_trips(text: str, ctx: TimeContext) -> None:
    """Any input gives a command or a CommandError, and accepted commands re-render to themselves."""
    check_parse_and_round_trip(text, ctx)


@settings(max_examples=200, deadline=None)
@given(
    emoji=st.sampled_from(["🌴", ":palm_tree:", "👍🏽", "📅"]),
    message=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40),
    expiry=st.sampled_from(["", " 1h", " for 2 days", " until friday", " until 17:00", " eod", " until never"]),
    ctx=CONTEXTS,
)
def test_custom_messages_round_trip(emoji: str, message: str, expiry: str, ctx: TimeContext) -> None:
    """Custom statuses with arbitrary message text round trip through render()."""
    check_parse_and_round_trip(f"{emoji} {message}{expiry}", ctx)


@pytest.mark.slow
@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=ANY_TEXT, ctx=CONTEXTS)
def test_parser_never_crashes_large_run(text: str, ctx: TimeContext) -> None:
    """The crash and round-trip check over many more examples."""
    check_parse_and_round_trip(text, ctx)
