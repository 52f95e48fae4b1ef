"""``presence-bridge check``: test that every configured system is reachable and its credentials work.

Each check returns :class:`CheckResult` lines in plain words: what was checked,
whether it passed, and on failure what to change.  The Nextcloud check reads the
capabilities (server version, ``user_status`` enabled, busy and restore support)
and the read account's own user, which fails with a wrong app password.  The
store check opens the database without changing it and tests the encryption key.

Each chat platform has a check: a function that takes the settings and returns
results, or an empty list when the platform is not configured.
:func:`platform_checks` lists them; the Matrix check is imported there, only when
the file has a ``[matrix]`` table, so a run without Matrix never loads its modules.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..config import Settings
from ..errors import (
    NextcloudError,
    NextcloudForbidden,
    NextcloudNotFound,
    NextcloudProtocolError,
    NextcloudUnauthorized,
    NextcloudUnavailable,
    SecretKeyError,
    StorageError,
)
from ..nextcloud import Credential, NextcloudClient, RetryPolicy, make_http_client
from ..storage import head_revision, open_store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckResult:
    """One line of the report: the system, whether the check passed, and the details or the fix."""

    system: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{'OK  ' if self.ok else 'FAIL'}  {self.system}: {self.detail}"


PlatformCheck = Callable[[Settings], Awaitable[list[CheckResult]]]


def make_reader(settings: Settings, *, retry: RetryPolicy = RetryPolicy()) -> tuple[httpx.AsyncClient, NextcloudClient]:
    """Build the shared HTTP client and the Nextcloud client of the bridge's read account."""
    nextcloud = settings.nextcloud
    http = make_http_client(
        base_url=nextcloud.url,
        verify=nextcloud.tls_verify,
        timeout_connect=nextcloud.timeout_connect,
        timeout_read=nextcloud.timeout_read,
        proxy=nextcloud.proxy,
        user_agent=nextcloud.user_agent,
    )
    credential = Credential(nextcloud.login, nextcloud.app_password.reveal())
    return http, NextcloudClient(http, credential, retry=retry, user_agent=nextcloud.user_agent)


async def check_nextcloud(settings: Settings) -> list[CheckResult]:
    """Read the capabilities and the read account's user; explain a failure in plain words."""
    nextcloud = settings.nextcloud
    http, client = make_reader(settings, retry=RetryPolicy(attempts=1))
    try:
        try:
            capabilities = await client.get_capabilities(refresh=True)
            user = await client.get_user()
        except NextcloudError as exc:
            return [CheckResult("Nextcloud", False, describe_nextcloud_error(settings, exc))]
    finally:
        await http.aclose()

    version = capabilities.version.string
    results = [
        CheckResult(
            "Nextcloud",
            True,
            f"{nextcloud.url} answers (Nextcloud {version}); logged in as {nextcloud.login!r} (user id {user.id!r})",
        )
    ]
    if not capabilities.user_status_enabled:
        results.append(
            CheckResult(
                "Nextcloud",
                False,
                "the user_status app is disabled on this server, so there are no statuses to mirror. "
                "Enable it with: occ app:enable user_status",
            )
        )
        return results

    busy = "supported" if capabilities.busy_allowed else "not supported (needs Nextcloud 28 or newer)"
    restore = "supported" if capabilities.restore else "not supported (restore after a call or meeting is unavailable)"
    emoji = "supported" if capabilities.supports_emoji else "not supported"
    results.append(CheckResult("Nextcloud", True, f"user status: busy {busy}; restore {restore}; emoji {emoji}"))
    return results


