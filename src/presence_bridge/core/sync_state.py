"""Typed inputs and outputs of the sync planner; its per-user state types are re-exported here.

Every time is a float of Unix seconds: chat events carry sub-second times (Slack's
``event_ts``), and debouncing works at that resolution.  Statuses are always given in
Nextcloud terms (:class:`NextcloudStatus`); turning them into a Slack or Matrix request
is the mapping layer's job, not the planner's.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from presence_bridge.core.ids import NextcloudUserId, Platform
from presence_bridge.core.mapping import (
    ClearMessage,
    Heartbeat,
    NextcloudWrite,
    SetCustom,
    SetPredefined,
    SetStatus,
)
from presence_bridge.core.status import NextcloudStatus, NextcloudStatusType
from presence_bridge.core.user_state import (  # noqa: F401 - re-exported for the planner's callers
    ChatEventKind,
    ChatLink,
    Direction,
    PendingChange,
    StatePart,
    StatusChange,
    StatusMessage,
    Target,
    TargetState,
    Timestamp,
    UserSyncState,
)
from presence_bridge.errors import ConfigError

BACKUP_PREFIX = "_"
"""Nextcloud stores an automation's backup of ``alice`` as a row with user id ``_alice``."""


class ChangeOrigin(enum.StrEnum):
    """Author of a chat change, as far as the adapter can tell."""

    USER = "user"
    OTHER_APP = "other-app"
    BRIDGE = "bridge"


class CommandAction(enum.StrEnum):
    SET = "set"
    CLEAR_MESSAGE = "clear-message"
    RESTORE = "restore"


class WriteAction(enum.StrEnum):
    """``SET`` writes ``desired``; ``REVERT`` requests that Nextcloud restore its backup row."""

    SET = "set"
    REVERT = "revert"


class WriteReason(enum.StrEnum):
    NEXTCLOUD_CHANGED = "nextcloud-changed"
    NEXTCLOUD_MISSING = "nextcloud-missing"
    EXPIRED = "expired"
    CHAT_CHANGED = "chat-changed"
    COMMAND = "command"
    RESTORE = "restore"


class SkipReason(enum.StrEnum):
    """Reason the planner wrote nothing (or less than it could) for a user."""

    NO_CHANGE = "no-change"
    ECHO = "echo"
    STALE = "stale"
    AUTOMATION_ACTIVE = "automation-active"
    STICKY_STATUS = "sticky-status"
    MATRIX_OFFLINE = "matrix-offline"
    DIRECTION = "direction"
    DEBOUNCED = "debounced"
    NOT_LINKED = "not-linked"
    MISSING_UNCONFIRMED = "missing-unconfirmed"
    INCONCLUSIVE_SWEEP = "inconclusive-sweep"
    BACKUP_ROW = "backup-row"
    NOTHING_TO_RESTORE = "nothing-to-restore"
    AUTOMATION_ID_UNKNOWN = "automation-id-unknown"


@dataclass(frozen=True)
class SweepObservation:
    """One pass over ``GET /statuses``.

    ``users`` maps each real user id to its status as listed; ``backups`` contains the
    user ids that had a ``_uid`` backup row in the same pass.  ``complete`` is true
    when the pass reached the end of the listing.
    """

    users: Mapping[NextcloudUserId, NextcloudStatus]
    backups: frozenset[NextcloudUserId]
    complete: bool
    observed_at: Timestamp

    @classmethod
    def from_listing(
        cls,
        rows: Iterable[tuple[str, NextcloudStatus]],
        *,
        complete: bool,
        observed_at: Timestamp,
    ) -> SweepObservation:
        """Build from raw listing rows, splitting ``_uid`` backup rows from users.

        A user listed twice (offset paging while rows move) keeps its last row,
        because Nextcloud moves a replaced row to the end of the table.
        """
        users: dict[NextcloudUserId, NextcloudStatus] = {}
        backups: set[NextcloudUserId] = set()
        for user_id, status in rows:
            if user_id.startswith(BACKUP_PREFIX):
                owner = user_id[len(BACKUP_PREFIX) :]
                if owner:
                    backups.add(NextcloudUserId(owner))
                continue
            users[NextcloudUserId(user_id)] = status
        return cls(users, frozenset(backups), complete, observed_at)


@dataclass(frozen=True, slots=True)
class ChatEvent:
    """A status or presence change reported by a chat platform for a linked user.

    ``change`` is the chat state already translated into Nextcloud terms (Matrix
    ``unavailable`` becomes away).  ``event_time`` is the platform's own time for it.
    """

    platform: Platform
    user: NextcloudUserId
    kind: ChatEventKind
    change: StatusChange
    event_time: Timestamp
    origin: ChangeOrigin = ChangeOrigin.USER


