"""Identity links between chat users and Nextcloud users, and their health."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Row, Select, and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..core.ids import ChatIdentity, NextcloudUserId, Platform
from ..errors import LinkConflictError, LinkNotFoundError, StorageError
from ._base import StoreBase
from .models import Health, Link, SyncDirection
from .schema import identity_links, nextcloud_credentials

logger = logging.getLogger(__name__)


class Unset:
    """The type of :data:`UNSET`."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET = Unset()
"""Marks an argument of :meth:`LinkMethods.update_link` that should keep its value."""

MAX_ID_LENGTH = 255


def select_links() -> Select[Any]:
    """Select link rows with a ``has_credentials`` flag."""
    return select(
        identity_links,
        nextcloud_credentials.c.link_id.is_not(None).label("has_credentials"),
    ).select_from(identity_links.outerjoin(nextcloud_credentials))


def identity_clause(identity: ChatIdentity) -> Any:
    """Return the WHERE clause that matches the link row of ``identity``."""
    return and_(
        identity_links.c.platform == identity.platform.value,
        identity_links.c.workspace == identity.workspace,
        identity_links.c.chat_user_id == identity.user_id,
    )


def link_from_row(row: Row[Any]) -> Link:
    """Build a :class:`Link` from a row of :func:`select_links`."""
    return Link(
        id=row.id,
        identity=ChatIdentity(Platform(row.platform), row.workspace, row.chat_user_id),
        nextcloud_user_id=NextcloudUserId(row.nextcloud_user_id),
        sync_direction=SyncDirection(row.sync_direction),
        time_zone=row.time_zone,
        locale=row.locale,
        health=Health(row.health),
        health_reason=row.health_reason,
        health_since=row.health_since,
        created_at=row.created_at,
        updated_at=row.updated_at,
        has_credentials=bool(row.has_credentials),
    )


async def fetch_link(connection: AsyncConnection, identity: ChatIdentity) -> Link | None:
    """Return the link of ``identity`` read on ``connection``, or None."""
    row = (await connection.execute(select_links().where(identity_clause(identity)))).first()
    return None if row is None else link_from_row(row)


async def require_link(connection: AsyncConnection, identity: ChatIdentity) -> Link:
    """Return the link of ``identity``, or raise :class:`LinkNotFoundError`."""
    link = await fetch_link(connection, identity)
    if link is None:
        raise LinkNotFoundError(f"{_describe_identity(identity)} is not linked to a Nextcloud user")
    return link


