"""Deleting everything the store contains about a person ("forget me"), or a user who is gone.

A chat identity's link, credentials, Slack user token, fingerprints, outbox rows
and audit entries go together.  Data keyed only by the Nextcloud user (its
observed status, writes to Nextcloud, all its audit entries) goes when the
person's last link goes.
"""

from __future__ import annotations

import logging

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..core.ids import ChatIdentity, Platform
from ..secret import Secret
from ._base import StoreBase
from .audit import insert_audit
from .crypto import SecretBox
from .links import fetch_link, link_from_row, select_links
from .models import NEXTCLOUD_PLATFORM, ForgottenLink, Link
from .outbox import delete_outbox_rows
from .schema import (
    audit_log,
    identity_links,
    nextcloud_credentials,
    nextcloud_status_state,
    outbox,
    slack_installations,
    written_fingerprints,
)

logger = logging.getLogger(__name__)

PURGE_ACTION = "purge"


class ForgetMethods(StoreBase):
    """Erasing a person's data, with or without a trace of why."""

    async def forget_user(self, identity: ChatIdentity) -> ForgottenLink | None:
        """Delete a chat identity's link and all data about it; return what to revoke.

        Returns None when the identity had no link (its audit entries and Slack
        user token are deleted all the same).
        """
        async with self._transaction("forgetting a user") as connection:
            forgotten = await _forget_identity(connection, self._box, identity)
        logger.info("Forgot %s", identity)
        return forgotten

    async def forget_nextcloud_user(self, nextcloud_user_id: str) -> list[ForgottenLink]:
        """Delete every link of a Nextcloud user and all data about the user."""
        async with self._transaction("forgetting a Nextcloud user") as connection:
            forgotten = await _forget_nextcloud_user(connection, self._box, nextcloud_user_id)
        logger.info("Forgot Nextcloud user %s and %d links", nextcloud_user_id, len(forgotten))
        return forgotten

    async def purge_gone_user(self, who: ChatIdentity | str, reason: str) -> list[ForgottenLink]:
        """Forget a user who no longer exists, keeping one audit entry that records the reason.

        ``who`` is a chat identity (e.g. a deactivated Slack account) or a Nextcloud
        user id (e.g. a deleted Nextcloud account); ``reason`` is stored verbatim.
        """
        now = self.now()
        async with self._transaction("purging a user who is gone") as connection:
            if isinstance(who, ChatIdentity):
                one = await _forget_identity(connection, self._box, who)
                forgotten = [] if one is None else [one]
                nextcloud_user_id = None if one is None else one.link.nextcloud_user_id
                where = {"platform": who.platform.value, "workspace": who.workspace, "chat_user_id": who.user_id}
            else:
                forgotten = await _forget_nextcloud_user(connection, self._box, who)
                nextcloud_user_id = who
                where = {}
            await insert_audit(
                connection,
                now,
                actor="bridge",
                source="bridge",
                action=PURGE_ACTION,
                nextcloud_user_id=nextcloud_user_id,
                new_value=reason,
                **where,
            )
        logger.info("Purged %s (%d links): %s", who, len(forgotten), reason)
        return forgotten


async def _forget_nextcloud_user(
    connection: AsyncConnection, box: SecretBox, nextcloud_user_id: str
) -> list[ForgottenLink]:
    rows = (
        await connection.execute(
            select_links().where(identity_links.c.nextcloud_user_id == nextcloud_user_id)
        )
    ).all()
    forgotten = [await _forget_link(connection, box, link_from_row(row)) for row in rows]
    await _forget_nextcloud_data(connection, nextcloud_user_id)
    return forgotten


async def _forget_identity(
    connection: AsyncConnection, box: SecretBox, identity: ChatIdentity
) -> ForgottenLink | None:
    link = await fetch_link(connection, identity)
    if link is None:
        await _delete_identity_audit(connection, identity)
        await _take_slack_user_token(connection, box, identity)
        return None
    forgotten = await _forget_link(connection, box, link)
    remaining = await connection.execute(
        select(func.count()).select_from(identity_links).where(
            identity_links.c.nextcloud_user_id == link.nextcloud_user_id
        )
    )
    if remaining.scalar_one() == 0:
        await _forget_nextcloud_data(connection, link.nextcloud_user_id)
    return forgotten


