"""The grammar of expiry expressions, read without a clock or a time zone.

:func:`parse_expiry_syntax` turns a list of lower-case words into one of the
expression types below, or returns None when the words do not have the form of an
expiry at all (so that "until the release ships" can stay message text).  Words
that do have the form but name an impossible value, such as ``until 25:00`` or
``until 2026-02-30``, raise :class:`~presence_bridge.errors.TimeExpressionError`.
Whether a valid expression lies in the future is decided later, against a clock,
by :mod:`presence_bridge.core.timeexpr`.

Grammar (words are separated by whitespace, matched case-insensitively)::

    expiry   := duration | "for" duration | ("until" | "till") until | "eod" | "eow"
    duration := (NUMBER UNIT)+ with an optional "and" between parts: 30m, 1h30m,
                1 hour and 30 minutes.  UNIT is m/min/minute(s), h/hr/hour(s),
                d/day(s) or w/wk/week(s)
    until    := "never" | "today" | "eod" | "end of [the] day" | "end of today"
              | "eow" | "end of [the|this] week" | ISO-DATETIME
              | day [["at"] clock] | clock [["on"] day]
    day      := "today" | "tomorrow" | weekday name or abbreviation | YYYY-MM-DD
    clock    := HH:MM[:SS] (24-hour) | H[:MM] am/pm | "noon"
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from presence_bridge.core.localtime import WEEKDAY_NAMES
from presence_bridge.errors import TimeExpressionError

MAX_EXPIRY_SECONDS = 366 * 86_400
"""The latest clear-at accepted, counted from now: 366 days, so a date one year ahead fits."""

MAX_EXPIRY_WORDS = 12
"""The maximum number of words in an expiry.  Longer runs of words are never read as one."""

_UNIT_SECONDS = {
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86_400),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), 604_800),
}
_UNITS_PATTERN = "|".join(sorted(_UNIT_SECONDS, key=len, reverse=True))
_DURATION_PART = rf"(\d+(?:[.,]\d+)?) ?({_UNITS_PATTERN})"
# Every pattern takes ASCII digits only. int() also reads digits of other scripts,
# which the canonical text would then show differently.
_DURATION_RE = re.compile(rf"{_DURATION_PART}(?:(?: and | )?{_DURATION_PART})*", re.ASCII)
_DURATION_PART_RE = re.compile(_DURATION_PART, re.ASCII)
_COMPACT_UNITS = (("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60))

_CLOCK_24_RE = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", re.ASCII)
_CLOCK_12_RE = re.compile(r"(\d{1,2})(?::(\d{2}))? ?([ap])\.?m\.?", re.ASCII)
_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_ISO_DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}t[0-9:.,+\-z]+", re.ASCII)

_WEEKDAYS = {
    **{name.lower(): index for index, name in enumerate(WEEKDAY_NAMES)},
    **dict(mon=0, tue=1, tues=1, wed=2, thu=3, thur=3, thurs=3, fri=4, sat=5, sun=6),
}
_END_OF_DAY_FORMS = frozenset(
    tuple(form.split()) for form in ("today", "eod", "end of day", "end of the day", "end of today")
)
_END_OF_WEEK_FORMS = frozenset(
    tuple(form.split()) for form in ("eow", "end of week", "end of the week", "end of this week")
)

_CLOCK_HINT = "Use 24-hour HH:MM (00:00 to 23:59) or 1 to 12 with am/pm, such as 17:00 or 5pm."


@dataclass(frozen=True, slots=True)
class DurationExpr:
    """A length of time from now; ``keyword`` is true when it was written after "for"."""

    seconds: int
    keyword: bool = False

    def render(self) -> str:
        compact = format_duration(self.seconds)
        return f"for {compact}" if self.keyword else compact


@dataclass(frozen=True, slots=True)
class NeverExpr:
    """``until never``: the status does not clear by itself."""

    def render(self) -> str:
        return "until never"


@dataclass(frozen=True, slots=True)
class EndOfDayExpr:
    """The end of today; ``bare`` is true for a lone ``eod`` without "until"."""

    bare: bool = False

    def render(self) -> str:
        return "eod" if self.bare else "until today"


@dataclass(frozen=True, slots=True)
class EndOfWeekExpr:
    """The end of the current week; ``bare`` is true for a lone ``eow`` without "until"."""

    bare: bool = False

    def render(self) -> str:
        return "eow" if self.bare else "until end of week"


DayRef = str | int | dt.date
"""``"today"``, ``"tomorrow"``, a weekday number (0 is Monday) or a calendar date."""


@dataclass(frozen=True, slots=True)
class DayExpr:
    """A day, with an optional local clock time; without one it means the end of that day."""

    day: DayRef
    clock: dt.time | None = None

    def render(self) -> str:
        if isinstance(self.day, dt.date):
            day_text = self.day.isoformat()
        elif isinstance(self.day, int):
            day_text = WEEKDAY_NAMES[self.day].lower()
        else:
            day_text = self.day
        if self.clock is None:
            return f"until {day_text}"
        return f"until {day_text} {format_clock(self.clock)}"


@dataclass(frozen=True, slots=True)
class ClockExpr:
    """A local clock time alone: its next occurrence, today or tomorrow."""

    clock: dt.time

    def render(self) -> str:
        return f"until {format_clock(self.clock)}"


@dataclass(frozen=True, slots=True)
class InstantExpr:
    """An ISO 8601 date and time; without an offset it is a wall time in the user's zone."""

    moment: dt.datetime
    text: str

    def render(self) -> str:
        return f"until {self.text}"


