"""Async client for the homeserver's client-server API, acting for users as an appservice.

Every request carries the registration's ``as_token`` and, to act for a user,
``?user_id=@user:server`` (masquerading).  The user must exist and match the
registration's user namespace.  With ``rate_limited: false`` in the registration,
Synapse 1.163 exempts these requests from its rate limits.

Presence facts this client relies on, checked against Synapse 1.163.2:

- ``PUT /presence/{userId}/status`` replaces ``status_msg``, and a body without it
  clears the message, so every write sends the message again.
- Presence is kept per device and the user shows the highest of busy > online >
  unavailable > offline.  A write without ``device_id`` counts as device "none".
- A sync never lowers ``org.matrix.msc3026.busy``: a device that syncs while the user
  is busy is stored busy too.  :meth:`AppserviceClient.clear_busy` therefore writes
  every device.
- ``/versions`` lists ``org.matrix.msc3026.busy_presence: true`` under
  ``unstable_features`` when busy is accepted; otherwise a busy write gets 400.

A 429 raises :class:`~presence_bridge.errors.MatrixRateLimited` with the wait the
server asked for.  The client never sleeps or retries: the outbox dispatcher
decides when to try again, so one user's 429 never holds up another user's write.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from presence_bridge.core.status import MatrixPresence
from presence_bridge.errors import (
    MatrixError,
    MatrixForbidden,
    MatrixProtocolError,
    MatrixRateLimited,
    MatrixRequestRejected,
    MatrixUnauthorized,
    MatrixUnavailable,
)
from presence_bridge.matrix.presence_events import BUSY_STATE, presence_from_content
from presence_bridge.secret import Secret
from presence_bridge.sync.platform import PermanentFailure, TransientFailure

logger = logging.getLogger(__name__)

CLIENT_PREFIX = "/_matrix/client/v3"
BUSY_FEATURE = "org.matrix.msc3026.busy_presence"
"""The ``/versions`` unstable feature that advertises MSC3026 busy presence."""
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
CLEAR_BUSY_PASSES = 3
"""Passes of :meth:`AppserviceClient.clear_busy` before it gives up for now."""


@dataclass(frozen=True)
class PresenceState:
    """A user's presence as ``GET /presence/{userId}/status`` returns it.

    ``state`` is the raw value (``org.matrix.msc3026.busy`` for busy);
    ``last_active_ago`` is in milliseconds.
    """

    state: str
    status_msg: str | None
    last_active_ago: int | None
    currently_active: bool | None

    def as_presence(self) -> MatrixPresence:
        """Return the state as the core model; busy falls back to ``unavailable``."""
        presence = presence_from_content({"presence": self.state, "status_msg": self.status_msg})
        if presence is None:
            raise MatrixProtocolError(f"unknown presence state {self.state!r}")
        return presence


def presence_state(presence: MatrixPresence, *, busy_supported: bool) -> str:
    """Return the ``presence`` value to send: busy where the server accepts it, else the fallback."""
    if presence.busy and busy_supported:
        return BUSY_STATE
    return presence.presence.value


class AppserviceClient:
    """Talks to one homeserver with one appservice ``as_token``."""

    def __init__(
        self,
        homeserver_url: str,
        as_token: Secret | str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        token = as_token.reveal() if isinstance(as_token, Secret) else as_token
        self._auth = {"Authorization": f"Bearer {token}"}
        self._http = httpx.AsyncClient(base_url=homeserver_url.rstrip("/"), timeout=timeout, transport=transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AppserviceClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        user_id: str | None = None,
        device_id: str | None = None,
        json: Any = None,
        authenticated: bool = True,
    ) -> Any:
        params = {}
        if user_id is not None:
            params["user_id"] = user_id
        if device_id is not None:
            params["device_id"] = device_id
        request_label = f"{method} {path}" + (f" as {user_id}" if user_id else "")
        try:
            headers = self._auth if authenticated else None
            response = await self._http.request(method, path, params=params, json=json, headers=headers)
        except httpx.TimeoutException as exc:
            raise MatrixUnavailable(f"{request_label} timed out: {exc!r}", retryable=True) from exc
        except httpx.TransportError as exc:
            raise MatrixUnavailable(f"{request_label} failed: the homeserver could not be reached ({exc!r})", retryable=True) from exc
        if response.status_code >= 400:
            raise _error_for(response, request_label)
        try:
            return response.json()
        except ValueError as exc:
            raise MatrixProtocolError(f"{request_label}: the response is not JSON", http_status=response.status_code) from exc

    async def versions(self) -> dict[str, Any]:
        """Return the homeserver's ``/_matrix/client/versions`` document, read without a token.

        Synapse 1.163 rejects an unknown token even on this public endpoint.
        """
        body = await self._request("GET", "/_matrix/client/versions", authenticated=False)
        if not isinstance(body, dict):
            raise MatrixProtocolError("GET /_matrix/client/versions: the response is not a JSON object")
        return body

    async def supports_busy(self) -> bool:
        """Return True when ``/versions`` advertises MSC3026 busy presence."""
        features = (await self.versions()).get("unstable_features")
        return isinstance(features, dict) and features.get(BUSY_FEATURE) is True

    async def ping(self, appservice_id: str, transaction_id: str | None = None) -> float:
        """Ask the homeserver to call the bridge's ``/ping`` endpoint; return the round trip it measured, in ms.

        Synapse 1.163 returns 200 only when its own request to the bridge's
        registration ``url`` got a 200.  It then also retries at once the
        transactions it holds back for the bridge after earlier failures, instead
        of waiting out its backoff, which grows to 512 s.  A homeserver without
        the ping endpoint (before Matrix 1.7) returns 404 ``M_UNRECOGNIZED``.
        """
        body = {} if transaction_id is None else {"transaction_id": transaction_id}
        path = f"/_matrix/client/v1/appservice/{quote(appservice_id, safe='')}/ping"
        result = await self._request("POST", path, json=body)
        duration = result.get("duration_ms") if isinstance(result, dict) else None
        if not isinstance(duration, int | float) or isinstance(duration, bool):
            raise MatrixProtocolError(f"POST {path}: the response has no duration_ms")
        return float(duration)

    async def whoami(self, user_id: str | None = None) -> str:
        """Return the user the token acts as: the appservice's sender, or ``user_id`` when given.

        A wrong ``as_token`` raises :class:`MatrixUnauthorized`; a ``user_id``
        outside the namespace or unknown to the server raises :class:`MatrixForbidden`.
        """
        body = await self._request("GET", f"{CLIENT_PREFIX}/account/whoami", user_id=user_id)
        if not isinstance(body, dict) or not isinstance(body.get("user_id"), str):
            raise MatrixProtocolError("GET /account/whoami: the response has no user_id")
        return str(body["user_id"])

    async def set_presence(
        self, user_id: str, state: str, status_msg: str | None, *, device_id: str | None = None
    ) -> None:
        """Set ``user_id``'s presence and status message; None clears the message.

        Without ``device_id`` the write is for device "none"; with it, for that
        existing device of the user.
        """
        body: dict[str, str] = {"presence": state}
        if status_msg:
            body["status_msg"] = status_msg
        await self._request(
            "PUT", f"{CLIENT_PREFIX}/presence/{quote(user_id, safe='')}/status", user_id=user_id, device_id=device_id, json=body
        )
        logger.debug("Set presence of %s%s to %s", user_id, f" device {device_id}" if device_id else "", state)

    async def get_presence(self, user_id: str) -> PresenceState:
        """Return ``user_id``'s presence, read as that user (users may always read their own)."""
        body = await self._request("GET", f"{CLIENT_PREFIX}/presence/{quote(user_id, safe='')}/status", user_id=user_id)
        if not isinstance(body, dict) or not isinstance(body.get("presence"), str):
            raise MatrixProtocolError(f"GET presence of {user_id}: the response has no presence")
        status_msg = body.get("status_msg")
        last_active_ago = body.get("last_active_ago")
        currently_active = body.get("currently_active")
        return PresenceState(
            state=body["presence"],
            status_msg=status_msg if isinstance(status_msg, str) and status_msg else None,
            last_active_ago=last_active_ago if isinstance(last_active_ago, int) else None,
            currently_active=currently_active if isinstance(currently_active, bool) else None,
        )

    async def device_ids(self, user_id: str) -> list[str]:
        """Return the ids of every device (session) of ``user_id``."""
        body = await self._request("GET", f"{CLIENT_PREFIX}/devices", user_id=user_id)
        devices = body.get("devices") if isinstance(body, dict) else None
        if not isinstance(devices, list):
            raise MatrixProtocolError(f"GET devices of {user_id}: the response has no device list")
        return [device["device_id"] for device in devices if isinstance(device, dict) and "device_id" in device]

    async def clear_busy(self, user_id: str, state: str, status_msg: str | None) -> None:
        """End MSC3026 busy for ``user_id`` and show ``state`` with ``status_msg``.

        Synapse 1.163 stores any device that syncs while the user as a whole is busy
        as busy, and keeps the user busy while one device is.  So each pass writes
        ``state`` for device "none" (the bridge's own), then ``offline`` for every
        device of the user, which a syncing client raises again at its next sync.  A
        device that synced during the pass, while another was still busy, is busy
        again, so the pass repeats until the user is no longer busy.

        Raises :class:`MatrixUnavailable` (retryable) when the user is still busy
        after ``CLEAR_BUSY_PASSES`` passes.
        """
        for _ in range(CLEAR_BUSY_PASSES):
            await self.set_presence(user_id, state, status_msg)
            for device_id in await self.device_ids(user_id):
                await self.set_presence(user_id, "offline", status_msg, device_id=device_id)
            if (await self.get_presence(user_id)).state != BUSY_STATE:
                return
        raise MatrixUnavailable(
            f"busy presence of {user_id} could not be cleared in {CLEAR_BUSY_PASSES} passes: "
            "its devices kept syncing while busy. Retry later.",
            retryable=True,
        )

