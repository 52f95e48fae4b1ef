"""The audit log of status changes, links and removals, with a retention purge."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..core.ids import NextcloudUserId
from ._base import StoreBase
from .models import AuditEntry
from .schema import audit_log

logger = logging.getLogger(__name__)


async def insert_audit(connection: AsyncConnection, at: datetime, **values: Any) -> int:
    """Insert one audit row on ``connection`` and return its id."""
    statement = audit_log.insert().values(at=at, **values).returning(audit_log.c.id)
    return int((await connection.execute(statement)).scalar_one())


class AuditMethods(StoreBase):
    """Writing, reading and purging audit entries."""

    async def add_audit(
        self,
        *,
        actor: str,
        source: str,
        action: str,
        nextcloud_user_id: str | None = None,
        platform: str | None = None,
        workspace: str | None = None,
        chat_user_id: str | None = None,
        old_value: str | None = None,
        new_value: str | None = None,
        at: datetime | None = None,
    ) -> int:
        """Append an audit entry and return its id.  Never pass a secret in any field."""
        async with self._transaction("writing an audit entry") as connection:
            return await insert_audit(
                connection,
                at or self.now(),
                actor=actor,
                source=source,
                action=action,
                nextcloud_user_id=nextcloud_user_id,
                platform=platform,
                workspace=workspace,
                chat_user_id=chat_user_id,
                old_value=old_value,
                new_value=new_value,
            )

    async def list_audit(
        self,
        *,
        nextcloud_user_id: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Return up to ``limit`` entries, newest first, optionally for one Nextcloud user."""
        query = select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)
        if nextcloud_user_id is not None:
            query = query.where(audit_log.c.nextcloud_user_id == nextcloud_user_id)
        if since is not None:
            query = query.where(audit_log.c.at >= since)
        async with self._transaction("reading the audit log") as connection:
            rows = (await connection.execute(query)).all()
        return [_entry(row) for row in rows]

    async def purge_audit(self, older_than: timedelta | datetime) -> int:
        """Delete entries older than an age (timedelta) or a cutoff time; return how many went."""
        cutoff = self.now() - older_than if isinstance(older_than, timedelta) else older_than
        async with self._transaction("purging the audit log") as connection:
            result = await connection.execute(audit_log.delete().where(audit_log.c.at < cutoff))
        if result.rowcount:
            logger.info("Purged %d audit entries older than %s", result.rowcount, cutoff.isoformat())
        return result.rowcount


def _entry(row: Row[Any]) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        source=row.source,
        action=row.action,
        nextcloud_user_id=None if row.nextcloud_user_id is None else NextcloudUserId(row.nextcloud_user_id),
        platform=row.platform,
        workspace=row.workspace,
        chat_user_id=row.chat_user_id,
        old_value=row.old_value,
        new_value=row.new_value,
    )