ExpiryExpr = DurationExpr | NeverExpr | EndOfDayExpr | EndOfWeekExpr | DayExpr | ClockExpr | InstantExpr


def format_duration(seconds: int) -> str:
    """Format whole minutes compactly, largest unit first: 5400 gives ``1h30m``."""
    parts = []
    remaining = seconds
    for unit, size in _COMPACT_UNITS:
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0m"


def format_clock(clock: dt.time) -> str:
    """Format a clock time as 24-hour ``HH:MM``, or ``HH:MM:SS`` when it has seconds."""
    if clock.second:
        return clock.strftime("%H:%M:%S")
    return clock.strftime("%H:%M")


@dataclass(frozen=True, slots=True)
class _Invalid:
    """A word that has the form of a clock time or date but an impossible value.

    It is raised only once the whole word list has been read as an expiry, so that
    "until 25:00 is too late" stays message text.
    """

    message: str


def parse_expiry_syntax(words: list[str]) -> ExpiryExpr | None:
    """Read lower-case ``words`` as an expiry, or return None if they do not form one.

    Raises TimeExpressionError when the words have an expiry's form but an invalid
    value (a fractional, zero or too long duration, an impossible time or date).
    """
    if not words or len(words) > MAX_EXPIRY_WORDS:
        return None
    first, rest = words[0], words[1:]
    if first == "for":
        return _parse_duration(rest, keyword=True) if rest else None
    if first in ("until", "till"):
        result = _parse_until(rest) if rest else None
        if isinstance(result, _Invalid):
            raise TimeExpressionError(result.message)
        return result
    if words == ["eod"]:
        return EndOfDayExpr(bare=True)
    if words == ["eow"]:
        return EndOfWeekExpr(bare=True)
    return _parse_duration(words, keyword=False)


def _parse_duration(words: list[str], *, keyword: bool) -> DurationExpr | None:
    text = " ".join(words)
    if _DURATION_RE.fullmatch(text) is None:
        return None
    seconds = 0
    for number, unit in _DURATION_PART_RE.findall(text):
        if not number.isdigit():
            raise TimeExpressionError(
                f"Invalid duration '{text}': use whole numbers, such as 1h30m instead of 1.5h."
            )
        seconds += int(number) * _UNIT_SECONDS[unit]
    if seconds <= 0:
        raise TimeExpressionError(f"Invalid duration '{text}': it must be longer than zero.")
    if seconds > MAX_EXPIRY_SECONDS:
        raise TimeExpressionError(
            f"Invalid duration '{text}': the maximum is 366 days. "
            "Use a shorter duration or 'until never'."
        )
    return DurationExpr(seconds, keyword)


