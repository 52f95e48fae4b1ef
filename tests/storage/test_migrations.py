"""Alembic migrations: an empty database reaches head, and head matches the table definitions."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from presence_bridge.errors import StorageError
from presence_bridge.storage import Store, head_revision, open_store, upgrade_database
from presence_bridge.storage.engine import alembic_config, create_engine
from presence_bridge.storage.schema import metadata

from .conftest import FakeClock


def schema_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def downgrade_to_base(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, "base")


async def test_upgrade_empty_database(database_url: str) -> None:
    revision = await upgrade_database(database_url)

    assert revision == head_revision()
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(table_names)
            assert await connection.run_sync(current_revision) == head_revision()
    finally:
        await engine.dispose()
    assert set(metadata.tables) <= tables
    assert "alembic_version" in tables


async def test_upgrade_twice_is_noop(database_url: str) -> None:
    await upgrade_database(database_url)

    assert await upgrade_database(database_url) == head_revision()


async def test_head_matches_table_definitions(store: Store) -> None:
    async with store.engine.connect() as connection:
        diff = await connection.run_sync(schema_diff)

    assert diff == []


async def test_downgrade_then_upgrade(database_url: str) -> None:
    await upgrade_database(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(downgrade_to_base)
        async with engine.connect() as connection:
            assert await connection.run_sync(table_names) == {"alembic_version"}
    finally:
        await engine.dispose()

    assert await upgrade_database(database_url) == head_revision()


async def test_open_without_upgrade_needs_current_schema(
    database_url: str, keys: list[str], clock: FakeClock
) -> None:
    with pytest.raises(StorageError, match="presence-bridge db upgrade"):
        await open_store(database_url, encryption_keys=[keys[0]], upgrade=False, clock=clock)

    await upgrade_database(database_url)
    store = await open_store(database_url, encryption_keys=[keys[0]], upgrade=False, clock=clock)
    await store.close()


def test_url_with_sync_driver_rejected() -> None:
    with pytest.raises(StorageError, match="sqlite\\+aiosqlite"):
        create_engine("sqlite:///bridge.db")
    with pytest.raises(StorageError, match="postgresql\\+asyncpg"):
        create_engine("postgresql://user:hunter2-password@127.0.0.1/db")


@pytest.mark.parametrize(
    "url",
    ["user:hunter2-password@host/db", "postgresql+asyncpg://user:hunter2-password@127.0.0.1:port/db"],
)
def test_invalid_url_hides_password(url: str) -> None:
    with pytest.raises(StorageError, match="database URL is invalid") as caught:
        create_engine(url)

    assert "hunter2-password" not in str(caught.value)
    assert caught.value.__cause__ is None


async def test_unreadable_database_is_storage_error(tmp_path: Any, keys: list[str]) -> None:
    not_a_database = tmp_path / "bridge.db"
    not_a_database.write_bytes(b"these bytes are not a SQLite database header" * 100)

    with pytest.raises(StorageError, match="upgrading the database schema failed"):
        await open_store(f"sqlite+aiosqlite:///{not_a_database}", encryption_keys=[keys[0]])


async def test_store_repr_hides_password(store: Store) -> None:
    assert "presence-bridge-test" not in repr(store)
    assert store.dialect in repr(store)


async def test_new_sqlite_file_private(tmp_path: Any, keys: list[str]) -> None:
    path = tmp_path / "data" / "bridge.db"

    store = await open_store(f"sqlite+aiosqlite:///{path}", encryption_keys=[keys[0]])
    await store.close()

    assert path.stat().st_mode & 0o777 == 0o600
