"""The last observed Nextcloud status per user, and the last written fingerprint per platform."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ..core.ids import NextcloudUserId
from ._base import StoreBase
from ._dialect import upsert
from .models import ObservedStatus, WrittenFingerprint
from .schema import nextcloud_status_state, written_fingerprints


class SyncStateMethods(StoreBase):
    """Last observed Nextcloud status per user and last written fingerprint per platform."""

    async def save_observed_status(
        self,
        nextcloud_user_id: str,
        status: Mapping[str, Any],
        *,
        observed_at: datetime | None = None,
    ) -> None:
        """Store the Nextcloud status last seen for a user, replacing the previous one."""
        values = {
            "status_json": json.dumps(dict(status), sort_keys=True, ensure_ascii=False),
            "observed_at": observed_at or self.now(),
        }
        async with self._transaction("storing an observed status") as connection:
            await upsert(
                connection,
                nextcloud_status_state,
                {"nextcloud_user_id": nextcloud_user_id},
                values,
            )

    async def get_observed_status(self, nextcloud_user_id: str) -> ObservedStatus | None:
        """Return the Nextcloud status last seen for a user, or None."""
        query = select(nextcloud_status_state).where(
            nextcloud_status_state.c.nextcloud_user_id == nextcloud_user_id
        )
        async with self._transaction("reading an observed status") as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        return ObservedStatus(
            nextcloud_user_id=NextcloudUserId(row.nextcloud_user_id),
            status=json.loads(row.status_json),
            observed_at=row.observed_at,
        )

    async def record_write(
        self,
        nextcloud_user_id: str,
        platform: str,
        workspace: str,
        fingerprint: str,
        *,
        written_at: datetime | None = None,
    ) -> None:
        """Remember the fingerprint of what the bridge just wrote for a user.

        ``platform`` is a chat platform or ``"nextcloud"`` (with workspace ``""``).
        A change that comes back with the same fingerprint is the bridge's own echo.
        """
        values = {"fingerprint": fingerprint, "written_at": written_at or self.now()}
        key = {"nextcloud_user_id": nextcloud_user_id, "platform": platform, "workspace": workspace}
        async with self._transaction("recording a write") as connection:
            await upsert(connection, written_fingerprints, key, values)

    async def get_last_write(
        self, nextcloud_user_id: str, platform: str, workspace: str
    ) -> WrittenFingerprint | None:
        """Return the fingerprint last recorded by :meth:`record_write`, or None."""
        query = select(written_fingerprints).where(
            written_fingerprints.c.nextcloud_user_id == nextcloud_user_id,
            written_fingerprints.c.platform == platform,
            written_fingerprints.c.workspace == workspace,
        )
        async with self._transaction("reading the last write") as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        return WrittenFingerprint(fingerprint=row.fingerprint, written_at=row.written_at)

