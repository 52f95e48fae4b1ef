"""Audit log retention, stored values and leases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from presence_bridge.storage import Store

from .conftest import FakeClock


async def add_change(store: Store, user: str, new_value: str) -> int:
    return await store.add_audit(
        actor=f"slack:T1:{user}",
        source="slack",
        action="status",
        nextcloud_user_id=user,
        platform="nextcloud",
        workspace="",
        old_value="online",
        new_value=new_value,
    )


async def test_audit_entries_newest_first(store: Store, clock: FakeClock) -> None:
    first = await add_change(store, "alice", "away")
    clock.advance(timedelta(minutes=1))
    second = await add_change(store, "alice", "dnd")
    await add_change(store, "bob", "away")

    entries = await store.list_audit(nextcloud_user_id="alice")

    assert [entry.id for entry in entries] == [second, first]
    newest = entries[0]
    assert newest.actor == "slack:T1:alice"
    assert newest.source == "slack"
    assert newest.action == "status"
    assert newest.old_value == "online"
    assert newest.new_value == "dnd"
    assert newest.at == clock.now
    assert len(await store.list_audit()) == 3
    assert len(await store.list_audit(since=clock.now)) == 2


async def test_purge_audit_by_age(store: Store, clock: FakeClock) -> None:
    await add_change(store, "alice", "away")
    clock.advance(timedelta(days=40))
    kept = await add_change(store, "alice", "dnd")

    purged = await store.purge_audit(timedelta(days=30))

    assert purged == 1
    assert [entry.id for entry in await store.list_audit()] == [kept]


async def test_purge_audit_by_cutoff(store: Store, clock: FakeClock) -> None:
    await add_change(store, "alice", "away")
    cutoff = clock.now + timedelta(seconds=1)
    clock.advance(timedelta(seconds=2))
    await add_change(store, "alice", "dnd")

    assert await store.purge_audit(cutoff) == 1
    assert await store.purge_audit(cutoff) == 0


async def test_values_set_get_delete(store: Store) -> None:
    assert await store.get_value("matrix.sync_token") is None

    await store.set_value("matrix.sync_token", "s72594_4483_1934")
    await store.set_value("matrix.sync_token", "s72595_4483_1935")

    assert await store.get_value("matrix.sync_token") == "s72595_4483_1935"
    assert await store.delete_value("matrix.sync_token") is True
    assert await store.delete_value("matrix.sync_token") is False
    assert await store.get_value("matrix.sync_token") is None


async def test_old_values_deleted_by_prefix(store: Store, clock: FakeClock) -> None:
    await store.set_value("matrix.txn:as_1:1", "old")
    await store.set_value("matrix.txn:asx1:1", "old, prefix with a literal underscore only")
    await store.set_value("matrix.sync_token", "old, other prefix")
    await store.set_value("matrix.txn:AS_1:1", "old, prefix in other case")
    await store.set_value("matrix.txn:as_1;1", "old, next character after the prefix")
    clock.advance(timedelta(days=8))
    await store.set_value("matrix.txn:as_1:2", "new")

    deleted = await store.delete_values_before("matrix.txn:as_1:", clock.now - timedelta(days=7))

    assert deleted == 1
    assert await store.get_value("matrix.txn:as_1:1") is None
    assert await store.get_value("matrix.txn:as_1:2") == "new"
    assert await store.get_value("matrix.txn:asx1:1") is not None
    assert await store.get_value("matrix.sync_token") is not None
    assert await store.get_value("matrix.txn:AS_1:1") is not None
    assert await store.get_value("matrix.txn:as_1;1") is not None


async def test_lease_one_holder(store: Store, clock: FakeClock) -> None:
    ttl = timedelta(seconds=30)

    assert await store.acquire_lease("poller", "replica-1", ttl) is True
    assert await store.acquire_lease("poller", "replica-2", ttl) is False
    assert await store.acquire_lease("other", "replica-2", ttl) is True

    lease = await store.get_lease("poller")
    assert lease is not None
    assert lease.holder == "replica-1"
    assert lease.expires_at == clock.now + ttl


async def test_lease_renewal_extends(store: Store, clock: FakeClock) -> None:
    ttl = timedelta(seconds=30)
    await store.acquire_lease("poller", "replica-1", ttl)
    clock.advance(timedelta(seconds=20))

    assert await store.acquire_lease("poller", "replica-1", ttl) is True
    clock.advance(timedelta(seconds=20))
    assert await store.acquire_lease("poller", "replica-2", ttl) is False

    lease = await store.get_lease("poller")
    assert lease is not None
    assert lease.expires_at == clock.now + timedelta(seconds=10)


async def test_lease_expiry_takeover(store: Store, clock: FakeClock) -> None:
    ttl = timedelta(seconds=30)
    await store.acquire_lease("poller", "replica-1", ttl)
    clock.advance(ttl)

    assert await store.acquire_lease("poller", "replica-2", ttl) is True
    assert await store.release_lease("poller", "replica-1") is False
    assert await store.acquire_lease("poller", "replica-1", ttl) is False
    assert await store.release_lease("poller", "replica-2") is True
    assert await store.get_lease("poller") is None
    assert await store.acquire_lease("poller", "replica-1", ttl) is True


async def test_lease_needs_positive_ttl(store: Store) -> None:
    with pytest.raises(ValueError, match="positive ttl"):
        await store.acquire_lease("poller", "replica-1", timedelta(0))


async def test_sync_state_round_trip(store: Store, clock: FakeClock) -> None:
    assert await store.get_observed_status("alice") is None
    status = {"status": "dnd", "message": "Focus 🎧", "clearAt": None}

    await store.save_observed_status("alice", status)
    clock.advance(timedelta(seconds=5))
    await store.save_observed_status("alice", {**status, "status": "away"})

    observed = await store.get_observed_status("alice")
    assert observed is not None
    assert observed.status == {**status, "status": "away"}
    assert observed.observed_at == clock.now


async def test_written_fingerprints_per_platform(store: Store, clock: FakeClock) -> None:
    await store.record_write("alice", "slack", "T1", "fp-slack-1")
    await store.record_write("alice", "nextcloud", "", "fp-nc-1")
    clock.advance(timedelta(seconds=1))
    await store.record_write("alice", "slack", "T1", "fp-slack-2")

    slack = await store.get_last_write("alice", "slack", "T1")
    nextcloud = await store.get_last_write("alice", "nextcloud", "")
    assert slack is not None
    assert nextcloud is not None
    assert slack.fingerprint == "fp-slack-2"
    assert slack.written_at == clock.now
    assert nextcloud.fingerprint == "fp-nc-1"
    assert await store.get_last_write("alice", "matrix", "example.org") is None
