"""How the appservice client maps homeserver failures to typed errors (request layer only)."""

from __future__ import annotations

import json

import httpx
import pytest

from presence_bridge.errors import (
    MatrixError,
    MatrixProtocolError,
    MatrixRateLimited,
    MatrixRequestRejected,
    MatrixUnavailable,
)
from presence_bridge.matrix.appservice_client import AppserviceClient, failure_for
from presence_bridge.secret import Secret
from presence_bridge.sync.platform import PermanentFailure, TransientFailure


def client_answering(handler: httpx.MockTransport) -> AppserviceClient:
    return AppserviceClient("http://hs.test", Secret("as-secret"), transport=handler)


@pytest.mark.parametrize(
    ("response", "error_type", "retry_after"),
    [
        (httpx.Response(429, json={"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 2500}), MatrixRateLimited, 2.5),
        (httpx.Response(429, headers={"Retry-After": "7"}, json={"errcode": "M_LIMIT_EXCEEDED"}), MatrixRateLimited, 7.0),
        (httpx.Response(429, text="slow down"), MatrixRateLimited, None),
    ],
)
async def test_rate_limit_parsed(response: httpx.Response, error_type: type[MatrixError], retry_after: float | None) -> None:
    async with client_answering(httpx.MockTransport(lambda request: response)) as client:
        with pytest.raises(error_type) as caught:
            await client.set_presence("@a:x", "online", None)

    assert isinstance(caught.value, MatrixRateLimited)
    assert caught.value.retry_after == retry_after
    assert failure_for(caught.value) == TransientFailure(str(caught.value), retry_after=retry_after)


async def test_server_error_transient() -> None:
    response = httpx.Response(502, text="bad gateway")
    async with client_answering(httpx.MockTransport(lambda request: response)) as client:
        with pytest.raises(MatrixUnavailable) as caught:
            await client.whoami()

    assert caught.value.retryable is True
    assert isinstance(failure_for(caught.value), TransientFailure)


async def test_connection_refused_transient() -> None:
    def reject_connection(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with client_answering(httpx.MockTransport(reject_connection)) as client:
        with pytest.raises(MatrixUnavailable):
            await client.whoami()


async def test_bad_request_permanent() -> None:
    response = httpx.Response(400, json={"errcode": "M_UNKNOWN", "error": "Invalid presence state"})
    async with client_answering(httpx.MockTransport(lambda request: response)) as client:
        with pytest.raises(MatrixRequestRejected) as caught:
            await client.set_presence("@a:x", "busy", None)

    assert "Invalid presence state" in str(caught.value)
    assert isinstance(failure_for(caught.value), PermanentFailure)


async def test_not_json_protocol_error() -> None:
    response = httpx.Response(200, text="<html>")
    async with client_answering(httpx.MockTransport(lambda request: response)) as client:
        with pytest.raises(MatrixProtocolError):
            await client.versions()


async def test_masquerade_request_shape() -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    async with client_answering(httpx.MockTransport(record)) as client:
        await client.set_presence("@a b:x", "unavailable", "🍽️ Lunch", device_id="PHONE")

    [request] = seen
    assert request.method == "PUT"
    assert request.url.raw_path.startswith(b"/_matrix/client/v3/presence/%40a%20b%3Ax/status?")
    assert request.url.params["user_id"] == "@a b:x"
    assert request.url.params["device_id"] == "PHONE"
    assert request.headers["authorization"] == "Bearer as-secret"
    assert json.loads(request.content) == {"presence": "unavailable", "status_msg": "🍽️ Lunch"}
