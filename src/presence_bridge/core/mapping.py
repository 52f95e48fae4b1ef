"""Mapping rules between Nextcloud status (the source of truth), Slack and Matrix.

Four pure functions, named by direction: :func:`nextcloud_to_slack`,
:func:`slack_to_nextcloud`, :func:`nextcloud_to_matrix` and :func:`matrix_to_nextcloud`.
The chat-to-Nextcloud rules return :data:`NextcloudWrite` values: chat activity becomes
a :class:`Heartbeat` (automatic, never sticky), an explicit change a :class:`SetStatus`
(sticky for away, dnd, busy and invisible) or a message write.  Settings an operator
may change are in :class:`MappingOptions`.

What each side cannot represent, and how it degrades (Nextcloud → chat → back):

=============================  ===================================  ==============================
Nextcloud                      Slack                                back to Nextcloud
=============================  ===================================  ==============================
online                         presence auto                        heartbeat online
away                           presence away                        heartbeat away (not sticky)
dnd                            DND snooze to clear-at, at most      dnd
                               ``dnd_max_seconds`` (24 h)
busy                           presence auto; only the message      heartbeat online: busy is lost
invisible, offline             presence away (never online)         heartbeat away
custom message                 status text (≤ 100) + ``:name:``,    custom message, same clear-at
                               expiration = clear-at
predefined message             the listed text and icon             the predefined id again when
                                                                    icon and text match the list
icon Slack has no name for     text only, and Slack shows 💬;       icon lost; an icon-only
(🇩 alone, Emoji 16 and later)  no status at all without text        message is lost
💬 icon with text              ``:speech_balloon:``                 no icon (Slack's default)
call / out-of-office /         text and icon                        custom message; the caller
availability message                                                must drop this echo
=============================  ===================================  ==============================

Slack only: a custom workspace emoji becomes ``custom_emoji_fallback`` or no icon, and
when there is no text either, its ``:name:`` becomes the message.  Slack's built-in
statuses (🗓️ In a meeting, 🚌 Commuting, 🤒 Out sick, 🌴 Vacationing, 🏡 Working
remotely) become the predefined ids ``meeting``, ``commuting``, ``sick-leave``,
``vacationing`` and ``remote-work``.  Standard ``:name:`` codes inside the text become
emoji.  A text longer than 80 code points is cut to 79 at an emoji or letter
boundary, and "…" is appended.  Slack reports ``away`` both for idle and for signed-out
users, and both become an ``away`` heartbeat.

=============================  ===================================  ==============================
Nextcloud                      Matrix                               back to Nextcloud
=============================  ===================================  ==============================
online                         online                               heartbeat online
away                           unavailable                          heartbeat away
dnd, busy                      busy with ``msc3026_busy``, else     dnd with MSC3026; without it
                               unavailable; ``status_msg`` is the   heartbeat away, and busy
                               message or "Do not disturb"/"Busy"   always comes back as dnd
invisible, offline             offline                              no write: offline is a timeout
message                        ``status_msg`` = icon + " " + text   custom message (leading emoji
                                                                    as icon), or predefined when
                                                                    icon and text match the list
clear-at                       not representable                    lost: the message never ends
=============================  ===================================  ==============================

A clear-at in the past means Nextcloud has reset the status to offline and dropped the
message, so both directions treat such a status as offline without a message.
"""

from __future__ import annotations

from presence_bridge.core.mapping_common import (
    ClearMessage,
    Heartbeat,
    MappingOptions,
    NextcloudWrite,
    NoWrite,
    PredefinedLookup,
    PredefinedMessage,
    SetCustom,
    SetPredefined,
    SetStatus,
    truncate_text,
)
from presence_bridge.core.mapping_matrix import matrix_to_nextcloud, nextcloud_to_matrix
from presence_bridge.core.mapping_slack import (
    SLACK_DEFAULT_STATUSES,
    nextcloud_to_slack,
    slack_to_nextcloud,
)

__all__ = [
    "SLACK_DEFAULT_STATUSES",
    "ClearMessage",
    "Heartbeat",
    "MappingOptions",
    "NextcloudWrite",
    "NoWrite",
    "PredefinedLookup",
    "PredefinedMessage",
    "SetCustom",
    "SetPredefined",
    "SetStatus",
    "matrix_to_nextcloud",
    "nextcloud_to_matrix",
    "nextcloud_to_slack",
    "slack_to_nextcloud",
    "truncate_text",
]
