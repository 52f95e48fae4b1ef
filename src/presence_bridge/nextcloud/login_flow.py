"""Nextcloud Login Flow v2: how a user grants the bridge an app password from a browser.

1. :meth:`LoginFlow.start` sends ``POST /index.php/login/v2``.  Nextcloud names
   the new app password after the request's User-Agent.
2. The user opens ``login_url`` and logs in.
3. :meth:`LoginFlow.poll` sends the poll token to ``poll_endpoint``.  Until the
   user grants access Nextcloud responds 404 with ``[]`` (raised as
   :class:`LoginFlowPending`).  After the grant it returns the server address,
   the login name and the app password exactly once, because it deletes the
   flow on that response.  So a poll is never retried automatically.
4. Tokens expire 20 minutes after the start; later polls keep getting 404.

These are plain JSON endpoints, not OCS.  Nextcloud's URLs in the start response
are absolute and are used as given.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx

from presence_bridge.errors import (
    LoginFlowError,
    LoginFlowPending,
    NextcloudError,
    NextcloudNotFound,
    NextcloudUnavailable,
)
from presence_bridge.nextcloud.account_models import LoginFlowCredentials, LoginFlowStart
from presence_bridge.nextcloud.ocs import ApiRequest, parse_response
from presence_bridge.nextcloud.transport import DEFAULT_USER_AGENT, build_http_request, send
from presence_bridge.nextcloud.validation import validate_path_segment

T = TypeVar("T")

LOGIN_FLOW_LIFETIME = 1200.0
"""Seconds from the start until Nextcloud deletes the flow."""

DEFAULT_POLL_INTERVAL = 5.0


def _text(data: Any, *keys: str) -> str:
    value = data
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, str) or not value:
        raise LoginFlowError(f"Nextcloud's login flow response has no {'.'.join(keys)}: {data!r}")
    return value


def _parse_start(data: Any) -> LoginFlowStart:
    return LoginFlowStart(
        login_url=_text(data, "login"),
        poll_endpoint=_text(data, "poll", "endpoint"),
        poll_token=_text(data, "poll", "token"),
    )


def _parse_credentials(data: Any) -> LoginFlowCredentials:
    return LoginFlowCredentials(
        server=_text(data, "server"),
        login_name=_text(data, "loginName"),
        app_password=_text(data, "appPassword"),
    )


def start_request() -> ApiRequest[LoginFlowStart]:
    return ApiRequest(
        "POST",
        "/index.php/login/v2",
        action="start a login flow",
        parse=_parse_start,
        idempotent=False,
        authenticated=False,
        ocs=False,
    )


def poll_request(start: LoginFlowStart) -> ApiRequest[LoginFlowCredentials]:
    # Without a token Nextcloud responds 500 with an HTML page.
    token = validate_path_segment(start.poll_token, "the poll token")
    return ApiRequest(
        "POST",
        start.poll_endpoint,
        action="poll the login flow",
        parse=_parse_credentials,
        form={"token": token},
        idempotent=False,
        authenticated=False,
        ocs=False,
    )


class LoginFlow:
    """Runs Login Flow v2 over the shared ``httpx.AsyncClient`` (no credential, no cookies)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._user_agent = user_agent
        self._sleep = sleep
        self._clock = clock

    async def _execute(self, request: ApiRequest[T]) -> T:
        headers = {"Accept": "application/json", "User-Agent": self._user_agent}
        http_request = build_http_request(self._http, request, headers=headers, cookies=None)
        response = await send(self._http, http_request, actor="anonymous")
        content_type = response.headers.get("Content-Type", "")
        return parse_response(request, response.status_code, content_type, response.content)

    async def start(self) -> LoginFlowStart:
        """Start a flow; show ``login_url`` to the user, then poll."""
        try:
            return await self._execute(start_request())
        except (NextcloudUnavailable, LoginFlowError):
            raise
        except NextcloudError as error:
            raise LoginFlowError(f"Nextcloud did not start a login flow: {error}") from error

    async def poll(self, start: LoginFlowStart) -> LoginFlowCredentials:
        """Poll once: the credentials, or :class:`LoginFlowPending` while access is not granted."""
        try:
            return await self._execute(poll_request(start))
        except NextcloudNotFound as error:
            raise LoginFlowPending(
                "the login flow is not granted yet (or it expired 20 minutes after the start)",
                http_status=error.http_status,
            ) from error
        except (NextcloudUnavailable, LoginFlowError):
            raise
        except NextcloudError as error:
            raise LoginFlowError(f"polling the login flow failed: {error}") from error

    async def wait(
        self,
        start: LoginFlowStart,
        *,
        interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = LOGIN_FLOW_LIFETIME,
    ) -> LoginFlowCredentials:
        """Poll every ``interval`` seconds until granted; :class:`LoginFlowError` after ``timeout`` seconds.

        A transport error during a poll is raised, not retried: the caller
        decides, because the grant may already have been consumed by a lost response.
        """
        deadline = self._clock() + timeout
        while True:
            try:
                return await self.poll(start)
            except LoginFlowPending:
                if self._clock() + interval > deadline:
                    raise LoginFlowError(
                        f"the user did not grant access within {timeout:.0f} s; start a new login flow"
                    ) from None
            await self._sleep(interval)