def chat_events_from_writes(
    platform: Platform,
    user: NextcloudUserId,
    writes: Iterable[NextcloudWrite],
    event_time: Timestamp,
    origin: ChangeOrigin = ChangeOrigin.USER,
) -> tuple[ChatEvent, ...]:
    """Turn the mapping layer's Nextcloud writes for one chat event into planner events.

    A heartbeat becomes a ``PRESENCE`` event; an explicit status or a message write
    becomes one ``STATUS`` event.  ``NoWrite`` adds nothing.
    """
    heartbeat: NextcloudStatusType | None = None
    status_type: NextcloudStatusType | None = None
    message: StatusMessage | None = None
    for write in writes:
        if isinstance(write, Heartbeat):
            heartbeat = write.status
        elif isinstance(write, SetStatus):
            status_type = write.status
        elif isinstance(write, SetPredefined):
            message = StatusMessage(message_id=write.message_id, clear_at=write.clear_at)
        elif isinstance(write, SetCustom):
            message = StatusMessage(message=write.message, icon=write.icon, clear_at=write.clear_at)
        elif isinstance(write, ClearMessage):
            message = StatusMessage()
    events = []
    if heartbeat is not None:
        change = StatusChange(status_type=heartbeat)
        events.append(ChatEvent(platform, user, ChatEventKind.PRESENCE, change, event_time, origin))
    if status_type is not None or message is not None:
        change = StatusChange(status_type=status_type, message=message)
        events.append(ChatEvent(platform, user, ChatEventKind.STATUS, change, event_time, origin))
    return tuple(events)


@dataclass(frozen=True, slots=True)
class CommandIntent:
    """A user's explicit request, already parsed: set a status, clear the message or restore."""

    user: NextcloudUserId
    action: CommandAction
    issued_at: Timestamp
    change: StatusChange = field(default_factory=StatusChange)
    platform: Platform | None = None


@dataclass(frozen=True, slots=True)
class PlannedWrite:
    """One write the worker should make.

    For chat targets ``desired`` is the status to publish, already made outward-safe
    (invisible shown as offline, expired message cleared).  ``loses_backup`` is true
    when the write is a manual ``PUT`` that deletes the automation's backup row, so
    Nextcloud will no longer restore the user's previous status by itself.
    ``heartbeat`` is true when the status type comes from chat activity and should be
    sent as a Nextcloud heartbeat (online or away), not as a sticky ``PUT``.
    """

    target: Target
    user: NextcloudUserId
    action: WriteAction
    reason: WriteReason
    automatic: bool
    desired: NextcloudStatus | None = None
    parts: frozenset[StatePart] = frozenset()
    fingerprint: str | None = None
    loses_backup: bool = False
    heartbeat: bool = False
    revert_message_id: str | None = None


@dataclass(frozen=True, slots=True)
class PlanNote:
    """Reason something was not written; ``user`` is None for a note about a whole sweep."""

    user: NextcloudUserId | None
    reason: SkipReason
    detail: str = ""


@dataclass(frozen=True)
class Plan:
    """The planner's result for one call.

    Record ``new_states`` (only users whose state changed are listed) once the
    writes succeeded.  ``wake_at`` is when the earliest debounced write falls due,
    ``next_wake_at`` the earliest of that and any future ``clear_at``: call
    :func:`~presence_bridge.core.planner.plan_wake` then.
    """

    writes: tuple[PlannedWrite, ...] = ()
    new_states: Mapping[NextcloudUserId, UserSyncState] = field(default_factory=dict)
    notes: tuple[PlanNote, ...] = ()
    wake_at: Timestamp | None = None
    next_wake_at: Timestamp | None = None


@dataclass(frozen=True, slots=True)
class PlannerSettings:
    """Tunable windows.

    ``settle_seconds``: how long an inbound change equal to the bridge's own last write
    counts as its echo.  ``debounce_seconds``: the minimum gap between two automatic
    writes for one user to one system; 10 s matches Synapse's default presence rate
    limit of one change per user per 10 s.  ``missing_sweeps_to_confirm``: complete
    sweeps a user must be absent from before the bridge treats them as having no status.
    """

    settle_seconds: float = 60.0
    debounce_seconds: float = 10.0
    missing_sweeps_to_confirm: int = 2

    def __post_init__(self) -> None:
        if self.settle_seconds < 0:
            raise ConfigError(
                f"invalid settle_seconds {self.settle_seconds}: use 0 or more seconds",
                key="settle_seconds",
            )
        if self.debounce_seconds < 0:
            raise ConfigError(
                f"invalid debounce_seconds {self.debounce_seconds}: use 0 or more seconds",
                key="debounce_seconds",
            )
        if self.missing_sweeps_to_confirm < 1:
            raise ConfigError(
                f"invalid missing_sweeps_to_confirm {self.missing_sweeps_to_confirm}: use 1 or more",
                key="missing_sweeps_to_confirm",
            )
