"""The platform's start-up ping: retried while the homeserver cannot reach the bridge, ended by a final response."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from presence_bridge.matrix.appservice_client import AppserviceClient
from presence_bridge.matrix.echo import EchoFilter
from presence_bridge.matrix.platform import MatrixPlatform

PING_PATH = "/_matrix/client/v1/appservice/presence-bridge/ping"


def homeserver(responses: list[httpx.Response]) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """Return a homeserver that gives ``responses`` in turn to ping requests (the last one repeats)."""
    requests: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return responses[min(len(requests), len(responses)) - 1]

    return httpx.MockTransport(handle), requests


def platform_for(transport: httpx.MockTransport, delays: tuple[float, ...] = (0.0, 0.0, 0.0)) -> Any:
    client = AppserviceClient("http://127.0.0.1:1", "as-secret", transport=transport)
    return MatrixPlatform(
        bot=None,  # type: ignore[arg-type]
        sync_loop=None,
        commands=None,  # type: ignore[arg-type]
        echo_filter=EchoFilter(),
        appservice=client,
        appservice_id="presence-bridge",
        ping_retry_delays=delays,
    )


def matrix_error(status: int, errcode: str) -> httpx.Response:
    return httpx.Response(status, json={"errcode": errcode, "error": f"{errcode} from the test"})


@pytest.fixture
def platform_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.INFO, logger="presence_bridge.matrix.platform")
    yield caplog


async def test_ping_succeeds_first_time(platform_log: pytest.LogCaptureFixture) -> None:
    transport, requests = homeserver([httpx.Response(200, json={"duration_ms": 12})])
    platform = platform_for(transport)

    await platform._ping_homeserver()

    assert len(requests) == 1
    assert requests[0].method == "POST"
    assert requests[0].url.path == PING_PATH
    assert requests[0].headers["authorization"] == "Bearer as-secret"
    assert json.loads(requests[0].content) == {}
    assert platform.ping_duration_ms == 12.0
    assert "reached the bridge's appservice endpoint (round trip 12 ms)" in platform_log.text
    assert "as-secret" not in platform_log.text


async def test_ping_retried_until_reachable(platform_log: pytest.LogCaptureFixture) -> None:
    failed = matrix_error(502, "M_CONNECTION_FAILED")
    transport, requests = homeserver([failed, failed, httpx.Response(200, json={"duration_ms": 3})])
    platform = platform_for(transport)

    await platform._ping_homeserver()

    assert len(requests) == 3
    assert platform.ping_duration_ms == 3.0
    assert platform_log.text.count("failed, trying again") == 2


async def test_ping_stops_after_last_delay(platform_log: pytest.LogCaptureFixture) -> None:
    transport, requests = homeserver([matrix_error(504, "M_CONNECTION_TIMEOUT")])
    platform = platform_for(transport, delays=(0.0, 0.0))

    await platform._ping_homeserver()

    assert len(requests) == 3
    assert platform.ping_duration_ms is None
    warnings = [r for r in platform_log.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "after 3 pings" in warnings[0].getMessage()
    assert "registration url" in warnings[0].getMessage()


async def test_resend_under_way_counts_as_success(platform_log: pytest.LogCaptureFixture) -> None:
    already = httpx.Response(
        502,
        json={"errcode": "M_CONNECTION_FAILED", "error": "AlreadyCalled: Tried to cancel an already-called event."},
    )
    transport, requests = homeserver([already])
    platform = platform_for(transport)

    await platform._ping_homeserver()

    assert len(requests) == 1
    assert "is already resending held-back transactions" in platform_log.text
    assert "failed" not in platform_log.text


async def test_bridge_error_status_retried() -> None:
    bad_status = httpx.Response(502, json={"errcode": "M_BAD_STATUS", "error": "HTTP 500 Internal Server Error"})
    transport, requests = homeserver([bad_status, httpx.Response(200, json={"duration_ms": 5})])
    platform = platform_for(transport)

    await platform._ping_homeserver()

    assert len(requests) == 2
    assert platform.ping_duration_ms == 5.0


async def test_connect_error_retried() -> None:
    calls = []

    def connection_refused(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("connection refused", request=request)

    platform = platform_for(httpx.MockTransport(connection_refused), delays=(0.0,))

    await platform._ping_homeserver()

    assert len(calls) == 2


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (matrix_error(404, "M_UNRECOGNIZED"), "has no appservice ping endpoint"),
        (httpx.Response(404, text="not found"), "has no appservice ping endpoint"),
        (matrix_error(403, "M_FORBIDDEN"), "Check that [matrix] appservice_id"),
        (matrix_error(401, "M_UNKNOWN_TOKEN"), "Check [matrix] as_token"),
        (
            httpx.Response(502, json={"errcode": "M_BAD_STATUS", "error": "HTTP 403 Forbidden", "status": 403}),
            "Check that [matrix] hs_token",
        ),
        (matrix_error(400, "M_URL_NOT_SET"), "has a url"),
    ],
)
async def test_final_responses_end_ping(
    platform_log: pytest.LogCaptureFixture, response: httpx.Response, expected: str
) -> None:
    transport, requests = homeserver([response])
    platform = platform_for(transport)

    await platform._ping_homeserver()

    assert len(requests) == 1
    assert expected in platform_log.text


async def test_stop_interrupts_ping_wait() -> None:
    transport, requests = homeserver([matrix_error(502, "M_CONNECTION_FAILED")])
    platform = platform_for(transport, delays=(3600.0,))
    task = asyncio.create_task(platform._ping_homeserver())
    while not requests:
        await asyncio.sleep(0.01)

    platform._stop.set()
    await asyncio.wait_for(task, timeout=5)

    assert len(requests) == 1


class IdleBot:
    """A bot that does nothing until it is stopped."""

    def __init__(self) -> None:
        self.stopped = asyncio.Event()

    async def run(self) -> None:
        await self.stopped.wait()

    def stop(self) -> None:
        self.stopped.set()


async def test_stop_cancels_hanging_ping() -> None:
    reached = asyncio.Event()

    async def never_respond(request: httpx.Request) -> httpx.Response:
        reached.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    client = AppserviceClient("http://127.0.0.1:1", "as-secret", transport=httpx.MockTransport(never_respond))
    platform = MatrixPlatform(
        bot=IdleBot(),  # type: ignore[arg-type]
        sync_loop=None,
        commands=None,  # type: ignore[arg-type]
        echo_filter=EchoFilter(),
        appservice=client,
        appservice_id="presence-bridge",
    )
    running = asyncio.create_task(platform.run())
    await asyncio.wait_for(reached.wait(), timeout=5)

    platform.stop()
    await asyncio.wait_for(running, timeout=5)

    assert platform.ping_duration_ms is None


async def test_no_ping_without_appservice() -> None:
    platform = MatrixPlatform(
        bot=None,  # type: ignore[arg-type]
        sync_loop=None,
        commands=None,  # type: ignore[arg-type]
        echo_filter=EchoFilter(),
        appservice_id="presence-bridge",
    )

    await platform._ping_homeserver()

    assert platform.ping_duration_ms is None