def describe_nextcloud_error(settings: Settings, error: NextcloudError) -> str:
    """Turn a failed Nextcloud request into one sentence that names the setting to fix, once."""
    nextcloud = settings.nextcloud
    if isinstance(error, NextcloudUnauthorized):
        return (
            f"Nextcloud at {nextcloud.url} rejected the login {nextcloud.login!r} with the app password from "
            f"{nextcloud.app_password.source}: the password is wrong or was revoked. Create a new app password "
            f"in Nextcloud (Personal settings > Security > Devices & sessions) and "
            f"{_where_to_put(nextcloud.app_password.source)}."
        )
    if error.http_status is not None and error.http_status >= 500:
        return (
            f"Nextcloud at {nextcloud.url} is unavailable (HTTP {error.http_status}). Try again later, "
            "or check the Nextcloud server's log and the proxy in front of it."
        )
    if isinstance(error, NextcloudUnavailable):
        return (
            f"cannot reach Nextcloud at {nextcloud.url} ({_transport_problem(error)}). Check nextcloud.url, "
            "that the server is running, and the proxy, TLS settings and network between this host and the server."
        )
    if isinstance(error, NextcloudForbidden):
        return f"Nextcloud at {nextcloud.url} refused the account {nextcloud.login!r} (HTTP 403): {error}"
    if isinstance(error, NextcloudNotFound | NextcloudProtocolError):
        return (
            f"{nextcloud.url} does not answer like a Nextcloud server: {error}. Check that nextcloud.url is "
            "the base URL of Nextcloud, without /ocs/ or /index.php."
        )
    return f"Nextcloud at {nextcloud.url} failed: {error}"


def _where_to_put(source: str) -> str:
    """Return where the operator puts a new app password, given the ``Secret.source`` of the current one."""
    if source.startswith("environment variable "):
        return f"set the {source} to it"
    if source.startswith("file "):
        return f"write it to the {source}"
    return "set nextcloud.app_password to it"


def _transport_problem(error: NextcloudError) -> str:
    """Return the reason a request got no answer, in a few words."""
    cause = error.__cause__
    if isinstance(cause, httpx.TimeoutException):
        return "the request timed out"
    if isinstance(cause, httpx.ConnectError):
        return "the connection failed"
    if cause is not None:
        return f"no answer: {type(cause).__name__}"
    return "no answer"


async def check_store(settings: Settings) -> list[CheckResult]:
    """Open the store without upgrading it and check that the encryption key decrypts its data."""
    url = settings.storage.url
    try:
        store = await open_store(url, encryption_keys=settings.storage.encryption_keys, upgrade=False)
    except SecretKeyError as exc:
        return [
            CheckResult(
                "Store",
                False,
                f"the database at {url} opens, but {exc}.",
            )
        ]
    except StorageError as exc:
        if "schema is at revision" in str(exc):
            return [
                CheckResult(
                    "Store",
                    True,
                    f"the database at {url} answers but its schema is not at {head_revision()} yet; "
                    "`presence-bridge run` creates or upgrades it on start",
                )
            ]
        return [CheckResult("Store", False, f"cannot open the database at {url}: {exc}")]
    await store.close()
    return [CheckResult("Store", True, f"{url} opens, its schema is current, and the encryption key is right")]


async def check_recording(settings: Settings) -> list[CheckResult]:
    """Check that the recording platform's file can be appended to."""
    recording = settings.recording
    if not recording.enabled or recording.path is None:
        return []
    path: Path = recording.path
    folder = path.parent
    if path.exists():
        writable = os.access(path, os.W_OK)
    else:
        writable = folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)
    if not writable:
        return [
            CheckResult(
                "Recording platform",
                False,
                f"cannot write to {path}; create the folder {folder} or give this user write access to it",
            )
        ]
    return [CheckResult("Recording platform", True, f"writes are appended to {path}")]


def platform_checks(settings: Settings) -> list[PlatformCheck]:
    """Return the checks of the chat platforms configured in ``settings``, in report order."""
    checks: list[PlatformCheck] = [check_recording]
    if settings.matrix is not None:
        from ..matrix.checks import check_matrix

        checks.append(check_matrix)
    return checks


async def run_checks(settings: Settings) -> list[CheckResult]:
    """Run every check in order: Nextcloud, the store, then each chat platform."""
    results = await check_nextcloud(settings)
    results += await check_store(settings)
    for platform_check in platform_checks(settings):
        results += await platform_check(settings)
    return results
