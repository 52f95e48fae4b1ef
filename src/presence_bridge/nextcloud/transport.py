"""The HTTP layer under the Nextcloud client: one shared connection pool, no shared cookies.

:func:`make_http_client` builds the ``httpx.AsyncClient`` that every
:class:`~presence_bridge.nextcloud.client.NextcloudClient` shares.  Its cookie
jar rejects every cookie, because Nextcloud's session cookie belongs to one
credential: each ``NextcloudClient`` keeps its own jar and writes the
``Cookie`` header itself (see :func:`build_http_request`).
"""

from __future__ import annotations

import base64
import http.cookiejar
import logging
import os
import ssl
import time
from collections.abc import Mapping
from typing import Any

import httpx

from presence_bridge import __version__
from presence_bridge.errors import NextcloudProtocolError, NextcloudUnavailable
from presence_bridge.nextcloud.ocs import ApiRequest

logger = logging.getLogger(__name__)

DEFAULT_USER_AGENT = f"presence-bridge/{__version__}"
"""Nextcloud shows the User-Agent as the client name and names login-flow app passwords after it."""

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0
"""Seconds.  A 5000-row ``/statuses`` page takes well under a second on a healthy server,
but Nextcloud's brute-force protection can delay any request from the bridge's address by up to 25 s."""


class RejectAllCookies(http.cookiejar.DefaultCookiePolicy):
    """A cookie policy that stores no cookie and sends none."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: object) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: object) -> bool:
        return False


def _ssl_context(verify: bool | str) -> ssl.SSLContext | bool:
    if not isinstance(verify, str):
        return verify
    if os.path.isdir(verify):
        return ssl.create_default_context(capath=verify)
    if not os.path.isfile(verify):
        raise ValueError(f"the CA bundle {verify!r} does not exist; pass a PEM file or a directory of CA certificates")
    return ssl.create_default_context(cafile=verify)


def make_http_client(
    *,
    base_url: str,
    verify: bool | str = True,
    timeout_connect: float = DEFAULT_CONNECT_TIMEOUT,
    timeout_read: float = DEFAULT_READ_TIMEOUT,
    proxy: str | None = None,
    user_agent: str = DEFAULT_USER_AGENT,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """Build the shared client for one Nextcloud server.

    ``verify`` is True, False, or the path of a CA bundle (file or directory).
    Timeouts are in seconds; the read timeout also bounds writes and waiting for
    a pooled connection.  Proxy settings come only from ``proxy``: environment
    variables such as ``HTTPS_PROXY`` are ignored, so that the configuration
    file is the one place that decides where traffic goes.  ``transport`` is for
    tests (``httpx.MockTransport``).
    """
    return httpx.AsyncClient(
        base_url=base_url,
        verify=_ssl_context(verify),
        timeout=httpx.Timeout(timeout_read, connect=timeout_connect),
        proxy=proxy,
        headers={"User-Agent": user_agent},
        cookies=http.cookiejar.CookieJar(policy=RejectAllCookies()),
        follow_redirects=False,
        trust_env=False,
        transport=transport,
    )


def basic_authorization(login_name: str, password: str) -> str:
    token = base64.b64encode(f"{login_name}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def build_http_request(
    http: httpx.AsyncClient,
    request: ApiRequest[Any],
    *,
    headers: Mapping[str, str],
    cookies: httpx.Cookies | None,
) -> httpx.Request:
    """Build the ``httpx.Request`` for ``request`` with the caller's own cookies only.

    ``build_request`` merges the shared client's cookies; they are dropped here,
    so even a shared client that does keep cookies cannot leak one user's
    session into another user's request.
    """
    built = http.build_request(
        request.method,
        request.path,
        params=request.params or None,
        json=request.json,
        data=dict(request.form) if request.form is not None else None,
        headers=dict(headers),
    )
    built.headers.pop("Cookie", None)
    if cookies is not None:
        cookies.set_cookie_header(built)
    return built


async def send(http: httpx.AsyncClient, request: httpx.Request, *, actor: str) -> httpx.Response:
    """Send one request and read its body; transport failures become :class:`NextcloudUnavailable`.

    ``actor`` names the login name (or "anonymous") in logs; the password and
    the ``Authorization`` header are never logged.
    """
    target = f"{request.method} {request.url.path}"
    started = time.perf_counter()
    try:
        response = await http.send(request)
    except httpx.TimeoutException as error:
        raise NextcloudUnavailable(
            f"Nextcloud did not answer {target} in time ({type(error).__name__}); "
            "check that the server is up, or raise the timeout",
            retryable=True,
        ) from error
    except httpx.TransportError as error:
        raise NextcloudUnavailable(
            f"could not reach Nextcloud for {target}: {error or type(error).__name__}; "
            "check the base URL, the proxy and the TLS settings",
            retryable=True,
        ) from error
    except httpx.DecodingError as error:
        raise NextcloudProtocolError(f"Nextcloud sent an undecodable body to {target}: {error}") from error
    elapsed_ms = (time.perf_counter() - started) * 1000
    logger.debug("%s -> %d in %.1f ms (user %s)", target, response.status_code, elapsed_ms, actor)
    return response
