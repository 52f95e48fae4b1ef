"""Several dispatchers on one PostgreSQL outbox at once: every write is sent exactly once, in order."""

from __future__ import annotations

import asyncio
import collections
import os
from collections.abc import AsyncIterator

import pytest
from cryptography.fernet import Fernet

from presence_bridge.storage import Store, open_store
from presence_bridge.sync.dispatcher import Dispatcher, DispatcherOptions
from presence_bridge.sync.platform import Applied, ApplyResult, ChatWrite, PlatformRegistry
from tests.process.test_dispatcher import FakePlatform, enqueue
from tests.storage.conftest import POSTGRES_URL_VARIABLE, reset_postgres

POSTGRES_URL = os.environ.get(POSTGRES_URL_VARIABLE)

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL,
    reason=f"{POSTGRES_URL_VARIABLE} is not set; scripts/postgres-test-server start prints it",
)


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    assert POSTGRES_URL is not None
    await reset_postgres(POSTGRES_URL)
    async with await open_store(POSTGRES_URL, encryption_keys=[Fernet.generate_key().decode()]) as opened:
        yield opened


class SharedLog(FakePlatform):
    """A fake platform that appends each write, with its replica's name, to one list shared by all."""

    def __init__(self, name: str, log: list[tuple[str, ChatWrite]]) -> None:
        super().__init__()
        self.name = name
        self.log = log

    async def apply(self, write: ChatWrite) -> ApplyResult:
        self.log.append((self.name, write))
        await asyncio.sleep(0)
        return Applied()


async def test_concurrent_dispatchers_send_each_write_once(store: Store) -> None:
    users = [f"user{index}" for index in range(40)]
    for user in users:
        await enqueue(store, user, "dnd", "first")
    log: list[tuple[str, ChatWrite]] = []
    options = DispatcherOptions(batch_size=3, lease=30.0, send_timeout=5.0)
    dispatchers = []
    for index in range(4):
        registry = PlatformRegistry([SharedLog(f"replica-{index}", log)])
        dispatchers.append(Dispatcher(store, registry, worker_id=f"replica-{index}", options=options))

    async def drain(dispatcher: Dispatcher) -> None:
        while await dispatcher.dispatch_once():
            await asyncio.sleep(0)

    # A second write for half of the users arrives while the first ones are being sent.
    async def enqueue_second() -> None:
        for user in users[::2]:
            await enqueue(store, user, "away", "second")
            await asyncio.sleep(0)

    await asyncio.gather(enqueue_second(), *(drain(dispatcher) for dispatcher in dispatchers))
    await asyncio.gather(*(drain(dispatcher) for dispatcher in dispatchers))

    counts = collections.Counter(write.idempotency_key for _, write in log)
    assert [key for key, count in counts.items() if count > 1] == []
    assert len({name for name, _ in log}) > 1
    assert await store.list_outbox() == []
    last = {write.nextcloud_user_id: write.desired.message for _, write in log}
    assert last == {user: "second" if index % 2 == 0 else "first" for index, user in enumerate(users)}
