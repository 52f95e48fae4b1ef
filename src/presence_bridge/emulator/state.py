"""In-memory state of the emulated Nextcloud 31.0.6 and its user-status rules.

The ``oc_user_status`` table is modelled as rows in insertion order, like the
real table read without ``ORDER BY``: replacing a user's row (an automation
renames it to ``_<uid>`` and inserts a new one) moves that user to the end,
while renaming a row keeps its position.

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
from dataclasses import dataclass, field, fields
from typing import Any

from presence_bridge.emulator.accounts import Accounts, User
from presence_bridge.emulator.clock import Clock
from presence_bridge.emulator.predefined import (
    MESSAGE_MAX_LENGTH,
    PERSISTENT_STATUS_TYPES,
    PREDEFINED_BY_ID,
    STATUS_TYPES,
    VALID_MESSAGE_IDS,
    is_valid_icon,
)

INVALIDATE_STATUS_THRESHOLD = 15 * 60
"""Seconds after which a non-sticky status reads as offline."""

USER_ENUMERATION_MODES = ("all", "none", "group")

OwnStatusHook = Callable[["EmulatorState", str], None]


class StatusRuleError(Exception):
    """A write that Nextcloud rejects; ``message`` is its exact ``meta.message``."""

    def __init__(self, message: str, http_status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status


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


@dataclass(slots=True)
class Settings:
    """Admin settings that change API results."""

    user_enumeration: str = "all"


@dataclass(slots=True)
class _Rows:
    """Rows keyed by an increasing primary key, so that iteration is insertion order."""

    by_pk: dict[int, StatusRow] = field(default_factory=dict)
    pk_by_user: dict[str, int] = field(default_factory=dict)
    next_pk: int = 1
    list_cache: list[StatusRow] | None = None


class EmulatorState:
    """Users, status rows, settings, clock and extension data of one emulator.

    ``own_status_hooks`` run before a user's own ``GET /user_status`` and before
    each heartbeat (the calendar automation registers here).  ``extras`` is free
    space for route modules (login flows, calendars, absences); ``reset()`` empties it.
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
        self._rows = _Rows()

    def now(self) -> int:
        return self.clock.now()

    def reset(self) -> None:
        """Forget users, rows, settings, faults and extras; the clock follows real time."""
        with self.lock:
            self.accounts = Accounts()
            self.settings = Settings()
            self.extras.clear()
            self.faults.clear()
            self._rows = _Rows()
            self.clock.reset()

    # Users ---------------------------------------------------------------

    def add_users(self, users: Iterable[User]) -> int:
        with self.lock:
            return self.accounts.add(users)

    def get_user(self, user_id: str) -> User | None:
        with self.lock:
            return self.accounts.get(user_id)

    # Raw rows ------------------------------------------------------------

    def get_row(self, user_id: str) -> StatusRow | None:
        """Return the stored row without applying any time rule."""
        with self.lock:
            pk = self._rows.pk_by_user.get(user_id)
            return self._rows.by_pk[pk] if pk is not None else None

    def insert_row(self, row: StatusRow) -> StatusRow:
        """Append a row; an existing row of the same ``user_id`` is deleted first."""
        with self.lock:
            self.delete_row(row.user_id)
            rows = self._rows
            rows.by_pk[rows.next_pk] = row
            rows.pk_by_user[row.user_id] = rows.next_pk
            rows.next_pk += 1
            rows.list_cache = None
            return row

    def insert_rows(self, new_rows: Iterable[StatusRow]) -> int:
        with self.lock:
            return sum(1 for row in new_rows if self.insert_row(row))

    def delete_row(self, user_id: str) -> bool:
        with self.lock:
            pk = self._rows.pk_by_user.pop(user_id, None)
            if pk is None:
                return False
            del self._rows.by_pk[pk]
            self._rows.list_cache = None
            return True

    def rename_row(self, old_user_id: str, new_user_id: str) -> StatusRow | None:
        """Change a row's ``user_id`` in place (its list position stays)."""
        with self.lock:
            pk = self._rows.pk_by_user.pop(old_user_id, None)
            if pk is None:
                return None
            self.delete_row(new_user_id)
            row = self._rows.by_pk[pk]
            row.user_id = new_user_id
            self._rows.pk_by_user[new_user_id] = pk
            return row

    def clear_rows(self) -> None:
        with self.lock:
            self._rows = _Rows()

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
            return len(self._rows.by_pk)

    def all_rows(self) -> list[StatusRow]:
        """Return every row in table order (a cached list; do not modify it)."""
        with self.lock:
            if self._rows.list_cache is None:
                self._rows.list_cache = list(self._rows.by_pk.values())
            return self._rows.list_cache

    # Reads with the time rules ---------------------------------------------

    def process(self, row: StatusRow) -> StatusRow:
        """Apply decay and ``clear_at`` expiry to a row in place and return it."""
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
            return [self.process(row) for row in page]

    def run_own_status_hooks(self, user_id: str) -> None:
        with self.lock:
            for hook in list(self.own_status_hooks):
                hook(self, user_id)

    # Writes by the user ----------------------------------------------------

    def _row_for_write(self, user_id: str) -> StatusRow:
        row = self.get_row(user_id)
        if row is None:
            row = StatusRow(user_id)
        return row

    def _store(self, row: StatusRow) -> StatusRow:
        if self.get_row(row.user_id) is not row:
            self.insert_row(row)
        return row

    def set_status(self, user_id: str, status_type: str) -> StatusRow:
        """``PUT /user_status/status``: set a user-defined status type; the message stays.

        The returned row is not passed through the time rules, as in Nextcloud.
        """
        with self.lock:
            if status_type not in STATUS_TYPES:
                raise StatusRuleError(f'Status-type "{status_type}" is not supported')
            row = self._row_for_write(user_id)
            row.status = status_type
            row.status_timestamp = self.now()
            row.is_user_defined = True
            row.is_backup = False
            return self._store(row)

    def set_predefined_message(self, user_id: str, message_id: str, clear_at: int | None) -> StatusRow:
        """``PUT /user_status/message/predefined``: store the id; text and icon come on read."""
        with self.lock:
            if message_id not in VALID_MESSAGE_IDS:
                raise StatusRuleError(f'Message-Id "{message_id}" is not supported')
            self._check_clear_at(clear_at)
            row = self._row_for_write(user_id)
            row.message_id = message_id
            row.custom_icon = None
            row.custom_message = None
            row.clear_at = clear_at
            row.status_message_timestamp = self.now()
            return self._store(row)

    def set_custom_message(
        self, user_id: str, icon: str | None, message: str | None, clear_at: int | None
    ) -> StatusRow:
        """``PUT /user_status/message/custom`` once the controller decided not to clear."""
        with self.lock:
            if icon is not None and not is_valid_icon(icon):
                raise StatusRuleError("Status-Icon is longer than one character")
            if message is not None and len(message) > MESSAGE_MAX_LENGTH:
                raise StatusRuleError(
                    f"Message is longer than supported length of {MESSAGE_MAX_LENGTH} characters"
                )
            self._check_clear_at(clear_at)
            row = self._row_for_write(user_id)
            row.message_id = None
            row.custom_icon = icon
            row.custom_message = message
            row.clear_at = clear_at
            row.status_message_timestamp = self.now()
            return self._store(row)

    def _check_clear_at(self, clear_at: int | None) -> None:
        if clear_at is not None and clear_at < self.now():
            raise StatusRuleError("ClearAt is in the past")

    def clear_message(self, user_id: str) -> bool:
        """Remove the message of a user's row; False when the user has no row."""
        with self.lock:
            row = self.get_row(user_id)
            if row is None:
                return False
            row.message_id = None
            row.custom_message = None
            row.custom_icon = None
            row.clear_at = None
            row.status_message_timestamp = 0
            return True

    def remove_backup(self, user_id: str) -> bool:
        """Delete ``_<uid>``: every manual write does this, so later reverts find nothing."""
        with self.lock:
            backup = self.get_row("_" + user_id)
            if backup is None or not backup.is_backup:
                return False
            return self.delete_row("_" + user_id)

    def heartbeat(self, user_id: str, status_type: str) -> StatusRow | None:
        """Apply an ``online``/``away`` heartbeat; None means Nextcloud responds with 204.

        A user-defined away/dnd/busy/invisible (this covers automated statuses) is
        left alone.  A calendar ``meeting`` row is returned unchanged.  Otherwise the
        heartbeat wins when the row is stale or the heartbeat has a higher priority.
        """
        with self.lock:
            self.run_own_status_hooks(user_id)
            row = self.find_status(user_id) or StatusRow(user_id)
            if row.is_user_defined and row.status in PERSISTENT_STATUS_TYPES:
                return None
            if row.message_id == "meeting":
                return row
            now = self.now()
            stale = row.status_timestamp < now - INVALIDATE_STATUS_THRESHOLD
            if stale or STATUS_TYPES.index(status_type) < STATUS_TYPES.index(row.status):
                row.status = status_type
                row.status_timestamp = now
                row.is_user_defined = False
                self._store(row)
            return row

    # Automations and revert ------------------------------------------------

    def set_automated_status(
        self,
        user_id: str,
        message_id: str,
        status: str,
        custom_message: str | None = None,
        icon: str | None = None,
    ) -> StatusRow | None:
        """Set a status the way Talk, the calendar and out-of-office do, with a backup.

        The current row becomes ``_<uid>`` (keeping its position) and a new
        user-defined row is appended.  When a backup already exists nothing changes
        and None is returned (one automation at a time).  A ``call`` replaces a
        ``meeting`` in place without a new backup.  A user without a row gets the new
        row but no backup, so nothing will ever revert it.
        """
        with self.lock:
            if status not in STATUS_TYPES:
                raise StatusRuleError(f'Status-type "{status}" is not supported')
            if message_id not in VALID_MESSAGE_IDS:
                raise StatusRuleError(f'Message-Id "{message_id}" is not supported')
            current = self.get_row(user_id)
            if current is not None and current.message_id == "meeting" and message_id == "call":
                row = current
            else:
                if self.get_row("_" + user_id) is not None:
                    return None
                if current is not None:
                    self.rename_row(user_id, "_" + user_id)
                    current.is_backup = True
                row = StatusRow(user_id)
            now = self.now()
            row.status = status
            row.status_timestamp = now
            row.is_user_defined = True
            row.is_backup = False
            row.message_id = message_id
            row.custom_icon = icon
            row.custom_message = custom_message
            row.clear_at = None
            row.status_message_timestamp = now
            return self._store(row)

    def revert_automated_status(self, user_id: str, message_id: str, *, manual: bool = False) -> StatusRow | None:
        """Restore ``_<uid>`` if the current row still has ``message_id``; else None.

        A manual revert (``DELETE /user_status/revert/{id}``) turns an offline backup
        into ``online`` and stamps it with the current time.  The returned row is not
        passed through the time rules.
        """
        with self.lock:
            backup = self.get_row("_" + user_id)
            current = self.get_row(user_id)
            if backup is None or current is None:
                return None
            if current.message_id != message_id or current.is_backup:
                return None
            self.delete_row(user_id)
            if manual:
                if backup.status == "offline":
                    backup.status = "online"
                backup.status_timestamp = self.now()
            backup.is_backup = False
            return self.rename_row("_" + user_id, user_id)