def _parse_until(words: list[str]) -> ExpiryExpr | _Invalid | None:
    if words == ["never"]:
        return NeverExpr()
    if tuple(words) in _END_OF_DAY_FORMS:
        return EndOfDayExpr()
    if tuple(words) in _END_OF_WEEK_FORMS:
        return EndOfWeekExpr()
    if len(words) == 1 and _ISO_DATETIME_RE.fullmatch(words[0]):
        return _parse_iso_datetime(words[0])
    day = _parse_day(words[0])
    if day is not None:
        return _parse_day_then_clock(day, words[1:])
    return _parse_clock_then_day(words)


def _parse_day_then_clock(day: DayRef | _Invalid, words: list[str]) -> DayExpr | _Invalid | None:
    if words and words[0] == "at":
        words = words[1:]
        if not words:
            return None
    clock = _parse_clock(words) if words else None
    if words and clock is None:
        return None
    return _build_day_expr(day, clock)


def _parse_clock_then_day(words: list[str]) -> ExpiryExpr | _Invalid | None:
    for clock_length in (2, 1):
        clock = _parse_clock(words[:clock_length]) if len(words) >= clock_length else None
        if clock is None:
            continue
        rest = words[clock_length:]
        if not rest:
            return clock if isinstance(clock, _Invalid) else ClockExpr(clock)
        if rest[0] == "on":
            rest = rest[1:]
        day = _parse_day(rest[0]) if len(rest) == 1 else None
        return _build_day_expr(day, clock) if day is not None else None
    return None


def _build_day_expr(day: DayRef | _Invalid, clock: dt.time | _Invalid | None) -> DayExpr | _Invalid:
    if isinstance(day, _Invalid):
        return day
    if isinstance(clock, _Invalid):
        return clock
    return DayExpr(day, clock)


def _parse_day(word: str) -> DayRef | _Invalid | None:
    if word in ("today", "tomorrow"):
        return word
    if word in _WEEKDAYS:
        return _WEEKDAYS[word]
    match = _DATE_RE.fullmatch(word)
    if match is None:
        return None
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return _Invalid(f"Invalid date '{word}': use an existing date as YYYY-MM-DD, such as 2026-12-24.")


def _parse_clock(words: list[str]) -> dt.time | _Invalid | None:
    """Read one or two words as a clock time, or return None if they are not one."""
    text = " ".join(words)
    if text == "noon":
        return dt.time(12, 0)
    match_24 = _CLOCK_24_RE.fullmatch(text)
    if match_24 is not None:
        hour, minute, second = int(match_24[1]), int(match_24[2]), int(match_24[3] or 0)
        if hour > 23 or minute > 59 or second > 59:
            return _Invalid(f"Invalid time '{text}'. {_CLOCK_HINT}")
        return dt.time(hour, minute, second)
    match_12 = _CLOCK_12_RE.fullmatch(text)
    if match_12 is None:
        return None
    hour, minute = int(match_12[1]), int(match_12[2] or 0)
    if not 1 <= hour <= 12 or minute > 59:
        return _Invalid(f"Invalid time '{text}'. {_CLOCK_HINT}")
    return dt.time(hour % 12 + (12 if match_12[3] == "p" else 0), minute)


def _parse_iso_datetime(word: str) -> InstantExpr | _Invalid:
    text = word.upper()
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return _Invalid(
            f"Invalid date and time '{text}': use ISO 8601, such as 2026-12-24T17:00 "
            "or 2026-12-24T17:00+01:00."
        )
    return InstantExpr(moment, text)
