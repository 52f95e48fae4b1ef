"""A durable queue of pending writes, claimed by one worker at a time under a lease.

A worker claims due rows with :meth:`OutboxMethods.claim_outbox`, which sets
``claimed_by`` and ``claimed_until`` in one atomic UPDATE (with ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, and under SQLite's single write lock there).  The worker
then acks, retries or gives up each row.  Those calls succeed only while
``claimed_by`` still names the worker, so a worker whose lease expired and was
taken over cannot delete the new holder's row.  Times come from the store's clock,
so replicas sharing a PostgreSQL database need synchronised clocks.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..core.ids import NextcloudUserId
from ._base import StoreBase
from ._dialect import dialect_insert
from .models import OutboxItem, OutboxState
from .schema import outbox

logger = logging.getLogger(__name__)

RETRY_BASE_DELAY = timedelta(seconds=5)
RETRY_MAX_DELAY = timedelta(hours=1)
DEFAULT_LEASE = timedelta(seconds=60)
MAX_ERROR_LENGTH = 2000


def backoff_delay(attempts: int) -> timedelta:
    """Return the wait before the next try after ``attempts`` failed ones: 5 s doubling to 1 h."""
    if attempts < 1:
        return timedelta(0)
    exponent = min(attempts - 1, 20)
    return min(RETRY_BASE_DELAY * (2**exponent), RETRY_MAX_DELAY)


class OutboxMethods(StoreBase):
    """Enqueueing, claiming and settling outbox rows."""

    async def enqueue(
        self,
        platform: str,
        workspace: str,
        user_id: str,
        payload: Mapping[str, Any],
        *,
        idempotency_key: str,
        nextcloud_user_id: str | None = None,
        not_before: datetime | None = None,
    ) -> int:
        """Add a pending write and return its id.

        A second call with the same ``idempotency_key`` adds nothing and returns
        the id of the first row, as long as that row still exists.
        """
        now = self.now()
        values = {
            "platform": platform,
            "workspace": workspace,
            "user_id": user_id,
            "nextcloud_user_id": nextcloud_user_id,
            "payload_json": json.dumps(dict(payload), sort_keys=True, ensure_ascii=False),
            "idempotency_key": idempotency_key,
            "state": OutboxState.PENDING.value,
            "attempts": 0,
            "next_attempt_at": not_before or now,
            "created_at": now,
        }
        async with self._transaction("adding an outbox row") as connection:
            statement = (
                dialect_insert(connection, outbox)
                .values(values)
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
                .returning(outbox.c.id)
            )
            row_id = (await connection.execute(statement)).scalar_one_or_none()
            if row_id is None:
                query = select(outbox.c.id).where(outbox.c.idempotency_key == idempotency_key)
                row_id = (await connection.execute(query)).scalar_one()
                logger.debug("Outbox row %s already holds idempotency key %s", row_id, idempotency_key)
            else:
                logger.debug("Queued outbox row %s for %s:%s:%s", row_id, platform, workspace, user_id)
        return int(row_id)

    async def claim_outbox(
        self, worker: str, *, limit: int = 10, lease: timedelta = DEFAULT_LEASE
    ) -> list[OutboxItem]:
        """Claim up to ``limit`` due rows for ``worker`` until ``lease`` from now.

        A row is due when it is pending, its ``next_attempt_at`` has passed and no
        unexpired lease holds it.  Each row goes to one claimer only, even when
        several workers claim at the same time.
        """
        now = self.now()
        claimable = and_(
            outbox.c.state == OutboxState.PENDING.value,
            outbox.c.next_attempt_at <= now,
            or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until <= now),
        )
        async with self._transaction("claiming outbox rows") as connection:
            due = select(outbox.c.id).where(claimable).order_by(outbox.c.next_attempt_at, outbox.c.id)
            due = due.limit(limit)
            if connection.dialect.name == "postgresql":
                # A LIMIT subquery inside IN may be run more than once by
                # PostgreSQL, claiming more than `limit` rows; a materialised CTE
                # runs once.  SKIP LOCKED passes over rows another claimer holds.
                due_rows = due.with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED")
                picked = outbox.c.id.in_(select(due_rows.c.id))
            else:
                # SQLite runs the whole UPDATE under its single write lock.
                picked = outbox.c.id.in_(due.scalar_subquery())
            # The outer WHERE repeats the condition: PostgreSQL re-checks it on a
            # row that another transaction changed while this one waited.
            statement = (
                outbox.update()
                .where(picked, claimable)
                .values(claimed_by=worker, claimed_until=now + lease)
                .returning(*outbox.c)
            )
            rows = (await connection.execute(statement)).all()
        items = sorted((_item(row) for row in rows), key=lambda item: (item.next_attempt_at, item.id))
        if items:
            logger.debug("Worker %s claimed outbox rows %s", worker, [item.id for item in items])
        return items

    async def ack_outbox(self, item: OutboxItem) -> bool:
        """Delete a delivered row; return False when the worker no longer holds it."""
        async with self._transaction("acknowledging an outbox row") as connection:
            result = await connection.execute(outbox.delete().where(_held(item)))
        return result.rowcount > 0

    async def retry_outbox(
        self, item: OutboxItem, error: str, *, delay: timedelta | None = None
    ) -> datetime | None:
        """Release a failed row for another try and return when it is due again.

        The wait is ``delay`` (e.g. a Retry-After) or :func:`backoff_delay` of the new
        attempt count.  Returns None when the worker no longer holds the row.
        """
        attempts = item.attempts + 1
        due = self.now() + (delay if delay is not None else backoff_delay(attempts))
        async with self._transaction("rescheduling an outbox row") as connection:
            result = await connection.execute(
                outbox.update()
                .where(_held(item))
                .values(
                    attempts=outbox.c.attempts + 1,
                    next_attempt_at=due,
                    last_error=_truncate(error),
                    claimed_by=None,
                    claimed_until=None,
                )
            )
        if result.rowcount == 0:
            return None
        logger.info("Outbox row %s failed (attempt %d), next try at %s: %s", item.id, attempts, due, error)
        return due

    async def give_up_outbox(self, item: OutboxItem, error: str) -> bool:
        """Mark a row dead so no worker claims it again; return False when not held."""
        async with self._transaction("giving up an outbox row") as connection:
            result = await connection.execute(
                outbox.update()
                .where(_held(item))
                .values(
                    state=OutboxState.DEAD.value,
                    attempts=outbox.c.attempts + 1,
                    last_error=_truncate(error),
                    claimed_by=None,
                    claimed_until=None,
                )
            )
        if result.rowcount == 0:
            return False
        logger.warning("Gave up outbox row %s for %s:%s: %s", item.id, item.platform, item.user_id, error)
        return True

    async def release_outbox(self, item: OutboxItem) -> bool:
        """Give a claimed row back without counting an attempt (e.g. on shutdown)."""
        async with self._transaction("releasing an outbox row") as connection:
            result = await connection.execute(
                outbox.update().where(_held(item)).values(claimed_by=None, claimed_until=None)
            )
        return result.rowcount > 0

    async def list_outbox(
        self, *, state: OutboxState | None = None, limit: int = 100
    ) -> list[OutboxItem]:
        """Return up to ``limit`` rows, oldest first, optionally only those in ``state``."""
        query = select(outbox).order_by(outbox.c.id).limit(limit)
        if state is not None:
            query = query.where(outbox.c.state == OutboxState(state).value)
        async with self._transaction("listing outbox rows") as connection:
            rows = (await connection.execute(query)).all()
        return [_item(row) for row in rows]

    async def requeue_dead_outbox(self, item_id: int) -> bool:
        """Make a dead row pending and due now, with its attempt count reset."""
        async with self._transaction("requeueing an outbox row") as connection:
            result = await connection.execute(
                outbox.update()
                .where(outbox.c.id == item_id, outbox.c.state == OutboxState.DEAD.value)
                .values(state=OutboxState.PENDING.value, attempts=0, next_attempt_at=self.now())
            )
        return result.rowcount > 0


async def delete_outbox_rows(connection: AsyncConnection, *conditions: Any) -> int:
    """Delete the outbox rows matching all ``conditions`` and return how many went."""
    result = await connection.execute(outbox.delete().where(*conditions))
    return result.rowcount


def _held(item: OutboxItem) -> Any:
    if item.claimed_by is None:
        raise ValueError(f"outbox row {item.id} was not claimed; claim it with claim_outbox first")
    return and_(outbox.c.id == item.id, outbox.c.claimed_by == item.claimed_by)


def _truncate(error: str) -> str:
    if len(error) <= MAX_ERROR_LENGTH:
        return error
    return error[: MAX_ERROR_LENGTH - 1] + "…"


def _item(row: Row[Any]) -> OutboxItem:
    return OutboxItem(
        id=row.id,
        platform=row.platform,
        workspace=row.workspace,
        user_id=row.user_id,
        nextcloud_user_id=None if row.nextcloud_user_id is None else NextcloudUserId(row.nextcloud_user_id),
        payload=json.loads(row.payload_json),
        idempotency_key=row.idempotency_key,
        state=OutboxState(row.state),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        claimed_by=row.claimed_by,
        claimed_until=row.claimed_until,
        last_error=row.last_error,
        created_at=row.created_at,
    )
