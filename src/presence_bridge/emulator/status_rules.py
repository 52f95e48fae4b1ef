"""Status writes of Nextcloud 31.0.6: user writes, heartbeats, automations and revert.

Mixed into :class:`~presence_bridge.emulator.state.EmulatorState`, which
provides the lock, the clock and raw row access.  Write results are returned
without the time rules applied, as Nextcloud's controllers return them.
"""

from __future__ import annotations

import threading

from presence_bridge.emulator.predefined import (
    MESSAGE_MAX_LENGTH,
    PERSISTENT_STATUS_TYPES,
    STATUS_TYPES,
    VALID_MESSAGE_IDS,
    is_valid_icon,
)
from presence_bridge.emulator.status_table import StatusRow

INVALIDATE_STATUS_THRESHOLD = 15 * 60
"""Seconds after which a non-sticky status reads as offline."""


class StatusRuleError(Exception):
    """A write that Nextcloud rejects; ``message`` is its exact ``meta.message``."""

    def __init__(self, message: str, http_status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status


class StatusRulesMixin:
    """The write rules; the host class supplies the members declared below."""

    lock: threading.RLock

    def now(self) -> int:
        raise NotImplementedError

    def get_row(self, user_id: str) -> StatusRow | None:
        raise NotImplementedError

    def insert_row(self, row: StatusRow) -> StatusRow:
        raise NotImplementedError

    def delete_row(self, user_id: str) -> bool:
        raise NotImplementedError

    def rename_row(self, old_user_id: str, new_user_id: str) -> StatusRow | None:
        raise NotImplementedError

    def find_status(self, user_id: str) -> StatusRow | None:
        raise NotImplementedError

    def run_own_status_hooks(self, user_id: str) -> None:
        raise NotImplementedError

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
