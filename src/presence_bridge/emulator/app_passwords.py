"""App-password endpoints of Nextcloud 31's core: create, rotate and revoke.

* ``GET /core/getapppassword`` turns a login made with the account password into
  a new 72-character app password.  A caller already using an app password (Basic
  or Bearer) gets 403, because the session has no account password to convert.
* ``POST /core/apppassword/rotate`` replaces the app password in use with a new one.
* ``DELETE /core/apppassword`` revokes the app password in use.

Rotate and revoke return 403 "no app password in use" to a caller who logged in
with the account password.
"""

from __future__ import annotations

import logging

from starlette.responses import Response
from starlette.routing import BaseRoute

from presence_bridge.emulator.auth import basic_credentials
from presence_bridge.emulator.ocs import OcsContext, OcsError, ocs_routes

logger = logging.getLogger(__name__)

APP_PASSWORD_FROM_APP_PASSWORD = "You cannot request an new apppassword with an apppassword"
NO_APP_PASSWORD = "no app password in use"


def _app_password_in_use(ctx: OcsContext) -> str:
    """Return the app password the request authenticated with; raise 403 without one."""
    if ctx.auth_kind == "bearer":
        return ctx.request.headers["authorization"][7:].strip()
    credentials = basic_credentials(ctx.request)
    if ctx.auth_kind != "app_password" or credentials is None:
        raise OcsError(403, NO_APP_PASSWORD)
    return credentials[1]


async def get_app_password(ctx: OcsContext) -> Response:
    if ctx.auth_kind != "login_password":
        raise OcsError(403, APP_PASSWORD_FROM_APP_PASSWORD)
    with ctx.state.lock:
        token = ctx.state.accounts.create_app_password(ctx.user_id)
    logger.info("issued an app password for %s through getapppassword", ctx.user_id)
    return ctx.respond({"apppassword": token})


async def rotate_app_password(ctx: OcsContext) -> Response:
    old = _app_password_in_use(ctx)
    with ctx.state.lock:
        ctx.state.accounts.revoke_app_password(old)
        token = ctx.state.accounts.create_app_password(ctx.user_id)
    logger.info("rotated an app password of %s", ctx.user_id)
    return ctx.respond({"apppassword": token})


async def delete_app_password(ctx: OcsContext) -> Response:
    token = _app_password_in_use(ctx)
    with ctx.state.lock:
        ctx.state.accounts.revoke_app_password(token)
    logger.info("revoked an app password of %s", ctx.user_id)
    return ctx.respond([])


def app_password_routes() -> list[BaseRoute]:
    """Routes of this module; :mod:`presence_bridge.emulator.server_info` serves them."""
    return [
        *ocs_routes("/core/getapppassword", get_app_password, ["GET"]),
        *ocs_routes("/core/apppassword/rotate", rotate_app_password, ["POST"]),
        *ocs_routes("/core/apppassword", delete_app_password, ["DELETE"]),
    ]
