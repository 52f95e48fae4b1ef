"""The interface between the sync engine and a chat platform, and the values it exchanges.

An adapter (Slack, Matrix, the recording platform) implements :class:`ChatPlatform`.
The engine never calls an adapter directly while it plans: it puts each chat write
in the outbox as :meth:`ChatWrite.to_payload`, and the outbox dispatcher rebuilds the
write with :meth:`ChatWrite.from_outbox` and calls :meth:`ChatPlatform.apply`.

A write always sets a state (the status the user should show), it never toggles one,
so applying the same write twice leaves the platform as applying it once does.  This
is what makes a repeat after a crash between sending and acknowledging harmless.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from presence_bridge.core.ids import NextcloudUserId, Platform
from presence_bridge.core.status import NextcloudStatus, NextcloudStatusType
from presence_bridge.storage.models import OutboxItem

PAYLOAD_VERSION = 1
"""Version of the outbox payload layout written by :meth:`ChatWrite.to_payload`."""


class WriteKind(enum.StrEnum):
    """Kind of chat write: a status to publish, or a presence renewal that changes nothing."""

    STATUS = "status"
    KEEPALIVE = "keepalive"


def status_to_json(status: NextcloudStatus) -> dict[str, Any]:
    """Return a JSON object for ``status`` that :func:`status_from_json` reads back."""
    return {
        "status": status.status.value,
        "message_id": status.message_id,
        "message": status.message,
        "icon": status.icon,
        "clear_at": status.clear_at,
        "automated": status.automated,
    }


def status_from_json(data: Mapping[str, Any]) -> NextcloudStatus:
    """Read a status written by :func:`status_to_json`; raises ValueError on an unknown type."""
    return NextcloudStatus(
        status=NextcloudStatusType(data["status"]),
        message_id=data.get("message_id"),
        message=data.get("message"),
        icon=data.get("icon"),
        clear_at=data.get("clear_at"),
        automated=bool(data.get("automated", False)),
    )


@dataclass(frozen=True, slots=True)
class ChatWrite:
    """One write to one chat user: show ``desired`` there.

    ``desired`` is the Nextcloud status already made outward-safe by the planner
    (invisible shown as offline, an expired message cleared), in Nextcloud terms: the
    adapter translates it with :mod:`presence_bridge.core.mapping`.  ``fingerprint``
    is the planner's hash of ``desired``.  ``idempotency_key`` is unique per user,
    platform, workspace and fingerprint (see :func:`idempotency_key`), so the outbox
    keeps one row for a write the engine plans twice.
    """

    platform: Platform
    workspace: str
    chat_user_id: str
    nextcloud_user_id: NextcloudUserId
    desired: NextcloudStatus
    fingerprint: str
    idempotency_key: str
    kind: WriteKind = WriteKind.STATUS
    reason: str = ""

    def to_payload(self) -> dict[str, Any]:
        """Return the JSON object stored in the outbox row's payload."""
        return {
            "version": PAYLOAD_VERSION,
            "kind": self.kind.value,
            "desired": status_to_json(self.desired),
            "fingerprint": self.fingerprint,
            "reason": self.reason,
        }

    @classmethod
    def from_outbox(cls, item: OutboxItem) -> ChatWrite:
        """Rebuild the write from an outbox row the engine enqueued.

        Raises ValueError when the row is not a chat write of this layout (an
        unknown platform, version or status type); such a row can only be given up.
        """
        payload = item.payload
        if payload.get("version") != PAYLOAD_VERSION:
            raise ValueError(
                f"outbox row {item.id} has payload version {payload.get('version')!r}; "
                f"this bridge reads version {PAYLOAD_VERSION}"
            )
        if item.nextcloud_user_id is None:
            raise ValueError(f"outbox row {item.id} has no Nextcloud user id")
        return cls(
            platform=Platform(item.platform),
            workspace=item.workspace,
            chat_user_id=item.user_id,
            nextcloud_user_id=item.nextcloud_user_id,
            desired=status_from_json(payload["desired"]),
            fingerprint=str(payload["fingerprint"]),
            idempotency_key=item.idempotency_key,
            kind=WriteKind(payload.get("kind", WriteKind.STATUS.value)),
            reason=str(payload.get("reason", "")),
        )


