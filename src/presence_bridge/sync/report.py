"""The counts of one sweep or wake-up, and its summary log line."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from presence_bridge.core.sync_state import Plan

logger = logging.getLogger("presence_bridge.sync.worker")


@dataclass
class SweepReport:
    """Counts of one sweep or wake-up, as logged in its summary line."""

    mode: str
    read: int = 0
    changed: int = 0
    written: int = 0
    skipped: int = 0
    errors: int = 0
    keepalives: int = 0
    duration: float = 0.0

    def add(self, plan: Plan, enqueued: int) -> None:
        for note in plan.notes:
            logger.debug("Skipped %s: %s (%s)", note.user or "the sweep", note.reason.value, note.detail)
        self.changed += len({write.user for write in plan.writes})
        self.written += enqueued
        self.skipped += len(plan.notes)

    def log(self) -> None:
        """Log the one summary line of this sweep or wake-up."""
        logger.info(
            "%s: read %d, changed %d, written %d, skipped %d, errors %d, keep-alives %d, %.3f s",
            "Wake-up" if self.mode == "wake" else f"Sweep ({self.mode})",
            self.read,
            self.changed,
            self.written,
            self.skipped,
            self.errors,
            self.keepalives,
            self.duration,
        )
