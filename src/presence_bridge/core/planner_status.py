"""Status rules of the sync planner: expiry, outward safety, automations, the presence
classes each chat platform shows, and echo comparison.

:mod:`presence_bridge.core.planner_rules` re-exports these names.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

from presence_bridge.core.status import (
    AUTOMATION_MESSAGE_IDS,
    NextcloudStatus,
    NextcloudStatusType,
)
from presence_bridge.core.sync_state import (
    StatePart,
    StatusChange,
    StatusMessage,
    Target,
    Timestamp,
)

OFFLINE = NextcloudStatus(NextcloudStatusType.OFFLINE)
"""The status Nextcloud reports for a user with no status row, or after ``clear_at`` passed."""

STICKY_TYPES = frozenset(
    {NextcloudStatusType.DND, NextcloudStatusType.BUSY, NextcloudStatusType.INVISIBLE}
)
"""Status types that activity-driven chat presence never replaces.

Nextcloud's own heartbeats leave a user-set dnd, busy or invisible alone, and so does
the bridge: a chat client going idle or active is not a decision to leave DND.
"""

HEARTBEAT_TYPES = frozenset({NextcloudStatusType.ONLINE, NextcloudStatusType.AWAY})
"""Status types Nextcloud's heartbeat endpoint accepts."""

_AUTOMATION_IDS_WITHOUT_BACKUP = AUTOMATION_MESSAGE_IDS - {"meeting"}

# Classes of Nextcloud status types that each chat platform shows alike.  A change
# within one class is no change on that platform, because Slack, for example, shows
# dnd and busy both as Do Not Disturb.
_PRESENCE_CLASSES: dict[Target, dict[NextcloudStatusType, str]] = {
    Target.SLACK: {
        NextcloudStatusType.ONLINE: "active",
        NextcloudStatusType.AWAY: "away",
        NextcloudStatusType.DND: "dnd",
        NextcloudStatusType.BUSY: "dnd",
        NextcloudStatusType.INVISIBLE: "away",
        NextcloudStatusType.OFFLINE: "away",
    },
    Target.MATRIX: {
        NextcloudStatusType.ONLINE: "online",
        NextcloudStatusType.AWAY: "unavailable",
        NextcloudStatusType.DND: "busy",
        NextcloudStatusType.BUSY: "busy",
        NextcloudStatusType.INVISIBLE: "offline",
        NextcloudStatusType.OFFLINE: "offline",
    },
}


def fingerprint(status: NextcloudStatus | None) -> str:
    """Hash a status canonically, so equal states written at different times match."""
    if status is None:
        canonical = "null"
    else:
        canonical = json.dumps(
            [
                status.status.value,
                status.message_id,
                status.message,
                status.icon,
                status.clear_at,
                status.automated,
            ],
            ensure_ascii=False,
            separators=(",", ":"),
        )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def effective_status(status: NextcloudStatus, now: Timestamp) -> NextcloudStatus:
    """Return the status as Nextcloud will report it at ``now``.

    Once ``clear_at`` has passed (``clear_at <= now``) Nextcloud clears the message
    and resets the status to offline.
    """
    if status.clear_at is not None and status.clear_at <= now:
        return OFFLINE
    return status


def outward_status(status: NextcloudStatus, now: Timestamp) -> NextcloudStatus:
    """Return the status to publish on chat platforms.

    Invisible is published as offline, never as online; its message stays visible,
    as Nextcloud itself shows it to other users.
    """
    status = effective_status(status, now)
    if status.status is NextcloudStatusType.INVISIBLE:
        return replace(status, status=NextcloudStatusType.OFFLINE)
    return status


def is_automated(status: NextcloudStatus | None, has_backup: bool) -> bool:
    """Tell whether a Nextcloud automation (call, meeting, out-of-office, availability) set it.

    A ``_uid`` backup row exists only while an automation has set the status.  Without
    one, the message id still identifies ``call``, ``out-of-office`` and
    ``availability``, but not ``meeting``, which users can also pick by hand.
    """
    if has_backup:
        return True
    if status is None:
        return False
    return status.automated or status.message_id in _AUTOMATION_IDS_WITHOUT_BACKUP


def message_of(status: NextcloudStatus | None) -> StatusMessage:
    if status is None:
        return StatusMessage()
    return StatusMessage(status.message_id, status.message, status.icon, status.clear_at)


def apply_change(current: NextcloudStatus | None, change: StatusChange) -> NextcloudStatus:
    """Return ``current`` with the parts ``change`` sets replaced; the result is user-set."""
    base = current or OFFLINE
    status_type = change.status_type or base.status
    message = change.message if change.message is not None else message_of(base)
    return NextcloudStatus(
        status_type,
        message_id=message.message_id,
        message=message.message,
        icon=message.icon,
        clear_at=message.clear_at,
    )


def _presence_class(target: Target, status_type: NextcloudStatusType) -> str:
    return _PRESENCE_CLASSES.get(target, {}).get(status_type, status_type.value)


def _message_key(target: Target, message: StatusMessage) -> tuple[str, str, int | None]:
    # A chat platform reports a predefined message by its text, so the id only counts
    # when there is no text.  Matrix has no expiry, so clear_at is left out there.
    clear_at = None if target is Target.MATRIX else message.clear_at
    return (message.message or message.message_id or "", message.icon or "", clear_at)


def same_part(
    target: Target, part: StatePart, left: NextcloudStatus | None, right: NextcloudStatus | None
) -> bool:
    """Tell whether two statuses look the same on ``target`` in one part."""
    if left is None or right is None:
        return left is right
    if part is StatePart.STATUS_TYPE:
        return _presence_class(target, left.status) == _presence_class(target, right.status)
    return _message_key(target, message_of(left)) == _message_key(target, message_of(right))


def changed_parts(
    target: Target, old: NextcloudStatus | None, new: NextcloudStatus
) -> frozenset[StatePart]:
    return frozenset(part for part in StatePart if not same_part(target, part, old, new))


def is_nextcloud_echo(written: NextcloudStatus | None, seen: NextcloudStatus) -> bool:
    """Tell whether ``seen`` is what Nextcloud shows after the bridge wrote ``written``.

    ``GET /statuses`` lists a predefined message by its text and icon, without the
    message id the bridge wrote, so an id-only write matches any text there.
    """
    if written is None:
        return False
    if fingerprint(replace(seen, automated=False)) == fingerprint(written):
        return True
    id_only = written.message_id is not None and not written.message and not written.icon
    listed_by_text = seen.message_id is None and bool(seen.message or seen.icon)
    same_rest = seen.status is written.status and seen.clear_at == written.clear_at
    return id_only and listed_by_text and same_rest


def within(start: Timestamp | None, seconds: float, now: Timestamp) -> bool:
    """Tell whether ``now`` is less than ``seconds`` after ``start``."""
    return start is not None and now < start + seconds
