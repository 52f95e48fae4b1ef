"""Fixtures that run every storage test on a SQLite file and on PostgreSQL.

The PostgreSQL variant needs ``PRESENCE_BRIDGE_TEST_POSTGRES_URL``, which
``scripts/postgres-test-server`` prints; without it those tests are skipped.
``database_url`` is an empty database.  ``store`` opens a database already at
the newest migration: a copy of a migrated SQLite file, or the PostgreSQL test
database with every table emptied, which is faster than migrating per test.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

from presence_bridge.storage import Store, head_revision, open_store, upgrade_database
from presence_bridge.storage.schema import metadata

POSTGRES_URL_VARIABLE = "PRESENCE_BRIDGE_TEST_POSTGRES_URL"


@dataclass
class FakeClock:
    """A clock the tests move by hand, so lease and retry times need no sleeping."""

    now: datetime = field(default_factory=lambda: datetime(2026, 3, 1, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


async def connect_postgres(url: str) -> Any:
    import asyncpg

    parsed = make_url(url)
    return await asyncpg.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        database=parsed.database,
    )


async def reset_postgres(url: str) -> None:
    """Drop every table of the test database by recreating its ``public`` schema."""
    connection = await connect_postgres(url)
    try:
        await connection.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await connection.close()


async def empty_postgres_tables(url: str) -> bool:
    """Empty every table if the schema is at the newest migration; return whether it was."""
    connection = await connect_postgres(url)
    try:
        exists = await connection.fetchval("SELECT to_regclass('public.alembic_version') IS NOT NULL")
        if not exists or await connection.fetchval("SELECT version_num FROM alembic_version") != head_revision():
            return False
        tables = ", ".join(metadata.tables)
        await connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        return True
    finally:
        await connection.close()


def postgres_url() -> str:
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        pytest.skip(f"{POSTGRES_URL_VARIABLE} is not set; start a server with scripts/postgres-test-server")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database: a new SQLite file, or the reset PostgreSQL test database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'bridge.db'}"
    url = postgres_url()
    await reset_postgres(url)
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the newest revision once per test session."""
    path = tmp_path_factory.mktemp("template") / "bridge.db"
    asyncio.run(upgrade_database(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
async def migrated_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """The URL of a database at the newest migration with empty tables."""
    if request.param == "sqlite":
        path = tmp_path / "bridge.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url = postgres_url()
    if not await empty_postgres_tables(url):
        await reset_postgres(url)
        await upgrade_database(url)
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def keys() -> list[str]:
    """Two Fernet keys; tests use the first unless they test rotation."""
    return [Fernet.generate_key().decode(), Fernet.generate_key().decode()]


@pytest.fixture
async def store(migrated_url: str, keys: list[str], clock: FakeClock) -> AsyncIterator[Store]:
    opened = await open_store(migrated_url, encryption_keys=[keys[0]], clock=clock)
    try:
        yield opened
    finally:
        await opened.close()
