"""The Matrix lines of ``presence-bridge check``.

:func:`check_matrix` has the shape of a platform check of
:mod:`presence_bridge.service.check`: it takes the settings and returns one result
per check, or none when the file has no ``[matrix]`` table.  It checks that the
homeserver returns ``/versions``, that the appservice ``as_token`` is known and
acts as the configured bot, and whether MSC3026 busy presence is available for
the configured ``msc3026`` mode.  :func:`presence_bridge.service.check.platform_checks`
lists it when the file has a ``[matrix]`` table.
"""

from __future__ import annotations

import httpx

from presence_bridge.config import Settings
from presence_bridge.errors import MatrixError, MatrixUnauthorized
from presence_bridge.matrix.appservice_client import BUSY_FEATURE, AppserviceClient
from presence_bridge.matrix.settings import MatrixSettings
from presence_bridge.service.check import CheckResult

SYSTEM = "Matrix"


async def check_matrix(settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> list[CheckResult]:
    """Return the Matrix check results, or an empty list when ``[matrix]`` is absent."""
    matrix = settings.matrix
    if matrix is None:
        return []
    token = matrix.as_token if matrix.as_token is not None else ""
    async with AppserviceClient(matrix.homeserver_url, token, transport=transport) as client:
        try:
            versions = await client.versions()
        except MatrixError as exc:
            return [CheckResult(SYSTEM, False, f"{matrix.homeserver_url} is not usable: {exc}. Check matrix.homeserver_url.")]
        results = [CheckResult(SYSTEM, True, f"{matrix.homeserver_url} serves {_newest(versions)}")]
        results.append(await _check_token(client, matrix))
        results.append(_check_busy(versions, matrix))
    return results


def _newest(versions: dict[str, object]) -> str:
    listed = versions.get("versions")
    if isinstance(listed, list) and listed:
        return f"client-server API up to {listed[-1]}"
    return "no client-server API version"


async def _check_token(client: AppserviceClient, matrix: MatrixSettings) -> CheckResult:
    if not matrix.uses_appservice:
        return CheckResult(
            SYSTEM,
            True,
            "no appservice tokens: the bridge runs as a plain bot and sees only presence of users in rooms with it",
        )
    try:
        user_id = await client.whoami()
    except MatrixUnauthorized:
        return CheckResult(
            SYSTEM,
            False,
            "the homeserver does not accept matrix.as_token. Add the registration file from "
            "`presence-bridge matrix registration` to app_service_config_files and restart the homeserver",
        )
    except MatrixError as exc:
        return CheckResult(SYSTEM, False, f"the appservice whoami check failed: {exc}")
    if user_id != matrix.bot_user_id:
        return CheckResult(
            SYSTEM,
            False,
            f"matrix.as_token acts as {user_id}, expected {matrix.bot_user_id}. "
            "Make matrix.bot_localpart equal sender_localpart of the registration file",
        )
    return CheckResult(SYSTEM, True, f"appservice token accepted; the bot is {user_id}")


def _check_busy(versions: dict[str, object], matrix: MatrixSettings) -> CheckResult:
    features = versions.get("unstable_features")
    advertised = isinstance(features, dict) and features.get(BUSY_FEATURE) is True
    if matrix.msc3026 == "off":
        return CheckResult(SYSTEM, True, "MSC3026 busy is off (matrix.msc3026); DND is shown as unavailable")
    if advertised:
        return CheckResult(SYSTEM, True, "MSC3026 busy presence is available; DND is shown as busy")
    if matrix.msc3026 == "on":
        return CheckResult(
            SYSTEM,
            False,
            f"matrix.msc3026 = on, but the homeserver does not advertise {BUSY_FEATURE}. Set "
            "experimental_features: {msc3026_enabled: true} in Synapse, or matrix.msc3026 = auto",
        )
    return CheckResult(SYSTEM, True, f"the homeserver does not advertise {BUSY_FEATURE}; DND is shown as unavailable")
