"""Keeping the writes for one chat user in order across replicas and restarts.

Every status write sets the whole state a chat user should show, so of several
queued writes for the same target (platform, workspace, chat user) only the newest
matters.  Before sending a claimed row, the dispatcher calls :func:`order_check`:

- ``SUPERSEDED``: a newer status write for the same target is queued, so this row
  is deleted without being sent.
- ``WAIT``: an older row of the same target is held by another claimer whose claim
  has not expired, so it may be on its way right now.  This row is given back and
  tried at the next poll, when the older one is settled or its claim has expired.
- ``SEND``: no older row is left.  Before answering ``SEND`` for a status write,
  the check deletes the older rows nobody holds (never claimed, given back, waiting
  for a retry, or left claimed by a replica that died).  Otherwise such a row could
  be sent after this one and undo it.

The deletion only matches rows whose claim is absent or expired, in the same
statement, so it never takes a row from a live claimer.  Rows are ordered by id,
which the database assigns in insertion order.  Writes for one user are planned
under a compare-and-set of that user's state, so two of them are never inserted
concurrently.  A keep-alive never supersedes a status write, because it may carry
less than the full state; it waits behind older rows instead.
"""

from __future__ import annotations

import enum
import json
import logging

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StorageError
from ..storage import OutboxItem, OutboxState, Store
from ..storage.schema import outbox
from .platform import WriteKind

logger = logging.getLogger(__name__)


class Order(enum.Enum):
    """The decision for a claimed row: send it, drop it, or wait for an older one."""

    SEND = "send"
    SUPERSEDED = "superseded"
    WAIT = "wait"


async def order_check(store: Store, item: OutboxItem) -> Order:
    """Decide whether ``item`` may be sent now; see the module docstring."""
    same_target = and_(
        outbox.c.platform == item.platform,
        outbox.c.workspace == item.workspace,
        outbox.c.user_id == item.user_id,
        outbox.c.state == OutboxState.PENDING.value,
        outbox.c.id != item.id,
    )
    query = select(outbox.c.id, outbox.c.payload_json, outbox.c.claimed_by, outbox.c.claimed_until).where(same_target)
    try:
        async with store.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
    except SQLAlchemyError as exc:
        raise StorageError(f"reading the outbox rows of {item.platform}:{item.user_id} failed: {exc}") from exc

    if any(row.id > item.id and _kind(row.payload_json) == WriteKind.STATUS.value for row in rows):
        return Order.SUPERSEDED
    older = [row.id for row in rows if row.id < item.id]
    if not older:
        return Order.SEND
    if _kind_of(item) != WriteKind.STATUS.value:
        return Order.WAIT
    deleted = await _delete_unheld(store, older)
    if deleted < len(older):
        return Order.WAIT
    logger.info(
        "Dropped %d older outbox rows of %s:%s unsent: row %s replaces them", deleted, item.platform, item.user_id, item.id
    )
    return Order.SEND


async def _delete_unheld(store: Store, row_ids: list[int]) -> int:
    """Delete those of ``row_ids`` that no live claim holds; return how many went."""
    now = store.now()
    unheld = or_(outbox.c.claimed_by.is_(None), outbox.c.claimed_until <= now)
    statement = outbox.delete().where(outbox.c.id.in_(row_ids), unheld)
    try:
        async with store.engine.begin() as connection:
            result = await connection.execute(statement)
    except SQLAlchemyError as exc:
        raise StorageError(f"deleting replaced outbox rows {row_ids} failed: {exc}") from exc
    return int(result.rowcount)


def _kind_of(item: OutboxItem) -> str:
    return _kind_of_payload(item.payload)


def _kind(payload_json: str) -> str:
    try:
        return _kind_of_payload(json.loads(payload_json))
    except ValueError:
        return ""


def _kind_of_payload(payload: object) -> str:
    if not isinstance(payload, dict):
        return ""
    return str(payload.get("kind", WriteKind.STATUS.value))