async def _forget_link(connection: AsyncConnection, box: SecretBox, link: Link) -> ForgottenLink:
    identity = link.identity
    credentials = (
        await connection.execute(
            select(nextcloud_credentials).where(nextcloud_credentials.c.link_id == link.id)
        )
    ).first()
    login_name = app_password = None
    if credentials is not None:
        login_name = credentials.login_name
        plaintext = box.decrypt(credentials.app_password_encrypted, what=f"the app password of link {link.id}")
        app_password = Secret(plaintext, source="store")
    slack_token = await _take_slack_user_token(connection, box, identity)
    await connection.execute(nextcloud_credentials.delete().where(nextcloud_credentials.c.link_id == link.id))
    await connection.execute(identity_links.delete().where(identity_links.c.id == link.id))
    await delete_outbox_rows(
        connection,
        outbox.c.platform == identity.platform.value,
        outbox.c.workspace == identity.workspace,
        outbox.c.user_id == identity.user_id,
    )
    await connection.execute(
        written_fingerprints.delete().where(
            written_fingerprints.c.nextcloud_user_id == link.nextcloud_user_id,
            written_fingerprints.c.platform == identity.platform.value,
            written_fingerprints.c.workspace == identity.workspace,
        )
    )
    await _delete_identity_audit(connection, identity, link.nextcloud_user_id)
    return ForgottenLink(link=link, login_name=login_name, app_password=app_password, slack_user_token=slack_token)


async def _forget_nextcloud_data(connection: AsyncConnection, nextcloud_user_id: str) -> None:
    await connection.execute(
        nextcloud_status_state.delete().where(nextcloud_status_state.c.nextcloud_user_id == nextcloud_user_id)
    )
    await connection.execute(
        written_fingerprints.delete().where(written_fingerprints.c.nextcloud_user_id == nextcloud_user_id)
    )
    await delete_outbox_rows(
        connection,
        or_(
            outbox.c.nextcloud_user_id == nextcloud_user_id,
            and_(outbox.c.platform == NEXTCLOUD_PLATFORM, outbox.c.user_id == nextcloud_user_id),
        ),
    )
    await connection.execute(audit_log.delete().where(audit_log.c.nextcloud_user_id == nextcloud_user_id))


async def _delete_identity_audit(
    connection: AsyncConnection, identity: ChatIdentity, nextcloud_user_id: str | None = None
) -> None:
    same_place = and_(
        audit_log.c.platform == identity.platform.value,
        audit_log.c.workspace == identity.workspace,
    )
    condition = and_(same_place, audit_log.c.chat_user_id == identity.user_id)
    if nextcloud_user_id is not None:
        condition = or_(condition, and_(same_place, audit_log.c.nextcloud_user_id == nextcloud_user_id))
    await connection.execute(audit_log.delete().where(condition))


async def _take_slack_user_token(
    connection: AsyncConnection, box: SecretBox, identity: ChatIdentity
) -> Secret | None:
    """Delete a Slack user's installation rows and return their newest user token."""
    if identity.platform is not Platform.SLACK:
        return None
    mine = and_(
        slack_installations.c.team_id == identity.workspace,
        slack_installations.c.user_id == identity.user_id,
    )
    query = (
        select(slack_installations.c.id, slack_installations.c.user_token_encrypted)
        .where(mine, slack_installations.c.user_token_encrypted.is_not(None))
        .order_by(slack_installations.c.installed_at.desc())
        .limit(1)
    )
    row = (await connection.execute(query)).first()
    token = None
    if row is not None:
        token = Secret(box.decrypt(row.user_token_encrypted, what=f"the Slack user token of installation {row.id}"),
                       source="store")
    await connection.execute(slack_installations.delete().where(mine))
    return token
