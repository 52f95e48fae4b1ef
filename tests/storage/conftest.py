"""Fixtures that run every storage test on a SQLite file and on PostgreSQL.

The PostgreSQL variant needs ``PRESENCE_BRIDGE_TEST_POSTGRES_URL``, which
``scripts/postgres-test-server`` prints; without it those tests are skipped.
Each PostgreSQL test starts from an empty ``public`` schema.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

from presence_bridge.storage import Store, open_store

POSTGRES_URL_VARIABLE = "PRESENCE_BRIDGE_TEST_POSTGRES_URL"


@dataclass
class FakeClock:
    """A clock the tests move by hand, so lease and retry times need no sleeping."""

    now: datetime = field(default_factory=lambda: datetime(2026, 3, 1, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


async def reset_postgres(url: str) -> None:
    """Drop every table of the test database by recreating its ``public`` schema."""
    import asyncpg

    parsed = make_url(url)
    connection = await asyncpg.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        database=parsed.database,
    )
    try:
        await connection.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database: a new SQLite file, or the reset PostgreSQL test database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'bridge.db'}"
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        pytest.skip(f"{POSTGRES_URL_VARIABLE} is not set; start a server with scripts/postgres-test-server")
    await reset_postgres(url)
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def keys() -> list[str]:
    """Two Fernet keys; tests use the first unless they test rotation."""
    return [Fernet.generate_key().decode(), Fernet.generate_key().decode()]


@pytest.fixture
async def store(database_url: str, keys: list[str], clock: FakeClock) -> AsyncIterator[Store]:
    opened = await open_store(database_url, encryption_keys=[keys[0]], clock=clock)
    try:
        yield opened
    finally:
        await opened.close()