# Views -------------------------------------------------------------------


def default_message(row: StatusRow) -> tuple[str | None, str | None]:
    """Return (message, icon) with a predefined id's text and icon filling empty fields."""
    message, icon = row.custom_message, row.custom_icon
    predefined = PREDEFINED_BY_ID.get(row.message_id) if row.message_id else None
    if predefined is not None:
        message = message or predefined.message
        icon = icon or predefined.icon
    return message, icon


def private_status(row: StatusRow, *, fill_defaults: bool) -> dict[str, Any]:
    """The owner's view.  Nextcloud fills predefined texts on reads, not on writes."""
    message, icon = default_message(row) if fill_defaults else (row.custom_message, row.custom_icon)
    return {
        "userId": row.user_id,
        "message": message,
        "messageId": row.message_id,
        "messageIsPredefined": row.message_id is not None,
        "icon": icon,
        "clearAt": row.clear_at,
        "status": row.status,
        "statusIsUserDefined": row.is_user_defined,
    }


def public_status(row: StatusRow) -> dict[str, Any]:
    """Other users' view: no message id, and ``invisible`` shown as ``offline``."""
    message, icon = default_message(row)
    return {
        "userId": row.user_id,
        "message": message,
        "icon": icon,
        "clearAt": row.clear_at,
        "status": "offline" if row.status == "invisible" else row.status,
    }
