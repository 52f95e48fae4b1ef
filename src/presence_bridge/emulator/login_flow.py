"""Login Flow v2 as Nextcloud 31 serves it, plus a control route for the browser half.

1. ``POST /index.php/login/v2`` (or ``/login/v2``) returns a 128-character poll
   token, the poll endpoint and a ``login`` URL ending in a 128-character login token.
2. The user would open ``login`` in a browser and log in.  Here a test does that
   with ``POST /_emulator/login-flow/{login_token}/grant`` and ``{"user": "<id>"}``,
   which issues a new app password for that user.
3. ``POST .../login/v2/poll`` with ``token`` (form, JSON or query string) returns
   404 with body ``[]`` until the grant, then 200 ``{server, loginName, appPassword}``
   once, then 404 again.  Without a ``token`` parameter it returns 500 with an HTML
   page.  Unknown tokens get 404 ``[]``.

Flows expire 20 minutes (emulator clock) after the start call.  The endpoints
are plain JSON, not OCS, and need neither credentials nor ``OCS-APIRequest``.
"""

from __future__ import annotations

import logging
import secrets
import string
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from presence_bridge.emulator.ocs import get_state, request_params
from presence_bridge.emulator.render import JSON_CONTENT_TYPE, php_json
from presence_bridge.emulator.server_info import base_url
from presence_bridge.emulator.state import EmulatorState

logger = logging.getLogger(__name__)

FLOWS_KEY = "login_flow.flows"
TOKEN_LENGTH = 128
FLOW_LIFETIME = 20 * 60
"""Seconds a flow stays usable after the start call (``LoginFlowV2Mapper`` lifetime)."""

_TOKEN_ALPHABET = string.ascii_letters + string.digits
_HTML = "text/html; charset=UTF-8"
_SERVER_ERROR_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Nextcloud</title></head><body>\n"
    "<h2>Internal Server Error</h2>\n<p>The server was unable to complete your request.</p>\n"
    "</body></html>\n"
)


@dataclass(slots=True)
class LoginFlow:
    """One started flow.  ``app_password`` is set once the user has granted access."""

    poll_token: str
    login_token: str
    created_at: int
    client_name: str
    login_name: str | None = None
    app_password: str | None = None


def _flows(state: EmulatorState) -> dict[str, LoginFlow]:
    """Return the poll token → flow map of ``state``, after dropping expired flows."""
    with state.lock:
        flows: dict[str, LoginFlow] = state.extras.setdefault(FLOWS_KEY, {})
        oldest_valid = state.now() - FLOW_LIFETIME
        for token in [token for token, flow in flows.items() if flow.created_at < oldest_valid]:
            del flows[token]
        return flows


def _new_token() -> str:
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def start_flow(state: EmulatorState, client_name: str) -> LoginFlow:
    """Create a flow with fresh poll and login tokens."""
    flow = LoginFlow(_new_token(), _new_token(), state.now(), client_name)
    with state.lock:
        _flows(state)[flow.poll_token] = flow
    return flow


def grant_flow(state: EmulatorState, login_token: str, user_id: str) -> LoginFlow:
    """Finish the browser half: issue an app password for ``user_id``.

    Raises ``LookupError`` naming what was not found (the flow or the user).
    """
    with state.lock:
        flow = next((f for f in _flows(state).values() if f.login_token == login_token), None)
        if flow is None:
            raise LookupError(f"login flow with login token {login_token[:8]}... not found: it expired or was never started")
        if state.get_user(user_id) is None:
            raise LookupError(f"user {user_id!r} does not exist")
        flow.login_name = user_id
        flow.app_password = state.accounts.create_app_password(user_id)
    logger.info("login flow granted for %s", user_id)
    return flow


def _json(data: object, status: int = 200) -> Response:
    return Response(php_json(data), status, media_type=JSON_CONTENT_TYPE)


async def start(request: Request) -> Response:
    state = get_state(request)
    flow = start_flow(state, request.headers.get("user-agent", "unknown"))
    server = base_url(request)
    return _json(
        {
            "poll": {"token": flow.poll_token, "endpoint": f"{server}/index.php/login/v2/poll"},
            "login": f"{server}/index.php/login/v2/flow/{flow.login_token}",
        }
    )


async def poll(request: Request) -> Response:
    state = get_state(request)
    token = (await request_params(request)).get("token")
    if token is None:
        # Nextcloud's controller requires the parameter; PHP's TypeError becomes an HTML 500 page.
        return Response(_SERVER_ERROR_PAGE, 500, media_type=_HTML)

    with state.lock:
        flows = _flows(state)
        flow = flows.get(token) if isinstance(token, str) else None
        if flow is None or flow.app_password is None:
            return _json([], 404)
        del flows[token]
    return _json({"server": base_url(request), "loginName": flow.login_name, "appPassword": flow.app_password})


async def login_page(request: Request) -> Response:
    """Serve the page a browser opens.  Tests grant access through the control API instead."""
    state = get_state(request)
    login_token = request.path_params["login_token"]
    with state.lock:
        known = any(flow.login_token == login_token for flow in _flows(state).values())
    if not known:
        return Response("<html><body>Access forbidden: the login token is invalid or expired</body></html>", 403, media_type=_HTML)
    return Response("<html><body>Connect to your account</body></html>", 200, media_type=_HTML)


def routes() -> list[BaseRoute]:
    result: list[BaseRoute] = []
    for prefix in ("/index.php", ""):
        result += [
            Route(f"{prefix}/login/v2", start, methods=["POST"]),
            Route(f"{prefix}/login/v2/poll", poll, methods=["POST"]),
            Route(f"{prefix}/login/v2/flow/{{login_token}}", login_page, methods=["GET"]),
        ]
    return result


async def _grant(request: Request) -> Response:
    state = get_state(request)
    try:
        body = await request.json()
    except ValueError:
        body = None
    user_id = body.get("user") if isinstance(body, dict) else None
    if not isinstance(user_id, str):
        return JSONResponse({"error": 'the body must be a JSON object {"user": "<user id>"}'}, 400)
    try:
        flow = grant_flow(state, request.path_params["login_token"], user_id)
    except LookupError as error:
        return JSONResponse({"error": str(error)}, 404)
    return JSONResponse({"granted": True, "loginName": flow.login_name})


def control_routes() -> list[BaseRoute]:
    return [Route("/_emulator/login-flow/{login_token}/grant", _grant, methods=["POST"])]
