"""Statements that PostgreSQL and SQLite both support but SQLAlchemy builds per dialect."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def dialect_insert(connection: AsyncConnection, table: Table) -> Any:
    """Return an INSERT for ``table`` that offers ``on_conflict_do_*`` on this connection's dialect."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def upsert(
    connection: AsyncConnection, table: Table, key: dict[str, Any], values: dict[str, Any]
) -> None:
    """Insert the row ``key | values``, or update ``values`` where the primary key ``key`` exists."""
    statement = dialect_insert(connection, table).values({**key, **values})
    statement = statement.on_conflict_do_update(index_elements=list(key), set_=values)
    await connection.execute(statement)
