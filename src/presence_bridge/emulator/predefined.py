"""Predefined status messages and the status-icon check of Nextcloud 31.0.6.

The texts are the English ones.  Nextcloud translates them into the language of
the user who reads the status.

NOTE: only English texts exist here, so a reader whose language is not English
still gets English where Nextcloud would translate.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

import regex


@dataclass(frozen=True, slots=True)
class PredefinedStatus:
    """One predefined message: ``clear_at`` is the hint shown in the list, never applied."""

    id: str
    icon: str
    message: str
    clear_at: dict[str, Any] | None
    visible: bool


PREDEFINED_STATUSES: tuple[PredefinedStatus, ...] = (
    PredefinedStatus("meeting", "📅", "In a meeting", {"type": "period", "time": 3600}, True),
    PredefinedStatus("commuting", "🚌", "Commuting", {"type": "period", "time": 1800}, True),
    PredefinedStatus("remote-work", "🏡", "Working remotely", {"type": "end-of", "time": "day"}, True),
    PredefinedStatus("sick-leave", "🤒", "Out sick", {"type": "end-of", "time": "day"}, True),
    PredefinedStatus("vacationing", "🌴", "Vacationing", None, True),
    PredefinedStatus("call", "💬", "In a call", None, False),
    PredefinedStatus("out-of-office", "🛑", "Out of office", None, False),
)
"""Listed in this order by ``GET /predefined_statuses``; hidden ones are left out there."""

PREDEFINED_BY_ID = {status.id: status for status in PREDEFINED_STATUSES}

VALID_MESSAGE_IDS = frozenset(PREDEFINED_BY_ID) | {"availability", "busy-tentative"}
"""Ids a write accepts: ``availability`` and ``busy-tentative`` have no text or icon."""

STATUS_TYPES = ("online", "away", "dnd", "busy", "invisible", "offline")
"""Every status type, highest priority first (a heartbeat compares by this order)."""

PERSISTENT_STATUS_TYPES = frozenset({"away", "dnd", "busy", "invisible"})
"""User-defined statuses of these types ignore heartbeats and never decay."""

MESSAGE_MAX_LENGTH = 80
"""Maximum custom message length in code points (PHP ``mb_strlen``)."""

# Unicode general categories an icon's code points may have when the icon is two or
# more UTF-8 bytes long.  "Cn" (unassigned) passes too, which is why emoji newer than
# the server's ICU data are accepted.
_ICON_CATEGORIES = frozenset({"Sk", "Lm", "So", "Cf", "Po", "Ll", "Sm", "Me", "Nd", "Pd", "Cn"})
_ZWJ = "\u200d"
_VS16 = "\ufe0f"


def list_visible() -> list[dict[str, Any]]:
    """Return the ``GET /predefined_statuses`` payload."""
    return [
        {"id": status.id, "icon": status.icon, "message": status.message, "clearAt": status.clear_at}
        for status in PREDEFINED_STATUSES
        if status.visible
    ]


def is_valid_icon(icon: str) -> bool:
    """Check ``icon`` the way Nextcloud 31 does before storing a custom status icon.

    The icon must be one extended grapheme cluster, at least two UTF-8 bytes long,
    whose code points all fall in a small set of Unicode categories (or are ZWJ or
    VS16).  So ``©`` and a lone regional indicator pass, while ``A``, ``1``, ``é``
    written with a combining accent, two emoji, or an empty string are rejected.
    """
    if len(regex.findall(r"\X", icon)) != 1:
        return False
    if len(icon.encode("utf-8")) < 2:
        return False
    for char in icon:
        if char in (_ZWJ, _VS16):
            continue
        if unicodedata.category(char) not in _ICON_CATEGORIES:
            return False
    return True
