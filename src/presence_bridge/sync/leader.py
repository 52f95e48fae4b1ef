"""The sweep leader lease: one replica at a time sweeps Nextcloud.

Every ``presence-bridge run`` process (a replica) runs a :class:`LeaderLease`.
It tries to take the store lease :data:`SWEEP_LEASE` every ``ttl / 3`` seconds and
renews it while it holds it.  A follower that finds the lease held sleeps until the
holder's ``expires_at`` (read from the store) or the renewal interval, whichever is
sooner, so a crashed leader is replaced at most about one TTL after its last
renewal.

:attr:`LeaderLease.is_leader` turns false locally, without asking the store, as
soon as the time since the last successful renewal reaches ``ttl - margin``.  So
a replica that cannot reach the database stops sweeping before another one can
take over.  The margin covers a renewal that is slow to return.  Two replicas can
still both believe they lead for a moment when their clocks disagree by more than
the margin, because the store compares ``expires_at`` with the caller's clock.  A
second sweeper then only repeats work: outbox rows are unique per idempotency key,
so the same planned write is queued once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta

from ..errors import StorageError
from ..storage import Store

logger = logging.getLogger(__name__)

SWEEP_LEASE = "sync.sweep-leader"
"""Name of the lease in the store's lease table."""


class LeaderLease:
    """Take, renew and release the sweep leader lease for the replica ``holder``."""

    def __init__(
        self,
        store: Store,
        holder: str,
        ttl: float,
        *,
        name: str = SWEEP_LEASE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0:
            raise ValueError(f"the leader lease needs a positive ttl in seconds, got {ttl}")
        self._store = store
        self._holder = holder
        self._ttl = ttl
        self._name = name
        self._monotonic = monotonic
        self._renewed_at: float | None = None
        self._has_led = False
        self._stop = asyncio.Event()
        self.changed = asyncio.Event()
        """Set whenever this replica gains or loses the lease; the caller clears it."""

    @property
    def holder(self) -> str:
        return self._holder

    @property
    def renew_interval(self) -> float:
        """Seconds between two renewals: a third of the TTL, so two renewals may fail in a row."""
        return self._ttl / 3

    @property
    def is_leader(self) -> bool:
        """Whether this replica holds the lease now, judged by the time of the last renewal."""
        if self._renewed_at is None:
            return False
        margin = min(self.renew_interval, 2.0)
        return self._monotonic() - self._renewed_at < self._ttl - margin

    async def try_acquire(self) -> bool:
        """Take or renew the lease once; return whether this replica holds it now."""
        was_leader = self.is_leader
        started = self._monotonic()
        try:
            acquired = await self._store.acquire_lease(self._name, self._holder, timedelta(seconds=self._ttl))
        except StorageError as exc:
            logger.warning("Renewing the sweep leader lease %s failed: %s", self._name, exc)
            acquired = False
        if acquired:
            # Count from the start of the call: the store set expires_at at some point after it.
            self._renewed_at = started
        elif not self.is_leader:
            self._renewed_at = None
        if acquired != was_leader:
            # The first take belongs to the start of the process, which the runner logs already.
            level = logging.INFO if self._has_led or not acquired else logging.DEBUG
            logger.log(level, "Replica %s %s the sweep leader lease", self._holder, "took" if acquired else "lost")
            self._has_led = self._has_led or acquired
            self.changed.set()
        return acquired

    async def run(self) -> None:
        """Keep trying to take or renew the lease until :meth:`stop`, then release it."""
        try:
            while not self._stop.is_set():
                acquired = await self.try_acquire()
                delay = self.renew_interval if acquired else await self._follower_delay()
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=delay)
                except TimeoutError:
                    pass
        finally:
            await self.release()

    async def _follower_delay(self) -> float:
        """Sleep until the current holder's lease ends, but never longer than the renewal interval."""
        try:
            lease = await self._store.get_lease(self._name)
        except StorageError as exc:
            logger.warning("Reading the sweep leader lease %s failed: %s", self._name, exc)
            return self.renew_interval
        if lease is None:
            return 0.0
        remaining = (lease.expires_at - self._store.now()).total_seconds()
        # A little after the expiry, so the next try finds the lease free.
        return min(self.renew_interval, max(remaining + 0.05, 0.05))

    def stop(self) -> None:
        """Ask :meth:`run` to end; it releases the lease on the way out."""
        self._stop.set()

    async def release(self) -> None:
        """Give the lease up now, so another replica takes over without waiting for the TTL."""
        if self._renewed_at is None:
            return
        self._renewed_at = None
        self.changed.set()
        try:
            released = await self._store.release_lease(self._name, self._holder)
        except StorageError as exc:
            logger.warning("Releasing the sweep leader lease %s failed; it ends by itself: %s", self._name, exc)
            return
        if released:
            logger.debug("Replica %s released the sweep leader lease", self._holder)
