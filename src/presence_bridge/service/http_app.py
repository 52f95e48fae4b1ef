"""The ASGI app of the ``run`` process: health, readiness, metrics and the platforms' endpoints.

``GET /healthz``
    200 while every background task of the process runs, 503 naming the one that
    ended (the process is then broken and should be restarted).
``GET /readyz``
    200 once the store responds, the Nextcloud read account works and a sweep has
    finished since the process started (on any replica) and within the last two
    sweep intervals, else 503 with the missing conditions.
``GET /metrics``
    The Prometheus text format of :class:`~presence_bridge.service.metrics.ServiceMetrics`.

Chat platform adapters add their own routes (Slack's events and commands, for
example) by implementing :class:`HttpEndpoints`.  :func:`create_app` mounts each
adapter's routes under the adapter's :attr:`HttpEndpoints.http_prefix`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from ..errors import StorageError
from ..storage import Store
from .metrics import ServiceMetrics

logger = logging.getLogger(__name__)

LAST_SWEEP_KEY = "sync.last_sweep_at"
"""Store key holding the time the last sweep of any replica finished, in ISO 8601."""

STORE_PROBE_TIMEOUT = 5.0
"""Seconds ``/readyz`` and ``/metrics`` wait for the store before reporting it down."""


@runtime_checkable
class HttpEndpoints(Protocol):
    """An adapter that serves HTTP endpoints of its own through the bridge's server."""

    @property
    def http_prefix(self) -> str:
        """The path under which the routes are mounted, such as ``/slack``."""
        ...

    def http_routes(self) -> Sequence[BaseRoute]:
        """Return the Starlette routes, relative to :attr:`http_prefix`."""
        ...


@dataclass
class ProcessStatus:
    """The process state behind ``/healthz`` and ``/readyz``, updated by the runner."""

    nextcloud_problem: str | None = "not checked yet"
    """None when the last check of the Nextcloud read account passed, else what failed."""
    nextcloud_checked: bool = False
    """Whether the read account was checked at least once."""
    sweep_stale_after: float | None = None
    """Seconds after the last successful sweep (of any replica) at which ``/readyz`` turns 503; None: never."""
    failed_tasks: list[str] = field(default_factory=list)
    """Background tasks that ended with an error."""
    stopping: bool = False
    started_at: datetime | None = None
    """When the process started, by the store's clock; a sweep counts for ``/readyz`` only if it ended later."""
    is_leader: Callable[[], bool] = lambda: False
    """Whether this replica holds the sweep leader lease now, for the ``presence_bridge_leader`` gauge."""


def create_app(
    store: Store,
    metrics: ServiceMetrics,
    status: ProcessStatus,
    *,
    endpoints: Sequence[HttpEndpoints] = (),
) -> Starlette:
    """Build the app; ``endpoints`` are the adapters whose routes are mounted."""

    async def healthz(request: Request) -> Response:
        if status.failed_tasks:
            return JSONResponse({"status": "failed", "failed_tasks": status.failed_tasks}, status_code=503)
        return JSONResponse({"status": "stopping" if status.stopping else "ok"})

    async def readyz(request: Request) -> Response:
        problems = await readiness_problems(store, status)
        if problems:
            return JSONResponse({"ready": False, "problems": problems}, status_code=503)
        return JSONResponse({"ready": True})

    async def metrics_page(request: Request) -> Response:
        metrics.leader.set(1 if status.is_leader() else 0)
        try:
            await asyncio.wait_for(metrics.refresh_from_store(store), timeout=STORE_PROBE_TIMEOUT)
        except (SQLAlchemyError, StorageError, TimeoutError, OSError) as exc:
            # Serve the counters anyway; the store gauges keep their last values.
            logger.warning("Reading the outbox depth and link health for /metrics failed: %s", exc)
        return Response(metrics.render(), media_type=metrics.content_type)

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_page, methods=["GET"]),
    ]
    for adapter in endpoints:
        prefix = adapter.http_prefix.rstrip("/")
        if not prefix.startswith("/") or prefix in ("/healthz", "/readyz", "/metrics"):
            raise ValueError(f"invalid HTTP prefix {adapter.http_prefix!r}: use a path such as /slack")
        routes.append(Mount(prefix, routes=list(adapter.http_routes())))
    return Starlette(routes=routes)


async def readiness_problems(store: Store, status: ProcessStatus) -> list[str]:
    """Return why the process is not ready, in plain words; an empty list means ready."""
    problems = []
    if status.stopping:
        problems.append("the process is stopping")
    if status.failed_tasks:
        problems.append("background tasks ended: " + ", ".join(status.failed_tasks))
    if status.nextcloud_problem is not None:
        problems.append(f"Nextcloud read account: {status.nextcloud_problem}")
    try:
        last_sweep = await asyncio.wait_for(store.get_value(LAST_SWEEP_KEY), timeout=STORE_PROBE_TIMEOUT)
    except (StorageError, TimeoutError) as exc:
        problems.append(f"the store does not answer: {exc or 'timed out'}")
    else:
        if last_sweep is None or (status.started_at and datetime.fromisoformat(last_sweep) < status.started_at):
            problems.append("no sweep has finished since this process started")
        elif status.sweep_stale_after is not None:
            age = (store.now() - datetime.fromisoformat(last_sweep)).total_seconds()
            if age > status.sweep_stale_after:
                problems.append(
                    f"the last successful sweep finished {age:.0f} s ago, so sweeps are failing or not running"
                )
    return problems
