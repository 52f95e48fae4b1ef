"""Engine creation for SQLite and PostgreSQL, and schema upgrades with Alembic.

SQLite connections get WAL journaling, foreign keys and a busy timeout.  Every
SQLite transaction starts with ``BEGIN IMMEDIATE``, which takes the write lock
up front.  So two writers queue on the busy timeout, instead of one failing with
"database is locked" when it upgrades a read lock to a write lock.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ..errors import StorageError

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite connection waits for another writer's lock before failing."""

POSTGRES_MIGRATION_LOCK = 0x70625F6D6967
"""Advisory lock id that serialises schema upgrades of replicas starting together."""

SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


def create_engine(url: str, *, echo: bool | str = False) -> AsyncEngine:
    """Create an async engine for ``url``; bound parameters never reach SQLAlchemy's logs."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        # The parser's message may quote the URL, which may contain a password.
        raise StorageError(
            "the database URL is invalid; expected e.g. "
            "sqlite+aiosqlite:///path/to/bridge.db or postgresql+asyncpg://user@host/db"
        ) from None
    driver = parsed.drivername
    if driver in ("sqlite", "postgresql", "postgres"):
        suggestion = "sqlite+aiosqlite" if driver == "sqlite" else "postgresql+asyncpg"
        raise StorageError(
            f"the database URL uses the synchronous driver {driver!r}; "
            f"write {suggestion}:// instead"
        )
    if driver not in SUPPORTED_DRIVERS:
        raise StorageError(
            f"database driver {driver!r} is not supported; use one of {', '.join(SUPPORTED_DRIVERS)}"
        )
    options: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if driver.startswith("postgresql"):
        options["pool_pre_ping"] = True
    if driver.startswith("sqlite"):
        _create_private_file(parsed.database)
    engine = create_async_engine(parsed, **options)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _create_private_file(database: str | None) -> None:
    """Create a missing SQLite file (and its folder) readable by its owner only.

    The file contains personal data and encrypted credentials.  SQLite creates
    its ``-wal`` and ``-shm`` files with the main file's permissions.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Python's sqlite3 module otherwise opens transactions on its own and
        # never around DDL; the "begin" listener below takes that over.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config() -> Config:
    """Return an Alembic configuration for the migrations shipped in this package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """Return the newest migration revision shipped with this version of the bridge."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise StorageError(f"no migrations found in {MIGRATIONS_DIR}; the installation is broken")
    return head


def _upgrade_on(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": POSTGRES_MIGRATION_LOCK})
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade_engine(engine: AsyncEngine) -> str:
    """Upgrade the schema behind ``engine`` to the newest migration, in one transaction.

    Returns the revision now current.  Raises :class:`StorageError` on failure.
    """
    try:
        async with engine.begin() as connection:
            before = await connection.run_sync(_current_revision)
            await connection.run_sync(_upgrade_on)
            after = await connection.run_sync(_current_revision)
    except (SQLAlchemyError, OSError) as exc:
        raise StorageError(f"upgrading the database schema failed: {exc}") from exc
    if before != after:
        logger.info("Upgraded the database schema from %s to %s", before or "empty", after)
    else:
        logger.debug("The database schema is current (%s)", after)
    return after or ""


async def check_schema_current(engine: AsyncEngine) -> None:
    """Raise :class:`StorageError` unless the schema is at the newest migration."""
    try:
        async with engine.connect() as connection:
            current = await connection.run_sync(_current_revision)
    except (SQLAlchemyError, OSError) as exc:
        raise StorageError(f"reading the database schema version failed: {exc}") from exc
    head = head_revision()
    if current != head:
        raise StorageError(
            f"the database schema is at revision {current or 'none'} but this version of the "
            f"bridge needs {head}; run `presence-bridge db upgrade`"
        )


async def upgrade_database(url: str) -> str:
    """Create or upgrade the schema at ``url`` to the newest migration and return its revision.

    ``presence-bridge db upgrade`` calls this; :func:`open_store` does the same on start.
    """
    engine = create_engine(url)
    try:
        return await upgrade_engine(engine)
    finally:
        await engine.dispose()
