"""The sweep leader lease between two replicas on one SQLite store."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from presence_bridge.storage import Store
from presence_bridge.sync.leader import SWEEP_LEASE, LeaderLease
from tests.storage.conftest import FakeClock


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_one_replica_leads(store: Store) -> None:
    first = LeaderLease(store, "replica-a", ttl=30)
    second = LeaderLease(store, "replica-b", ttl=30)

    assert await first.try_acquire()
    assert not await second.try_acquire()
    assert first.is_leader
    assert not second.is_leader
    assert await first.try_acquire()


async def test_release_hands_over_at_once(store: Store) -> None:
    first = LeaderLease(store, "replica-a", ttl=30)
    second = LeaderLease(store, "replica-b", ttl=30)
    await first.try_acquire()

    await first.release()

    assert not first.is_leader
    assert await store.get_lease(SWEEP_LEASE) is None
    assert await second.try_acquire()


async def test_expired_leader_is_replaced(store: Store, clock: FakeClock) -> None:
    ticks = Monotonic()
    first = LeaderLease(store, "replica-a", ttl=30, monotonic=ticks)
    second = LeaderLease(store, "replica-b", ttl=30)
    await first.try_acquire()

    clock.advance(timedelta(seconds=30))
    ticks.now += 30

    assert not first.is_leader
    assert await second.try_acquire()
    assert not await first.try_acquire()


async def test_leader_steps_down_before_expiry(store: Store) -> None:
    ticks = Monotonic()
    lease = LeaderLease(store, "replica-a", ttl=30, monotonic=ticks)
    await lease.try_acquire()

    ticks.now += 27.9
    assert lease.is_leader
    ticks.now += 0.2

    # The margin (2 s for a 30 s lease) leaves time for another replica's clock.
    assert not lease.is_leader


async def test_follower_waits_for_expiry(store: Store, clock: FakeClock) -> None:
    first = LeaderLease(store, "replica-a", ttl=30)
    second = LeaderLease(store, "replica-b", ttl=30)
    await first.try_acquire()
    clock.advance(timedelta(seconds=25))

    delay = await second._follower_delay()

    assert delay == pytest.approx(5.05)


async def test_run_releases_on_stop(store: Store) -> None:
    lease = LeaderLease(store, "replica-a", ttl=3)
    task = asyncio.create_task(lease.run())
    await asyncio.wait_for(lease.changed.wait(), timeout=10)
    assert lease.is_leader

    lease.stop()
    await asyncio.wait_for(task, timeout=10)

    assert not lease.is_leader
    assert await store.get_lease(SWEEP_LEASE) is None
