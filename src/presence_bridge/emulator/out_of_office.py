"""Out-of-office periods (``apps/dav`` absence API) and the status automation job.

Nextcloud 31 behaviour emulated here:

* ``POST /outOfOffice/{uid}`` stores the logged-in user's absence (the path's user
  id is ignored) and changes no status: it only schedules the user's
  ``UserStatusAutomation`` background job.
* The job runs through ``POST /_emulator/jobs/user-status-automation`` here,
  because no cron runs.  While the absence is in effect it backs up the current
  status and sets ``dnd`` with message id ``out-of-office``, the absence's short
  text and 🛑.  Outside the absence it reverts that status.
* ``DELETE /outOfOffice/{uid}`` removes the absence and reverts the status at once.
* ``GET /outOfOffice/{uid}`` returns the stored absence of any user; ``/now``
  returns it with Unix start and end times (and ``id`` as a string) only while it
  is in effect.

An absence runs from ``firstDay`` 00:00 to ``lastDay`` 23:59 in the user's time
zone, which is always UTC here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from presence_bridge.emulator.ocs import OcsContext, OcsError, ParameterError, get_state, ocs_routes, required_str
from presence_bridge.emulator.state import EmulatorState

logger = logging.getLogger(__name__)

STORE_KEY = "out_of_office.store"
OUT_OF_OFFICE = "out-of-office"
STATUS_MAX_LENGTH = 100
"""Maximum length of the short message (``status``) in code points that Nextcloud 31 stores."""

_DAY_END = timedelta(hours=23, minutes=59)
_REPLACED_AUTOMATIONS = ("call", "meeting", "availability")
"""Automated statuses an out-of-office status replaces."""


@dataclass(slots=True)
class Absence:
    """One row of ``oc_dav_absence``."""

    id: int
    user_id: str
    first_day: str
    last_day: str
    status: str
    message: str
    replacement_user_id: str | None = None
    replacement_user_display_name: str | None = None

    @property
    def start(self) -> int:
        return _midnight(self.first_day)

    @property
    def end(self) -> int:
        return _midnight(self.last_day) + int(_DAY_END.total_seconds())

    def in_effect(self, now: int) -> bool:
        return self.start <= now <= self.end

    def as_stored(self) -> dict[str, Any]:
        """Return the shape of ``POST`` and ``GET /outOfOffice/{uid}``."""
        return {
            "id": self.id,
            "userId": self.user_id,
            "firstDay": self.first_day,
            "lastDay": self.last_day,
            "status": self.status,
            "message": self.message,
            "replacementUserId": self.replacement_user_id,
            "replacementUserDisplayName": self.replacement_user_display_name,
        }

    def as_current(self) -> dict[str, Any]:
        """Return the shape of ``GET /outOfOffice/{uid}/now``."""
        return {
            "id": str(self.id),
            "userId": self.user_id,
            "startDate": self.start,
            "endDate": self.end,
            "shortMessage": self.status,
            "message": self.message,
            "replacementUserId": self.replacement_user_id or "",
            "replacementUserDisplayName": self.replacement_user_display_name or "",
        }


@dataclass(slots=True)
class AbsenceStore:
    """Absences by user id, the next row id, and users whose automation job is scheduled."""

    absences: dict[str, Absence]
    pending_jobs: set[str]
    next_id: int = 1


def _midnight(day: str) -> int:
    parsed = date.fromisoformat(day)
    return int(datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC).timestamp())


def store(state: EmulatorState) -> AbsenceStore:
    """Return the absence store of ``state`` (created on first use)."""
    with state.lock:
        found: AbsenceStore = state.extras.setdefault(STORE_KEY, AbsenceStore({}, set()))
        return found


def current_absence(state: EmulatorState, user_id: str) -> Absence | None:
    """Return the user's absence if it is in effect now."""
    with state.lock:
        absence = store(state).absences.get(user_id)
        return absence if absence is not None and absence.in_effect(state.now()) else None


