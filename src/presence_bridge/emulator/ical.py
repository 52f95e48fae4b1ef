"""Read the few iCalendar fields the emulated calendar automation needs.

Only what Nextcloud 31's calendar-driven status looks at is parsed: ``DTSTART``,
``DTEND`` or ``DURATION``, ``TRANSP`` and ``X-NEXTCLOUD-OUT-OF-OFFICE`` of each
``VEVENT``.  Times may be UTC (``...Z``), local with a ``TZID`` parameter naming an
IANA zone, floating, or whole dates (``VALUE=DATE``).

NOTE: recurrence (``RRULE``, ``RDATE``, ``EXDATE``) is not expanded, so a recurring
event only counts at its first occurrence.  A ``TZID`` that is not an IANA zone name
(for example a Windows zone name defined by a ``VTIMEZONE``) is read as UTC.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)

_DURATION = re.compile(
    r"^(?P<sign>[+-])?P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


class ICalendarError(ValueError):
    """The body is not an iCalendar object the emulator can store."""


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    """One ``VEVENT``: an aware UTC ``start`` and ``end`` (equal for an instant)."""

    uid: str | None
    start: datetime
    end: datetime
    transparent: bool
    out_of_office: bool

    def overlaps(self, range_start: datetime, range_end: datetime) -> bool:
        """Tell whether the event touches ``[range_start, range_end)`` as a CalDAV time-range query does."""
        if self.end > self.start:
            return self.start < range_end and self.end > range_start
        return range_start <= self.start < range_end


@dataclass(frozen=True, slots=True)
class _Property:
    name: str
    params: dict[str, str]
    value: str


def parse_events(text: str) -> list[CalendarEvent]:
    """Parse every ``VEVENT`` of one ``VCALENDAR``, raising :class:`ICalendarError` when invalid."""
    lines = _unfold(text)
    if not lines or lines[0].upper() != "BEGIN:VCALENDAR":
        raise ICalendarError("the body does not start with BEGIN:VCALENDAR")
    if lines[-1].upper() != "END:VCALENDAR":
        raise ICalendarError("the body does not end with END:VCALENDAR")

    events = [_event_from(block) for block in _vevent_blocks(lines)]
    if not events:
        raise ICalendarError("the calendar object contains no VEVENT")
    return events


def _unfold(text: str) -> list[str]:
    """Join folded lines (a line starting with a space or tab continues the previous one)."""
    lines: list[str] = []
    for raw in re.split(r"\r\n|\n|\r", text):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] += raw[1:]
        elif raw:
            lines.append(raw)
    return lines


def _vevent_blocks(lines: list[str]) -> list[list[_Property]]:
    """Return the properties of each top-level ``VEVENT``, without nested ``VALARM`` ones."""
    blocks: list[list[_Property]] = []
    current: list[_Property] | None = None
    depth = 0
    for line in lines:
        prop = _parse_line(line)
        value = prop.value.upper()
        if prop.name == "BEGIN" and value == "VEVENT":
            current, depth = [], 0
        elif current is not None and prop.name == "BEGIN":
            depth += 1
        elif current is not None and prop.name == "END" and value == "VEVENT" and depth == 0:
            blocks.append(current)
            current = None
        elif current is not None and prop.name == "END":
            depth -= 1
        elif current is not None and depth == 0:
            current.append(prop)
    if current is not None:
        raise ICalendarError("a VEVENT has no END:VEVENT")
    return blocks


def _parse_line(line: str) -> _Property:
    """Split ``NAME;PARAM=VALUE:value``.  A colon inside a quoted parameter value does not end the name."""
    in_quotes = False
    for index, char in enumerate(line):
        if char == '"':
            in_quotes = not in_quotes
        elif char == ":" and not in_quotes:
            head, value = line[:index], line[index + 1 :]
            break
    else:
        raise ICalendarError(f"invalid content line {line[:60]!r}: the ':' before the value is missing")

    name, *raw_params = head.split(";")
    params: dict[str, str] = {}
    for raw in raw_params:
        key, _, param_value = raw.partition("=")
        params[key.upper()] = param_value.strip('"')
    return _Property(name.upper(), params, value)


def _event_from(properties: list[_Property]) -> CalendarEvent:
    by_name = {prop.name: prop for prop in properties}
    if "DTSTART" not in by_name:
        raise ICalendarError("a VEVENT has no DTSTART")

    start, whole_day = _parse_time(by_name["DTSTART"])
    if "DTEND" in by_name:
        end, _ = _parse_time(by_name["DTEND"])
    elif "DURATION" in by_name:
        end = start + _parse_duration(by_name["DURATION"].value)
    else:
        # RFC 5545: without DTEND or DURATION a date lasts one day, a date-time no time at all.
        end = start + timedelta(days=1) if whole_day else start

    transp = by_name.get("TRANSP")
    uid = by_name.get("UID")
    return CalendarEvent(
        uid=uid.value if uid else None,
        start=start,
        end=end,
        transparent=transp is not None and transp.value.upper() == "TRANSPARENT",
        out_of_office="X-NEXTCLOUD-OUT-OF-OFFICE" in by_name,
    )


def _parse_time(prop: _Property) -> tuple[datetime, bool]:
    """Return the instant in UTC and whether the value was a whole date."""
    value = prop.value.strip()
    try:
        if prop.params.get("VALUE", "").upper() == "DATE" or re.fullmatch(r"\d{8}", value):
            day = date(int(value[0:4]), int(value[4:6]), int(value[6:8]))
            return datetime(day.year, day.month, day.day, tzinfo=UTC), True
        if value.endswith("Z"):
            return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC), False
        local = datetime.strptime(value, "%Y%m%dT%H%M%S")
    except ValueError as exc:
        raise ICalendarError(f"{prop.name} value {value!r} is not a valid date or date-time") from exc
    return local.replace(tzinfo=_zone(prop.params.get("TZID"))).astimezone(UTC), False


def _zone(tzid: str | None) -> tzinfo:
    """Return the IANA zone ``tzid``.  Floating times and unknown zones are read as UTC."""
    if not tzid:
        return UTC
    try:
        return ZoneInfo(tzid.lstrip("/"))
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("TZID %r is not an IANA zone name, so the time is read as UTC", tzid)
        return UTC


def _parse_duration(value: str) -> timedelta:
    match = _DURATION.match(value.strip())
    if match is None or value.strip() in ("P", "PT", "-P", "+P"):
        raise ICalendarError(f"DURATION value {value!r} is not an RFC 5545 duration")
    parts = {name: int(number or 0) for name, number in match.groupdict().items() if name != "sign"}
    duration = timedelta(
        weeks=parts["weeks"],
        days=parts["days"],
        hours=parts["hours"],
        minutes=parts["minutes"],
        seconds=parts["seconds"],
    )
    return -duration if match.group("sign") == "-" else duration
