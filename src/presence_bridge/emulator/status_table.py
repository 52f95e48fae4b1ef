"""Rows of the emulated ``oc_user_status`` table, kept in insertion order.

The real table is read without ``ORDER BY``, so Nextcloud lists rows in the
order they were inserted.  Rows are stored under an increasing primary key:
renaming a row keeps its place, while deleting and inserting moves the user to
the end.  Not thread-safe on its own; ``EmulatorState`` holds the lock.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(slots=True)
class StatusRow:
    """One row of ``oc_user_status``; ``user_id`` is ``_<uid>`` for a backup."""

    user_id: str
    status: str = "offline"
    status_timestamp: int = 0
    is_user_defined: bool = False
    message_id: str | None = None
    custom_icon: str | None = None
    custom_message: str | None = None
    clear_at: int | None = None
    is_backup: bool = False
    status_message_timestamp: int = 0


ROW_FIELDS = frozenset(f.name for f in fields(StatusRow)) - {"user_id"}
"""Column names a raw row write may set."""


class StatusTable:
    """Rows by primary key plus an index by ``user_id`` and a cached list view.

    The list view is rebuilt only after an insert, delete or rename, so paging
    through a large table slices one list instead of copying it per request.
    """

    def __init__(self) -> None:
        self._by_pk: dict[int, StatusRow] = {}
        self._pk_by_user: dict[str, int] = {}
        self._next_pk = 1
        self._list: list[StatusRow] | None = None

    def __len__(self) -> int:
        return len(self._by_pk)

    def get(self, user_id: str) -> StatusRow | None:
        pk = self._pk_by_user.get(user_id)
        return self._by_pk[pk] if pk is not None else None

    def insert(self, row: StatusRow) -> StatusRow:
        """Append ``row``; an existing row with the same ``user_id`` is deleted first."""
        self.delete(row.user_id)
        self._by_pk[self._next_pk] = row
        self._pk_by_user[row.user_id] = self._next_pk
        self._next_pk += 1
        self._list = None
        return row

    def delete(self, user_id: str) -> bool:
        pk = self._pk_by_user.pop(user_id, None)
        if pk is None:
            return False
        del self._by_pk[pk]
        self._list = None
        return True

    def rename(self, old_user_id: str, new_user_id: str) -> StatusRow | None:
        """Change a row's ``user_id`` in place; a row already named ``new_user_id`` is deleted."""
        pk = self._pk_by_user.pop(old_user_id, None)
        if pk is None:
            return None
        self.delete(new_user_id)
        row = self._by_pk[pk]
        row.user_id = new_user_id
        self._pk_by_user[new_user_id] = pk
        self._list = None
        return row

    def rows(self) -> list[StatusRow]:
        """Return every row in table order (a shared cached list: do not modify it)."""
        if self._list is None:
            self._list = list(self._by_pk.values())
        return self._list
