"""A :class:`~presence_bridge.matrix.transactions.TransactionLog` in the bridge's store.

Each handled ``txnId`` is one key-value row (``matrix.txn:<appservice id>:<txnId>``),
so a transaction the homeserver sends again after a bridge restart is still
recognised.  Synapse numbers an appservice's transactions upward and resends
only the oldest unanswered one, so the rows of older ids are never needed again.

TODO: rows are never deleted; a long-running bridge gains one row per transaction.
"""

from __future__ import annotations

from presence_bridge.storage import Store

KEY_PREFIX = "matrix.txn:"


class StoreTransactionLog:
    """The handled ``txnId`` values of one appservice, kept in the store's key-value table."""

    def __init__(self, store: Store, appservice_id: str) -> None:
        self._store = store
        self._prefix = f"{KEY_PREFIX}{appservice_id}:"

    async def contains(self, txn_id: str) -> bool:
        return await self._store.get_value(self._prefix + txn_id) is not None

    async def add(self, txn_id: str) -> None:
        await self._store.set_value(self._prefix + txn_id, self._store.now().isoformat())
