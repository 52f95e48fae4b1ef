"""The store-backed transaction log: ids survive in the store and old ones are deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from presence_bridge.errors import StorageError
from presence_bridge.matrix.store_log import StoreTransactionLog
from presence_bridge.storage import open_store


async def test_old_ids_pruned_on_schedule(tmp_path: Path) -> None:
    now = [datetime(2026, 3, 1, 9, 0, tzinfo=UTC)]
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.sqlite3'}"
    async with await open_store(url, encryption_keys=[Fernet.generate_key().decode()], clock=lambda: now[0]) as store:
        log = StoreTransactionLog(store, "bridge", keep=timedelta(days=7), prune_every=3)
        other = StoreTransactionLog(store, "other")
        await log.add("1")
        await other.add("1")
        now[0] += timedelta(days=8)

        # The first write after start pruned nothing old; the 4th write prunes.
        await log.add("2")
        await log.add("3")
        assert await log.contains("1")
        await log.add("4")

        assert not await log.contains("1")
        assert await log.contains("2")
        assert await log.contains("4")
        assert await other.contains("1")


class FailingPruneStore:
    """A store whose deletion of old values fails, as a locked or lost database would."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def now(self) -> datetime:
        return datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    async def get_value(self, key: str) -> str | None:
        return self.values.get(key)

    async def set_value(self, key: str, value: str) -> None:
        self.values[key] = value

    async def delete_values_before(self, prefix: str, before: datetime) -> int:
        raise StorageError("deleting old stored values failed: database is locked")


async def test_failed_prune_keeps_the_id(caplog: pytest.LogCaptureFixture) -> None:
    log = StoreTransactionLog(FailingPruneStore(), "bridge")  # type: ignore[arg-type]

    await log.add("1")

    assert await log.contains("1")
    assert "Deleting old appservice transaction ids failed" in caplog.text


def test_prune_every_must_be_positive() -> None:
    with pytest.raises(ValueError, match="prune_every 0"):
        StoreTransactionLog(FailingPruneStore(), "bridge", prune_every=0)  # type: ignore[arg-type]
