"""In-memory state of the emulated Nextcloud 31.0.6 and its user-status read rules.

The status rows live in a :class:`~presence_bridge.emulator.status_table.StatusTable`
(insertion order, as Nextcloud lists them), the write rules (user writes,
heartbeats, automations, revert) in
:class:`~presence_bridge.emulator.status_rules.StatusRulesMixin`.

Time rules are applied lazily on read, as Nextcloud does when no cron runs:

* a row older than 15 minutes that is not user-defined, or is a user-defined
  ``online``, is rewritten to ``offline`` (not user-defined);
* a row whose ``clear_at`` has passed loses its message and is reset to
  ``offline`` (not user-defined).

Every public method takes the state lock, so tests may call them from another
thread while the server runs.  Route modules reach the state through
``request.app.state.emulator``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from presence_bridge.emulator.accounts import Accounts, User
from presence_bridge.emulator.clock import Clock
from presence_bridge.emulator.sessions import SessionStore
from presence_bridge.emulator.status_rules import INVALIDATE_STATUS_THRESHOLD, StatusRuleError, StatusRulesMixin
from presence_bridge.emulator.status_table import ROW_FIELDS, StatusRow, StatusTable
from presence_bridge.emulator.views import default_message, private_status, public_status

__all__ = [
    "INVALIDATE_STATUS_THRESHOLD",
    "ROW_FIELDS",
    "USER_ENUMERATION_MODES",
    "EmulatorState",
    "OwnStatusHook",
    "Settings",
    "StatusRow",
    "StatusRuleError",
    "default_message",
    "private_status",
    "public_status",
]

USER_ENUMERATION_MODES = ("all", "none", "group")

OwnStatusHook = Callable[["EmulatorState", str], None]


@dataclass(slots=True)
class Settings:
    """Admin settings that change API results."""

    user_enumeration: str = "all"


class EmulatorState(StatusRulesMixin):
    """Users, status rows, settings, clock and extension data of one emulator.

    ``own_status_hooks`` run before a user's own ``GET /user_status`` and before
    each heartbeat (the calendar automation registers here).  ``extras`` is free
    space for route modules (login flows, calendars, absences); ``reset()`` empties it.
    ``sessions`` contains the PHP sessions that OCS requests start or reuse.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clock = Clock()
        self.accounts = Accounts()
        self.settings = Settings()
        self.own_status_hooks: list[OwnStatusHook] = []
        self.extras: dict[str, Any] = {}
        self.faults: list[Any] = []
        self.installed_modules: set[str] = set()
        self.sessions = SessionStore()
        self._table = StatusTable()

    def now(self) -> int:
        return self.clock.now()

    def reset(self) -> None:
        """Forget users, sessions, rows, settings, faults and extras; the clock follows real time."""
        with self.lock:
            self.accounts = Accounts()
            self.sessions = SessionStore()
            self.settings = Settings()
            self.extras.clear()
            self.faults.clear()
            self._table = StatusTable()
            self.clock.reset()

    # Users ---------------------------------------------------------------

    def add_users(self, users: Iterable[User]) -> tuple[int, int]:
        """Insert or replace accounts; return the counts of new and of replaced accounts."""
        with self.lock:
            return self.accounts.add(users)

    def get_user(self, user_id: str) -> User | None:
        with self.lock:
            return self.accounts.get(user_id)

    # Raw rows ------------------------------------------------------------

    def get_row(self, user_id: str) -> StatusRow | None:
        """Return the stored row without applying any time rule."""
        with self.lock:
            return self._table.get(user_id)

    def insert_row(self, row: StatusRow) -> StatusRow:
        """Append a row; an existing row of the same ``user_id`` is deleted first."""
        with self.lock:
            return self._table.insert(row)

    def insert_rows(self, new_rows: Iterable[StatusRow]) -> int:
        with self.lock:
            count = 0
            for row in new_rows:
                self._table.insert(row)
                count += 1
            return count

    def delete_row(self, user_id: str) -> bool:
        with self.lock:
            return self._table.delete(user_id)

    def rename_row(self, old_user_id: str, new_user_id: str) -> StatusRow | None:
        """Change a row's ``user_id`` in place (its list position stays)."""
        with self.lock:
            return self._table.rename(old_user_id, new_user_id)

    def clear_rows(self) -> None:
        with self.lock:
            self._table = StatusTable()

    def update_row(self, user_id: str, values: dict[str, Any]) -> StatusRow:
        """Set raw columns of a user's row (an SQL ``UPDATE``), inserting it if missing.

        A new row starts as ``offline``, not user-defined, with timestamp now.
        Unknown column names raise ``KeyError`` naming them.
        """
        unknown = set(values) - ROW_FIELDS
        if unknown:
            raise KeyError(f"unknown status row fields {sorted(unknown)}; allowed: {sorted(ROW_FIELDS)}")
        with self.lock:
            row = self.get_row(user_id)
            if row is None:
                row = self.insert_row(StatusRow(user_id, status_timestamp=self.now()))
            for name, value in values.items():
                setattr(row, name, value)
            return row

    def row_count(self) -> int:
        with self.lock:
            return len(self._table)

    def all_rows(self) -> list[StatusRow]:
        """Return every row in table order (a cached list; do not modify it)."""
        with self.lock:
            return self._table.rows()

    # Reads with the time rules ---------------------------------------------

    def process(self, row: StatusRow) -> StatusRow:
        """Apply decay and ``clear_at`` expiry to a row in place and return it."""
        with self.lock:
            return self._process(row)

    def _process(self, row: StatusRow) -> StatusRow:
        now = self.now()
        stale = row.status_timestamp < now - INVALIDATE_STATUS_THRESHOLD
        if stale and (not row.is_user_defined or row.status == "online"):
            self._clean_status(row, now)
        if row.clear_at is not None and row.clear_at < now:
            self._clean_status(row, now)
            row.message_id = None
            row.custom_icon = None
            row.custom_message = None
            row.clear_at = None
            row.status_message_timestamp = 0
        return row

    @staticmethod
    def _clean_status(row: StatusRow, now: int) -> None:
        if row.status == "offline" and not row.is_user_defined:
            return
        row.status = "offline"
        row.status_timestamp = now
        row.is_user_defined = False

    def find_status(self, user_id: str) -> StatusRow | None:
        """Return the row of ``user_id`` (``_<uid>`` finds a backup) after the time rules."""
        with self.lock:
            row = self.get_row(user_id)
            return self.process(row) if row is not None else None

    def list_statuses(self, limit: int | None, offset: int | None) -> list[StatusRow]:
        """Return rows ``offset .. offset+limit`` in table order, after the time rules.

        ``limit`` None or negative means all rows, as SQLite's ``LIMIT -1``.
        The caller rejects a negative offset.
        """
        with self.lock:
            rows = self.all_rows()
            start = offset or 0
            page = rows[start:] if limit is None or limit < 0 else rows[start : start + limit]
            return [self._process(row) for row in page]

    def run_own_status_hooks(self, user_id: str) -> None:
        with self.lock:
            for hook in list(self.own_status_hooks):
                hook(self, user_id)
