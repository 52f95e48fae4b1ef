"""Expiry expressions ("1h", "until friday") resolved to a Nextcloud clear-at.

Nextcloud stores a status message's clear-at as integer Unix seconds, so every
expression here resolves to one, in the user's IANA zone (see
:mod:`presence_bridge.core.timesyntax` for the grammar).  The rules:

- A duration is exact elapsed time: ``1h`` is now + 3600 s, also across a DST change.
- A date, ``today`` (``eod``), ``tomorrow`` and a weekday without a clock time mean
  the end of that day, 23:59:59 local time.
- ``until end of week`` (``eow``) is the end of the last day before the next week
  start: Sunday with the default Monday week start.
- A clock time alone means its next occurrence: a time already passed today means
  tomorrow.
- A weekday means its next occurrence whose end (or clock time) is still ahead, so
  ``until friday`` on a Friday is the end of today, and ``until friday 9:00`` on a
  Friday at 10:00 is next week's Friday.
- An explicit date, ``today`` or ``tomorrow`` with a clock time that has passed, a
  past date or ISO date and time are errors, never moved forward.
- Wall times in a DST gap or overlap follow :mod:`presence_bridge.core.localtime`:
  a missing time moves forward by the gap, a repeated one takes its first
  occurrence that is still ahead.
- The result lies after now and at most :data:`MAX_EXPIRY_SECONDS` ahead.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from presence_bridge.core.localtime import (
    describe_instant,
    end_of_day,
    end_of_week,
    local_date,
    wall_time_instants,
)
from presence_bridge.core.timesyntax import (
    MAX_EXPIRY_SECONDS,
    MAX_EXPIRY_WORDS,
    ClockExpr,
    DayExpr,
    DurationExpr,
    EndOfDayExpr,
    EndOfWeekExpr,
    ExpiryExpr,
    InstantExpr,
    NeverExpr,
    parse_expiry_syntax,
)
from presence_bridge.errors import TimeExpressionError

EXPIRY_USAGE = (
    "<expiry> is a duration such as 30m, 1h30m or 'for 2 hours', or 'until' with 17:00, 5pm, "
    "tomorrow 9:00, friday, 2026-12-24, 2026-12-24T17:00+01:00, today (eod), "
    "end of week (eow) or never"
)
"""One line that lists the expiry forms, for help texts and error replies."""

_WORD_RE = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class TimeContext:
    """The clock and calendar settings an expiry is resolved against.

    ``now`` is integer Unix seconds, ``tz`` the user's zone and ``week_start`` the
    first day of the user's week, numbered like :meth:`datetime.date.weekday`
    (:data:`calendar.MONDAY`, the default, is 0 and :data:`calendar.SUNDAY` is 6).
    """

    now: int
    tz: ZoneInfo
    week_start: int = calendar.MONDAY

    def __post_init__(self) -> None:
        if not calendar.MONDAY <= self.week_start <= calendar.SUNDAY:
            raise ValueError(f"week_start must be 0 (Monday) to 6 (Sunday), got {self.week_start}")

    @property
    def today(self) -> dt.date:
        """The user's local date at ``now``."""
        return local_date(self.now, self.tz)


@dataclass(frozen=True, slots=True)
class Expiry:
    """An expiry as the user wrote it (in canonical form) and the clear-at it resolved to.

    ``clear_at`` is integer Unix seconds, or None for ``until never``.  Rendering
    ``text`` and parsing it again at the same ``now`` gives the same clear-at.
    """

    text: str
    clear_at: int | None


def parse_expiry(text: str, ctx: TimeContext) -> Expiry:
    """Parse and resolve a whole text as one expiry.

    Raises TimeExpressionError when the text is not an expiry, or names a time that
    is invalid, already past or more than 366 days ahead.
    """
    expr = parse_expiry_syntax(text.lower().split())
    if expr is None:
        raise TimeExpressionError(
            f"'{text.strip()}' is not a valid expiry. Use a duration such as 30m or 1h30m, "
            "or 'until' with a time, day or date, such as 'until 17:00', 'until friday' "
            "or 'until never'."
        )
    return Expiry(expr.render(), resolve_expiry(expr, ctx))


def find_trailing_expiry(text: str) -> tuple[int, ExpiryExpr] | None:
    """Find the longest run of final words in ``text`` that forms an expiry.

    Returns the index in ``text`` where the expiry starts and its expression, or
    None when the text does not end with one.  No clock is needed, so renderers
    can call it to check whether a message would lose its ending to an expiry.
    """
    spans = [(match.start(), match[0].lower()) for match in _WORD_RE.finditer(text)]
    words = [word for _, word in spans]
    for index in range(max(0, len(spans) - MAX_EXPIRY_WORDS), len(spans)):
        expr = parse_expiry_syntax(words[index:])
        if expr is not None:
            return spans[index][0], expr
    return None


def split_trailing_expiry(text: str, ctx: TimeContext) -> tuple[str, Expiry | None]:
    """Split a trailing expiry off a message: "On vacation until friday" gives "On vacation".

    Words that do not form an expiry stay text ("until the release ships").  Words
    that do form one but name an invalid or past time raise TimeExpressionError.
    The message keeps its inner whitespace and loses only its outer whitespace.
    """
    found = find_trailing_expiry(text)
    if found is None:
        return text.strip(), None
    start, expr = found
    return text[:start].strip(), Expiry(expr.render(), resolve_expiry(expr, ctx))


