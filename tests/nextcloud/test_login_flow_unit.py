"""Login Flow v2 over httpx.MockTransport: start, pending polls, the single grant, expiry."""

from __future__ import annotations

import httpx
import pytest

from presence_bridge import errors
from presence_bridge.nextcloud import LoginFlow, make_http_client
from tests.nextcloud.fakes import BASE_URL, Recorder, SleepRecorder

START = {
    "poll": {"token": "p" * 128, "endpoint": f"{BASE_URL}/index.php/login/v2/poll"},
    "login": f"{BASE_URL}/index.php/login/v2/flow/" + "l" * 128,
}
GRANT = {"server": BASE_URL, "loginName": "bob", "appPassword": "x" * 72}


class FlowServer:
    def __init__(self, pending_polls: int) -> None:
        self.pending_polls = pending_polls
        self.granted = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/index.php/login/v2":
            return httpx.Response(200, json=START)
        assert request.url.path == "/index.php/login/v2/poll"
        assert request.content == b"token=" + b"p" * 128
        if self.pending_polls > 0 or self.granted:
            self.pending_polls -= 1
            return httpx.Response(404, json=[])
        self.granted = True
        return httpx.Response(200, json=GRANT)


def _flow(handler: Recorder, sleep: SleepRecorder, clock: list[float] | None = None) -> LoginFlow:
    http = make_http_client(base_url=BASE_URL, transport=httpx.MockTransport(handler))
    ticks = clock if clock is not None else [0.0]
    return LoginFlow(http, sleep=sleep, clock=lambda: ticks[0])


async def test_start_and_wait_for_grant() -> None:
    recorder = Recorder(FlowServer(pending_polls=2))
    sleep = SleepRecorder()
    flow = _flow(recorder, sleep)

    start = await flow.start()
    credentials = await flow.wait(start, interval=3.0)

    assert start.login_url == START["login"]
    assert credentials.login_name == "bob"
    assert credentials.app_password == "x" * 72
    assert "x" * 72 not in repr(credentials)
    assert sleep.delays == [3.0, 3.0]
    start_request = recorder.requests[0]
    assert start_request.method == "POST"
    assert start_request.headers["User-Agent"].startswith("presence-bridge/")
    assert "Authorization" not in start_request.headers


async def test_poll_pending_then_single_use() -> None:
    flow = _flow(Recorder(FlowServer(pending_polls=1)), SleepRecorder())
    start = await flow.start()

    with pytest.raises(errors.LoginFlowPending):
        await flow.poll(start)
    await flow.poll(start)
    with pytest.raises(errors.LoginFlowPending):
        await flow.poll(start)


async def test_wait_times_out() -> None:
    clock = [0.0]
    sleep = SleepRecorder()

    async def advance(delay: float) -> None:
        await sleep(delay)
        clock[0] += delay

    http = make_http_client(base_url=BASE_URL, transport=httpx.MockTransport(FlowServer(pending_polls=10**6)))
    flow = LoginFlow(http, sleep=advance, clock=lambda: clock[0])
    start = await flow.start()

    with pytest.raises(errors.LoginFlowError, match="did not grant access within 20 s"):
        await flow.wait(start, interval=5.0, timeout=20.0)
    assert sum(sleep.delays) <= 20.0


async def test_start_refused_is_login_flow_error() -> None:
    """A 403 page (a server that only allows listed clients) becomes LoginFlowError."""
    flow = _flow(Recorder(lambda request: httpx.Response(403, text="<html>Please use original client</html>")),
                 SleepRecorder())
    with pytest.raises(errors.LoginFlowError) as raised:
        await flow.start()
    assert isinstance(raised.value.__cause__, errors.NextcloudForbidden)


async def test_start_with_missing_fields() -> None:
    answer = {"login": START["login"], "poll": {"token": "t"}}
    flow = _flow(Recorder(lambda request: httpx.Response(200, json=answer)), SleepRecorder())
    with pytest.raises(errors.LoginFlowError, match="poll.endpoint"):
        await flow.start()
