"""When the engine must wake between sweeps: each linked user's earliest due time.

A user is due when the ``clearAt`` of their Nextcloud status passes, or when a
write held back by the debounce window may go out.  :class:`DueTimes` keeps that
time per user for the states saved last, so a wake-up plans only the users that
are due instead of every linked user.

NOTE: only the states saved in this process (by the engine, or by a gateway that
shares its executor) are known.  A command with an expiry handled by another
replica is learnt at the next sweep, which publishes the expiry then if its time
has already passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from presence_bridge.core.ids import NextcloudUserId
from presence_bridge.core.planner_rules import next_wake_at
from presence_bridge.core.sync_state import PlannerSettings, Timestamp, UserSyncState


class DueTimes:
    """The due time of every user whose saved state has one."""

    def __init__(self, settings: PlannerSettings) -> None:
        self._settings = settings
        self._due: dict[NextcloudUserId, Timestamp] = {}

    def update(self, states: Mapping[NextcloudUserId, UserSyncState], now: Timestamp) -> None:
        """Take the due times of freshly saved states (a state with none removes the user)."""
        for user, state in states.items():
            due = next_wake_at({user: state}, now, self._settings)
            if due is None:
                self._due.pop(user, None)
            else:
                self._due[user] = due

    def due(self, now: Timestamp) -> list[NextcloudUserId]:
        """Return the users whose due time has come, in id order."""
        return sorted(user for user, due in self._due.items() if due <= now)

    def postpone(self, users: Iterable[NextcloudUserId], until: Timestamp) -> None:
        """Move the due time of ``users`` (e.g. a held write that failed) to ``until``."""
        for user in users:
            if user in self._due:
                self._due[user] = until

    def forget(self, users: Iterable[NextcloudUserId]) -> None:
        """Drop users who are no longer linked."""
        for user in users:
            self._due.pop(user, None)

    @property
    def next(self) -> Timestamp | None:
        """The earliest due time of any user, or None."""
        return min(self._due.values(), default=None)
