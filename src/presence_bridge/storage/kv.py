"""Small named values (e.g. the Matrix sync token) and leases (e.g. poller leadership)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select

from ._base import StoreBase
from ._dialect import dialect_insert, upsert
from .models import Lease
from .schema import key_values, leases

logger = logging.getLogger(__name__)


class KeyValueMethods(StoreBase):
    """A string value per key, and leases that one holder at a time owns until they expire."""

    async def get_value(self, key: str) -> str | None:
        """Return the value stored under ``key``, or None."""
        async with self._transaction("reading a stored value") as connection:
            query = select(key_values.c.value).where(key_values.c.key == key)
            return (await connection.execute(query)).scalar_one_or_none()

    async def set_value(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``, replacing any previous one.  Not for secrets."""
        async with self._transaction("storing a value") as connection:
            await upsert(connection, key_values, {"key": key}, {"value": value, "updated_at": self.now()})

    async def delete_value(self, key: str) -> bool:
        """Delete ``key``; return whether it existed."""
        async with self._transaction("deleting a stored value") as connection:
            result = await connection.execute(key_values.delete().where(key_values.c.key == key))
        return result.rowcount > 0

    async def delete_values_before(self, prefix: str, before: datetime) -> int:
        """Delete the values whose key starts with ``prefix`` and that were last stored before ``before``; return how many."""
        if not prefix:
            raise ValueError("prefix is empty: pass the start of the keys to delete")
        # Equality on the key's start, because SQLite's LIKE ignores case, and a key range
        # depends on the PostgreSQL database's collation.
        key_start = func.substr(key_values.c.key, 1, len(prefix))
        async with self._transaction("deleting old stored values") as connection:
            query = key_values.delete().where(key_start == prefix, key_values.c.updated_at < before)
            result = await connection.execute(query)
        return result.rowcount

    async def acquire_lease(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take or renew the lease ``name`` for ``holder`` until ``ttl`` from now.

        Succeeds when nobody holds the lease, ``holder`` already holds it, or the
        previous holder's lease has expired.  Returns whether ``holder`` now holds it.
        """
        if ttl <= timedelta(0):
            raise ValueError(f"a lease needs a positive ttl, got {ttl}")
        now = self.now()
        async with self._transaction("acquiring a lease") as connection:
            insert = dialect_insert(connection, leases).values(name=name, holder=holder, expires_at=now + ttl)
            statement = insert.on_conflict_do_update(
                index_elements=["name"],
                set_={"holder": insert.excluded.holder, "expires_at": insert.excluded.expires_at},
                where=or_(leases.c.holder == insert.excluded.holder, leases.c.expires_at <= now),
            ).returning(leases.c.holder)
            acquired = (await connection.execute(statement)).scalar_one_or_none() == holder
        logger.debug("Lease %s %s by %s", name, "held" if acquired else "not acquired", holder)
        return acquired

    async def release_lease(self, name: str, holder: str) -> bool:
        """Give up the lease if ``holder`` holds it; return whether it did."""
        async with self._transaction("releasing a lease") as connection:
            result = await connection.execute(
                leases.delete().where(leases.c.name == name, leases.c.holder == holder)
            )
        return result.rowcount > 0

    async def get_lease(self, name: str) -> Lease | None:
        """Return the current holder of ``name`` even when expired, or None if nobody has it."""
        async with self._transaction("reading a lease") as connection:
            row = (await connection.execute(select(leases).where(leases.c.name == name))).first()
        return None if row is None else Lease(name=row.name, holder=row.holder, expires_at=row.expires_at)
