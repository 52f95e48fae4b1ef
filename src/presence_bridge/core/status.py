"""Value types for a status on each system the bridge connects.

These are the bridge's own model, independent of any wire format: the Nextcloud
client converts its API results into :class:`NextcloudStatus`, the Slack and Matrix
adapters convert to and from :class:`SlackStatus` and :class:`MatrixPresence`.
All times are integer Unix seconds.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

SLACK_STATUS_TEXT_MAX = 100
"""Slack truncates ``status_text`` beyond 100 characters."""

NEXTCLOUD_MESSAGE_MAX = 80
"""Nextcloud 31 rejects a custom message longer than 80 code points (``mb_strlen``)."""

AUTOMATION_MESSAGE_IDS = frozenset({"call", "meeting", "out-of-office", "availability"})
"""Predefined message ids that Nextcloud's own automations set.

Talk sets ``call``, the calendar ``meeting``, the out-of-office job ``out-of-office`` and
the availability settings ``availability``.  A user can pick ``meeting`` from the list
too, so ``meeting`` counts as automated only when a backup row exists.
"""


class NextcloudStatusType(enum.StrEnum):
    """The status types Nextcloud 31 accepts (case-sensitive)."""

    ONLINE = "online"
    AWAY = "away"
    DND = "dnd"
    BUSY = "busy"
    INVISIBLE = "invisible"
    OFFLINE = "offline"


class SlackPresence(enum.StrEnum):
    """A value of ``users.setPresence``: ``auto`` follows activity, ``away`` forces away."""

    AUTO = "auto"
    AWAY = "away"


class MatrixPresenceState(enum.StrEnum):
    """The presence states of the Matrix client-server API."""

    ONLINE = "online"
    UNAVAILABLE = "unavailable"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class NextcloudStatus:
    """One user's status in Nextcloud.

    ``message_id`` is set for a predefined message (its text and icon are then
    Nextcloud's), ``message`` and ``icon`` for a custom one.  ``clear_at`` belongs to
    the message: when it passes, Nextcloud clears the message and resets the status
    to offline.  ``automated`` is true when a call, meeting, out-of-office or
    availability rule set the status and a backup of the user's own status exists.
    """

    status: NextcloudStatusType
    message_id: str | None = None
    message: str | None = None
    icon: str | None = None
    clear_at: int | None = None
    automated: bool = False

    @property
    def has_message(self) -> bool:
        return bool(self.message_id or self.message or self.icon)


@dataclass(frozen=True, slots=True)
class SlackStatus:
    """A Slack user's profile status, presence and Do Not Disturb state.

    ``emoji`` is a ``:shortcode:`` or the empty string; ``expiration`` is Slack's
    absolute ``status_expiration`` (0 for none); ``dnd_until`` is the end of a DND
    snooze, or None when DND is off.
    """

    text: str = ""
    emoji: str = ""
    expiration: int = 0
    dnd_until: int | None = None
    presence: SlackPresence = SlackPresence.AUTO

    def __post_init__(self) -> None:
        if len(self.text) > SLACK_STATUS_TEXT_MAX:
            raise ValueError(
                f"Slack status text is {len(self.text)} characters long; "
                f"Slack allows at most {SLACK_STATUS_TEXT_MAX}"
            )


@dataclass(frozen=True, slots=True)
class MatrixPresence:
    """A Matrix user's presence and status message.

    ``busy`` is MSC3026 ``org.matrix.msc3026.busy``; it is only sent to homeservers
    that advertise the feature in ``/versions``.
    """

    presence: MatrixPresenceState
    status_msg: str | None = None
    busy: bool = False
