"""The appservice endpoints in process: handler failures, bad bodies, ping and queries."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from starlette.applications import Starlette

from presence_bridge.matrix.presence_events import BacklogRule, PresenceUpdate
from presence_bridge.matrix.transactions import MemoryTransactionLog, TransactionEndpoint, appservice_routes
from presence_bridge.service.http_app import HttpEndpoints

HS_TOKEN = "hs-secret"
AUTH = {"Authorization": f"Bearer {HS_TOKEN}"}
BODY = {"events": [], "ephemeral": [{"type": "m.presence", "sender": "@bob:x", "content": {"presence": "online"}}]}


class Recorder:
    def __init__(self, failures: int = 0) -> None:
        self.calls: list[list[PresenceUpdate]] = []
        self.failures = failures

    async def __call__(self, updates: Sequence[PresenceUpdate]) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("store unavailable")
        self.calls.append(list(updates))


def client_for(endpoint: TransactionEndpoint) -> httpx.AsyncClient:
    app = Starlette(routes=endpoint.routes())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge")


async def test_handler_failure_then_retry() -> None:
    recorder = Recorder(failures=1)
    async with client_for(TransactionEndpoint(hs_token=HS_TOKEN, on_presence=recorder)) as http:
        failed = await http.put("/_matrix/app/v1/transactions/1", json=BODY, headers=AUTH)
        retried = await http.put("/_matrix/app/v1/transactions/1", json=BODY, headers=AUTH)

    assert failed.status_code == 500
    assert retried.status_code == 200
    assert len(recorder.calls) == 1


async def test_shared_log_survives_endpoint() -> None:
    log = MemoryTransactionLog()
    first, second = Recorder(), Recorder()
    async with client_for(TransactionEndpoint(hs_token=HS_TOKEN, on_presence=first, log=log)) as http:
        await http.put("/_matrix/app/v1/transactions/5", json=BODY, headers=AUTH)
    async with client_for(TransactionEndpoint(hs_token=HS_TOKEN, on_presence=second, log=log)) as http:
        repeat = await http.put("/_matrix/app/v1/transactions/5", json=BODY, headers=AUTH)

    assert repeat.status_code == 200
    assert len(first.calls) == 1
    assert second.calls == []


async def test_memory_log_keeps_recent_ids() -> None:
    log = MemoryTransactionLog(limit=2)
    for txn_id in ("a", "b", "c"):
        await log.add(txn_id)

    assert [await log.contains(txn_id) for txn_id in ("a", "b", "c")] == [False, True, True]


async def test_bad_bodies_rejected() -> None:
    recorder = Recorder()
    async with client_for(TransactionEndpoint(hs_token=HS_TOKEN, on_presence=recorder)) as http:
        not_json = await http.put("/_matrix/app/v1/transactions/1", content=b"{", headers=AUTH)
        not_object = await http.put("/_matrix/app/v1/transactions/2", json=[1], headers=AUTH)

    assert (not_json.status_code, not_json.json()["errcode"]) == (400, "M_NOT_JSON")
    assert (not_object.status_code, not_object.json()["errcode"]) == (400, "M_BAD_JSON")
    assert recorder.calls == []


async def test_empty_transaction_skips_handler() -> None:
    recorder = Recorder()
    async with client_for(TransactionEndpoint(hs_token=HS_TOKEN, on_presence=recorder)) as http:
        response = await http.put("/_matrix/app/v1/transactions/1", json={"events": [], "ephemeral": []}, headers=AUTH)

    assert response.status_code == 200
    assert recorder.calls == []


async def test_startup_backlog_marked() -> None:
    now = [1000.0]
    recorder = Recorder()
    endpoint = TransactionEndpoint(
        hs_token=HS_TOKEN, on_presence=recorder, clock=lambda: now[0], backlog_rule=BacklogRule(1000.0, 30.0)
    )
    async with client_for(endpoint) as http:
        now[0] = 1001.0
        await http.put("/_matrix/app/v1/transactions/1", json=BODY, headers=AUTH)
        await http.put("/_matrix/app/v1/transactions/2", json=BODY, headers=AUTH)

    assert [call[0].backlog for call in recorder.calls] == [True, False]


async def test_ping_and_queries() -> None:
    routes = appservice_routes(hs_token=HS_TOKEN, on_presence=Recorder())
    app = Starlette(routes=routes)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge") as http:
        ping = await http.post("/_matrix/app/v1/ping", json={}, headers=AUTH)
        ping_unauthorised = await http.post("/_matrix/app/v1/ping", json={})
        user = await http.get("/_matrix/app/v1/users/@someone:x", headers=AUTH)
        room = await http.get("/_matrix/app/v1/rooms/%23alias:x", headers={"Authorization": "Bearer wrong"})

    assert ping.status_code == 200
    assert ping_unauthorised.status_code == 401
    assert (user.status_code, user.json()["errcode"]) == (404, "M_NOT_FOUND")
    assert room.status_code == 403


def test_endpoint_fits_run_server() -> None:
    endpoint = TransactionEndpoint(hs_token=HS_TOKEN, on_presence=Recorder())

    assert isinstance(endpoint, HttpEndpoints)
    assert endpoint.http_prefix == "/_matrix/app/v1"