def run_automation(state: EmulatorState, user_id: str) -> str:
    """Run one user's ``UserStatusAutomation`` job; return what it did ("set", "reverted", "none").

    An absence in effect replaces a call, meeting or availability status (the
    user's own status stays the backup).  When the user already has the
    out-of-office status nothing changes.
    """
    with state.lock:
        absence = current_absence(state, user_id)
        if absence is None:
            reverted = state.revert_automated_status(user_id, OUT_OF_OFFICE)
            absence_row = store(state).absences.get(user_id)
            if absence_row is None or absence_row.start <= state.now():
                store(state).pending_jobs.discard(user_id)
            return "reverted" if reverted is not None else "none"

        current = state.get_row(user_id)
        if current is not None and current.message_id == OUT_OF_OFFICE:
            return "none"
        if current is not None and current.message_id in _REPLACED_AUTOMATIONS:
            state.revert_automated_status(user_id, current.message_id)
        state.set_automated_status(user_id, OUT_OF_OFFICE, "dnd", custom_message=absence.status)
        return "set"


def _parse_day(name: str, value: str) -> int:
    try:
        return _midnight(value)
    except ValueError as error:
        # PHP's DateTimeImmutable constructor throws, and Nextcloud returns 500 for that.
        raise ParameterError(f"{name} {value!r} is not a YYYY-MM-DD date") from error


async def set_absence(ctx: OcsContext) -> Response:
    params = ctx.params
    first_day = required_str(params, "firstDay")
    last_day = required_str(params, "lastDay")
    short_message = required_str(params, "status")
    message = required_str(params, "message")
    replacement = params.get("replacementUserId")
    replacement_name = params.get("replacementUserDisplayName")
    # NOTE: the statusLength and unknownUser responses follow a reading of Nextcloud's
    # controller; no recording covers them.
    if len(short_message) > STATUS_MAX_LENGTH:
        raise OcsError(400, data={"error": "statusLength"})
    if replacement is not None and ctx.state.get_user(str(replacement)) is None:
        raise OcsError(400, data={"error": "unknownUser"})
    if _parse_day("firstDay", first_day) > _parse_day("lastDay", last_day):
        raise OcsError(400, data={"error": "firstDay"})

    with ctx.state.lock:
        absences = store(ctx.state)
        existing = absences.absences.get(ctx.user_id)
        if existing is None:
            absence_id = absences.next_id
            absences.next_id += 1
        else:
            absence_id = existing.id
        absence = Absence(
            absence_id, ctx.user_id, first_day, last_day, short_message, message,
            None if replacement is None else str(replacement),
            None if replacement_name is None else str(replacement_name),
        )  # fmt: skip
        absences.absences[ctx.user_id] = absence
        absences.pending_jobs.add(ctx.user_id)
    return ctx.respond(absence.as_stored())


async def get_absence(ctx: OcsContext) -> Response:
    with ctx.state.lock:
        absence = store(ctx.state).absences.get(str(ctx.request.path_params["uid"]))
    if absence is None:
        return ctx.respond(None, status=404)
    return ctx.respond(absence.as_stored())


async def get_current_absence(ctx: OcsContext) -> Response:
    user_id = str(ctx.request.path_params["uid"])
    absence = current_absence(ctx.state, user_id) if ctx.state.get_user(user_id) else None
    if absence is None:
        return ctx.respond(None, status=404)
    return ctx.respond(absence.as_current())


async def clear_absence(ctx: OcsContext) -> Response:
    with ctx.state.lock:
        store(ctx.state).absences.pop(ctx.user_id, None)
        ctx.state.revert_automated_status(ctx.user_id, OUT_OF_OFFICE)
        store(ctx.state).pending_jobs.add(ctx.user_id)
    return ctx.respond(None)


def routes() -> list[BaseRoute]:
    base = "/apps/dav/api/v1/outOfOffice/{uid}"
    return [
        *ocs_routes(f"{base}/now", get_current_absence, ["GET"]),
        *ocs_routes(base, get_absence, ["GET"]),
        *ocs_routes(base, set_absence, ["POST"]),
        *ocs_routes(base, clear_absence, ["DELETE"]),
    ]


async def _run_jobs(request: Request) -> Response:
    """Run the scheduled automation jobs, or the one of ``{"user": ...}`` if given."""
    state = get_state(request)
    body = await request.body()
    requested = None
    if body.strip():
        try:
            payload = await request.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("user"), str):
            return JSONResponse({"error": 'the body must be empty or {"user": "<user id>"}'}, 400)
        requested = payload["user"]
    with state.lock:
        users = [requested] if requested is not None else sorted(store(state).pending_jobs)
        results = {user_id: run_automation(state, user_id) for user_id in users}
    return JSONResponse({"ran": results})


def control_routes() -> list[BaseRoute]:
    return [Route("/_emulator/jobs/user-status-automation", _run_jobs, methods=["POST"])]
