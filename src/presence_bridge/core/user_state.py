"""Per-user state that the sync planner keeps between observations, and the changes it applies.

Every time is a float of Unix seconds: chat events carry sub-second times (Slack's
``event_ts``), and debouncing works at that resolution.  The planner's inputs and
outputs are in :mod:`presence_bridge.core.sync_state`, which also re-exports these types.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from presence_bridge.core.ids import NextcloudUserId, Platform
from presence_bridge.core.status import NextcloudStatus, NextcloudStatusType

Timestamp = float
"""Unix seconds, with sub-second precision."""


class Direction(enum.StrEnum):
    """Direction in which one user's status flows between Nextcloud and one chat platform."""

    BOTH = "both"
    TO_CHAT = "to-chat"
    TO_NEXTCLOUD = "to-nextcloud"
    OFF = "off"

    @property
    def sends_to_chat(self) -> bool:
        return self in (Direction.BOTH, Direction.TO_CHAT)

    @property
    def accepts_from_chat(self) -> bool:
        return self in (Direction.BOTH, Direction.TO_NEXTCLOUD)


class Target(enum.StrEnum):
    """A system the planner writes to."""

    NEXTCLOUD = "nextcloud"
    SLACK = "slack"
    MATRIX = "matrix"
    RECORDING = "recording"

    @classmethod
    def of(cls, platform: Platform) -> Target:
        return cls(platform.value)


class StatePart(enum.StrEnum):
    """The two halves of a Nextcloud status that change independently."""

    STATUS_TYPE = "status-type"
    MESSAGE = "message"


class ChatEventKind(enum.StrEnum):
    """Kind of chat change, by how deliberate it is.

    ``PRESENCE`` follows activity (Slack ``users.getPresence``, Matrix ``m.presence``
    state) and is automatic sync.  ``STATUS`` is a status the person set on purpose
    (Slack profile status or DND snooze, Matrix ``status_msg`` or busy).
    """

    PRESENCE = "presence"
    STATUS = "status"


@dataclass(frozen=True, slots=True)
class StatusMessage:
    """A Nextcloud status message; all fields None means "no message"."""

    message_id: str | None = None
    message: str | None = None
    icon: str | None = None
    clear_at: int | None = None


@dataclass(frozen=True, slots=True)
class StatusChange:
    """The parts a change sets: None leaves that part as it is."""

    status_type: NextcloudStatusType | None = None
    message: StatusMessage | None = None

    @property
    def parts(self) -> frozenset[StatePart]:
        parts = set()
        if self.status_type is not None:
            parts.add(StatePart.STATUS_TYPE)
        if self.message is not None:
            parts.add(StatePart.MESSAGE)
        return frozenset(parts)

    def without(self, part: StatePart) -> StatusChange:
        if part is StatePart.STATUS_TYPE:
            return StatusChange(None, self.message)
        return StatusChange(self.status_type, None)

    def merged_with(self, newer: StatusChange) -> StatusChange:
        """Combine with a newer change: parts the newer one sets win."""
        return StatusChange(
            newer.status_type if newer.status_type is not None else self.status_type,
            newer.message if newer.message is not None else self.message,
        )


@dataclass(frozen=True, slots=True)
class PendingChange:
    """An automatic chat→Nextcloud change held back until the debounce window ends."""

    platform: Platform
    kind: ChatEventKind
    change: StatusChange
    event_time: Timestamp

    def merged_with(self, newer: PendingChange) -> PendingChange:
        """Combine with a newer change; ``kind`` follows whichever sets the status type."""
        kind = newer.kind if newer.change.status_type is not None else self.kind
        change = self.change.merged_with(newer.change)
        return PendingChange(newer.platform, kind, change, max(self.event_time, newer.event_time))


@dataclass(frozen=True, slots=True)
class TargetState:
    """The bridge's record of one user's state on one system it writes to.

    ``synced`` is the status (in Nextcloud terms) the system was last written with or
    last reported, and ``fingerprint`` its hash.  ``written_at`` is the time of the
    bridge's last write there (echo window), ``auto_written_at`` that of its last
    automatic write (debounce window).  ``pending_since`` is set while an automatic
    write waits for the debounce window to end.
    """

    synced: NextcloudStatus | None = None
    fingerprint: str | None = None
    written_at: Timestamp | None = None
    auto_written_at: Timestamp | None = None
    pending_since: Timestamp | None = None
    pending_change: PendingChange | None = None


@dataclass(frozen=True, slots=True)
class ChatLink:
    """One user's link to one chat platform."""

    direction: Direction = Direction.BOTH
    target: TargetState = field(default_factory=TargetState)


@dataclass(frozen=True)
class UserSyncState:
    """Everything the planner remembers about one user between observations.

    ``nextcloud`` is the last status seen in Nextcloud, or the one the bridge last
    wrote there, whichever came later.  ``observed_at`` is when a sweep first showed
    the current status; an unchanged sweep leaves the state untouched, so that the
    worker stores nothing for it.  ``status_changed_at`` and
    ``message_changed_at`` are the times of the newest change applied to each part:
    a chat event's own time, or for a change seen in Nextcloud the time the bridge
    observed it (Nextcloud reports no change time).
    """

    user: NextcloudUserId
    nextcloud: NextcloudStatus | None = None
    observed_at: Timestamp | None = None
    has_backup: bool = False
    missing_sweeps: int = 0
    status_changed_at: Timestamp | None = None
    message_changed_at: Timestamp | None = None
    nextcloud_target: TargetState = field(default_factory=TargetState)
    links: Mapping[Platform, ChatLink] = field(default_factory=dict)
