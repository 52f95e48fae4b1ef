"""The Prometheus metrics of one ``presence-bridge run`` process.

Each :class:`ServiceMetrics` owns its own ``CollectorRegistry``, so several
processes' worth of metrics can live in one test process without clashing.
Counters are updated by the worker and the dispatcher as events happen.  The
gauges that describe the database (outbox depth, linked users by health) are
read from the store when ``/metrics`` is scraped, by :meth:`refresh_from_store`,
so every replica reports the same shared numbers.
"""

from __future__ import annotations

import logging

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select

from ..storage import Health, OutboxState, Store
from ..storage.schema import identity_links, outbox

logger = logging.getLogger(__name__)

PREFIX = "presence_bridge"
SWEEP_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
WRITE_RESULTS = ("ok", "transient", "permanent")
"""Write outcomes: delivered, failed and retried later, failed for good."""


class ServiceMetrics:
    """Counters, gauges and histograms served at ``/metrics``."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.sweeps = Counter(
            f"{PREFIX}_sweeps", "Nextcloud sweeps run by this replica, by result", ["result"], registry=registry
        )
        self.sweep_duration = Histogram(
            f"{PREFIX}_sweep_duration_seconds",
            "Wall-clock duration of one Nextcloud sweep",
            buckets=SWEEP_BUCKETS,
            registry=registry,
        )
        self.writes = Counter(
            f"{PREFIX}_writes",
            "Outbox writes attempted by this replica, by platform and result (ok, transient, permanent)",
            ["platform", "result"],
            registry=registry,
        )
        self.keepalives = Counter(
            f"{PREFIX}_keepalives",
            "Keep-alives sent (Nextcloud heartbeats, Matrix presence renewals), by platform",
            ["platform"],
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
        for result in ("ok", "error"):
            self.sweeps.labels(result=result)
        for state in OutboxState:
            self.outbox_depth.labels(state=state.value)
        for health in Health:
            self.linked_users.labels(health=health.value)

    def record_sweep(self, duration: float, *, ok: bool) -> None:
        """Count one sweep and its duration in seconds."""
        self.sweeps.labels(result="ok" if ok else "error").inc()
        self.sweep_duration.observe(duration)

    def record_write(self, platform: str, result: str) -> None:
        """Count one write attempt; ``result`` is one of :data:`WRITE_RESULTS`."""
        if result not in WRITE_RESULTS:
            raise ValueError(f"unknown write result {result!r}; expected one of {', '.join(WRITE_RESULTS)}")
        self.writes.labels(platform=platform, result=result).inc()

    def record_rate_limit(self, platform: str, wait_seconds: float) -> None:
        """Count one Retry-After wait that ``platform`` asked for."""
        self.rate_limit_waits.labels(platform=platform).inc()
        self.rate_limit_wait_seconds.labels(platform=platform).inc(max(wait_seconds, 0.0))

    def record_keepalive(self, platform: str) -> None:
        """Count one keep-alive sent to ``platform``."""
        self.keepalives.labels(platform=platform).inc()

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
