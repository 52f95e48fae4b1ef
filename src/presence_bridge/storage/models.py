"""Values the store returns.  All times are timezone-aware UTC datetimes."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..core.ids import ChatIdentity, NextcloudUserId
from ..secret import Secret

NEXTCLOUD_PLATFORM = "nextcloud"
"""The ``platform`` value for writes to Nextcloud in the outbox and the fingerprints."""


class SyncDirection(enum.StrEnum):
    """The direction in which a linked user's status is mirrored."""

    BOTH = "both"
    TO_CHAT = "to-chat"
    TO_NEXTCLOUD = "to-nextcloud"
    OFF = "off"


class Health(enum.StrEnum):
    """Whether the bridge can currently sync a link (an unhealthy link has a reason)."""

    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


@dataclass(frozen=True, slots=True)
class Link:
    """One chat identity linked to one Nextcloud user."""

    id: int
    identity: ChatIdentity
    nextcloud_user_id: NextcloudUserId
    sync_direction: SyncDirection
    time_zone: str | None
    locale: str | None
    health: Health
    health_reason: str | None
    health_since: datetime
    created_at: datetime
    updated_at: datetime
    has_credentials: bool


@dataclass(frozen=True, slots=True)
class NextcloudCredentials:
    """The login name and app password the bridge uses to act as one Nextcloud user."""

    login_name: str
    app_password: Secret


@dataclass(frozen=True, slots=True)
class ObservedStatus:
    """The Nextcloud status last seen for a user, as the JSON object the caller stored."""

    nextcloud_user_id: NextcloudUserId
    status: dict[str, Any]
    observed_at: datetime


@dataclass(frozen=True, slots=True)
class WrittenFingerprint:
    """The fingerprint of the bridge's last write for a user on one platform, for echo suppression."""

    fingerprint: str
    written_at: datetime


class OutboxState(enum.StrEnum):
    """``pending`` rows are delivered; ``dead`` rows were given up and wait for an operator."""

    PENDING = "pending"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One pending write to a platform.

    ``user_id`` is the target user on ``platform`` (the Nextcloud user id when
    ``platform`` is ``"nextcloud"``).  ``claimed_by`` and ``claimed_until`` are the
    lease of the worker that holds the row.
    """

    id: int
    platform: str
    workspace: str
    user_id: str
    nextcloud_user_id: NextcloudUserId | None
    payload: dict[str, Any]
    idempotency_key: str
    state: OutboxState
    attempts: int
    next_attempt_at: datetime
    claimed_by: str | None
    claimed_until: datetime | None
    last_error: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change the bridge made or observed.

    ``actor`` is who caused it (e.g. ``"slack:T1:U1"``, ``"admin"``), ``source``
    the system it came from, ``old_value`` and ``new_value`` the caller's text or
    JSON for the state before and after.
    """

    id: int
    at: datetime
    actor: str
    source: str
    action: str
    nextcloud_user_id: NextcloudUserId | None
    platform: str | None
    workspace: str | None
    chat_user_id: str | None
    old_value: str | None
    new_value: str | None


@dataclass(frozen=True, slots=True)
class Lease:
    """A named lease (e.g. leadership of the Nextcloud poller) and who holds it until when."""

    name: str
    holder: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ForgottenLink:
    """A link the store deleted, with the secrets the caller should now revoke remotely.

    ``app_password`` should be revoked at Nextcloud (``DELETE /ocs/v2.php/core/apppassword``
    with that password) and ``slack_user_token`` with Slack's ``auth.revoke``.
    """

    link: Link
    login_name: str | None
    app_password: Secret | None
    slack_user_token: Secret | None
