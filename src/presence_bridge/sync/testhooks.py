"""Test-only hooks that make a ``presence-bridge run`` process die or slow down at a chosen point.

The process tests use them to check that a kill at any moment loses no write.
Both are read from the environment once, at start, and do nothing when unset.
Never set them in production.

``PRESENCE_BRIDGE_TEST_KILL_AT=POINT[:N]``
    The process sends itself SIGKILL the N-th time (default 1) it reaches POINT.
    The dispatcher's points are :data:`KILL_POINTS`.  ``before-claim`` is counted
    only when a due, unclaimed outbox row exists, so the kill leaves work queued.

``PRESENCE_BRIDGE_TEST_SEND_DELAY=SECONDS``
    The dispatcher waits this long before each send, so a test can stop the
    process while writes are still queued.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass

logger = logging.getLogger(__name__)

KILL_AT_VARIABLE = "PRESENCE_BRIDGE_TEST_KILL_AT"
SEND_DELAY_VARIABLE = "PRESENCE_BRIDGE_TEST_SEND_DELAY"

BEFORE_CLAIM = "before-claim"
AFTER_CLAIM = "after-claim"
AFTER_SEND = "after-send"
AFTER_ACK = "after-ack"
KILL_POINTS = (BEFORE_CLAIM, AFTER_CLAIM, AFTER_SEND, AFTER_ACK)
"""Before claiming a batch; after claiming it, before any send; after a send, before its
acknowledgement; after an acknowledgement."""


@dataclass
class KillSwitch:
    """Kill this process with SIGKILL at the ``occurrence``-th time ``point`` is reached."""

    point: str | None = None
    occurrence: int = 1
    reached: int = 0

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> KillSwitch:
        """Read :data:`KILL_AT_VARIABLE`; raises ValueError for an unknown point or count."""
        value = (os.environ if environ is None else environ).get(KILL_AT_VARIABLE, "").strip()
        if not value:
            return cls()
        point, _, count = value.partition(":")
        if point not in KILL_POINTS:
            raise ValueError(f"{KILL_AT_VARIABLE}={value!r}: unknown point; use one of {', '.join(KILL_POINTS)}")
        if count and not (count.isdigit() and int(count) >= 1):
            raise ValueError(f"{KILL_AT_VARIABLE}={value!r}: the count after ':' must be a whole number >= 1")
        logger.warning("Test hook: this process kills itself at %s number %s", point, count or 1)
        return cls(point=point, occurrence=int(count or 1))

    def armed_for(self, point: str) -> bool:
        """Whether reaching ``point`` can kill this process."""
        return self.point == point

    def reach(self, point: str) -> None:
        """Count one arrival at ``point`` and kill the process when it is the chosen one."""
        if self.point != point:
            return
        self.reached += 1
        if self.reached >= self.occurrence:
            logger.warning("Test hook: killing this process at %s number %d", point, self.reached)
            os.kill(os.getpid(), signal.SIGKILL)


def send_delay_from_environment(environ: Mapping[str, str] | None = None) -> float:
    """Read :data:`SEND_DELAY_VARIABLE` in seconds; 0 when unset."""
    value = (os.environ if environ is None else environ).get(SEND_DELAY_VARIABLE, "").strip()
    if not value:
        return 0.0
    try:
        delay = float(value)
    except ValueError:
        raise ValueError(f"{SEND_DELAY_VARIABLE}={value!r}: expected a number of seconds") from None
    logger.warning("Test hook: the dispatcher waits %g s before each send", delay)
    return max(delay, 0.0)
