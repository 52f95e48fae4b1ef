"""The OCS routes of Nextcloud 31.0.6's ``user_status`` app (API v1).

Base path: ``/ocs/v{1,2}.php/apps/user_status/api/v1``.  Every route needs a
user and the ``OCS-APIRequest`` header.  Writes act on the caller only; every
manual write except ``DELETE /user_status/message`` deletes the caller's backup
row.  Write responses carry the stored row without predefined texts filled in
(``message``/``icon`` stay null for a predefined id); reads fill them in.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import BaseRoute

from presence_bridge.emulator.ocs import OcsContext, OcsError, ParameterError, ocs_routes
from presence_bridge.emulator.params import param_int, param_str, required_str
from presence_bridge.emulator.predefined import list_visible
from presence_bridge.emulator.state import StatusRuleError, private_status, public_status

BASE = "/apps/user_status/api/v1"
NO_OWN_STATUS = "No status for the current user"
NO_USER_STATUS = "No status for the requested userId"
HEARTBEAT_TYPES = ("online", "away")


async def get_own_status(ctx: OcsContext) -> Response:
    ctx.state.run_own_status_hooks(ctx.user_id)
    row = ctx.state.find_status(ctx.user_id)
    if row is None:
        raise OcsError(404, NO_OWN_STATUS)
    return ctx.respond(private_status(row, fill_defaults=True))


async def set_status(ctx: OcsContext) -> Response:
    status_type = required_str(ctx.params, "statusType")
    try:
        with ctx.state.lock:
            row = ctx.state.set_status(ctx.user_id, status_type)
            ctx.state.remove_backup(ctx.user_id)
    except StatusRuleError as error:
        raise OcsError(400, error.message) from error
    return ctx.respond(private_status(row, fill_defaults=False))


async def set_predefined_message(ctx: OcsContext) -> Response:
    message_id = required_str(ctx.params, "messageId")
    clear_at = param_int(ctx.params, "clearAt")
    try:
        with ctx.state.lock:
            row = ctx.state.set_predefined_message(ctx.user_id, message_id, clear_at)
            ctx.state.remove_backup(ctx.user_id)
    except StatusRuleError as error:
        raise OcsError(400, error.message) from error
    return ctx.respond(private_status(row, fill_defaults=False))


async def set_custom_message(ctx: OcsContext) -> Response:
    """Store a custom message, or clear it when icon, message and clearAt are all empty.

    Empty means null or "" (and 0 for clearAt).  Clearing for a user without a row
    returns 404.  An empty icon next to a message is rejected as an invalid icon.
    """
    icon = param_str(ctx.params, "statusIcon", nullable=True)
    message = param_str(ctx.params, "message", nullable=True)
    clear_at = param_int(ctx.params, "clearAt")
    state = ctx.state
    try:
        with state.lock:
            if icon or message or clear_at:
                row = state.set_custom_message(ctx.user_id, icon, message, clear_at)
                fill_defaults = False
            else:
                state.clear_message(ctx.user_id)
                found = state.find_status(ctx.user_id)
                if found is None:
                    raise OcsError(404, NO_OWN_STATUS)
                row, fill_defaults = found, True
            state.remove_backup(ctx.user_id)
    except StatusRuleError as error:
        raise OcsError(400, error.message) from error
    return ctx.respond(private_status(row, fill_defaults=fill_defaults))


async def clear_message(ctx: OcsContext) -> Response:
    ctx.state.clear_message(ctx.user_id)
    return ctx.respond([])


async def revert_status(ctx: OcsContext) -> Response:
    message_id = required_str(ctx.params, "messageId")
    row = ctx.state.revert_automated_status(ctx.user_id, message_id, manual=True)
    if row is None:
        return ctx.respond([])
    return ctx.respond(private_status(row, fill_defaults=False))


async def predefined_statuses(ctx: OcsContext) -> Response:
    return ctx.respond(list_visible())


async def list_statuses(ctx: OcsContext) -> Response:
    """List all rows in table order, backups included, or ``[]`` unless enumeration is open to all.

    A negative offset fails like Nextcloud's query builder (500); a negative limit
    returns every row, as SQLite's ``LIMIT -1``.
    """
    limit = param_int(ctx.params, "limit")
    offset = param_int(ctx.params, "offset")
    if offset is not None and offset < 0:
        raise ParameterError(f"offset must not be negative, got {offset}")
    if ctx.state.settings.user_enumeration != "all":
        return ctx.respond([])
    rows = ctx.state.list_statuses(limit, offset)
    return ctx.respond([public_status(row) for row in rows])


async def get_user_status(ctx: OcsContext) -> Response:
    row = ctx.state.find_status(required_str(ctx.params, "userId"))
    if row is None:
        raise OcsError(404, NO_USER_STATUS)
    return ctx.respond(public_status(row))


async def heartbeat(ctx: OcsContext) -> Response:
    status_type = required_str(ctx.params, "status")
    if status_type not in HEARTBEAT_TYPES:
        raise OcsError(400, "")
    row = ctx.state.heartbeat(ctx.user_id, status_type)
    if row is None:
        return ctx.respond([], status=204)
    return ctx.respond(private_status(row, fill_defaults=True))


def routes() -> list[BaseRoute]:
    """Return the user_status routes for OCS v1 and v2."""
    table = [
        ("/user_status", get_own_status, ["GET"]),
        ("/user_status/status", set_status, ["PUT"]),
        ("/user_status/message/predefined", set_predefined_message, ["PUT"]),
        ("/user_status/message/custom", set_custom_message, ["PUT"]),
        ("/user_status/message", clear_message, ["DELETE"]),
        ("/user_status/revert/{messageId}", revert_status, ["DELETE"]),
        ("/predefined_statuses/", predefined_statuses, ["GET"]),
        ("/predefined_statuses", predefined_statuses, ["GET"]),
        ("/statuses", list_statuses, ["GET"]),
        ("/statuses/{userId}", get_user_status, ["GET"]),
        ("/heartbeat", heartbeat, ["PUT"]),
    ]
    result: list[BaseRoute] = []
    for path, endpoint, methods in table:
        result.extend(ocs_routes(BASE + path, endpoint, methods))
    return result
