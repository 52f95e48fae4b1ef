"""A :class:`~presence_bridge.matrix.transactions.TransactionLog` in the bridge's store.

Each handled ``txnId`` is one key-value row (``matrix.txn:<appservice id>:<txnId>``),
so a transaction the homeserver sends again after a bridge restart is still
recognised.  Synapse numbers an appservice's transactions upward and resends
only the oldest unanswered one, so the rows of older ids are never needed again.
The log deletes rows older than ``keep`` (7 days by default) on its first write
after start and then every ``prune_every`` writes, so the table stays small.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from presence_bridge.errors import StorageError
from presence_bridge.storage import Store

logger = logging.getLogger(__name__)

KEY_PREFIX = "matrix.txn:"
DEFAULT_KEEP = timedelta(days=7)
"""How long a handled ``txnId`` is remembered, far longer than Synapse's retry backoff (at most 512 s)."""
DEFAULT_PRUNE_EVERY = 1000
"""Writes between two deletions of old rows."""


class StoreTransactionLog:
    """The handled ``txnId`` values of one appservice, kept in the store's key-value table."""

    def __init__(
        self, store: Store, appservice_id: str, *, keep: timedelta = DEFAULT_KEEP, prune_every: int = DEFAULT_PRUNE_EVERY
    ) -> None:
        if prune_every < 1:
            raise ValueError(f"prune_every {prune_every} must be at least 1")
        self._store = store
        self._prefix = f"{KEY_PREFIX}{appservice_id}:"
        self._keep = keep
        self._prune_every = prune_every
        self._writes = 0

    async def contains(self, txn_id: str) -> bool:
        return await self._store.get_value(self._prefix + txn_id) is not None

    async def add(self, txn_id: str) -> None:
        await self._store.set_value(self._prefix + txn_id, self._store.now().isoformat())
        if self._writes % self._prune_every == 0:
            await self.prune()
        self._writes += 1

    async def prune(self) -> int:
        """Delete the rows older than ``keep``; return how many were deleted.

        A storage error is logged and returns 0: the transaction was handled and
        recorded, so the homeserver must still get its 200.  The next prune tries again.
        """
        try:
            deleted = await self._store.delete_values_before(self._prefix, self._store.now() - self._keep)
        except StorageError as exc:
            logger.warning("Deleting old appservice transaction ids failed; trying again later: %s", exc)
            return 0
        if deleted:
            logger.info("Deleted %d handled appservice transaction ids older than %s", deleted, self._keep)
        return deleted