def idempotency_key(
    nextcloud_user_id: str,
    platform: Platform,
    workspace: str,
    chat_user_id: str,
    fingerprint: str,
    *,
    previous: str | None = None,
) -> str:
    """Return the outbox key of a status write: the same user, target and change give the same key.

    ``previous`` is the fingerprint of the state the target had before this write.
    With it, a return to an earlier state (dnd, away, dnd) gets a new key while the
    older row may still be queued, so the newest row is always the newest state.
    Planning the same change twice (two sweeps from one stored state) gives one key.
    """
    key = f"{platform.value}:{workspace}:{chat_user_id}:{nextcloud_user_id}:{fingerprint}"
    return key if previous is None else f"{key}:after:{previous}"


@dataclass(frozen=True, slots=True)
class Applied:
    """The platform took the write."""


@dataclass(frozen=True, slots=True)
class TransientFailure:
    """The write failed but may succeed later; ``retry_after`` is the platform's wait in seconds, if it sent one."""

    reason: str
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class PermanentFailure:
    """The write can never succeed as it is (revoked token, unknown user).

    ``user_message`` is the text to send the user once, or None when telling them
    would not help (the dispatcher then only writes the audit log).
    """

    reason: str
    user_message: str | None = None


ApplyResult = Applied | TransientFailure | PermanentFailure
"""Result of :meth:`ChatPlatform.apply`.  A failed write is a result, not an exception."""


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply to a user's command.

    ``text`` is plain text that every platform can send as it is.  ``formatted`` is
    the same content with light markup (``*bold*``, line breaks) for platforms that
    render it.  Status messages quoted in a reply are user text: escaping them for the
    platform's markup is the adapter's job, the engine does not escape.  ``ok`` is
    false for a refusal or an error.  ``private`` asks the adapter to show the reply
    to the requesting user only (an ephemeral message in Slack, a direct message in
    Matrix), because it contains a secret such as a login URL.
    """

    text: str
    formatted: str | None = None
    ok: bool = True
    private: bool = False


@dataclass(frozen=True, slots=True)
class Conversation:
    """Origin of a command: the platform, workspace, sender and channel or room.

    ``channel_id`` is a Slack channel id or a Matrix room id, or None for a direct
    message outside any channel.
    """

    platform: Platform
    workspace: str
    chat_user_id: str
    channel_id: str | None = None


@runtime_checkable
class ChatPlatform(Protocol):
    """Interface of one chat platform adapter, as the engine and the dispatcher use it.

    ``platform`` names the outbox rows it serves.  Every method is a coroutine and
    may be called concurrently for different users.
    """

    @property
    def platform(self) -> Platform: ...

    async def apply(self, write: ChatWrite) -> ApplyResult:
        """Make the chat user show ``write.desired``.  Return a failure result instead of raising."""
        ...

    async def notify(self, workspace: str, chat_user_id: str, reply: Reply) -> None:
        """Send a message to one user outside any command (e.g. a write failed for good)."""
        ...

    async def channel_members(self, workspace: str, channel_id: str) -> Sequence[str]:
        """Return the chat user ids of the members of a channel or room, for ``who``."""
        ...


class PlatformRegistry:
    """The chat platforms one process serves, by :class:`Platform`."""

    def __init__(self, platforms: Sequence[ChatPlatform] = ()) -> None:
        self._platforms: dict[Platform, ChatPlatform] = {}
        for platform in platforms:
            self.add(platform)

    def add(self, platform: ChatPlatform) -> None:
        """Register ``platform``; raises ValueError when one for the same platform exists."""
        if platform.platform in self._platforms:
            raise ValueError(f"a {platform.platform.value} platform is already registered")
        self._platforms[platform.platform] = platform

    def get(self, platform: Platform | str) -> ChatPlatform | None:
        """Return the adapter for ``platform``, or None when this process has none."""
        try:
            return self._platforms.get(Platform(platform))
        except ValueError:
            return None

    def __iter__(self) -> Iterator[ChatPlatform]:
        return iter(self._platforms.values())

    def __len__(self) -> int:
        return len(self._platforms)
