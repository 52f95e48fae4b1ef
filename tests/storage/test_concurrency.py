"""Two store instances (two connection pools) racing on the same database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from presence_bridge.core.ids import ChatIdentity, Platform
from presence_bridge.errors import LinkConflictError
from presence_bridge.storage import Store, open_store

from .conftest import FakeClock


@pytest.fixture
async def two_stores(database_url: str, keys: list[str], clock: FakeClock) -> AsyncIterator[tuple[Store, Store]]:
    first = await open_store(database_url, encryption_keys=[keys[0]], clock=clock)
    second = await open_store(database_url, encryption_keys=[keys[0]], clock=clock)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_lease_race_one_winner(two_stores: tuple[Store, Store]) -> None:
    first, second = two_stores
    ttl = timedelta(seconds=30)

    for round_number in range(10):
        name = f"poller-{round_number}"
        results = await asyncio.gather(
            first.acquire_lease(name, "replica-1", ttl),
            second.acquire_lease(name, "replica-2", ttl),
        )
        assert sorted(results) == [False, True]


async def test_link_race_one_winner(two_stores: tuple[Store, Store]) -> None:
    first, second = two_stores

    for number in range(10):
        nextcloud_user = f"user-{number}"
        results = await asyncio.gather(
            first.link(ChatIdentity(Platform.SLACK, "T1", f"UA{number}"), nextcloud_user),
            second.link(ChatIdentity(Platform.SLACK, "T1", f"UB{number}"), nextcloud_user),
            return_exceptions=True,
        )
        conflicts = [result for result in results if isinstance(result, LinkConflictError)]
        assert len(conflicts) == 1, results
        assert len(await first.list_links(nextcloud_user_id=nextcloud_user)) == 1


async def test_enqueue_race_same_key(two_stores: tuple[Store, Store]) -> None:
    first, second = two_stores

    for number in range(10):
        key = f"key-{number}"
        ids = await asyncio.gather(
            first.enqueue("slack", "T1", "U1", {"n": number}, idempotency_key=key),
            second.enqueue("slack", "T1", "U1", {"n": number}, idempotency_key=key),
        )
        assert ids[0] == ids[1]
    assert len(await first.list_outbox()) == 10


async def test_open_race_on_empty_database(database_url: str, keys: list[str], clock: FakeClock) -> None:
    stores = await asyncio.gather(
        open_store(database_url, encryption_keys=[keys[0]], clock=clock),
        open_store(database_url, encryption_keys=[keys[0]], clock=clock),
        open_store(database_url, encryption_keys=[keys[0]], clock=clock),
    )
    try:
        identity = ChatIdentity(Platform.MATRIX, "example.org", "@alice:example.org")
        await stores[0].link(identity, "alice")
        await stores[0].set_credentials(identity, "alice", "app-password-written-by-one")
        for store in stores:
            credentials = await store.get_credentials(identity)
            assert credentials is not None
            assert credentials.app_password.reveal() == "app-password-written-by-one"
    finally:
        for store in stores:
            await store.close()
