"""The async Nextcloud client of one credential, over a shared ``httpx.AsyncClient``.

One :class:`NextcloudClient` per credential: it keeps that credential's cookie
jar, so Nextcloud's session cookie is reused between its requests (saving the
server a login and a session file per request) and never sent with another
user's credential.  Many clients share one ``httpx.AsyncClient`` and so one
connection pool (build it with :func:`~presence_bridge.nextcloud.transport.make_http_client`).

Failures are raised as the typed errors of :mod:`presence_bridge.errors`.
Idempotent calls are retried on 502, 503, 504 and transport errors with capped
exponential backoff.  Nothing else is retried: not a 4xx, and not a 500, which
Nextcloud returns for malformed requests that the local checks are there to
prevent.  After a 401 the client stops using its credential (see
:meth:`NextcloudClient.reset_credential`), because every further failed login
makes Nextcloud's brute-force protection slow down all requests from the
bridge's address, by up to 25 s each.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx

from presence_bridge.errors import (
    NextcloudError,
    NextcloudServerError,
    NextcloudUnauthorized,
    NextcloudUnavailable,
)
from presence_bridge.nextcloud import endpoints
from presence_bridge.nextcloud.account_models import Credential, Sharee, UserDetails
from presence_bridge.nextcloud.models import Capabilities, PredefinedStatus, PrivateStatus, PublicStatus
from presence_bridge.nextcloud.ocs import RETRYABLE_HTTP_STATUSES, ApiRequest, parse_response
from presence_bridge.nextcloud.transport import DEFAULT_USER_AGENT, basic_authorization, build_http_request, send

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry: ``attempts`` counts the first try; delays are in seconds."""

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ValueError(f"invalid retry policy {self!r}: need attempts >= 1 and 0 <= base_delay <= max_delay")

    def delay(self, retry_number: int) -> float:
        """Return the wait before retry ``retry_number`` (1 for the first retry)."""
        return min(self.max_delay, self.base_delay * float(2 ** (retry_number - 1)))


def _is_retryable(error: NextcloudError) -> bool:
    """Decide whether to retry: yes for a transport error, a timeout or HTTP 502, 503 or 504, never for a 4xx or a 500."""
    if isinstance(error, NextcloudUnavailable):
        return True
    return isinstance(error, NextcloudServerError) and error.http_status in RETRYABLE_HTTP_STATUSES


