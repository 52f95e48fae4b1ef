"""The bridge's database: identity links, encrypted credentials, sync state, outbox and audit log.

Open it with :func:`open_store`; ``presence-bridge db upgrade`` runs
:func:`upgrade_database`.  SQLite serves a single replica, PostgreSQL (asyncpg)
several.  The schema is managed by the Alembic migrations in ``migrations/``.
"""

from __future__ import annotations

from .engine import head_revision, upgrade_database
from .models import (
    NEXTCLOUD_PLATFORM,
    AuditEntry,
    ForgottenLink,
    Health,
    Lease,
    Link,
    NextcloudCredentials,
    ObservedStatus,
    OutboxItem,
    OutboxState,
    SyncDirection,
    WrittenFingerprint,
)
from .outbox import backoff_delay
from .slack import EncryptedInstallationStore, HashedOAuthStateStore
from .store import Store, open_store

__all__ = [
    "NEXTCLOUD_PLATFORM",
    "AuditEntry",
    "EncryptedInstallationStore",
    "ForgottenLink",
    "HashedOAuthStateStore",
    "Health",
    "Lease",
    "Link",
    "NextcloudCredentials",
    "ObservedStatus",
    "OutboxItem",
    "OutboxState",
    "Store",
    "SyncDirection",
    "WrittenFingerprint",
    "backoff_delay",
    "head_revision",
    "open_store",
    "upgrade_database",
]
