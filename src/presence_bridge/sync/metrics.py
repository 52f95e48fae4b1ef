"""The engine's counters, on a ``prometheus_client`` registry the process publishes at ``/metrics``.

Each :class:`EngineMetrics` registers its metrics on the registry it is given (a
fresh one by default, so tests never share counters).  The ``run`` process passes
the registry it serves.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class EngineMetrics:
    """Counters and a histogram of the sweeps, writes, keep-alives and errors.

    Metric names (all prefixed ``presence_bridge_``):

    - ``sweeps_total{mode}``: finished sweeps, ``mode`` is ``list`` or ``per_user``;
    - ``sweep_duration_seconds``: histogram of sweep durations;
    - ``statuses_read_total``: Nextcloud statuses read by sweeps;
    - ``writes_enqueued_total{platform}``: chat writes put in the outbox;
    - ``nextcloud_writes_total{result}``: writes to Nextcloud (``ok`` or ``error``);
    - ``keepalives_total{result}``: keep-alive heartbeats (``sent``, ``skipped_bound``, ``error``);
    - ``wakes_total``: wake-ups between sweeps (an expiry or a held write fell due);
    - ``commands_total{command}``: chat commands handled;
    - ``engine_errors_total{stage}``: errors the engine caught and logged.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        prefix = "presence_bridge_"
        self.sweeps = Counter(prefix + "sweeps", "Finished sweeps", ["mode"], registry=self.registry)
        self.sweep_duration = Histogram(
            prefix + "sweep_duration_seconds",
            "Duration of a sweep",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=self.registry,
        )
        self.statuses_read = Counter(prefix + "statuses_read", "Statuses read by sweeps", registry=self.registry)
        self.writes_enqueued = Counter(
            prefix + "writes_enqueued", "Chat writes put in the outbox", ["platform"], registry=self.registry
        )
        self.nextcloud_writes = Counter(
            prefix + "nextcloud_writes", "Writes to Nextcloud with a user's app password", ["result"], registry=self.registry
        )
        self.keepalives = Counter(
            prefix + "keepalives", "Keep-alive heartbeats sent for users active in chat", ["result"], registry=self.registry
        )
        self.wakes = Counter(prefix + "wakes", "Wake-ups between sweeps", registry=self.registry)
        self.commands = Counter(prefix + "commands", "Chat commands handled", ["command"], registry=self.registry)
        self.errors = Counter(
            prefix + "engine_errors", "Errors the engine caught and logged", ["stage"], registry=self.registry
        )

    def value(self, name: str, **labels: str) -> float:
        """Return the current value of a sample, 0 when it was never set (for tests and ``check``)."""
        found = self.registry.get_sample_value(name, labels)
        return 0.0 if found is None else found
