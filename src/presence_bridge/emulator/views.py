"""JSON views of a status row: the owner's (private) and everyone else's (public)."""

from __future__ import annotations

from typing import Any

from presence_bridge.emulator.predefined import PREDEFINED_BY_ID
from presence_bridge.emulator.status_table import StatusRow


def default_message(row: StatusRow) -> tuple[str | None, str | None]:
    """Return (message, icon) with a predefined id's text and icon filling empty fields."""
    message, icon = row.custom_message, row.custom_icon
    predefined = PREDEFINED_BY_ID.get(row.message_id) if row.message_id else None
    if predefined is not None:
        message = message or predefined.message
        icon = icon or predefined.icon
    return message, icon


def private_status(row: StatusRow, *, fill_defaults: bool) -> dict[str, Any]:
    """Build the owner's view; ``fill_defaults`` is True for reads, False for write responses."""
    message, icon = default_message(row) if fill_defaults else (row.custom_message, row.custom_icon)
    return {
        "userId": row.user_id,
        "message": message,
        "messageId": row.message_id,
        "messageIsPredefined": row.message_id is not None,
        "icon": icon,
        "clearAt": row.clear_at,
        "status": row.status,
        "statusIsUserDefined": row.is_user_defined,
    }


def public_status(row: StatusRow) -> dict[str, Any]:
    """Build other users' view: no message id, and ``invisible`` shown as ``offline``."""
    message, icon = default_message(row)
    return {
        "userId": row.user_id,
        "message": message,
        "icon": icon,
        "clearAt": row.clear_at,
        "status": "offline" if row.status == "invisible" else row.status,
    }
