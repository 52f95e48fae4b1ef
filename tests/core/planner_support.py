"""Builders shared by the sync planner tests: users, statuses, linked states, sweeps."""

from __future__ import annotations

from presence_bridge.core.ids import NextcloudUserId, Platform
from presence_bridge.core.planner import plan_chat_event, plan_wake
from presence_bridge.core.planner_rules import fingerprint, outward_status
from presence_bridge.core.status import NextcloudStatus, NextcloudStatusType
from presence_bridge.core.sync_state import (
    ChatEvent,
    ChatEventKind,
    ChatLink,
    Direction,
    Plan,
    PlannedWrite,
    PlannerSettings,
    StatusChange,
    StatusMessage,
    SweepObservation,
    Target,
    TargetState,
    UserSyncState,
)

T0 = 1_800_000_000.0
"""A fixed "now" for tables; every time in the tests is relative to it."""

LONG_AGO = T0 - 3600
ALICE = NextcloudUserId("alice")
BOB = NextcloudUserId("bob")


def nc(status: str = "online", **fields: object) -> NextcloudStatus:
    return NextcloudStatus(NextcloudStatusType(status), **fields)  # type: ignore[arg-type]


def synced_target(status: NextcloudStatus | None, at: float = LONG_AGO) -> TargetState:
    """A target that shows ``status`` since a write at ``at``."""
    if status is None:
        return TargetState()
    shown = outward_status(status, at)
    return TargetState(synced=shown, fingerprint=fingerprint(shown), written_at=at, auto_written_at=at)


def linked(
    status: NextcloudStatus | None = None,
    *,
    user: NextcloudUserId = ALICE,
    has_backup: bool = False,
    slack: Direction | None = Direction.BOTH,
    matrix: Direction | None = Direction.BOTH,
    changed_at: float = LONG_AGO,
) -> UserSyncState:
    """A user whose linked chat platforms already show ``status``."""
    status = nc("online") if status is None else status
    links = {}
    if slack is not None:
        links[Platform.SLACK] = ChatLink(slack, synced_target(status))
    if matrix is not None:
        links[Platform.MATRIX] = ChatLink(matrix, synced_target(status))
    return UserSyncState(
        user=user,
        nextcloud=status,
        observed_at=changed_at,
        has_backup=has_backup,
        status_changed_at=changed_at,
        message_changed_at=changed_at,
        nextcloud_target=synced_target(status),
        links=links,
    )


def sweep(*rows: tuple[str, NextcloudStatus], complete: bool = True, at: float = T0) -> SweepObservation:
    return SweepObservation.from_listing(rows, complete=complete, observed_at=at)


def presence(
    platform: Platform, status: str, at: float = T0, user: NextcloudUserId = ALICE
) -> ChatEvent:
    change = StatusChange(status_type=NextcloudStatusType(status))
    return ChatEvent(platform, user, ChatEventKind.PRESENCE, change, at)


def status_event(
    platform: Platform,
    *,
    status: str | None = None,
    message: StatusMessage | None = None,
    at: float = T0,
    user: NextcloudUserId = ALICE,
) -> ChatEvent:
    status_type = NextcloudStatusType(status) if status is not None else None
    change = StatusChange(status_type=status_type, message=message)
    return ChatEvent(platform, user, ChatEventKind.STATUS, change, at)


def writes_to(plan: Plan, target: Target) -> list[PlannedWrite]:
    return [write for write in plan.writes if write.target is target]


def statuses_written(plan: Plan) -> dict[Target, NextcloudStatusType]:
    """Map each written target to the status type written there."""
    return {w.target: w.desired.status for w in plan.writes if w.desired is not None}


def reasons(plan: Plan) -> set[str]:
    return {note.reason.value for note in plan.notes}


class Driver:
    """Feeds chat events to the planner for one user, waking it when a write falls due.

    It plays the worker's part: it records every plan's new state and keeps all
    planned writes with the simulated time they were planned at.
    """

    def __init__(self, state: UserSyncState, settings: PlannerSettings) -> None:
        self.state = state
        self.settings = settings
        self.wake_at: float | None = None
        self.log: list[tuple[float, PlannedWrite]] = []

    def _take(self, plan: Plan, now: float) -> None:
        self.log.extend((now, write) for write in plan.writes)
        self.state = plan.new_states.get(self.state.user, self.state)
        self.wake_at = plan.wake_at

    def wake_until(self, now: float) -> None:
        while self.wake_at is not None and self.wake_at <= now:
            at = self.wake_at
            self._take(plan_wake({self.state.user: self.state}, at, self.settings), at)

    def event(self, event: ChatEvent) -> None:
        self.wake_until(event.event_time)
        self._take(plan_chat_event(self.state, event, event.event_time, self.settings), event.event_time)

    def times(self, target: Target) -> list[float]:
        return [at for at, write in self.log if write.target is target]
