"""NextcloudClient over httpx.MockTransport: headers, cookies, errors, retries and the failed-credential lock."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest

from presence_bridge import errors
from presence_bridge.core.status import NextcloudStatusType
from presence_bridge.nextcloud import Credential, RetryPolicy, make_http_client
from tests.nextcloud.fakes import (
    API,
    BASE_URL,
    Recorder,
    SleepRecorder,
    basic_user,
    capabilities,
    make_client,
    ocs,
    private_status,
    request_json,
)


async def test_request_headers() -> None:
    """Every request carries OCS-APIRequest, JSON Accept, Basic auth and the bridge's User-Agent."""
    recorder = Recorder(lambda request: ocs(private_status()))
    client = make_client(recorder)

    status = await client.get_own_status()

    request = recorder.requests[0]
    assert status.status is NextcloudStatusType.ONLINE
    assert request.url.path == f"{API}/user_status"
    assert request.headers["OCS-APIRequest"] == "true"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("presence-bridge/")
    assert basic_user(request) == "alice"
    assert "Cookie" not in request.headers


async def test_write_bodies_are_json() -> None:
    """Writes send JSON bodies with the field names Nextcloud reads."""
    recorder = Recorder(lambda request: ocs(private_status()))
    client = make_client(recorder, capabilities=None)

    await client.set_status("dnd")
    await client.set_predefined_message("meeting", clear_at=1_800_003_600)
    await client.heartbeat("away")
    await client.clear_message()

    bodies = [(request.method, request.url.path, request_json(request)) for request in recorder.requests]
    assert bodies == [
        ("PUT", f"{API}/user_status/status", {"statusType": "dnd"}),
        ("PUT", f"{API}/user_status/message/predefined", {"messageId": "meeting", "clearAt": 1_800_003_600}),
        ("PUT", f"{API}/heartbeat", {"status": "away"}),
        ("DELETE", f"{API}/user_status/message", None),
    ]


async def test_custom_message_reads_capabilities_once() -> None:
    """An icon needs supports_emoji, read once from the capabilities and then cached."""
    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/cloud/capabilities"):
            return ocs(capabilities())
        return ocs(private_status(message="Focus", icon="🎯"))

    recorder = Recorder(respond)
    client = make_client(recorder)

    await client.set_custom_message("Focus", "🎯", clear_at=1_800_000_000)
    await client.set_custom_message("Focus", "🎯")

    paths = [request.url.path for request in recorder.requests]
    assert paths == ["/ocs/v2.php/cloud/capabilities", f"{API}/user_status/message/custom", f"{API}/user_status/message/custom"]
    assert request_json(recorder.requests[1]) == {"message": "Focus", "clearAt": 1_800_000_000, "statusIcon": "🎯"}


async def test_icon_rejected_without_sending() -> None:
    """A server without emoji support gets no icon request at all."""
    recorder = Recorder(lambda request: ocs(capabilities(supports_emoji=False)))
    client = make_client(recorder)

    with pytest.raises(errors.NextcloudValidationError, match="supports_emoji"):
        await client.set_custom_message("Focus", "🎯")
    assert len(recorder.requests) == 1


def _server_of_version(major: int) -> Callable[[httpx.Request], httpx.Response]:
    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("capabilities"):
            return ocs(capabilities(major))
        return ocs(private_status(status="busy"))

    return respond


async def test_busy_allowed_from_version_28() -> None:
    """busy is checked against the capabilities: 31 without supports_busy allows it, 27 does not."""
    for major, allowed in ((31, True), (27, False)):
        client = make_client(Recorder(_server_of_version(major)))
        if allowed:
            assert (await client.set_status("busy")).status is NextcloudStatusType.BUSY
        else:
            with pytest.raises(errors.NextcloudValidationError, match="busy"):
                await client.set_status("busy")


