"""Nextcloud app passwords per link, encrypted at rest."""

from __future__ import annotations

import logging

from sqlalchemy import select

from ..core.ids import ChatIdentity
from ..secret import Secret
from ._base import StoreBase
from .links import identity_clause, require_link
from .models import NextcloudCredentials
from .schema import identity_links, nextcloud_credentials

logger = logging.getLogger(__name__)


class CredentialMethods(StoreBase):
    """Storing, reading and deleting the Nextcloud credentials of a link."""

    async def set_credentials(
        self, identity: ChatIdentity, login_name: str, app_password: Secret | str
    ) -> None:
        """Store (or replace) the login name and app password the bridge uses for this link.

        ``login_name`` is the one Login Flow v2 returned, which can differ from the
        user id.  Raises :class:`LinkNotFoundError` when ``identity`` has no link.
        """
        secret = app_password if isinstance(app_password, Secret) else Secret(app_password)
        if not login_name:
            raise ValueError("the Nextcloud login name must not be empty")
        if not secret.reveal():
            raise ValueError("the Nextcloud app password must not be empty")
        encrypted = self._box.encrypt(secret.reveal())
        now = self.now()
        async with self._transaction("storing Nextcloud credentials") as connection:
            link = await require_link(connection, identity)
            updated = await connection.execute(
                nextcloud_credentials.update()
                .where(nextcloud_credentials.c.link_id == link.id)
                .values(login_name=login_name, app_password_encrypted=encrypted, updated_at=now)
            )
            if updated.rowcount == 0:
                await connection.execute(
                    nextcloud_credentials.insert().values(
                        link_id=link.id,
                        login_name=login_name,
                        app_password_encrypted=encrypted,
                        created_at=now,
                        updated_at=now,
                    )
                )
        logger.info("Stored Nextcloud credentials for %s (login name %s)", identity, login_name)

    async def get_credentials(self, identity: ChatIdentity) -> NextcloudCredentials | None:
        """Return the decrypted credentials of a link, or None when it has none.

        Raises :class:`SecretKeyError` when no configured key decrypts the app password.
        """
        query = (
            select(nextcloud_credentials.c.link_id, nextcloud_credentials.c.login_name,
                   nextcloud_credentials.c.app_password_encrypted)
            .select_from(nextcloud_credentials.join(identity_links))
            .where(identity_clause(identity))
        )
        async with self._transaction("reading Nextcloud credentials") as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        password = self._box.decrypt(
            row.app_password_encrypted, what=f"the app password of link {row.link_id}"
        )
        return NextcloudCredentials(login_name=row.login_name, app_password=Secret(password, source="store"))

    async def delete_credentials(self, identity: ChatIdentity) -> bool:
        """Delete a link's credentials (the link stays); return whether there were any."""
        async with self._transaction("deleting Nextcloud credentials") as connection:
            link = await require_link(connection, identity)
            result = await connection.execute(
                nextcloud_credentials.delete().where(nextcloud_credentials.c.link_id == link.id)
            )
        deleted = result.rowcount > 0
        if deleted:
            logger.info("Deleted the Nextcloud credentials of %s", identity)
        return deleted
