"""Keeping the writes for one chat user in order when several replicas and restarts are involved.

Every status write sets the whole state a chat user should show, so of several
queued writes for the same target (platform, workspace, chat user) only the newest
matters.  Before sending a claimed row, the dispatcher calls :func:`order_check`:

- ``SUPERSEDED``: a newer status write for the same target is queued, so this row
  is deleted without being sent.  A row left claimed by a replica that died is
  dropped this way once a newer write exists, rather than sent after it and
  undoing it.
- ``WAIT``: an older row of the same target is held by another worker whose claim
  has not expired, so it may be on its way right now.  This row is given back and
  tried at the next poll, after the older one is settled or its claim has expired.
- ``SEND``: nothing stands in the way.

Rows are ordered by id, which the database assigns in insertion order.  Writes for
one user are planned under a compare-and-set of that user's state, so two of them
are never inserted concurrently.  A keep-alive never supersedes a status write,
because it may carry less than the full state.
"""

from __future__ import annotations

import enum
import json

from sqlalchemy import select

from ..storage import OutboxItem, OutboxState, Store
from ..storage.schema import outbox
from .platform import WriteKind


class Order(enum.Enum):
    """The decision for a claimed row: send it, drop it, or wait for an older one."""

    SEND = "send"
    SUPERSEDED = "superseded"
    WAIT = "wait"


async def order_check(store: Store, item: OutboxItem) -> Order:
    """Decide whether ``item`` may be sent now; see the module docstring."""
    query = select(outbox.c.id, outbox.c.payload_json, outbox.c.claimed_by, outbox.c.claimed_until).where(
        outbox.c.platform == item.platform,
        outbox.c.workspace == item.workspace,
        outbox.c.user_id == item.user_id,
        outbox.c.state == OutboxState.PENDING.value,
        outbox.c.id != item.id,
    )
    async with store.engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    now = store.now()
    for row in rows:
        if row.id > item.id and _kind(row.payload_json) == WriteKind.STATUS.value:
            return Order.SUPERSEDED
    for row in rows:
        held_elsewhere = row.claimed_by is not None and row.claimed_by != item.claimed_by
        if row.id < item.id and held_elsewhere and row.claimed_until is not None and row.claimed_until > now:
            return Order.WAIT
    return Order.SEND


def _kind(payload_json: str) -> str:
    try:
        return str(json.loads(payload_json).get("kind", WriteKind.STATUS.value))
    except (ValueError, AttributeError):
        return ""