async def test_unknown_message_id_checks_version() -> None:
    """be-right-back needs Nextcloud 32; the client reads the version before rejecting it."""
    recorder = Recorder(lambda request: ocs(capabilities(31)))
    client = make_client(recorder)

    with pytest.raises(errors.NextcloudValidationError, match="be-right-back"):
        await client.set_predefined_message("be-right-back")
    assert [request.url.path for request in recorder.requests] == ["/ocs/v2.php/cloud/capabilities"]


async def test_clear_at_in_past_rejected_locally() -> None:
    recorder = Recorder(lambda request: ocs(private_status()))
    client = make_client(recorder, now=2_000)

    with pytest.raises(errors.NextcloudValidationError, match="in the past"):
        await client.set_custom_message("Lunch", clear_at=1_999)
    assert recorder.requests == []


async def test_heartbeat_204_returns_none() -> None:
    client = make_client(lambda request: httpx.Response(204))
    assert await client.heartbeat() is None


async def test_session_cookie_kept_per_client() -> None:
    """The client sends back the session cookie Nextcloud set on its earlier response."""
    def respond(request: httpx.Request) -> httpx.Response:
        return ocs(private_status(), headers={"Set-Cookie": "oc_session=abc123; path=/; HttpOnly"})

    recorder = Recorder(respond)
    client = make_client(recorder)

    await client.get_own_status()
    await client.get_own_status()

    assert "Cookie" not in recorder.requests[0].headers
    assert recorder.requests[1].headers["Cookie"] == "oc_session=abc123"
    assert client.cookies["oc_session"] == "abc123"


async def test_cookies_never_cross_credentials() -> None:
    """Two clients on one cookie-keeping httpx client never send each other's session cookie."""
    def respond(request: httpx.Request) -> httpx.Response:
        user = basic_user(request) or "anonymous"
        return ocs(private_status(user), headers={"Set-Cookie": f"oc_session={user}-session; path=/"})

    recorder = Recorder(respond)
    # A plain AsyncClient stores cookies itself; the clients must still keep them apart.
    shared = httpx.AsyncClient(base_url=BASE_URL, transport=httpx.MockTransport(recorder))
    alice = make_client(recorder, login="alice", http=shared)
    bob = make_client(recorder, login="bob", http=shared)

    for _ in range(3):
        await alice.get_own_status()
        await bob.get_own_status()

    for request in recorder.requests:
        cookie = request.headers.get("Cookie")
        assert cookie in (None, f"oc_session={basic_user(request)}-session"), (basic_user(request), cookie)
    assert sum("Cookie" in request.headers for request in recorder.requests) == 4
    assert len(shared.cookies) > 0, "the shared client kept cookies, so the test proves the clients drop them"


async def test_401_locks_credential() -> None:
    """After a 401 the client sends nothing more with that credential until it is reset."""
    responses = [httpx.Response(401, text="<?xml version=\"1.0\"?><ocs><meta><status>failure</status>"
                                        "<statuscode>997</statuscode><message>Unauthorised</message></meta>"
                                        "<data/></ocs>", headers={"Content-Type": "text/xml"})]
    recorder = Recorder(lambda request: responses.pop(0) if responses else ocs(private_status()))
    client = make_client(recorder)

    with pytest.raises(errors.NextcloudUnauthorized, match="app password"):
        await client.get_own_status()
    with pytest.raises(errors.NextcloudUnauthorized, match="rejected the credential of alice earlier"):
        await client.get_user_status("bob")
    assert len(recorder.requests) == 1
    assert client.credential_rejected

    client.reset_credential()
    await client.get_own_status()
    assert len(recorder.requests) == 2


async def test_replace_credential_drops_cookies() -> None:
    recorder = Recorder(lambda request: ocs(private_status(), headers={"Set-Cookie": "oc_session=old; path=/"}))
    client = make_client(recorder)
    await client.get_own_status()

    client.replace_credential(Credential("alice2", "new-password"))
    await client.get_own_status()

    assert "Cookie" not in recorder.requests[1].headers
    assert basic_user(recorder.requests[1]) == "alice2"