class LinkMethods(StoreBase):
    """Creating, reading and updating identity links."""

    async def link(
        self,
        identity: ChatIdentity,
        nextcloud_user_id: str,
        *,
        sync_direction: SyncDirection = SyncDirection.BOTH,
        time_zone: str | None = None,
        locale: str | None = None,
    ) -> Link:
        """Link ``identity`` to a Nextcloud user and return the new link.

        Linking the same pair again returns the existing link unchanged.  Raises
        :class:`LinkConflictError` when either side is already linked to someone
        else on the same platform and workspace.
        """
        _check_identity(identity)
        _check_id("Nextcloud user id", nextcloud_user_id)
        try:
            link, created = await self._insert_link(identity, nextcloud_user_id, sync_direction, time_zone, locale)
        except StorageError as exc:
            if not isinstance(exc.__cause__, IntegrityError):
                raise
            # A concurrent call linked one side first: report it like the checked case.
            async with self._transaction("reading the conflicting link") as connection:
                existing = await self._existing_link(connection, identity, nextcloud_user_id)
            if existing is None:
                raise
            return existing
        if created:
            logger.info("Linked %s to Nextcloud user %s", identity, nextcloud_user_id)
        return link

    async def _insert_link(
        self,
        identity: ChatIdentity,
        nextcloud_user_id: str,
        sync_direction: SyncDirection,
        time_zone: str | None,
        locale: str | None,
    ) -> tuple[Link, bool]:
        now = self.now()
        async with self._transaction("linking a user") as connection:
            existing = await self._existing_link(connection, identity, nextcloud_user_id)
            if existing is not None:
                return existing, False
            await connection.execute(
                identity_links.insert().values(
                    platform=identity.platform.value,
                    workspace=identity.workspace,
                    chat_user_id=identity.user_id,
                    nextcloud_user_id=nextcloud_user_id,
                    sync_direction=SyncDirection(sync_direction).value,
                    time_zone=time_zone,
                    locale=locale,
                    health=Health.HEALTHY.value,
                    health_reason=None,
                    health_since=now,
                    created_at=now,
                    updated_at=now,
                )
            )
            return await require_link(connection, identity), True

    async def _existing_link(
        self, connection: AsyncConnection, identity: ChatIdentity, nextcloud_user_id: str
    ) -> Link | None:
        """Return the link if exactly this pair exists; raise if either side is taken."""
        by_chat = await fetch_link(connection, identity)
        if by_chat is not None:
            if by_chat.nextcloud_user_id == nextcloud_user_id:
                return by_chat
            raise LinkConflictError(
                f"{_describe_identity(identity)} is already linked to Nextcloud user "
                f"{by_chat.nextcloud_user_id!r}; unlink it before linking {nextcloud_user_id!r}"
            )
        query = select_links().where(
            identity_links.c.platform == identity.platform.value,
            identity_links.c.workspace == identity.workspace,
            identity_links.c.nextcloud_user_id == nextcloud_user_id,
        )
        row = (await connection.execute(query)).first()
        if row is not None:
            other = link_from_row(row)
            raise LinkConflictError(
                f"Nextcloud user {nextcloud_user_id!r} is already linked to "
                f"{_describe_identity(other.identity)}; unlink that before linking "
                f"{_describe_identity(identity)}"
            )
        return None

    async def get_link(self, identity: ChatIdentity) -> Link | None:
        """Return the link of a chat identity, or None."""
        async with self._transaction("reading a link") as connection:
            return await fetch_link(connection, identity)

    async def get_link_for_nextcloud_user(
        self, platform: Platform, workspace: str, nextcloud_user_id: str
    ) -> Link | None:
        """Return the link of a Nextcloud user on one platform and workspace, or None."""
        query = select_links().where(
            identity_links.c.platform == Platform(platform).value,
            identity_links.c.workspace == workspace,
            identity_links.c.nextcloud_user_id == nextcloud_user_id,
        )
        async with self._transaction("reading a link") as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else link_from_row(row)

    async def list_links(
        self,
        *,
        platform: Platform | None = None,
        workspace: str | None = None,
        nextcloud_user_id: str | None = None,
    ) -> list[Link]:
        """Return the links matching every given filter, oldest first."""
        query = select_links().order_by(identity_links.c.id)
        if platform is not None:
            query = query.where(identity_links.c.platform == Platform(platform).value)
        if workspace is not None:
            query = query.where(identity_links.c.workspace == workspace)
        if nextcloud_user_id is not None:
            query = query.where(identity_links.c.nextcloud_user_id == nextcloud_user_id)
        async with self._transaction("listing links") as connection:
            rows = (await connection.execute(query)).all()
        return [link_from_row(row) for row in rows]

    async def update_link(
        self,
        identity: ChatIdentity,
        *,
        sync_direction: SyncDirection | None = None,
        time_zone: str | None | Unset = UNSET,
        locale: str | None | Unset = UNSET,
    ) -> Link:
        """Change a link's settings; arguments left out keep their value."""
        values: dict[str, Any] = {"updated_at": self.now()}
        if sync_direction is not None:
            values["sync_direction"] = SyncDirection(sync_direction).value
        if not isinstance(time_zone, Unset):
            values["time_zone"] = time_zone
        if not isinstance(locale, Unset):
            values["locale"] = locale
        async with self._transaction("updating a link") as connection:
            await require_link(connection, identity)
            await connection.execute(identity_links.update().where(identity_clause(identity)).values(values))
            return await require_link(connection, identity)

    async def mark_unhealthy(self, link: Link | ChatIdentity, reason: str) -> Link:
        """Mark a link unhealthy with ``reason`` (e.g. "app password revoked").

        ``health_since`` keeps the time the link first became unhealthy when it
        already was.
        """
        identity = link.identity if isinstance(link, Link) else link
        now = self.now()
        async with self._transaction("marking a link unhealthy") as connection:
            current = await require_link(connection, identity)
            since = current.health_since if current.health is Health.UNHEALTHY else now
            await connection.execute(
                identity_links.update()
                .where(identity_clause(identity))
                .values(health=Health.UNHEALTHY.value, health_reason=reason, health_since=since, updated_at=now)
            )
            updated = await require_link(connection, identity)
        if current.health is Health.HEALTHY:
            logger.warning("Link %s is unhealthy: %s", identity, reason)
        return updated

    async def mark_healthy(self, link: Link | ChatIdentity) -> Link:
        """Mark a link healthy again and clear its reason."""
        identity = link.identity if isinstance(link, Link) else link
        now = self.now()
        async with self._transaction("marking a link healthy") as connection:
            current = await require_link(connection, identity)
            if current.health is Health.HEALTHY:
                return current
            await connection.execute(
                identity_links.update()
                .where(identity_clause(identity))
                .values(health=Health.HEALTHY.value, health_reason=None, health_since=now, updated_at=now)
            )
            updated = await require_link(connection, identity)
        logger.info("Link %s is healthy again", identity)
        return updated


def _describe_identity(identity: ChatIdentity) -> str:
    return f"{identity.platform.value} user {identity.user_id!r} in {identity.workspace!r}"


def _check_identity(identity: ChatIdentity) -> None:
    Platform(identity.platform)
    _check_id("workspace", identity.workspace)
    _check_id("chat user id", identity.user_id)


def _check_id(what: str, value: str) -> None:
    if not value or len(value) > MAX_ID_LENGTH:
        raise ValueError(f"{what} must be 1 to {MAX_ID_LENGTH} characters, got {value!r}")
