"""The outbox: enqueue, claim, ack, retry, give-up, leases and concurrent claimers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from presence_bridge.storage import OutboxState, Store, backoff_delay, open_store

from .conftest import FakeClock

LEASE = timedelta(seconds=30)


async def enqueue(store: Store, key: str, user: str = "U1") -> int:
    return await store.enqueue("slack", "T1", user, {"text": "lunch", "emoji": ":fork_and_knife:"},
                               idempotency_key=key, nextcloud_user_id="alice")


async def test_enqueue_then_claim(store: Store, clock: FakeClock) -> None:
    row_id = await enqueue(store, "k1")

    items = await store.claim_outbox("worker-a", lease=LEASE)

    assert [item.id for item in items] == [row_id]
    item = items[0]
    assert item.payload == {"text": "lunch", "emoji": ":fork_and_knife:"}
    assert item.platform == "slack"
    assert item.user_id == "U1"
    assert item.nextcloud_user_id == "alice"
    assert item.state is OutboxState.PENDING
    assert item.attempts == 0
    assert item.claimed_by == "worker-a"
    assert item.claimed_until == clock.now + LEASE


async def test_enqueue_same_key_once(store: Store) -> None:
    first = await enqueue(store, "same")
    second = await enqueue(store, "same")

    assert second == first
    assert len(await store.list_outbox()) == 1


async def test_claim_skips_claimed_rows(store: Store) -> None:
    await enqueue(store, "k1")

    assert len(await store.claim_outbox("worker-a", lease=LEASE)) == 1
    assert await store.claim_outbox("worker-b", lease=LEASE) == []


async def test_claim_respects_limit_and_order(store: Store, clock: FakeClock) -> None:
    ids = []
    for number in range(5):
        ids.append(await enqueue(store, f"k{number}"))
        clock.advance(timedelta(seconds=1))

    first = await store.claim_outbox("worker-a", limit=2, lease=LEASE)
    rest = await store.claim_outbox("worker-b", limit=10, lease=LEASE)

    assert [item.id for item in first] == ids[:2]
    assert [item.id for item in rest] == ids[2:]


async def test_claim_waits_for_not_before(store: Store, clock: FakeClock) -> None:
    await store.enqueue("slack", "T1", "U1", {}, idempotency_key="later", not_before=clock.now + timedelta(minutes=1))

    assert await store.claim_outbox("worker-a") == []
    clock.advance(timedelta(minutes=1))
    assert len(await store.claim_outbox("worker-a")) == 1


async def test_ack_deletes_row(store: Store) -> None:
    await enqueue(store, "k1")
    (item,) = await store.claim_outbox("worker-a", lease=LEASE)

    assert await store.ack_outbox(item) is True
    assert await store.list_outbox() == []
    assert await store.ack_outbox(item) is False


async def test_retry_backs_off(store: Store, clock: FakeClock) -> None:
    await enqueue(store, "k1")
    (item,) = await store.claim_outbox("worker-a", lease=LEASE)

    due = await store.retry_outbox(item, "HTTP 503 from Slack")

    assert due == clock.now + backoff_delay(1)
    (stored,) = await store.list_outbox()
    assert stored.attempts == 1
    assert stored.last_error == "HTTP 503 from Slack"
    assert stored.claimed_by is None
    assert await store.claim_outbox("worker-a", lease=LEASE) == []

    clock.advance(backoff_delay(1))
    (again,) = await store.claim_outbox("worker-b", lease=LEASE)
    assert again.attempts == 1
    due = await store.retry_outbox(again, "ratelimited", delay=timedelta(seconds=42))
    assert due == clock.now + timedelta(seconds=42)
    (stored,) = await store.list_outbox()
    assert stored.attempts == 2


def test_backoff_delay_doubles_to_cap() -> None:
    assert backoff_delay(0) == timedelta(0)
    assert backoff_delay(1) == timedelta(seconds=5)
    assert backoff_delay(2) == timedelta(seconds=10)
    assert backoff_delay(3) == timedelta(seconds=20)
    assert backoff_delay(50) == timedelta(hours=1)


async def test_retry_error_text_truncated(store: Store) -> None:
    await enqueue(store, "k1")
    (item,) = await store.claim_outbox("worker-a", lease=LEASE)

    await store.retry_outbox(item, "x" * 5000)

    (stored,) = await store.list_outbox()
    assert stored.last_error is not None
    assert len(stored.last_error) == 2000


async def test_give_up_marks_dead(store: Store, clock: FakeClock) -> None:
    row_id = await enqueue(store, "k1")
    (item,) = await store.claim_outbox("worker-a", lease=LEASE)

    assert await store.give_up_outbox(item, "user_not_found") is True

    clock.advance(timedelta(days=1))
    assert await store.claim_outbox("worker-a", lease=LEASE) == []
    (dead,) = await store.list_outbox(state=OutboxState.DEAD)
    assert dead.id == row_id
    assert dead.last_error == "user_not_found"
    assert dead.attempts == 1

    assert await store.requeue_dead_outbox(row_id) is True
    (requeued,) = await store.claim_outbox("worker-a", lease=LEASE)
    assert requeued.attempts == 0


async def test_release_keeps_attempts(store: Store) -> None:
    await enqueue(store, "k1")
    (item,) = await store.claim_outbox("worker-a", lease=LEASE)

    assert await store.release_outbox(item) is True

    (again,) = await store.claim_outbox("worker-b", lease=LEASE)
    assert again.attempts == 0


async def test_expired_lease_taken_over(store: Store, clock: FakeClock) -> None:
    await enqueue(store, "k1")
    (stale,) = await store.claim_outbox("worker-a", lease=LEASE)

    clock.advance(LEASE - timedelta(seconds=1))
    assert await store.claim_outbox("worker-b", lease=LEASE) == []
    clock.advance(timedelta(seconds=1))
    (taken,) = await store.claim_outbox("worker-b", lease=LEASE)

    assert taken.id == stale.id
    assert taken.claimed_by == "worker-b"
    assert await store.ack_outbox(stale) is False
    assert await store.retry_outbox(stale, "late") is None
    assert await store.give_up_outbox(stale, "late") is False
    assert await store.ack_outbox(taken) is True


async def test_settle_unclaimed_item_rejected(store: Store) -> None:
    await enqueue(store, "k1")
    (item,) = await store.list_outbox()

    with pytest.raises(ValueError, match="not claimed"):
        await store.ack_outbox(item)


async def test_concurrent_claimers_each_row_once(database_url: str, keys: list[str], clock: FakeClock) -> None:
    first = await open_store(database_url, encryption_keys=[keys[0]], clock=clock)
    second = await open_store(database_url, encryption_keys=[keys[0]], clock=clock, upgrade=False)
    row_count = 60
    for number in range(row_count):
        await enqueue(first, f"k{number}", user=f"U{number}")

    async def drain(store: Store, worker: str) -> list[int]:
        claimed: list[int] = []
        while True:
            items = await store.claim_outbox(worker, limit=3, lease=LEASE)
            if not items:
                return claimed
            claimed.extend(item.id for item in items)
            await asyncio.sleep(0)

    try:
        results = await asyncio.gather(
            drain(first, "worker-a"),
            drain(second, "worker-b"),
            drain(first, "worker-c"),
            drain(second, "worker-d"),
        )
    finally:
        await first.close()
        await second.close()

    claimed = [row_id for result in results for row_id in result]
    assert len(claimed) == row_count
    assert len(set(claimed)) == row_count
    assert sum(1 for result in results if result) >= 2
