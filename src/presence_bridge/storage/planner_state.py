"""The sync planner's per-user state, saved together with the outbox rows it plans.

The state of one Nextcloud user is one JSON document in ``nextcloud_status_state``
(the table of the last observed status, which the state contains).  The sync engine
serialises it; this module only stores text.  :func:`commit_planned` saves new
states and enqueues outbox rows in one transaction.  It saves a user's state only
when the stored document is still the one the caller planned from (compare and
set), so two callers planning for the same user cannot overwrite each other.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from ._dialect import dialect_insert
from .models import OutboxState
from .schema import nextcloud_status_state, outbox
from .store import Store

logger = logging.getLogger(__name__)

LOAD_CHUNK = 5000
"""User ids per SELECT when loading the states of many users."""


@dataclass(frozen=True, slots=True)
class StoredState:
    """One user's state document as stored, and when it was saved."""

    document: str
    observed_at: datetime


@dataclass(frozen=True, slots=True)
class StateUpdate:
    """A new state document for one user; ``expected`` is the stored one it replaces (None: no row)."""

    nextcloud_user_id: str
    expected: str | None
    document: str


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """An outbox row to add with a state update; see :meth:`Store.enqueue` for the fields."""

    platform: str
    workspace: str
    user_id: str
    nextcloud_user_id: str
    payload: Mapping[str, Any]
    idempotency_key: str
    not_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class CommitResult:
    """Users whose state was saved (and whose rows were enqueued), and users skipped on a conflict."""

    saved: frozenset[str] = frozenset()
    conflicts: frozenset[str] = frozenset()
    enqueued: int = 0
    outbox_ids: tuple[int, ...] = field(default_factory=tuple)


async def load_states(store: Store, user_ids: Collection[str] | None = None) -> dict[str, StoredState]:
    """Return the stored state documents, of ``user_ids`` only when it is given."""
    table = nextcloud_status_state
    if user_ids is None:
        queries = [select(table)]
    else:
        # SQLite allows at most 32766 bound parameters per statement (since 3.32).
        wanted = list(user_ids)
        chunks = [wanted[start : start + LOAD_CHUNK] for start in range(0, len(wanted), LOAD_CHUNK)]
        queries = [select(table).where(table.c.nextcloud_user_id.in_(chunk)) for chunk in chunks]
    found: dict[str, StoredState] = {}
    async with store._transaction("reading planner states") as connection:
        for query in queries:
            for row in (await connection.execute(query)).all():
                found[row.nextcloud_user_id] = StoredState(row.status_json, row.observed_at)
    return found


async def commit_planned(
    store: Store, updates: Sequence[StateUpdate], rows: Sequence[OutboxRow]
) -> CommitResult:
    """Save ``updates`` and enqueue ``rows`` in one transaction.

    A user whose stored document differs from ``expected`` keeps it, and that
    user's rows are not enqueued.  Rows of users without an update are always
    enqueued.  A row whose idempotency key is already in the outbox is not added again.
    """
    now = store.now()
    saved: set[str] = set()
    conflicts: set[str] = set()
    ids: list[int] = []
    # The store's own transaction helper turns database errors into StorageError.
    async with store._transaction("saving planner states and outbox rows") as connection:
        for update in updates:
            if await _compare_and_set(connection, update, now):
                saved.add(update.nextcloud_user_id)
            else:
                conflicts.add(update.nextcloud_user_id)
        for row in rows:
            if row.nextcloud_user_id in conflicts:
                continue
            row_id = await _insert_outbox_row(connection, row, now)
            if row_id is not None:
                ids.append(row_id)
    if conflicts:
        logger.info("State of %d users changed while planning; they are planned again later", len(conflicts))
    return CommitResult(frozenset(saved), frozenset(conflicts), len(ids), tuple(ids))


async def _compare_and_set(connection: AsyncConnection, update: StateUpdate, now: datetime) -> bool:
    table = nextcloud_status_state
    if update.expected is None:
        statement = (
            dialect_insert(connection, table)
            .values(nextcloud_user_id=update.nextcloud_user_id, status_json=update.document, observed_at=now)
            .on_conflict_do_nothing(index_elements=["nextcloud_user_id"])
        )
    else:
        statement = (
            table.update()
            .where(table.c.nextcloud_user_id == update.nextcloud_user_id, table.c.status_json == update.expected)
            .values(status_json=update.document, observed_at=now)
        )
    result = await connection.execute(statement)
    return bool(result.rowcount)


async def _insert_outbox_row(connection: AsyncConnection, row: OutboxRow, now: datetime) -> int | None:
    values = {
        "platform": row.platform,
        "workspace": row.workspace,
        "user_id": row.user_id,
        "nextcloud_user_id": row.nextcloud_user_id,
        "payload_json": json.dumps(dict(row.payload), sort_keys=True, ensure_ascii=False),
        "idempotency_key": row.idempotency_key,
        "state": OutboxState.PENDING.value,
        "attempts": 0,
        "next_attempt_at": row.not_before or now,
        "created_at": now,
    }
    statement = (
        dialect_insert(connection, outbox)
        .values(values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(outbox.c.id)
    )
    row_id = (await connection.execute(statement)).scalar_one_or_none()
    return None if row_id is None else int(row_id)
