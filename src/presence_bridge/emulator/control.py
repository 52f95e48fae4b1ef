"""The ``/_emulator/`` control API: seed users and rows, move the clock, inject faults.

Mounted only with ``create_app(control=True)``.  Request and response bodies are JSON;
a bad request gets 400 ``{"error": "..."}`` naming the field.

========  =================================  ==============================================
method    path                               body / effect
========  =================================  ==============================================
POST      /_emulator/reset                   forget everything; the clock follows real time
POST      /_emulator/users                   a user object or a list of them (see below); an existing id
                                             is replaced, and ``{"created": n, "replaced": m}`` counts both
GET/PUT   /_emulator/clock                   ``{"now": t}``, ``{"advance": s}``, ``{"frozen": bool}``
GET/PUT   /_emulator/settings                ``{"user_enumeration": "all"|"none"|"group"}``
POST      /_emulator/automations             ``{"user", "message_id", "status", "custom_message"?, "icon"?}``
DELETE    /_emulator/automations/{u}/{id}    automatic revert (an offline backup stays offline)
GET/PUT   /_emulator/rows/{user}             raw row columns, e.g. ``{"status_timestamp": 0}``
DELETE    /_emulator/rows/{user}             delete one row
GET/PUT   /_emulator/rows                    list of rows with ``user_id`` (PUT upserts each)
DELETE    /_emulator/rows                    delete every row
GET/POST  /_emulator/faults                  ``{"match", "status"|"delay_s"|"drop", "count"}``
DELETE    /_emulator/faults                  remove every fault
GET       /_emulator/sessions                ``{"created": {user: n}, "active": n, ...}`` (below)
========  =================================  ==============================================

User fields: ``id`` (required), ``display_name`` (default: the id), ``email``,
``language`` (default "en"), ``locale`` (default ""), ``groups`` (a list, and
members of ``admin`` are administrators), ``password`` (the login password),
``app_password`` (a string) and ``app_passwords`` (a list).

Sessions: ``created`` counts the sessions started per user since the last
reset, and ``active`` counts the live sessions bound to a user.
``anonymous_created`` and ``anonymous_active`` count the sessions of requests
without credentials.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from presence_bridge.emulator.accounts import User
from presence_bridge.emulator.faults import Fault
from presence_bridge.emulator.ocs import get_state
from presence_bridge.emulator.predefined import STATUS_TYPES
from presence_bridge.emulator.state import USER_ENUMERATION_MODES, StatusRow, StatusRuleError

PREFIX = "/_emulator"


class ControlError(Exception):
    """A control request was invalid; the message names the field and the problem."""


async def _json_body(request: Request) -> Any:
    body = await request.body()
    try:
        return json.loads(body) if body.strip() else {}
    except ValueError as error:
        raise ControlError(f"request body is not valid JSON: {error}") from error


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ControlError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def _handles_errors(endpoint: Any) -> Any:
    async def handle(request: Request) -> Response:
        try:
            return await endpoint(request)
        except KeyError as error:
            # str() of a KeyError quotes its message, so take the message itself.
            return JSONResponse({"error": str(error.args[0]) if error.args else "missing field"}, 400)
        except (ControlError, StatusRuleError, TypeError, ValueError) as error:
            return JSONResponse({"error": str(error)}, 400)

    return handle


def row_json(row: StatusRow | None) -> dict[str, Any] | None:
    return dataclasses.asdict(row) if row is not None else None


def user_from_json(data: Any) -> User:
    """Build a :class:`User` from a control-API object; raise ControlError on bad fields."""
    data = _object(data, "a user")
    user_id = data.get("id")
    if not isinstance(user_id, str) or not user_id:
        raise ControlError(f"user field 'id' must be a non-empty string, got {user_id!r}")
    app_passwords = set(data.get("app_passwords") or [])
    if data.get("app_password"):
        app_passwords.add(data["app_password"])
    groups = data.get("groups") or []
    if not isinstance(groups, list) or not all(isinstance(group, str) for group in groups):
        raise ControlError(f"user {user_id!r}: 'groups' must be a list of strings")
    return User(
        id=user_id,
        display_name=data.get("display_name") or user_id,
        email=data.get("email"),
        language=data.get("language") or "en",
        locale=data.get("locale") or "",
        groups=list(groups),
        password=data.get("password"),
        app_passwords=app_passwords,
    )


async def reset(request: Request) -> Response:
    get_state(request).reset()
    return JSONResponse({"ok": True})


async def add_users(request: Request) -> Response:
    body = await _json_body(request)
    items = body if isinstance(body, list) else [body]
    users = [user_from_json(item) for item in items]
    created, replaced = get_state(request).add_users(users)
    return JSONResponse({"created": created, "replaced": replaced})


async def clock(request: Request) -> Response:
    state = get_state(request)
    if request.method == "PUT":
        body = _object(await _json_body(request), "the clock body")
        now = body.get("now")
        advance = body.get("advance")
        frozen = body.get("frozen")
        # Check every field first, so that a bad request changes nothing.
        if now is not None and not _is_finite_number(now):
            raise ControlError(f"clock field 'now' must be Unix seconds as a number, got {now!r}")
        if advance is not None and not _is_finite_number(advance):
            raise ControlError(f"clock field 'advance' must be a number of seconds, got {advance!r}")
        if frozen is not None and not isinstance(frozen, bool):
            raise ControlError(f"clock field 'frozen' must be true or false, got {frozen!r}")
        if now is not None:
            state.clock.set(int(now))
        if advance is not None:
            state.clock.advance(float(advance))
        if frozen is not None:
            state.clock.freeze(frozen)
    return JSONResponse({"now": state.now(), "frozen": state.clock.frozen})


async def settings(request: Request) -> Response:
    state = get_state(request)
    if request.method == "PUT":
        body = _object(await _json_body(request), "the settings body")
        mode = body.get("user_enumeration", state.settings.user_enumeration)
        if mode not in USER_ENUMERATION_MODES:
            raise ControlError(f"user_enumeration must be one of {USER_ENUMERATION_MODES}, got {mode!r}")
        state.settings.user_enumeration = mode
    return JSONResponse(dataclasses.asdict(state.settings))


async def add_automation(request: Request) -> Response:
    body = _object(await _json_body(request), "the automation body")
    missing = [name for name in ("user", "message_id", "status") if not isinstance(body.get(name), str)]
    if missing:
        raise ControlError(f"automation fields {missing} are missing or not strings")
    row = get_state(request).set_automated_status(
        body["user"], body["message_id"], body["status"], body.get("custom_message"), body.get("icon")
    )
    return JSONResponse({"applied": row is not None, "row": row_json(row)})


async def revert_automation(request: Request) -> Response:
    user, message_id = request.path_params["user"], request.path_params["message_id"]
    row = get_state(request).revert_automated_status(user, message_id, manual=False)
    return JSONResponse({"reverted": row is not None, "row": row_json(row)})


async def one_row(request: Request) -> Response:
    state = get_state(request)
    user = request.path_params["user"]
    if request.method == "DELETE":
        return JSONResponse({"deleted": state.delete_row(user)})
    if request.method == "PUT":
        values = _object(await _json_body(request), "the row body")
        values.pop("user_id", None)
        check_row_values(values)
        return JSONResponse(row_json(state.update_row(user, values)))
    row = state.get_row(user)
    return JSONResponse(row_json(row), 200 if row is not None else 404)


async def all_rows(request: Request) -> Response:
    state = get_state(request)
    if request.method == "DELETE":
        state.clear_rows()
        return JSONResponse({"deleted": True})
    if request.method == "PUT":
        body = await _json_body(request)
        if not isinstance(body, list):
            raise ControlError("PUT /_emulator/rows expects a JSON list of rows with 'user_id'")
        # Check every row first, so that a bad request changes nothing.
        updates: list[tuple[str, dict[str, Any]]] = []
        for item in body:
            values = dict(_object(item, "a row"))
            user_id = values.pop("user_id", None)
            if not isinstance(user_id, str):
                raise ControlError(f"row field 'user_id' must be a string, got {user_id!r}")
            check_row_values(values)
            updates.append((user_id, values))
        with state.lock:
            for user_id, values in updates:
                state.update_row(user_id, values)
        return JSONResponse({"updated": len(body)})
    return JSONResponse([row_json(row) for row in state.all_rows()])


async def faults(request: Request) -> Response:
    state = get_state(request)
    if request.method == "DELETE":
        with state.lock:
            state.faults.clear()
    elif request.method == "POST":
        state.faults.append(_fault_from_json(_object(await _json_body(request), "the fault body")))
    with state.lock:
        return JSONResponse([dataclasses.asdict(fault) for fault in state.faults])


async def sessions(request: Request) -> Response:
    state = get_state(request)
    with state.lock:
        return JSONResponse(state.sessions.summary())


def _fault_from_json(body: dict[str, Any]) -> Fault:
    match = body.get("match")
    if not isinstance(match, str) or not match.startswith("/"):
        raise ControlError(f"fault field 'match' must be a path prefix starting with '/', got {match!r}")
    kinds = [name for name in ("status", "delay_s", "drop") if body.get(name) not in (None, False)]
    if len(kinds) != 1:
        raise ControlError(f"a fault needs exactly one of 'status', 'delay_s', 'drop'; got {kinds}")
    count = body.get("count", 1)
    if not _is_int(count) or count < 1:
        raise ControlError(f"fault field 'count' must be a whole number of at least 1, got {count!r}")
    status = body.get("status")
    if status is not None and not (_is_int(status) and 100 <= status <= 599):
        raise ControlError(f"fault field 'status' must be an HTTP status code from 100 to 599, got {status!r}")
    delay = body.get("delay_s")
    if delay is not None and not ((_is_int(delay) or isinstance(delay, float)) and 0 <= delay < float("inf")):
        raise ControlError(f"fault field 'delay_s' must be a number of seconds of at least 0, got {delay!r}")
    return Fault(
        match=match,
        count=count,
        status=status,
        delay_s=float(delay) if delay is not None else None,
        drop=bool(body.get("drop")),
    )


_ROW_TYPES: dict[str, tuple[type, ...]] = {
    "status": (str,),
    "status_timestamp": (int,),
    "is_user_defined": (bool,),
    "message_id": (str, type(None)),
    "custom_icon": (str, type(None)),
    "custom_message": (str, type(None)),
    "clear_at": (int, type(None)),
    "is_backup": (bool,),
    "status_message_timestamp": (int,),
}
"""The JSON types each status row column accepts; null only where the database column is nullable."""


def check_row_values(values: dict[str, Any]) -> None:
    """Raise ControlError naming the first row field whose value a real status row could not hold.

    Unknown field names are left to :meth:`EmulatorState.update_row`, which lists the allowed ones.
    """
    for name, value in values.items():
        allowed = _ROW_TYPES.get(name)
        if allowed is None:
            continue
        # JSON true is a Python int too, so a boolean passes only where bool is allowed.
        if (isinstance(value, bool) and bool not in allowed) or not isinstance(value, allowed):
            kinds = " or ".join("null" if kind is type(None) else kind.__name__ for kind in allowed)
            raise ControlError(f"row field {name!r} must be {kinds}, got {value!r}")
    status = values.get("status")
    if status is not None and status not in STATUS_TYPES:
        raise ControlError(f"row field 'status' must be one of {', '.join(STATUS_TYPES)}, got {status!r}")


def _is_finite_number(value: Any) -> bool:
    """Tell whether a JSON value is a finite number (Python's json module also reads NaN and Infinity)."""
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def _is_int(value: Any) -> bool:
    """Tell whether a JSON value is an integer (JSON true and false are not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def routes() -> list[BaseRoute]:
    """Return the control routes (mount them only when control is on)."""
    table: list[tuple[str, Any, list[str]]] = [
        ("/reset", reset, ["POST"]),
        ("/users", add_users, ["POST"]),
        ("/clock", clock, ["GET", "PUT"]),
        ("/settings", settings, ["GET", "PUT"]),
        ("/automations", add_automation, ["POST"]),
        ("/automations/{user}/{message_id}", revert_automation, ["DELETE"]),
        ("/rows", all_rows, ["GET", "PUT", "DELETE"]),
        ("/rows/{user}", one_row, ["GET", "PUT", "DELETE"]),
        ("/faults", faults, ["GET", "POST", "DELETE"]),
        ("/sessions", sessions, ["GET"]),
    ]
    return [Route(PREFIX + path, _handles_errors(endpoint), methods=methods) for path, endpoint, methods in table]
