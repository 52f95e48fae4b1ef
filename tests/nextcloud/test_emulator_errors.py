"""Typed errors, retries and the failed-credential lock against the emulator over real HTTP.

Failures the emulator does not produce on its own (5xx, dropped connections,
slow responses, empty bodies) come from its fault control API.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
import pytest

from presence_bridge import errors
from presence_bridge.nextcloud import ApiRequest, LoginFlow, NextcloudClient, RetryPolicy, make_http_client
from presence_bridge.nextcloud.account_models import Credential
from presence_bridge.nextcloud.models import PrivateStatus
from presence_bridge.nextcloud.ocs import parse_response
from tests.nextcloud.conftest import Emulator, FastSleep

ClientFor = Callable[..., NextcloudClient]
OWN_STATUS = "/ocs/v2.php/apps/user_status/api/v1/user_status"


async def test_wrong_password_locks_client(client_for: ClientFor) -> None:
    """A 401 (XML from Nextcloud) is raised once; later calls are refused without sending."""
    alice = client_for("alice", "wrong-password")

    with pytest.raises(errors.NextcloudUnauthorized) as first:
        await alice.get_own_status()
    with pytest.raises(errors.NextcloudUnauthorized, match="earlier"):
        await alice.get_user_status("bob")

    assert first.value.http_status == 401
    assert first.value.ocs_status == 997
    assert alice.requests_sent == 1


async def test_replaced_credential_works_again(client_for: ClientFor) -> None:
    alice = client_for("alice", "wrong-password")
    with pytest.raises(errors.NextcloudUnauthorized):
        await alice.get_own_status()

    alice.replace_credential(Credential("alice", "alice-app"))

    assert (await alice.heartbeat("online")) is not None


async def test_unknown_login_is_unauthorized(client_for: ClientFor) -> None:
    with pytest.raises(errors.NextcloudUnauthorized):
        await client_for("mallory").get_own_status()


async def test_server_validation_message(client_for: ClientFor) -> None:
    """A value that slips past local checks gets the server's 400 message."""
    bogus = ApiRequest(
        "PUT", f"{OWN_STATUS}/status", action="set a bogus status", parse=PrivateStatus.from_ocs,
        json={"statusType": "bogus"},
    )
    with pytest.raises(errors.NextcloudValidationError) as raised:
        await client_for("alice").execute(bogus)

    assert raised.value.server_message == 'Status-type "bogus" is not supported'
    assert raised.value.http_status == 400


async def test_local_validation_sends_nothing(client_for: ClientFor) -> None:
    alice = client_for("alice")
    with pytest.raises(errors.NextcloudValidationError):
        await alice.heartbeat("dnd")
    with pytest.raises(errors.NextcloudValidationError):
        await alice.set_custom_message("x" * 81)
    with pytest.raises(errors.NextcloudValidationError):
        await alice.set_status("ONLINE")
    assert alice.requests_sent == 0


async def test_unknown_route_not_found(client_for: ClientFor) -> None:
    """Nextcloud responds to an unknown OCS route with 404 and OCS 998 in XML."""
    nope = ApiRequest("GET", "/ocs/v2.php/apps/nope/api/v1/x", action="call a missing app", parse=lambda data: data)
    with pytest.raises(errors.NextcloudNotFound) as raised:
        await client_for("alice").execute(nope)
    assert raised.value.ocs_status == 998


async def test_missing_ocs_header_is_csrf_error(emulator: Emulator) -> None:
    """Without OCS-APIRequest Nextcloud responds 412, parsed as NextcloudCsrfError."""
    async with httpx.AsyncClient(base_url=emulator.base_url) as raw:
        response = await raw.get(OWN_STATUS, auth=("alice", "alice-app"), headers={"Accept": "application/json"})
    request = ApiRequest("GET", OWN_STATUS, action="read the own status", parse=PrivateStatus.from_ocs)

    with pytest.raises(errors.NextcloudCsrfError):
        parse_response(request, response.status_code, response.headers.get("content-type", ""), response.content)


async def test_500_not_retried(emulator: Emulator, client_for: ClientFor, sleep: FastSleep) -> None:
    emulator.fault(OWN_STATUS, count=5, status=500)
    alice = client_for("alice")

    with pytest.raises(errors.NextcloudServerError) as raised:
        await alice.get_own_status()

    assert raised.value.http_status == 500
    assert alice.requests_sent == 1
    assert sleep.delays == []


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_errors_retried(emulator: Emulator, client_for: ClientFor, sleep: FastSleep, status: int) -> None:
    alice = client_for("alice")
    await alice.heartbeat("online")
    emulator.fault(OWN_STATUS, count=2, status=status)

    own = await alice.get_own_status()

    assert own.user_id == "alice"
    assert alice.requests_sent == 4
    assert sleep.delays == [0.25, 0.5]