def parse_duration(text: str) -> int:
    """Parse a duration such as ``90m`` or ``1 hour 30 minutes`` into seconds."""
    expr = parse_expiry_syntax(text.lower().split())
    if not isinstance(expr, DurationExpr):
        raise TimeExpressionError(
            f"'{text.strip()}' is not a valid duration. Use a form such as 30m, 1h30m or 2 hours."
        )
    return expr.seconds


def resolve_expiry(expr: ExpiryExpr, ctx: TimeContext) -> int | None:
    """Resolve an expression to a clear-at in Unix seconds (None for never)."""
    if isinstance(expr, NeverExpr):
        return None
    if isinstance(expr, DurationExpr):
        return ctx.now + expr.seconds
    if isinstance(expr, EndOfDayExpr):
        return _check_future(expr, end_of_day(ctx.today, ctx.tz), ctx)
    if isinstance(expr, EndOfWeekExpr):
        return _check_future(expr, end_of_week(ctx.today, ctx.tz, ctx.week_start), ctx)
    if isinstance(expr, ClockExpr):
        return _next_occurrence(expr, ctx, day_offsets=range(3), weekday=None)
    if isinstance(expr, DayExpr) and isinstance(expr.day, int):
        return _next_occurrence(expr, ctx, day_offsets=range(8), weekday=expr.day)
    if isinstance(expr, DayExpr):
        day = _day_of(expr.day, ctx)
        return _on_day(expr, day, expr.clock, ctx)
    return _resolve_instant(expr, ctx)


def resolve_predefined_clear_at(
    rule: Literal["period", "end-of"],
    time: int | Literal["day", "week"],
    now: int,
    tz: ZoneInfo,
    week_start: int = calendar.MONDAY,
) -> int:
    """Turn a predefined status's clear-at hint into Unix seconds.

    Nextcloud lists the hint as ``{"type": "period", "time": 3600}`` or
    ``{"type": "end-of", "time": "day"|"week"}`` and never applies it itself, so
    the client computes it.  A period counts from ``now``, the end of a day or
    week is taken in ``tz``.  Raises ValueError for a hint of any other shape.
    """
    if rule == "period" and isinstance(time, int) and not isinstance(time, bool) and time > 0:
        return now + time
    if rule == "end-of" and time == "day":
        return end_of_day(local_date(now, tz), tz)
    if rule == "end-of" and time == "week":
        return end_of_week(local_date(now, tz), tz, week_start)
    raise ValueError(
        f"unsupported predefined clear-at {{'type': {rule!r}, 'time': {time!r}}}. "
        "Expected a positive period in seconds, or end-of with day or week."
    )


def _day_of(day: str | dt.date, ctx: TimeContext) -> dt.date:
    if day == "today":
        return ctx.today
    if day == "tomorrow":
        return ctx.today + dt.timedelta(days=1)
    assert isinstance(day, dt.date)
    return day


def _candidates(day: dt.date, clock: dt.time | None, tz: ZoneInfo) -> tuple[int, ...]:
    if clock is None:
        return (end_of_day(day, tz),)
    return wall_time_instants(day, clock, tz)


def _on_day(expr: ExpiryExpr, day: dt.date, clock: dt.time | None, ctx: TimeContext) -> int:
    """Resolve a clock time (or the end of the day) on one given day, and raise if it has passed."""
    if day > ctx.today + dt.timedelta(days=367):
        raise _too_far(expr)
    candidates = _candidates(day, clock, ctx.tz)
    for instant in candidates:
        if instant > ctx.now:
            return _check_future(expr, instant, ctx)
    raise _in_past(expr, candidates[-1], ctx)


def _next_occurrence(
    expr: ClockExpr | DayExpr, ctx: TimeContext, *, day_offsets: range, weekday: int | None
) -> int:
    """Resolve a clock time or weekday to its first occurrence after now."""
    for offset in day_offsets:
        day = ctx.today + dt.timedelta(days=offset)
        if weekday is not None and day.weekday() != weekday:
            continue
        for instant in _candidates(day, expr.clock, ctx.tz):
            if instant > ctx.now:
                return instant
    # Unreachable: a clock time recurs within three days and a weekday within eight.
    raise AssertionError(f"no occurrence of {expr.render()!r} after {ctx.now}")


def _resolve_instant(expr: InstantExpr, ctx: TimeContext) -> int:
    moment = expr.moment
    if moment.tzinfo is None:
        return _on_day(expr, moment.date(), moment.time(), ctx)
    if moment.date() > ctx.today + dt.timedelta(days=367):
        raise _too_far(expr)
    # Rounding a fraction up keeps the clear-at from coming before the named moment.
    instant = math.ceil(moment.timestamp())
    if instant <= ctx.now:
        raise _in_past(expr, instant, ctx)
    return _check_future(expr, instant, ctx)


def _check_future(expr: ExpiryExpr, instant: int, ctx: TimeContext) -> int:
    if instant <= ctx.now:
        raise _in_past(expr, instant, ctx)
    if instant - ctx.now > MAX_EXPIRY_SECONDS:
        raise _too_far(expr)
    return instant


def _in_past(expr: ExpiryExpr, instant: int, ctx: TimeContext) -> TimeExpressionError:
    try:
        when = f" ({describe_instant(instant, ctx.now, ctx.tz)}, {ctx.tz.key})"
    except (OverflowError, ValueError):
        # Instants near year 1 have no local date that datetime can hold.
        when = ""
    return TimeExpressionError(f"'{expr.render()}' is in the past{when}. Give a time in the future.")


def _too_far(expr: ExpiryExpr) -> TimeExpressionError:
    return TimeExpressionError(
        f"'{expr.render()}' is more than 366 days ahead. "
        "Give an earlier time, or 'until never' for no expiry."
    )
