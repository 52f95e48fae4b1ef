"""The OCS layer shared by every emulated route: envelopes, formats, auth and parameters.

How a request is handled, in Nextcloud 31's order:

1. Wrong Basic credentials: 401, always XML (``text/xml``), ``WWW-Authenticate: Basic``.
2. Unknown route: 404 with OCS code 998, always XML unless ``?format=json``.
   Wrong verb: 405 with an empty ``text/xml`` body.  (Both in ``app.py``.)
3. No credentials on a route that needs a user: 401, OCS 997, in the requested format.
4. No ``OCS-APIRequest`` header (any value passes) and no Bearer token: 412
   ``{"message":"CSRF check failed"}`` without an envelope.
5. The endpoint.  A missing parameter or a wrong JSON type raises
   :class:`ParameterError`, any other exception too becomes 500 with OCS 996,
   XML unless ``?format=json``.  :class:`OcsError` gives a normal OCS error.

Writing a route module::

    async def show(ctx: OcsContext) -> Response:
        row = ctx.state.find_status(ctx.user.id)
        if row is None:
            raise OcsError(404, "No status for the current user")
        return ctx.respond({"userId": row.user_id})

    def routes() -> list[BaseRoute]:
        return ocs_routes("/apps/demo/api/v1/thing", show, ["GET"])

``ocs_routes`` registers the path under both ``/ocs/v1.php`` and ``/ocs/v2.php``.

Every response of these routes, refusals included, reuses or starts a PHP
session and carries the cookies of a new one (see
:mod:`~presence_bridge.emulator.sessions`).  A valid session cookie without an
``Authorization`` header authenticates as the session's user.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from presence_bridge.emulator.accounts import User
from presence_bridge.emulator.auth import Principal, WrongCredentials, authenticate
from presence_bridge.emulator.params import (
    ParameterError,
    param_int,
    param_str,
    php_int,
    request_params,
    required_str,
)
from presence_bridge.emulator.render import php_json, render_ocs
from presence_bridge.emulator.sessions import apply_session
from presence_bridge.emulator.state import EmulatorState

__all__ = [
    "OcsContext",
    "OcsError",
    "ParameterError",
    "get_state",
    "ocs_error",
    "ocs_fixed_error",
    "ocs_response",
    "ocs_routes",
    "param_int",
    "param_str",
    "php_int",
    "request_format",
    "request_params",
    "request_version",
    "required_str",
    "wrap_ocs",
]

logger = logging.getLogger(__name__)

NOT_LOGGED_IN = "Current user is not logged in"
INVALID_QUERY = (
    "Invalid query, please check the syntax. API specifications are here:"
    " http://www.freedesktop.org/wiki/Specifications/open-collaboration-services.\n"
)
INTERNAL_ERROR = "Internal Server Error\n"


class OcsError(Exception):
    """An OCS error result: ``status`` is the OCS status (400, 403, 404, 997 ...)."""

    def __init__(self, status: int, message: str = "", data: Any = None) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.data = [] if data is None else data


@dataclass(slots=True)
class OcsContext:
    """Everything an OCS endpoint needs about its request.

    ``auth_kind`` is ``"app_password"``, ``"login_password"``, ``"bearer"`` or None.
    For a request authenticated by its session cookie, it is the kind of the
    login that started the session.
    ``params`` merges query string, form or JSON body and path parameters (later wins).
    """

    request: Request
    state: EmulatorState
    version: int
    format: str
    user: User | None
    auth_kind: str | None
    params: dict[str, Any]

    def respond(self, data: Any, *, status: int = 200, message: str | None = None) -> Response:
        """Wrap ``data`` in this request's envelope and format."""
        return render_ocs(self.version, self.format, status, message, data)

    @property
    def user_id(self) -> str:
        """The caller's id; only valid on routes that require a user."""
        assert self.user is not None
        return self.user.id


OcsEndpoint = Callable[[OcsContext], Awaitable[Response]]


def get_state(request: Request) -> EmulatorState:
    """Return the emulator state of the app serving ``request``."""
    state: EmulatorState = request.app.state.emulator
    return state


def request_version(request: Request) -> int:
    """1 for ``/ocs/v1.php/...``, else 2."""
    return 1 if request.url.path.startswith("/ocs/v1.php") else 2


def request_format(request: Request, params: dict[str, Any] | None = None) -> str:
    """``format`` parameter first, then the first ``Accept`` entry naming json or xml; default xml.

    Like Nextcloud, an entry with parameters (``application/json; q=1``) does not match.
    """
    source = params if params is not None else request.query_params
    requested = source.get("format")
    if isinstance(requested, str):
        return requested
    for entry in request.headers.get("accept", "").split(","):
        name = entry.strip().lower().replace("application/", "")
        if name in ("json", "xml"):
            return name
    return "xml"


