"""The Prometheus metrics of the outbox, the dispatcher and the leader lease of one ``run`` process.

Each :class:`ServiceMetrics` uses the ``CollectorRegistry`` it is given, or a new
one, so several processes' worth of metrics can live in one test process without
clashing.  The run process passes the same registry to the engine's
:class:`~presence_bridge.sync.metrics.EngineMetrics` (sweeps, sweep duration,
keep-alives) and serves both at ``/metrics``.  The dispatcher updates the write
counters as writes happen.  The gauges that describe the database (outbox
depth, linked users by health) are read from the store by
:meth:`refresh_from_store` when ``/metrics`` is scraped, so every replica
reports the same shared numbers.
"""

from __future__ import annotations

import logging

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest
from sqlalchemy import func, select

from ..storage import Health, OutboxState, Store
from ..storage.schema import identity_links, outbox

logger = logging.getLogger(__name__)

PREFIX = "presence_bridge"
WRITE_RESULTS = ("ok", "transient", "permanent", "superseded")
"""Write outcomes: delivered, failed and retried later, failed for good, dropped unsent for a newer write."""


class ServiceMetrics:
    """The dispatcher's counters and the store gauges served at ``/metrics``."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.writes = Counter(
            f"{PREFIX}_writes",
            "Outbox writes settled by this replica, by platform and result (ok, transient, permanent, superseded)",
            ["platform", "result"],
            registry=registry,
        )
        self.rate_limit_waits = Counter(
            f"{PREFIX}_rate_limit_waits",
            "Writes postponed because the platform asked to wait (Retry-After), by platform",
            ["platform"],
            registry=registry,
        )
        self.rate_limit_wait_seconds = Counter(
            f"{PREFIX}_rate_limit_wait_seconds",
            "Seconds of waiting that platforms asked for with Retry-After, by platform",
            ["platform"],
            registry=registry,
        )
        self.outbox_depth = Gauge(
            f"{PREFIX}_outbox_depth",
            "Rows in the shared outbox, by state (pending or dead)",
            ["state"],
            registry=registry,
        )
        self.linked_users = Gauge(
            f"{PREFIX}_linked_users",
            "Linked chat identities, by health (healthy or unhealthy)",
            ["health"],
            registry=registry,
        )
        self.leader = Gauge(
            f"{PREFIX}_leader", "1 while this replica holds the sweep leader lease, else 0", registry=registry
        )
        # Declare the label sets up front, so a scrape shows zeros rather than nothing.
        for state in OutboxState:
            self.outbox_depth.labels(state=state.value)
        for health in Health:
            self.linked_users.labels(health=health.value)

    def record_write(self, platform: str, result: str) -> None:
        """Count one write attempt; ``result`` is one of :data:`WRITE_RESULTS`."""
        if result not in WRITE_RESULTS:
            raise ValueError(f"unknown write result {result!r}; expected one of {', '.join(WRITE_RESULTS)}")
        self.writes.labels(platform=platform, result=result).inc()

    def record_rate_limit(self, platform: str, wait_seconds: float) -> None:
        """Count one Retry-After wait that ``platform`` asked for."""
        self.rate_limit_waits.labels(platform=platform).inc()
        self.rate_limit_wait_seconds.labels(platform=platform).inc(max(wait_seconds, 0.0))

    async def refresh_from_store(self, store: Store) -> None:
        """Read the outbox depth and the link health counts from the shared store."""
        async with store.engine.connect() as connection:
            depth_rows = (
                await connection.execute(select(outbox.c.state, func.count()).group_by(outbox.c.state))
            ).all()
            health_rows = (
                await connection.execute(
                    select(identity_links.c.health, func.count()).group_by(identity_links.c.health)
                )
            ).all()
        depths = {str(state): int(count) for state, count in depth_rows}
        for state in OutboxState:
            self.outbox_depth.labels(state=state.value).set(depths.get(state.value, 0))
        healths = {str(health): int(count) for health, count in health_rows}
        for health in Health:
            self.linked_users.labels(health=health.value).set(healths.get(health.value, 0))

    def render(self) -> bytes:
        """Return every metric in the Prometheus text exposition format."""
        return generate_latest(self.registry)
