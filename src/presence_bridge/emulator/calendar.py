"""A minimal CalDAV store and Nextcloud 31's calendar-driven "In a meeting" status.

CalDAV: ``PUT``, ``GET`` and ``DELETE /remote.php/dav/calendars/{user}/{calendar}/{object}``
with Basic auth, for the caller's own calendars only.  Every user has the
calendar ``personal``; tests add others with ``PUT /_emulator/calendars/{user}/{calendar}``
(body ``{"transparent": true}`` marks a calendar that free/busy ignores).  A
``PUT`` returns 201 for a new object and 204 for a replaced one, ``DELETE`` 204.

Automation (registered by :func:`install` in ``state.own_status_hooks``, so it
runs before the user's own status read and each heartbeat, never when others
read the status).  It looks at events that overlap the next five minutes:

* none: revert a ``meeting`` status (restoring the backup);
* the user has a call, ``dnd`` or ``invisible``, or an absence in effect: nothing;
* only transparent events, out-of-office events, or events that began before the
  user's last manual status change: revert a ``meeting`` status;
* otherwise: ``away`` + ``meeting`` ("In a meeting" 📅) with a backup, unless set.

Nextcloud caches the events for 5 minutes only when a local memory cache is set
up; like a server without one, this emulator reads them on every call.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from presence_bridge.emulator.auth import WrongCredentials, authenticate
from presence_bridge.emulator.ical import CalendarEvent, ICalendarError, parse_events
from presence_bridge.emulator.ocs import get_state
from presence_bridge.emulator.out_of_office import current_absence
from presence_bridge.emulator.state import EmulatorState

logger = logging.getLogger(__name__)

STORE_KEY = "calendar.store"
DEFAULT_CALENDAR = "personal"
MEETING = "meeting"
LOOKAHEAD = timedelta(minutes=5)
"""Events starting within this window after now already count as busy."""

_HTML = "text/html; charset=UTF-8"
_SKIP_STATUS_TYPES = ("dnd", "invisible")


@dataclass(slots=True)
class CalendarObject:
    """One stored ``.ics`` resource."""

    text: str
    etag: str
    events: list[CalendarEvent]


@dataclass(slots=True)
class Calendar:
    """A calendar collection.  ``transparent`` mirrors ``schedule-calendar-transp``."""

    transparent: bool = False
    objects: dict[str, CalendarObject] = field(default_factory=dict)


def calendars(state: EmulatorState, user_id: str) -> dict[str, Calendar]:
    """Return the calendars of ``user_id`` by name, creating ``personal`` on first use."""
    with state.lock:
        by_user: dict[str, dict[str, Calendar]] = state.extras.setdefault(STORE_KEY, {})
        return by_user.setdefault(user_id, {DEFAULT_CALENDAR: Calendar()})


def busy_events(state: EmulatorState, user_id: str, start: datetime, end: datetime) -> list[CalendarEvent]:
    """Return the events of the user's non-transparent calendars that overlap ``[start, end)``."""
    with state.lock:
        found: list[CalendarEvent] = []
        for calendar in calendars(state, user_id).values():
            if calendar.transparent:
                continue
            for stored in calendar.objects.values():
                found += [event for event in stored.events if event.overlaps(start, end)]
        return found


def apply_calendar_status(state: EmulatorState, user_id: str) -> None:
    """Set or revert the user's ``meeting`` status from their calendars, as described above."""
    with state.lock:
        if state.get_user(user_id) is None or current_absence(state, user_id) is not None:
            return
        now = datetime.fromtimestamp(state.now(), UTC)
        events = busy_events(state, user_id, now, now + LOOKAHEAD)
        if not events:
            state.revert_automated_status(user_id, MEETING)
            return

        current = state.find_status(user_id)
        if current is not None and (current.message_id == "call" or current.status in _SKIP_STATUS_TYPES):
            return
        changed_at = None
        if current is not None and current.is_user_defined and current.message_id != MEETING:
            changed_at = current.status_timestamp
        applicable = [
            event
            for event in events
            if not event.out_of_office
            and not event.transparent
            and not (changed_at is not None and changed_at > event.start.timestamp())
        ]
        if not applicable:
            state.revert_automated_status(user_id, MEETING)
        elif current is None or current.message_id != MEETING:
            logger.debug("calendar event makes %s away (meeting)", user_id)
            state.set_automated_status(user_id, MEETING, "away")


def install(state: EmulatorState) -> None:
    """Register the calendar automation on ``state`` (once per state)."""
    if apply_calendar_status not in state.own_status_hooks:
        state.own_status_hooks.append(apply_calendar_status)