def _error_for(response: httpx.Response, request_label: str) -> MatrixError:
    """Build the typed error for a 4xx or 5xx response."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    errcode = body.get("errcode") if isinstance(body.get("errcode"), str) else None
    server_message = body.get("error") if isinstance(body.get("error"), str) else None
    message = f"{request_label} failed with HTTP {status}" + (f" {errcode}" if errcode else "")
    message += f": {server_message}" if server_message else ""
    details: dict[str, Any] = {"http_status": status, "errcode": errcode, "server_message": server_message}
    if status == 429:
        retry_after = _retry_after(response, body)
        return MatrixRateLimited(message, retry_after=retry_after, **details)
    if status >= 500:
        return MatrixUnavailable(message, retryable=True, **details)
    if status == 401:
        return MatrixUnauthorized(message + ". Check the as_token against the registration file", **details)
    if status == 403:
        return MatrixForbidden(message, **details)
    return MatrixRequestRejected(message, **details)


def _retry_after(response: httpx.Response, body: dict[str, Any]) -> float | None:
    """Return the wait in seconds from ``retry_after_ms`` or the Retry-After header."""
    milliseconds = body.get("retry_after_ms")
    if isinstance(milliseconds, int | float) and not isinstance(milliseconds, bool) and milliseconds >= 0:
        return milliseconds / 1000
    header = response.headers.get("retry-after", "")
    if header.isdigit():
        return float(header)
    return None


def failure_for(error: MatrixError) -> TransientFailure | PermanentFailure:
    """Return the outbox result for a failed write: retry where the server may accept it later."""
    if isinstance(error, MatrixRateLimited):
        return TransientFailure(str(error), retry_after=error.retry_after)
    if error.retryable:
        return TransientFailure(str(error))
    return PermanentFailure(str(error))
