"""Saving the planner's :class:`UserSyncState` per user, as JSON, next to the outbox rows it plans.

:class:`PlannerStateStore` loads states with the stored document each came from,
and :meth:`PlannerStateStore.commit` saves new states only where that document is
still stored (see :mod:`presence_bridge.storage.planner_state`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from presence_bridge.core.ids import NextcloudUserId, Platform
from presence_bridge.core.status import NextcloudStatusType
from presence_bridge.core.sync_state import (
    ChatEventKind,
    ChatLink,
    Direction,
    PendingChange,
    StatusChange,
    StatusMessage,
    TargetState,
    UserSyncState,
)
from presence_bridge.errors import StorageError
from presence_bridge.storage import Store
from presence_bridge.storage.planner_state import (
    CommitResult,
    OutboxRow,
    StateUpdate,
    commit_planned,
    load_states,
)
from presence_bridge.sync.platform import status_from_json, status_to_json

STATE_VERSION = 1
"""Layout version of the stored state document."""


def _message_to_json(message: StatusMessage | None) -> dict[str, Any] | None:
    if message is None:
        return None
    return {"message_id": message.message_id, "message": message.message, "icon": message.icon, "clear_at": message.clear_at}


def _message_from_json(data: Mapping[str, Any] | None) -> StatusMessage | None:
    if data is None:
        return None
    return StatusMessage(data.get("message_id"), data.get("message"), data.get("icon"), data.get("clear_at"))


def _pending_to_json(pending: PendingChange | None) -> dict[str, Any] | None:
    if pending is None:
        return None
    status_type = pending.change.status_type
    return {
        "platform": pending.platform.value,
        "kind": pending.kind.value,
        "status_type": None if status_type is None else status_type.value,
        "message": _message_to_json(pending.change.message),
        "event_time": pending.event_time,
    }


def _pending_from_json(data: Mapping[str, Any] | None) -> PendingChange | None:
    if data is None:
        return None
    status_type = data.get("status_type")
    change = StatusChange(
        None if status_type is None else NextcloudStatusType(status_type), _message_from_json(data.get("message"))
    )
    return PendingChange(Platform(data["platform"]), ChatEventKind(data["kind"]), change, float(data["event_time"]))


def _target_to_json(target: TargetState) -> dict[str, Any]:
    return {
        "synced": None if target.synced is None else status_to_json(target.synced),
        "fingerprint": target.fingerprint,
        "written_at": target.written_at,
        "auto_written_at": target.auto_written_at,
        "pending_since": target.pending_since,
        "pending_change": _pending_to_json(target.pending_change),
    }


def _target_from_json(data: Mapping[str, Any]) -> TargetState:
    synced = data.get("synced")
    return TargetState(
        synced=None if synced is None else status_from_json(synced),
        fingerprint=data.get("fingerprint"),
        written_at=data.get("written_at"),
        auto_written_at=data.get("auto_written_at"),
        pending_since=data.get("pending_since"),
        pending_change=_pending_from_json(data.get("pending_change")),
    )


def state_to_json(state: UserSyncState) -> str:
    """Serialise ``state`` canonically: equal states give equal text."""
    document = {
        "version": STATE_VERSION,
        "user": state.user,
        "nextcloud": None if state.nextcloud is None else status_to_json(state.nextcloud),
        "observed_at": state.observed_at,
        "has_backup": state.has_backup,
        "missing_sweeps": state.missing_sweeps,
        "status_changed_at": state.status_changed_at,
        "message_changed_at": state.message_changed_at,
        "nextcloud_target": _target_to_json(state.nextcloud_target),
        "links": {
            platform.value: {"direction": link.direction.value, "target": _target_to_json(link.target)}
            for platform, link in sorted(state.links.items())
        },
    }
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def state_from_json(text: str) -> UserSyncState:
    """Read a document written by :func:`state_to_json`; raises StorageError when it is unreadable."""
    try:
        data = json.loads(text)
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"layout version {data.get('version')!r}, expected {STATE_VERSION}")
        nextcloud = data.get("nextcloud")
        links = {
            Platform(name): ChatLink(Direction(value["direction"]), _target_from_json(value["target"]))
            for name, value in data.get("links", {}).items()
        }
        return UserSyncState(
            user=NextcloudUserId(data["user"]),
            nextcloud=None if nextcloud is None else status_from_json(nextcloud),
            observed_at=data.get("observed_at"),
            has_backup=bool(data.get("has_backup")),
            missing_sweeps=int(data.get("missing_sweeps", 0)),
            status_changed_at=data.get("status_changed_at"),
            message_changed_at=data.get("message_changed_at"),
            nextcloud_target=_target_from_json(data["nextcloud_target"]),
            links=links,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StorageError(
            f"unreadable sync state document ({exc}); delete the user's row in nextcloud_status_state "
            "and the next sweep rebuilds it"
        ) from exc


@dataclass(frozen=True, slots=True)
class LoadedState:
    """A user's state and the stored document it was read from (None when nothing was stored)."""

    state: UserSyncState
    document: str | None


class PlannerStateStore:
    """Load and save planner states over the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def load(self, user_ids: Collection[str] | None = None) -> dict[NextcloudUserId, LoadedState]:
        """Return the stored states, of ``user_ids`` only when given (users without a row are left out)."""
        stored = await load_states(self.store, user_ids)
        return {
            NextcloudUserId(uid): LoadedState(state_from_json(row.document), row.document) for uid, row in stored.items()
        }

    async def commit(
        self,
        loaded: Mapping[NextcloudUserId, LoadedState],
        new_states: Mapping[NextcloudUserId, UserSyncState],
        rows: Sequence[OutboxRow],
    ) -> CommitResult:
        """Save ``new_states`` (where the document in ``loaded`` is still stored) and enqueue ``rows``."""
        updates = []
        for uid, state in new_states.items():
            before = loaded.get(uid)
            document = state_to_json(state)
            expected = before.document if before is not None else None
            if document != expected:
                updates.append(StateUpdate(uid, expected, document))
        return await commit_planned(self.store, updates, rows)
