"""Re-encryption of every secret column with the newest key, and the key check value.

Rotation runs in small transactions while the bridge keeps running: readers
decrypt with any configured key, and each row is rewritten only if it still
contains the token that was read, so a concurrent write is never overwritten.
The key check value is re-encrypted last, so it uses the newest key only once
every row that existed when the rotation started does too.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import StorageError
from ._base import StoreBase
from ._dialect import dialect_insert
from .crypto import SecretBox
from .schema import SECRET_COLUMNS, encryption_canary, metadata

logger = logging.getLogger(__name__)

CANARY_ID = 1


class RotationMethods(StoreBase):
    """Key rotation and the key check done at open."""

    async def rotate_keys(self, *, batch_size: int = 200) -> int:
        """Re-encrypt every secret not yet under the first key; return how many values changed.

        Run it after putting the new key first in every replica's key list; once
        it returns, the old keys can be removed.  It can be interrupted and run again.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        total = 0
        for table_name, columns in SECRET_COLUMNS.items():
            table = metadata.tables[table_name]
            changed = await self._rotate_table(table, columns, batch_size)
            if changed:
                logger.info("Re-encrypted %d values in %s", changed, table_name)
            total += changed
        async with self._transaction("re-encrypting the key check value") as connection:
            token = await _read_canary(connection)
            if token is not None:
                rotated = self._box.rotate(token, what="the key check value")
                if rotated is not None:
                    await connection.execute(
                        encryption_canary.update().where(encryption_canary.c.id == CANARY_ID).values(token=rotated)
                    )
        logger.info("Key rotation finished: %d values re-encrypted with the first key", total)
        return total

    async def _rotate_table(self, table: Table, columns: tuple[str, ...], batch_size: int) -> int:
        (key_column,) = table.primary_key.columns
        changed = 0
        last_key: Any = None
        while True:
            async with self._transaction(f"re-encrypting {table.name}") as connection:
                query = select(key_column, *(table.c[name] for name in columns))
                if last_key is not None:
                    query = query.where(key_column > last_key)
                rows = (await connection.execute(query.order_by(key_column).limit(batch_size))).all()
                for row in rows:
                    changed += await _rotate_row(connection, self._box, table, key_column, row, columns)
            if len(rows) < batch_size:
                return changed
            last_key = rows[-1][0]

    async def check_keys(self) -> None:
        """Store the key check value on first use, else raise SecretKeyError if no key decrypts it."""
        async with self._transaction("checking the encryption keys") as connection:
            token = await _read_canary(connection)
            if token is None:
                await self._check_existing_secret(connection)
                # A replica starting at the same time may insert first. Its value
                # is then checked below like any stored one.
                await connection.execute(
                    dialect_insert(connection, encryption_canary)
                    .values(id=CANARY_ID, token=self._box.new_canary(), created_at=self.now())
                    .on_conflict_do_nothing(index_elements=["id"])
                )
                token = await _read_canary(connection)
                logger.info("Stored the key check value of a new store")
        if token is None:
            raise StorageError("the key check value vanished while the store opened; open it again")
        self._box.check_canary(token)


    async def _check_existing_secret(self, connection: AsyncConnection) -> None:
        """Decrypt one stored secret, if any, before a key check value is first written.

        A store whose key check value was lost must not adopt a new key while
        it still contains secrets encrypted with another one.
        """
        for table_name, columns in SECRET_COLUMNS.items():
            table = metadata.tables[table_name]
            column = table.c[columns[0]]
            query = select(column).where(column.is_not(None)).limit(1)
            token = (await connection.execute(query)).scalar_one_or_none()
            if token is not None:
                self._box.decrypt(token, what=f"the stored {table_name}.{column.name}")
                return


async def _rotate_row(
    connection: AsyncConnection,
    box: SecretBox,
    table: Table,
    key_column: Any,
    row: Any,
    columns: tuple[str, ...],
) -> int:
    changed = 0
    row_key = row[0]
    for position, name in enumerate(columns, start=1):
        token = row[position]
        if token is None:
            continue
        rotated = box.rotate(token, what=f"{table.name}.{name} of row {row_key}")
        if rotated is None:
            continue
        result = await connection.execute(
            table.update().where(key_column == row_key, table.c[name] == token).values({name: rotated})
        )
        changed += result.rowcount
    return changed


async def _read_canary(connection: AsyncConnection) -> str | None:
    query = select(encryption_canary.c.token).where(encryption_canary.c.id == CANARY_ID)
    return (await connection.execute(query)).scalar_one_or_none()