async def test_retry_on_503_with_backoff() -> None:
    """An idempotent call is retried on 503 with doubling delays, then succeeds."""
    responses = [httpx.Response(503), httpx.Response(502)]
    recorder = Recorder(lambda request: responses.pop(0) if responses else ocs(private_status()))
    sleep = SleepRecorder()
    client = make_client(recorder, sleep=sleep)

    await client.get_own_status()

    assert len(recorder.requests) == 3
    assert sleep.delays == [0.5, 1.0]


async def test_retry_gives_up_after_attempts() -> None:
    recorder = Recorder(lambda request: httpx.Response(504))
    sleep = SleepRecorder()
    client = make_client(recorder, sleep=sleep, retry=RetryPolicy(attempts=4, base_delay=1.0, max_delay=2.5))

    with pytest.raises(errors.NextcloudServerError) as raised:
        await client.get_user_status("bob")

    assert raised.value.http_status == 504
    assert raised.value.retryable
    assert len(recorder.requests) == 4
    assert sleep.delays == [1.0, 2.0, 2.5]


@pytest.mark.parametrize("status", [500, 400, 403, 404, 412, 429])
async def test_no_retry_on_4xx_or_500(status: int) -> None:
    recorder = Recorder(lambda request: ocs([], status=status, message="nope"))
    client = make_client(recorder)

    with pytest.raises(errors.NextcloudError):
        await client.get_own_status()
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    ("status", "wording"),
    [(503, "Nextcloud was unavailable for the request"), (500, "Nextcloud was unavailable for the request"),
     (400, "Nextcloud rejected the request")],
)
async def test_error_wording_by_status_class(status: int, wording: str) -> None:
    client = make_client(Recorder(lambda request: httpx.Response(status)), retry=RetryPolicy(attempts=1))

    with pytest.raises(errors.NextcloudError) as raised:
        await client.get_own_status()

    assert str(raised.value).startswith(wording)
    assert f"(HTTP {status})" in str(raised.value)


async def test_no_retry_for_non_idempotent_call() -> None:
    """Revoking the app password is not repeated after a 503."""
    recorder = Recorder(lambda request: httpx.Response(503))
    client = make_client(recorder)

    with pytest.raises(errors.NextcloudServerError):
        await client.revoke_app_password()
    assert len(recorder.requests) == 1