class NextcloudClient:
    """Every Nextcloud call the bridge makes, as one credential.

    ``capabilities`` may be passed in when already known, because one read
    serves all clients of a server.  Otherwise the client reads it on first
    need: to check ``busy``, an icon, or a message id outside Nextcloud 31's set.
    ``clock`` returns Unix seconds and is compared with ``clearAt``.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        credential: Credential,
        *,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        user_agent: str = DEFAULT_USER_AGENT,
        capabilities: Capabilities | None = None,
    ) -> None:
        self._http = http
        self._credential = credential
        self._retry = retry
        self._sleep = sleep
        self._clock = clock
        self._user_agent = user_agent
        self._cookies = httpx.Cookies()
        self._rejected: NextcloudUnauthorized | None = None
        self._listed_message_ids: frozenset[str] = frozenset()
        self._user: UserDetails | None = None
        self.capabilities = capabilities
        self.requests_sent = 0

    @property
    def login_name(self) -> str:
        return self._credential.login_name

    @property
    def cookies(self) -> httpx.Cookies:
        """This credential's cookie jar (Nextcloud's session cookie among them)."""
        return self._cookies

    @property
    def credential_rejected(self) -> bool:
        """Whether a 401 (or a revoke) has stopped this client from sending requests."""
        return self._rejected is not None

    def reset_credential(self) -> None:
        """Allow requests with the current credential again, e.g. after an admin fixed the account."""
        self._rejected = None
        # A new jar, so that responses still in flight fill the old one.
        self._cookies = httpx.Cookies()

    def replace_credential(self, credential: Credential) -> None:
        """Switch to a new credential with an empty cookie jar, so no old session is reused."""
        self._credential = credential
        self._user = None
        self.reset_credential()

    async def execute(self, request: ApiRequest[T]) -> T:
        """Send ``request`` as this credential, with retries, and return its parsed result."""
        if self._rejected is not None:
            raise NextcloudUnauthorized(
                f"not sending the request to {request.action}: Nextcloud rejected the credential of "
                f"{self.login_name} earlier ({self._rejected}); another failed login would slow down "
                "every request from this address, so replace the credential or reset it first",
                http_status=self._rejected.http_status,
                ocs_status=self._rejected.ocs_status,
            )
        retries = 0
        while True:
            try:
                return await self._send_once(request)
            except NextcloudError as error:
                if not (_is_retryable(error) and request.idempotent and retries + 1 < self._retry.attempts):
                    raise
                retries += 1
                delay = self._retry.delay(retries)
                logger.warning(
                    "retrying %s %s for %s in %.2f s (retry %d of %d): %s",
                    request.method,
                    request.path,
                    self.login_name,
                    delay,
                    retries,
                    self._retry.attempts - 1,
                    error,
                )
                await self._sleep(delay)

    async def _send_once(self, request: ApiRequest[T]) -> T:
        # The credential may be replaced while this request is in flight: its
        # response then touches neither the new jar nor the new credential's state.
        credential = self._credential
        cookies = self._cookies
        headers = {
            "OCS-APIRequest": "true",
            "Accept": "application/json",
            "User-Agent": self._user_agent,
            "Authorization": basic_authorization(credential.login_name, credential.app_password),
        }
        http_request = build_http_request(self._http, request, headers=headers, cookies=cookies)
        self.requests_sent += 1
        response = await send(self._http, http_request, actor=credential.login_name)
        cookies.extract_cookies(response)
        try:
            return parse_response(
                request, response.status_code, response.headers.get("Content-Type", ""), response.content
            )
        except NextcloudUnauthorized as error:
            cookies.clear()
            if self._credential is credential:
                self._rejected = error
            logger.error(
                "Nextcloud rejected the credential of %s; no more requests with it: %s", credential.login_name, error
            )
            raise

    def _now(self) -> int:
        return int(self._clock())

    async def _known_capabilities(self) -> Capabilities:
        if self.capabilities is None:
            self.capabilities = await self.execute(endpoints.get_capabilities())
        return self.capabilities

    async def get_capabilities(self, *, refresh: bool = False) -> Capabilities:
        """Read the server version and user_status capability (cached unless ``refresh``)."""
        if refresh:
            self.capabilities = None
        return await self._known_capabilities()

    async def get_own_status(self) -> PrivateStatus:
        """Read the account's own status; :class:`NextcloudNotFound` when it has none yet."""
        return await self.execute(endpoints.get_own_status())

    async def set_status(self, status: str) -> PrivateStatus:
        busy_allowed = True
        if status == "busy":
            busy_allowed = (await self._known_capabilities()).busy_allowed
        return await self.execute(endpoints.set_status(status, busy_allowed=busy_allowed))

    async def set_predefined_message(self, message_id: str, clear_at: int | None = None) -> PrivateStatus:
        """Set a predefined message; Nextcloud's response has null text and icon until the next read."""
        major = self.capabilities.version.major if self.capabilities else None
        known = endpoints.known_message_ids(major, self._listed_message_ids)
        if message_id not in known and self.capabilities is None:
            major = (await self._known_capabilities()).version.major
            known = endpoints.known_message_ids(major, self._listed_message_ids)
        request = endpoints.set_predefined_message(message_id, clear_at, now=self._now(), known_ids=known)
        return await self.execute(request)

    async def set_custom_message(
        self, message: str, icon: str | None = None, clear_at: int | None = None
    ) -> PrivateStatus:
        supports_emoji = True
        if icon:
            supports_emoji = (await self._known_capabilities()).supports_emoji
        request = endpoints.set_custom_message(message, icon, clear_at, now=self._now(), supports_emoji=supports_emoji)
        return await self.execute(request)

    async def clear_message(self) -> None:
        await self.execute(endpoints.clear_message())

    async def get_predefined_statuses(self) -> tuple[PredefinedStatus, ...]:
        statuses = await self.execute(endpoints.get_predefined_statuses())
        self._listed_message_ids = frozenset(status.id for status in statuses)
        return statuses

    async def get_statuses_page(self, limit: int, offset: int = 0) -> tuple[PublicStatus, ...]:
        """Read one ``/statuses`` page as Nextcloud sends it, backup rows included.

        Use :mod:`presence_bridge.nextcloud.paging` to read the whole list.
        """
        return await self.execute(endpoints.get_statuses_page(limit, offset))

    async def get_user_status(self, user_id: str) -> PublicStatus:
        """Read one user's public status; :class:`NextcloudNotFound` when the user has none."""
        return await self.execute(endpoints.get_user_status(user_id))

    async def get_backup_status(self, user_id: str) -> PublicStatus:
        """Read the status an automation saved aside; ``user_id`` is given without the ``_``."""
        return await self.execute(endpoints.get_backup_status(user_id))

    async def revert_status(self, message_id: str) -> PrivateStatus | None:
        return await self.execute(endpoints.revert_status(message_id))

    async def heartbeat(self, status: str = "online") -> PrivateStatus | None:
        """Report the account active (``online``) or idle (``away``).

        Returns None when Nextcloud responds 204, which it does while the account
        has a status that heartbeats must not change (a user-set away, dnd, busy
        or invisible, or an automated status).
        """
        return await self.execute(endpoints.heartbeat(status))

    async def revoke_app_password(self) -> None:
        """Revoke this client's app password on the server; the client stops sending afterwards."""
        await self.execute(endpoints.revoke_app_password())
        self._rejected = NextcloudUnauthorized(f"the bridge revoked the app password of {self.login_name}")
        self._cookies = httpx.Cookies()

    async def search_users(self, search: str, *, per_page: int = 10) -> tuple[Sharee, ...]:
        """Find users by id, display name or e-mail; exact matches come first."""
        return await self.execute(endpoints.search_sharees(search, per_page=per_page))

    async def get_group_members(self, group_id: str) -> tuple[str, ...]:
        """List a group's user ids; needs an admin or a subadmin of the group (else :class:`NextcloudForbidden`)."""
        return await self.execute(endpoints.get_group_members(group_id))

    async def get_user(self, *, refresh: bool = False) -> UserDetails:
        """Read the account's own details (cached unless ``refresh``)."""
        if self._user is None or refresh:
            self._user = await self.execute(endpoints.get_user())
        return self._user
