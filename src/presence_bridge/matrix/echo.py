"""Recognises the bridge's own presence writes when the homeserver pushes them back.

``m.presence`` carries no origin, so every write the bridge makes returns as an
update of that user.  :class:`EchoFilter` remembers the last write per user and
calls an update an echo when it shows exactly that presence (state, busy and
status message) within ``window_seconds`` of the write.  An update that differs
came from the user's own clients or from a timeout.  For example, a bridge-set
``online`` that decays returns as ``offline`` with the same message.  That is not
an echo, and the mapping ignores it because ``offline`` is not a decision.

The filter also tracks, from updates that are not echoes, whether one of the user's
own clients is present (its latest state is ``online`` or ``unavailable``).  The
renewal policy skips users whose own client is present.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from presence_bridge.core.status import MatrixPresence, MatrixPresenceState
from presence_bridge.matrix.presence_events import PresenceUpdate

DEFAULT_ECHO_WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class WrittenPresence:
    """A presence the bridge set for a user, and when (Unix time)."""

    presence: MatrixPresence
    at: float


class EchoFilter:
    """The bridge's last write per user, and what the user's own clients last showed."""

    def __init__(
        self, *, window_seconds: float = DEFAULT_ECHO_WINDOW_SECONDS, clock: Callable[[], float] = time.time
    ) -> None:
        self._window = window_seconds
        self._clock = clock
        self._written: dict[str, WrittenPresence] = {}
        self._own_client_present: dict[str, bool] = {}

    def record_write(self, user_id: str, presence: MatrixPresence) -> None:
        """Remember a successful write; ``presence.busy`` must be False where busy went out as unavailable."""
        self._written[user_id] = WrittenPresence(presence, self._clock())

    def last_written(self, user_id: str) -> WrittenPresence | None:
        return self._written.get(user_id)

    def is_echo(self, update: PresenceUpdate) -> bool:
        """Return True when ``update`` shows the bridge's last write for that user, made recently."""
        written = self._written.get(update.user_id)
        if written is None or update.received_at - written.at > self._window:
            return False
        return _same_presence(update.presence, written.presence)

    def observe(self, update: PresenceUpdate) -> bool:
        """Classify ``update``, note the user's own client state when it is not an echo, and return ``is_echo``."""
        echo = self.is_echo(update)
        if not echo:
            state = update.presence.presence
            present = update.presence.busy or state in (MatrixPresenceState.ONLINE, MatrixPresenceState.UNAVAILABLE)
            self._own_client_present[update.user_id] = present
        return echo

    def own_client_present(self, user_id: str) -> bool:
        """Return whether the user's latest presence that was not an echo showed a client present."""
        return self._own_client_present.get(user_id, False)


def _same_presence(seen: MatrixPresence, written: MatrixPresence) -> bool:
    return (
        seen.presence == written.presence
        and seen.busy == written.busy
        and (seen.status_msg or None) == (written.status_msg or None)
    )
