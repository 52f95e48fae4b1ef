"""The run process's ASGI app in-process: health, readiness, metrics and mounted adapter routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from presence_bridge.service.http_app import LAST_SWEEP_KEY, HttpEndpoints, ProcessStatus, create_app
from presence_bridge.service.metrics import ServiceMetrics
from presence_bridge.storage import Store, open_store


class EventsAdapter:
    """An adapter with one endpoint, as the Slack adapter's event receiver would be."""

    http_prefix = "/slack"

    def http_routes(self) -> Sequence[BaseRoute]:
        async def events(request: Request) -> Response:
            return PlainTextResponse("event received")

        return [Route("/events", events, methods=["POST"])]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bridge.sqlite3'}"
    async with await open_store(url, encryption_keys=[Fernet.generate_key().decode()]) as opened:
        yield opened


def client(store: Store, status: ProcessStatus, endpoints: Sequence[HttpEndpoints] = ()) -> httpx.AsyncClient:
    app = create_app(store, ServiceMetrics(), status, endpoints=endpoints)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge")


async def test_adapter_routes_are_mounted(store: Store) -> None:
    adapter = EventsAdapter()
    assert isinstance(adapter, HttpEndpoints)

    async with client(store, ProcessStatus(), [adapter]) as http:
        response = await http.post("/slack/events")

    assert response.status_code == 200
    assert response.text == "event received"


async def test_reserved_prefix_is_rejected(store: Store) -> None:
    adapter = EventsAdapter()
    adapter.http_prefix = "/metrics"

    with pytest.raises(ValueError, match="invalid HTTP prefix '/metrics'"):
        create_app(store, ServiceMetrics(), ProcessStatus(), endpoints=[adapter])


async def test_readyz_names_each_missing_condition(store: Store) -> None:
    status = ProcessStatus(nextcloud_problem="cannot reach Nextcloud", started_at=store.now())

    async with client(store, status) as http:
        response = await http.get("/readyz")

    assert response.status_code == 503
    assert response.json()["problems"] == [
        "Nextcloud read account: cannot reach Nextcloud",
        "no sweep has finished since this process started",
    ]


async def test_readyz_ignores_a_sweep_before_start(store: Store) -> None:
    started = store.now()
    await store.set_value(LAST_SWEEP_KEY, (started - timedelta(seconds=5)).isoformat())
    status = ProcessStatus(nextcloud_problem=None, started_at=started)

    async with client(store, status) as http:
        before = await http.get("/readyz")
        await store.set_value(LAST_SWEEP_KEY, (started + timedelta(seconds=1)).isoformat())
        after = await http.get("/readyz")

    assert before.status_code == 503
    assert after.status_code == 200
    assert after.json() == {"ready": True}


async def test_healthz_reports_a_failed_task(store: Store) -> None:
    status = ProcessStatus(failed_tasks=["dispatcher"])

    async with client(store, status) as http:
        response = await http.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "failed", "failed_tasks": ["dispatcher"]}