def _dav_error(status: int, exception: str, message: str, headers: dict[str, str] | None = None) -> Response:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">\n'
        f"  <s:exception>Sabre\\DAV\\Exception\\{exception}</s:exception>\n"
        f"  <s:message>{escape(message)}</s:message>\n"
        "</d:error>\n"
    )
    return Response(body, status, headers=headers, media_type="application/xml; charset=utf-8")


def _resolve(request: Request) -> tuple[Calendar, str] | Response:
    """Check the caller and find the addressed calendar, or return the error response to send."""
    state = get_state(request)
    try:
        principal = authenticate(request, state)
    except WrongCredentials:
        principal = None
    if principal is None:
        challenge = {"WWW-Authenticate": 'Basic realm="Nextcloud", charset="UTF-8"'}
        return _dav_error(401, "NotAuthenticated", "No public access to this resource., Username or password was incorrect", challenge)
    owner, name = request.path_params["user"], request.path_params["calendar"]
    if owner != principal.user.id:
        return _dav_error(404, "NotFound", f"Node with name '{owner}' could not be found")
    calendar = calendars(state, owner).get(name)
    if calendar is None:
        if request.method == "PUT":
            return _dav_error(409, "Conflict", "Files cannot be created in non-existent collections")
        return _dav_error(404, "NotFound", f"Node with name '{name}' could not be found")
    return calendar, request.path_params["object"]


def _precondition_failed(request: Request, existing: CalendarObject | None) -> bool:
    if_match = request.headers.get("if-match")
    if_none_match = request.headers.get("if-none-match")
    if if_none_match == "*" and existing is not None:
        return True
    if if_match is not None and (existing is None or if_match not in ("*", existing.etag)):
        return True
    return False


async def put_object(request: Request) -> Response:
    resolved = _resolve(request)
    if isinstance(resolved, Response):
        return resolved
    calendar, name = resolved
    text = (await request.body()).decode("utf-8", errors="replace")
    try:
        events = parse_events(text)
    except ICalendarError as error:
        return _dav_error(415, "UnsupportedMediaType", f"This resource only supports valid iCalendar 2.0 data. {error}")

    state = get_state(request)
    with state.lock:
        existing = calendar.objects.get(name)
        if _precondition_failed(request, existing):
            return _dav_error(412, "PreconditionFailed", "An If-Match or If-None-Match header did not match")
        etag = '"' + hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest() + '"'
        calendar.objects[name] = CalendarObject(text, etag, events)
    return Response(b"", 204 if existing else 201, headers={"ETag": etag, "OC-ETag": etag}, media_type=_HTML)


async def get_object(request: Request) -> Response:
    resolved = _resolve(request)
    if isinstance(resolved, Response):
        return resolved
    calendar, name = resolved
    stored = calendar.objects.get(name)
    if stored is None:
        return _dav_error(404, "NotFound", f"Calendar object not found: {name}")
    return Response(stored.text, 200, headers={"ETag": stored.etag}, media_type="text/calendar; charset=utf-8")


async def delete_object(request: Request) -> Response:
    resolved = _resolve(request)
    if isinstance(resolved, Response):
        return resolved
    calendar, name = resolved
    state = get_state(request)
    with state.lock:
        existing = calendar.objects.get(name)
        if existing is None:
            return _dav_error(404, "NotFound", f"Calendar object not found: {name}")
        if _precondition_failed(request, existing):
            return _dav_error(412, "PreconditionFailed", "An If-Match header did not match")
        del calendar.objects[name]
    return Response(b"", 204, media_type=_HTML)


def routes() -> list[BaseRoute]:
    path = "/remote.php/dav/calendars/{user}/{calendar}/{object}"
    return [
        Route(path, put_object, methods=["PUT"]),
        Route(path, get_object, methods=["GET"]),
        Route(path, delete_object, methods=["DELETE"]),
    ]


async def _put_calendar(request: Request) -> Response:
    state = get_state(request)
    owner, name = request.path_params["user"], request.path_params["calendar"]
    if state.get_user(owner) is None:
        return JSONResponse({"error": f"user {owner!r} does not exist"}, 404)
    body = await request.body()
    try:
        options = json.loads(body) if body.strip() else {}
    except ValueError:
        options = None
    if not isinstance(options, dict):
        return JSONResponse({"error": 'the body must be empty or a JSON object like {"transparent": true}'}, 400)
    transparent = bool(options.get("transparent", False))
    with state.lock:
        calendar = calendars(state, owner).setdefault(name, Calendar())
        calendar.transparent = transparent
    return JSONResponse({"user": owner, "calendar": name, "transparent": transparent})


def control_routes() -> list[BaseRoute]:
    return [Route("/_emulator/calendars/{user}/{calendar}", _put_calendar, methods=["PUT"])]