async def test_transport_error_retried_then_unavailable() -> None:
    """Connection failures are retried and then raised as NextcloudUnavailable chained to httpx's error."""
    def refuse_connection(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    recorder = Recorder(refuse_connection)
    client = make_client(recorder)

    with pytest.raises(errors.NextcloudUnavailable) as raised:
        await client.get_own_status()
    assert isinstance(raised.value.__cause__, httpx.ConnectError)
    assert len(recorder.requests) == 3


async def test_timeout_is_unavailable() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    client = make_client(slow, retry=RetryPolicy(attempts=1))
    with pytest.raises(errors.NextcloudUnavailable, match="in time") as raised:
        await client.get_own_status()
    assert isinstance(raised.value.__cause__, httpx.ReadTimeout)


async def test_revoke_locks_client() -> None:
    recorder = Recorder(lambda request: ocs([]))
    client = make_client(recorder)

    await client.revoke_app_password()

    assert recorder.requests[0].method == "DELETE"
    assert recorder.requests[0].url.path == "/ocs/v2.php/core/apppassword"
    with pytest.raises(errors.NextcloudUnauthorized, match="revoked"):
        await client.get_own_status()


async def test_group_forbidden_message() -> None:
    recorder = Recorder(lambda request: ocs([], status=403, message="Logged in account must be at least a sub admin"))
    client = make_client(recorder)

    with pytest.raises(errors.NextcloudForbidden, match="may not read group team-a"):
        await client.get_group_members("team-a")


async def test_path_segments_are_encoded() -> None:
    recorder = Recorder(lambda request: ocs({"users": []}))
    client = make_client(recorder)

    await client.get_group_members("Sales & Marketing")

    assert recorder.requests[0].url.raw_path == b"/ocs/v2.php/cloud/groups/Sales%20%26%20Marketing/users"


async def test_sharee_search_parameters() -> None:
    recorder = Recorder(lambda request: ocs({"exact": {"users": []}, "users": []}))
    client = make_client(recorder)

    assert await client.search_users("  Bob Test ") == ()

    params = recorder.requests[0].url.params
    assert params["search"] == "Bob Test"
    assert params["itemType"] == "file"
    assert params["shareType[]"] == "0"


async def test_debug_log_has_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    """The DEBUG line names method, path, status, time and user, never the password."""
    responses = [httpx.Response(503)]
    client = make_client(lambda request: responses.pop(0) if responses else ocs(private_status()))

    with caplog.at_level(logging.DEBUG, logger="presence_bridge.nextcloud"):
        await client.get_own_status()

    text = caplog.text
    assert "GET /ocs/v2.php/apps/user_status/api/v1/user_status -> 200" in text
    assert "(user alice)" in text
    assert "alice-app-password" not in text
    assert "Basic " not in text
    assert [record.levelname for record in caplog.records if "retrying" in record.getMessage()] == ["WARNING"]


async def test_shared_client_rejects_cookies() -> None:
    """make_http_client's own jar stores nothing, so no cookie lives in the shared pool."""
    http = make_http_client(
        base_url=BASE_URL,
        transport=httpx.MockTransport(lambda request: httpx.Response(200, headers={"Set-Cookie": "a=b; path=/"})),
    )
    await http.get("/")
    assert len(http.cookies) == 0


def test_ca_bundle_path_checked() -> None:
    with pytest.raises(ValueError, match="does not exist"):
        make_http_client(base_url=BASE_URL, verify="/no/such/bundle.pem")
    import certifi

    make_http_client(base_url=BASE_URL, verify=certifi.where())


def test_credential_repr_hides_password() -> None:
    credential = Credential("alice", "secret-app-password")
    assert "secret" not in repr(credential)
    with pytest.raises(ValueError, match="':'"):
        Credential("a:b", "x")



async def test_redirect_is_protocol_error() -> None:
    """A redirect is not followed: it points at a wrong base URL."""
    recorder = Recorder(lambda request: httpx.Response(301, headers={"Location": "https://other.test/"}))
    client = make_client(recorder)

    with pytest.raises(errors.NextcloudProtocolError, match="base URL redirects"):
        await client.get_own_status()
    assert len(recorder.requests) == 1


def test_http_client_settings() -> None:
    http = make_http_client(base_url=BASE_URL, timeout_connect=1.5, timeout_read=7.0, proxy="http://127.0.0.1:3128",
                            user_agent="bridge-test/1")
    assert http.timeout.connect == 1.5
    assert http.timeout.read == 7.0
    assert http.headers["User-Agent"] == "bridge-test/1"
    assert not http.follow_redirects


async def test_late_401_spares_new_credential() -> None:
    """A 401 for a credential replaced while its request was in flight does not lock the new one."""
    import asyncio

    release = asyncio.Event()

    async def respond(request: httpx.Request) -> httpx.Response:
        if basic_user(request) == "alice":
            await release.wait()
            return httpx.Response(401, json={"ocs": {"meta": {"statuscode": 997, "message": "no"}, "data": []}},
                                  headers={"Set-Cookie": "oc_session=stale; path=/"})
        return ocs(private_status("alice2"))

    client = make_client(lambda request: httpx.Response(500),
                         http=make_http_client(base_url=BASE_URL, transport=httpx.MockTransport(respond)))
    in_flight = asyncio.create_task(client.get_own_status())
    await asyncio.sleep(0)
    client.replace_credential(Credential("alice2", "new-password"))
    release.set()

    with pytest.raises(errors.NextcloudUnauthorized):
        await in_flight
    assert not client.credential_rejected
    assert "oc_session" not in client.cookies
    assert (await client.get_own_status()).user_id == "alice2"