def ocs_response(request: Request, data: Any, *, http_status: int = 200, message: str | None = None) -> Response:
    """Render a successful (or any) OCS result for ``request``'s version and format."""
    return render_ocs(request_version(request), request_format(request), http_status, message, data)


def ocs_error(request: Request, status: int, message: str = "", data: Any = None) -> Response:
    """Render an OCS error result in ``request``'s version and format."""
    return render_ocs(request_version(request), request_format(request), status, message, [] if data is None else data)


def ocs_fixed_error(request: Request, status: int, message: str) -> Response:
    """Render the errors Nextcloud sends outside the app framework (996, 997, 998).

    They ignore ``Accept`` and use ``Content-Type: text/xml``.  996 and 998 switch
    to JSON when the query string has ``format=json``; 997 (wrong credentials)
    is always XML and adds ``WWW-Authenticate: Basic`` (``DummyBasic`` for
    ``X-Requested-With: XMLHttpRequest``, so browsers show no login dialog).
    """
    wants_json = status != 997 and request.query_params.get("format") == "json"
    fmt = "json" if wants_json else "xml"
    response = render_ocs(request_version(request), fmt, status, message, [], xml_content_type="text/xml; charset=UTF-8")
    if status == 997:
        response.status_code = 401
        scheme = "DummyBasic" if request.headers.get("x-requested-with") == "XMLHttpRequest" else "Basic"
        response.headers["WWW-Authenticate"] = f'{scheme} realm="Authorisation Required"'
    return response


def _csrf_failed(request: Request) -> Response:
    if "html" in request.headers.get("accept", "").lower():
        return Response("<html><body>CSRF check failed</body></html>", 412, media_type="text/html")
    body = php_json({"message": "CSRF check failed"})
    return Response(body, 412, media_type="application/json; charset=utf-8")


async def _context_or_refusal(
    request: Request, principal: Principal | None, *, needs_user: bool, csrf: bool
) -> OcsContext | Response:
    """Apply the format, login and CSRF rules; return the context or the refusal."""
    params = await request_params(request)
    fmt = request_format(request, params)
    version = request_version(request)
    if fmt not in ("json", "xml"):
        # Nextcloud has no responder for other formats and fails.
        return ocs_fixed_error(request, 996, INTERNAL_ERROR)

    user = principal.user if principal else None
    if needs_user and user is None:
        return render_ocs(version, fmt, 997, NOT_LOGGED_IN, [])
    bearer = principal is not None and principal.kind == "bearer" and not principal.from_session
    if csrf and not bearer and "ocs-apirequest" not in request.headers:
        return _csrf_failed(request)
    return OcsContext(request, get_state(request), version, fmt, user, principal.kind if principal else None, params)


async def _run_endpoint(endpoint: OcsEndpoint, ctx: OcsContext) -> Response:
    request = ctx.request
    try:
        return await endpoint(ctx)
    except OcsError as error:
        return render_ocs(ctx.version, ctx.format, error.status, error.message, error.data)
    except ParameterError as error:
        logger.info("OCS %s %s: %s", request.method, request.url.path, error)
        return ocs_fixed_error(request, 996, INTERNAL_ERROR)
    except Exception:
        logger.exception("OCS endpoint failed: %s %s", request.method, request.url.path)
        return ocs_fixed_error(request, 996, INTERNAL_ERROR)


def wrap_ocs(endpoint: OcsEndpoint, *, needs_user: bool = True, csrf: bool = True) -> Callable[[Request], Awaitable[Response]]:
    """Turn an OCS endpoint into a Starlette endpoint applying the request rules above."""

    async def handle(request: Request) -> Response:
        state = get_state(request)
        try:
            principal = authenticate(request, state, session_cookie=True)
        except WrongCredentials:
            principal = None
            response = ocs_fixed_error(request, 997, "Unauthorised")
        else:
            ctx = await _context_or_refusal(request, principal, needs_user=needs_user, csrf=csrf)
            response = ctx if isinstance(ctx, Response) else await _run_endpoint(endpoint, ctx)
        with state.lock:
            apply_session(state.sessions, request.cookies, response, principal)
        return response

    return handle


def ocs_routes(
    path: str,
    endpoint: OcsEndpoint,
    methods: Sequence[str],
    *,
    needs_user: bool = True,
    csrf: bool = True,
) -> list[BaseRoute]:
    """Return routes for ``/ocs/v1.php{path}`` and ``/ocs/v2.php{path}``.

    ``needs_user=False`` makes the route public (``ctx.user`` may be None);
    ``csrf=False`` drops the ``OCS-APIRequest`` requirement.
    """
    handler = wrap_ocs(endpoint, needs_user=needs_user, csrf=csrf)
    return [Route(f"/ocs/{version}.php{path}", handler, methods=list(methods)) for version in ("v1", "v2")]
