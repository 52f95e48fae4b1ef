"""When to write a bridge-set Matrix presence again (pure functions, no I/O).

Synapse 1.163 keeps presence per device and shows a user the highest of busy >
online > unavailable > offline.  Presence written through the API decays: a device
that does not sync drops to ``offline`` ``sync_online_timeout`` (30 s by default)
after the write, and busy after one hour.  The status message survives both.

The policy renews a write only where that changes what other users see:

- ``offline`` is never renewed: it does not decay.
- Busy (MSC3026) is renewed ``busy_renew_after`` seconds after the last write
  (default 50 minutes), before its one-hour timeout.  A syncing client cannot lower
  busy, so busy is renewed whether or not the user's own client runs.
- ``online`` and ``unavailable`` are renewed every ``renew_interval`` seconds
  (default 20, inside the 30 s timeout) only while none of the user's own clients
  is present.  A present client shows the user online or unavailable by itself, and
  a bridge write cannot lower an online client, so renewing then changes nothing.
  Without renewal a user with no Matrix client open would show ``offline`` after
  half a minute, whatever its Nextcloud status.
- The status message needs no renewal.

Renewals share one budget per planning round (``max_per_round``), most overdue
first, so a large team costs a bounded number of requests.  Renewals through a
registration with ``rate_limited: false`` are exempt from Synapse's presence limit
of one change per user per 10 s; ``renew_interval`` stays above 10 s so a
rate-limited registration also keeps within it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from presence_bridge.core.status import MatrixPresence, MatrixPresenceState

SYNAPSE_RATE_LIMIT_SECONDS = 10.0
"""Synapse's default presence limit: one change per user per 10 s (``rc_presence.per_user``)."""


@dataclass(frozen=True)
class RenewalSettings:
    """Timing of renewals, in seconds."""

    renew_interval: float = 20.0
    busy_renew_after: float = 50 * 60.0
    max_per_round: int = 50

    def __post_init__(self) -> None:
        if self.renew_interval < SYNAPSE_RATE_LIMIT_SECONDS:
            raise ValueError(
                f"renew_interval {self.renew_interval:g} s is below Synapse's presence rate limit of "
                f"one change per {SYNAPSE_RATE_LIMIT_SECONDS:g} s; use at least {SYNAPSE_RATE_LIMIT_SECONDS:g}"
            )
        if self.max_per_round < 1:
            raise ValueError(f"max_per_round {self.max_per_round} must be at least 1")


@dataclass(frozen=True)
class MirroredUser:
    """The bridge's last write for one Matrix user, and the state of that user's own clients.

    ``written`` is the presence the bridge last set and ``written_at`` when (Unix
    time).  ``busy_sent`` tells whether busy went out as MSC3026 busy (False when
    the server lacks it and ``unavailable`` was sent instead).  ``own_client_present``
    is true while the user's latest presence from their own clients, not an echo of
    the bridge's writes, was ``online`` or ``unavailable``.
    """

    user_id: str
    written: MatrixPresence
    written_at: float
    busy_sent: bool = False
    own_client_present: bool = False


def renewal_due_at(user: MirroredUser, settings: RenewalSettings) -> float | None:
    """Return when the bridge's write for ``user`` should be renewed, or None for never."""
    if user.written.busy and user.busy_sent:
        return user.written_at + settings.busy_renew_after
    if user.written.presence == MatrixPresenceState.OFFLINE:
        return None
    if user.own_client_present:
        return None
    return user.written_at + settings.renew_interval


def plan_renewals(users: Iterable[MirroredUser], *, now: float, settings: RenewalSettings) -> list[str]:
    """Return the user ids to renew now, most overdue first, at most ``max_per_round``."""
    due: list[tuple[float, str]] = []
    for user in users:
        due_at = renewal_due_at(user, settings)
        if due_at is not None and due_at <= now:
            due.append((due_at, user.user_id))
    due.sort()
    return [user_id for _, user_id in due[: settings.max_per_round]]
