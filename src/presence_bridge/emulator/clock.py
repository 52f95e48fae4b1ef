"""The emulator's clock: real time, shifted to a chosen instant, or frozen."""

from __future__ import annotations

import threading
import time


class Clock:
    """Integer Unix seconds that tests can set, advance or freeze.

    By default it follows the system clock.  ``set(t)`` makes ``now()`` return ``t``
    and keep advancing from there (unless frozen); ``freeze()`` stops it at the
    current value until ``freeze(False)``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen_at: int | None = None

    def now(self) -> int:
        """Return the current emulated time in whole seconds."""
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return int(time.time() + self._offset)

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def set(self, now: int) -> None:
        """Jump to ``now``; a frozen clock stays frozen at the new value."""
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = int(now)
            else:
                self._offset = now - time.time()

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, for a negative value)."""
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = int(self._frozen_at + seconds)
            else:
                self._offset += seconds

    def freeze(self, frozen: bool = True) -> None:
        """Stop the clock at its current value, or let it run again from there."""
        current = self.now()
        with self._lock:
            if frozen:
                self._frozen_at = current
            elif self._frozen_at is not None:
                self._frozen_at = None
                self._offset = current - time.time()

    def reset(self) -> None:
        """Follow the system clock again."""
        with self._lock:
            self._offset = 0.0
            self._frozen_at = None
