"""Wall-clock arithmetic in a user's IANA zone, in integer Unix seconds.

Daylight-saving changes make two kinds of wall time special, and both are resolved
the same way everywhere in the bridge:

- A time inside a spring-forward gap does not exist (02:30 on the day New York
  jumps from 02:00 to 03:00).  It is read with the UTC offset in force before the
  gap, which moves it forward by the length of the gap: 02:30 becomes 03:30 EDT.
  This is Python's ``fold=0`` reading.
- A time that occurs twice when clocks go back (01:30 on the day New York returns
  from 02:00 EDT to 01:00 EST) has two instants.  :func:`wall_time_instants`
  returns both, earlier first, and callers take the first one after "now".

The end of a day is the second before the next day starts, which is 23:59:59 local
time except in the few zones that change their clocks at midnight.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
"""English weekday names indexed like :meth:`datetime.date.weekday` (Monday is 0)."""

_MONTH_ABBREVIATIONS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def local_datetime(epoch: int, tz: ZoneInfo) -> dt.datetime:
    """Convert Unix seconds to an aware datetime in ``tz``."""
    return dt.datetime.fromtimestamp(epoch, tz)


def local_date(epoch: int, tz: ZoneInfo) -> dt.date:
    """Return the calendar date in ``tz`` at the instant ``epoch``."""
    return local_datetime(epoch, tz).date()


def wall_time_instants(day: dt.date, at: dt.time, tz: ZoneInfo) -> tuple[int, ...]:
    """Return every instant at which the clock in ``tz`` shows ``at`` on ``day``.

    Normally one instant.  Two (earlier first) when clocks go back and the time
    repeats.  For a time in a spring-forward gap, the one instant after the gap
    that the ``fold=0`` reading gives.
    """
    first = int(dt.datetime.combine(day, at, tzinfo=tz).replace(fold=0).timestamp())
    second = int(dt.datetime.combine(day, at, tzinfo=tz).replace(fold=1).timestamp())
    if first == second:
        return (first,)
    if first < second:
        return (first, second)
    # In a gap the pre-transition offset is the smaller one, so fold=0 lands later.
    return (first,)


def start_of_day(day: dt.date, tz: ZoneInfo) -> int:
    """Return the first instant of ``day`` in ``tz``."""
    return wall_time_instants(day, dt.time(0, 0), tz)[0]


def end_of_day(day: dt.date, tz: ZoneInfo) -> int:
    """Return the last second of ``day`` in ``tz`` (23:59:59 local in almost every zone)."""
    return start_of_day(day + dt.timedelta(days=1), tz) - 1


def last_day_of_week(day: dt.date, week_start: int) -> dt.date:
    """Return the last day of the week that contains ``day``.

    ``week_start`` is the first weekday of a week, numbered like
    :meth:`datetime.date.weekday` (0 is Monday, 6 is Sunday).
    """
    days_ahead = (week_start - 1 - day.weekday()) % 7
    return day + dt.timedelta(days=days_ahead)


def end_of_week(day: dt.date, tz: ZoneInfo, week_start: int) -> int:
    """Return the last second of the week that contains ``day``."""
    return end_of_day(last_day_of_week(day, week_start), tz)


def describe_instant(epoch: int, now: int, tz: ZoneInfo) -> str:
    """Format ``epoch`` for a chat reply, relative to the day of ``now``.

    Examples: ``17:00 today``, ``09:00 tomorrow``, ``23:59 on Friday 11 Dec`` and,
    in another year, ``23:59 on Friday 24 Dec 2027``.  Seconds are left out.
    """
    moment = local_datetime(epoch, tz)
    today = local_date(now, tz)
    clock = f"{moment.hour:02d}:{moment.minute:02d}"
    if moment.date() == today:
        return f"{clock} today"
    if moment.date() == today + dt.timedelta(days=1):
        return f"{clock} tomorrow"
    day = f"{WEEKDAY_NAMES[moment.weekday()]} {moment.day} {_MONTH_ABBREVIATIONS[moment.month - 1]}"
    if moment.year != today.year:
        day = f"{day} {moment.year}"
    return f"{clock} on {day}"