async def test_retries_give_up(emulator: Emulator, client_for: ClientFor, sleep: FastSleep) -> None:
    emulator.fault(OWN_STATUS, count=10, status=503)
    alice = client_for("alice", retry=RetryPolicy(attempts=4, base_delay=0.25, max_delay=0.6))

    with pytest.raises(errors.NextcloudServerError) as raised:
        await alice.get_own_status()

    assert raised.value.retryable
    assert alice.requests_sent == 4
    assert sleep.delays == [0.25, 0.5, 0.6]


async def test_write_retried_on_503(emulator: Emulator, client_for: ClientFor) -> None:
    """PUT status is idempotent, so it is retried too."""
    emulator.fault(f"{OWN_STATUS}/status", count=1, status=503)
    alice = client_for("alice")

    assert (await alice.set_status("away")).status == "away"
    assert alice.requests_sent == 2


async def test_non_idempotent_not_retried(emulator: Emulator, client_for: ClientFor) -> None:
    emulator.fault("/ocs/v2.php/core/apppassword", count=3, status=503)
    alice = client_for("alice")

    with pytest.raises(errors.NextcloudServerError):
        await alice.revoke_app_password()
    assert alice.requests_sent == 1


async def test_dropped_connection_retried(emulator: Emulator, client_for: ClientFor) -> None:
    alice = client_for("alice")
    await alice.heartbeat("online")
    emulator.fault(OWN_STATUS, count=1, drop=True)

    assert (await alice.get_own_status()).user_id == "alice"
    assert alice.requests_sent == 3


async def test_dropped_connections_unavailable(emulator: Emulator, client_for: ClientFor) -> None:
    emulator.fault(OWN_STATUS, count=5, drop=True)
    alice = client_for("alice")

    with pytest.raises(errors.NextcloudUnavailable) as raised:
        await alice.get_own_status()

    assert isinstance(raised.value.__cause__, httpx.TransportError)
    assert alice.requests_sent == 3


async def test_slow_response_times_out(emulator: Emulator, sleep: FastSleep) -> None:
    emulator.fault(OWN_STATUS, count=1, delay_s=1.0)
    async with make_http_client(base_url=emulator.base_url, timeout_read=0.2) as http:
        alice = NextcloudClient(http, Credential("alice", "alice-app"), retry=RetryPolicy(attempts=1), sleep=sleep)
        with pytest.raises(errors.NextcloudUnavailable, match="in time") as raised:
            await alice.get_own_status()
    assert isinstance(raised.value.__cause__, httpx.TimeoutException)


async def test_connection_refused_unavailable(sleep: FastSleep) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with make_http_client(base_url=f"http://127.0.0.1:{port}") as http:
        alice = NextcloudClient(http, Credential("alice", "pw"), sleep=sleep)
        with pytest.raises(errors.NextcloudUnavailable, match="could not reach"):
            await alice.get_own_status()
    assert alice.requests_sent == 3


async def test_empty_success_is_protocol_error(emulator: Emulator, client_for: ClientFor) -> None:
    emulator.fault(OWN_STATUS, count=1, status=200)
    with pytest.raises(errors.NextcloudProtocolError, match="empty body"):
        await client_for("alice").get_own_status()


async def test_login_flow_over_http(emulator: Emulator, http: httpx.AsyncClient, sleep: FastSleep) -> None:
    """Start, a pending poll, the grant through the control API, the single successful poll."""
    flow = LoginFlow(http, sleep=sleep)
    start = await flow.start()
    with pytest.raises(errors.LoginFlowPending):
        await flow.poll(start)

    login_token = start.login_url.rsplit("/", 1)[1]
    emulator.call("POST", f"/login-flow/{login_token}/grant", {"user": "bob"})
    credentials = await flow.poll(start)

    assert credentials.login_name == "bob"
    with pytest.raises(errors.LoginFlowPending):
        await flow.poll(start)
    bob = NextcloudClient(http, Credential(credentials.login_name, credentials.app_password))
    assert (await bob.heartbeat("online")) is not None


async def test_revoke_app_password_over_http(emulator: Emulator, client_for: ClientFor) -> None:
    alice = client_for("alice")
    try:
        await alice.revoke_app_password()
    except errors.NextcloudNotFound:
        pytest.skip("the emulator has no DELETE /ocs/v2.php/core/apppassword route yet")

    again = client_for("alice")
    with pytest.raises(errors.NextcloudUnauthorized):
        await again.get_own_status()
