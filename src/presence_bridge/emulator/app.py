"""Build the ASGI app of the Nextcloud 31.0.6 emulator.

Route modules live in this package and are listed in :data:`ROUTE_MODULES`.
Each provides:

* ``routes() -> list[BaseRoute]``: its public routes (OCS ones via ``ocs.ocs_routes``);
* optionally ``control_routes() -> list[BaseRoute]``: its ``/_emulator/...`` routes,
  mounted only when control is on;
* optionally ``install(state: EmulatorState) -> None``: called once per state (not
  again when a second app serves the same state), e.g. to append to
  ``state.own_status_hooks``.

A listed module that is missing, or imports a missing module of this package,
is skipped with a warning.

Unknown paths under ``/ocs/v1.php/`` and ``/ocs/v2.php/`` return 404 with OCS
code 998 (XML unless ``?format=json``).  As in Nextcloud, wrong credentials
win over this with a 401.  Other unknown paths return a plain HTML 404.  A known
path with the wrong verb returns 405 with an empty body (``text/xml`` for OCS
paths, else ``text/html``).
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

from presence_bridge.emulator import control as control_api
from presence_bridge.emulator import user_status
from presence_bridge.emulator.auth import WrongCredentials, authenticate
from presence_bridge.emulator.faults import FaultMiddleware
from presence_bridge.emulator.ocs import INVALID_QUERY, ocs_fixed_error
from presence_bridge.emulator.state import EmulatorState

logger = logging.getLogger(__name__)

ROUTE_MODULES: tuple[str, ...] = (
    "server_info",
    "directory",
    "login_flow",
    "calendar",
    "out_of_office",
)
"""Modules of this package that add routes next to ``user_status``."""

_NOT_FOUND_HTML = "<!DOCTYPE html>\n<html><head><title>Nextcloud</title></head><body>Page not found</body></html>\n"


def _load_route_modules() -> list[ModuleType]:
    modules = [user_status]
    for name in ROUTE_MODULES:
        qualified = f"{__package__}.{name}"
        try:
            modules.append(importlib.import_module(qualified))
        except ModuleNotFoundError as error:
            if not (error.name or "").startswith(f"{__package__}."):
                raise
            logger.warning("emulator route module %s is not served: %s is missing", qualified, error.name)
    return modules


def _is_ocs_path(path: str) -> bool:
    return path.startswith(("/ocs/v1.php/", "/ocs/v2.php/"))


async def _not_found(request: Request, exc: Exception) -> Response:
    if not _is_ocs_path(request.url.path):
        return Response(_NOT_FOUND_HTML, 404, media_type="text/html; charset=UTF-8")
    try:
        authenticate(request, request.app.state.emulator)
    except WrongCredentials:
        return ocs_fixed_error(request, 997, "Unauthorised")
    return ocs_fixed_error(request, 998, INVALID_QUERY)


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    is_ocs = _is_ocs_path(request.url.path)
    if is_ocs:
        try:
            authenticate(request, request.app.state.emulator)
        except WrongCredentials:
            return ocs_fixed_error(request, 997, "Unauthorised")
    media_type = "text/xml; charset=UTF-8" if is_ocs else "text/html; charset=UTF-8"
    return Response(b"", 405, media_type=media_type)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return await _method_not_allowed(request, exc)
    if exc.status_code == 404:
        return await _not_found(request, exc)
    return Response(b"", exc.status_code, headers=exc.headers)


class EmulatorApp(Starlette):
    """Starlette app whose outermost layer applies injected faults.

    Faults run outside Starlette's own middleware so that dropping a connection
    can reach the server's transport.
    """

    def __init__(self, state: EmulatorState, routes: list[BaseRoute]) -> None:
        super().__init__(
            routes=routes,
            exception_handlers={HTTPException: _http_error},
            # Nextcloud's PHP compresses response bodies for clients that accept gzip.
            middleware=[Middleware(GZipMiddleware, minimum_size=1, compresslevel=6)],
        )
        self.router.redirect_slashes = False
        self.state.emulator = state
        self._faults = FaultMiddleware(super().__call__, state)

    @property
    def emulator(self) -> EmulatorState:
        """The state this app serves."""
        state: EmulatorState = self.state.emulator
        return state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._faults(scope, receive, send)


def create_app(state: EmulatorState | None = None, *, control: bool = False) -> Starlette:
    """Create the emulator app over ``state`` (a fresh one if None).

    ``control=True`` mounts the ``/_emulator/`` control API; never enable it on a
    server that others can reach.
    """
    state = state or EmulatorState()
    modules = _load_route_modules()
    routes: list[BaseRoute] = []
    if control:
        routes.extend(_control_routes(modules))
    for module in modules:
        routes.extend(module.routes())
        install = getattr(module, "install", None)
        if install is not None and module.__name__ not in state.installed_modules:
            install(state)
            state.installed_modules.add(module.__name__)
    return EmulatorApp(state, routes)


def _control_routes(modules: list[ModuleType]) -> list[BaseRoute]:
    routes = control_api.routes()
    for module in modules:
        extra = getattr(module, "control_routes", None)
        if extra is not None:
            routes.extend(extra())
    return routes
