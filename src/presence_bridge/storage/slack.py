"""Slack OAuth stores for Bolt, keeping every token encrypted at rest.

slack_sdk's own SQLAlchemy stores write tokens in plain text, so these classes
implement the same interfaces (``AsyncInstallationStore``,
``AsyncOAuthStateStore``) over the store's tables.  Unlike slack_sdk's store,
saving an installation replaces the previous one of the same user instead of
adding a row per install, so revoked tokens do not pile up.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ._base import Clock, StoreBase, utc_now
from ._dialect import upsert
from .crypto import SecretBox
from .schema import slack_bots, slack_installations, slack_oauth_states

logger = logging.getLogger(__name__)

DEFAULT_STATE_LIFETIME = timedelta(minutes=10)


class EncryptedInstallationStore(StoreBase, AsyncInstallationStore):
    """Bolt's installation store for one Slack app (``client_id``), with encrypted tokens."""

    def __init__(self, engine: AsyncEngine, box: SecretBox, client_id: str, *, clock: Clock = utc_now) -> None:
        super().__init__(engine, box, clock=clock)
        self.client_id = client_id

    @property
    def logger(self) -> logging.Logger:
        return logger

    async def async_save(self, installation: Installation) -> None:
        """Store an installation, replacing the previous one of the same user."""
        key = {
            "client_id": self.client_id,
            "enterprise_id": installation.enterprise_id or "",
            "team_id": installation.team_id or "",
            "user_id": installation.user_id,
        }
        values = _installation_values(installation, self._box)
        async with self._transaction("saving a Slack installation") as connection:
            await upsert(connection, slack_installations, key, values)
        logger.info("Saved the Slack installation of user %s in team %s", installation.user_id, installation.team_id)
        if installation.bot_token is not None:
            await self.async_save_bot(installation.to_bot())

    async def async_save_bot(self, bot: Bot) -> None:
        """Store a workspace's bot token, replacing the previous one."""
        key = {
            "client_id": self.client_id,
            "enterprise_id": bot.enterprise_id or "",
            "team_id": bot.team_id or "",
        }
        values = {
            "app_id": bot.app_id,
            "enterprise_name": bot.enterprise_name,
            "team_name": bot.team_name,
            "bot_token_encrypted": self._box.encrypt(bot.bot_token),
            "bot_id": bot.bot_id,
            "bot_user_id": bot.bot_user_id,
            "bot_scopes": ",".join(bot.bot_scopes),
            "bot_refresh_token_encrypted": _encrypt(self._box, bot.bot_refresh_token),
            "bot_token_expires_at": _from_unix(bot.bot_token_expires_at),
            "is_enterprise_install": bool(bot.is_enterprise_install),
            "installed_at": _from_unix(bot.installed_at),
        }
        async with self._transaction("saving a Slack bot") as connection:
            await upsert(connection, slack_bots, key, values)

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        """Return the bot of a workspace or organisation, or None."""
        if is_enterprise_install:
            team_id = None
        query = select(slack_bots).where(
            slack_bots.c.client_id == self.client_id,
            slack_bots.c.enterprise_id == (enterprise_id or ""),
            slack_bots.c.team_id == (team_id or ""),
        )
        async with self._transaction("reading a Slack bot") as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _bot(row, self._box)

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        """Return a user's installation, or the workspace's newest one when ``user_id`` is None.

        A user's installation without a bot token gets the workspace's current bot
        token filled in, as Bolt expects.
        """
        if is_enterprise_install:
            team_id = None
        c = slack_installations.c
        query = select(slack_installations).where(
            c.client_id == self.client_id,
            c.enterprise_id == (enterprise_id or ""),
            c.team_id == (team_id or ""),
        )
        if user_id is not None:
            query = query.where(c.user_id == user_id)
        query = query.order_by(c.installed_at.desc(), c.id.desc()).limit(1)
        async with self._transaction("reading a Slack installation") as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        installation = _installation(row, self._box)
        if user_id is not None or installation.bot_token is None:
            bot = await self.async_find_bot(
                enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
            )
            if bot is not None and bot.bot_token != installation.bot_token:
                _take_bot(installation, bot)
        return installation

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        """Delete a workspace's bot token."""
        async with self._transaction("deleting a Slack bot") as connection:
            await connection.execute(
                slack_bots.delete().where(
                    slack_bots.c.client_id == self.client_id,
                    slack_bots.c.enterprise_id == (enterprise_id or ""),
                    slack_bots.c.team_id == (team_id or ""),
                )
            )

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        """Delete one user's installation, or every installation of the workspace."""
        c = slack_installations.c
        statement = slack_installations.delete().where(
            c.client_id == self.client_id,
            c.enterprise_id == (enterprise_id or ""),
            c.team_id == (team_id or ""),
        )
        if user_id is not None:
            statement = statement.where(c.user_id == user_id)
        async with self._transaction("deleting a Slack installation") as connection:
            await connection.execute(statement)


class HashedOAuthStateStore(StoreBase, AsyncOAuthStateStore):
    """Bolt's OAuth state store: single-use states, stored only as SHA-256 hashes."""

    def __init__(
        self,
        engine: AsyncEngine,
        box: SecretBox,
        *,
        lifetime: timedelta = DEFAULT_STATE_LIFETIME,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(engine, box, clock=clock)
        self.lifetime = lifetime

    @property
    def logger(self) -> logging.Logger:
        return logger

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        """Create a new state value valid for ``lifetime``."""
        state = secrets.token_urlsafe(32)
        async with self._transaction("issuing a Slack OAuth state") as connection:
            await connection.execute(
                slack_oauth_states.insert().values(state_hash=_hash(state), expire_at=self.now() + self.lifetime)
            )
        return state

    async def async_consume(self, state: str) -> bool:
        """Return whether ``state`` was issued and unexpired, and make it unusable."""
        now = self.now()
        async with self._transaction("consuming a Slack OAuth state") as connection:
            result = await connection.execute(
                slack_oauth_states.delete().where(
                    slack_oauth_states.c.state_hash == _hash(state), slack_oauth_states.c.expire_at > now
                )
            )
            await connection.execute(slack_oauth_states.delete().where(slack_oauth_states.c.expire_at <= now))
        return result.rowcount == 1


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


def _encrypt(box: SecretBox, value: str | None) -> str | None:
    return None if value is None else box.encrypt(value)


def _decrypt(box: SecretBox, value: str | None, what: str) -> str | None:
    return None if value is None else box.decrypt(value, what=what)


def _from_unix(value: float | int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _to_unix(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def _installation_values(installation: Installation, box: SecretBox) -> dict[str, Any]:
    return {
        "app_id": installation.app_id,
        "enterprise_name": installation.enterprise_name,
        "enterprise_url": installation.enterprise_url,
        "team_name": installation.team_name,
        "bot_token_encrypted": _encrypt(box, installation.bot_token),
        "bot_id": installation.bot_id,
        "bot_user_id": installation.bot_user_id,
        "bot_scopes": ",".join(installation.bot_scopes or []),
        "bot_refresh_token_encrypted": _encrypt(box, installation.bot_refresh_token),
        "bot_token_expires_at": _from_unix(installation.bot_token_expires_at),
        "user_token_encrypted": _encrypt(box, installation.user_token),
        "user_scopes": ",".join(installation.user_scopes or []),
        "user_refresh_token_encrypted": _encrypt(box, installation.user_refresh_token),
        "user_token_expires_at": _from_unix(installation.user_token_expires_at),
        "incoming_webhook_url_encrypted": _encrypt(box, installation.incoming_webhook_url),
        "incoming_webhook_channel": installation.incoming_webhook_channel,
        "incoming_webhook_channel_id": installation.incoming_webhook_channel_id,
        "incoming_webhook_configuration_url": installation.incoming_webhook_configuration_url,
        "is_enterprise_install": bool(installation.is_enterprise_install),
        "token_type": installation.token_type,
        "installed_at": _from_unix(installation.installed_at),
        "custom_values_json": json.dumps(installation.custom_values) if installation.custom_values else None,
    }


def _installation(row: Row[Any], box: SecretBox) -> Installation:
    what = f"Slack installation {row.id}"
    return Installation(
        app_id=row.app_id,
        enterprise_id=row.enterprise_id or None,
        enterprise_name=row.enterprise_name,
        enterprise_url=row.enterprise_url,
        team_id=row.team_id or None,
        team_name=row.team_name,
        bot_token=_decrypt(box, row.bot_token_encrypted, f"the bot token of {what}"),
        bot_id=row.bot_id,
        bot_user_id=row.bot_user_id,
        bot_scopes=row.bot_scopes or "",
        bot_refresh_token=_decrypt(box, row.bot_refresh_token_encrypted, f"the bot refresh token of {what}"),
        bot_token_expires_at=_to_unix(row.bot_token_expires_at),
        user_id=row.user_id,
        user_token=_decrypt(box, row.user_token_encrypted, f"the user token of {what}"),
        user_scopes=row.user_scopes or "",
        user_refresh_token=_decrypt(box, row.user_refresh_token_encrypted, f"the user refresh token of {what}"),
        user_token_expires_at=_to_unix(row.user_token_expires_at),
        incoming_webhook_url=_decrypt(box, row.incoming_webhook_url_encrypted, f"the webhook URL of {what}"),
        incoming_webhook_channel=row.incoming_webhook_channel,
        incoming_webhook_channel_id=row.incoming_webhook_channel_id,
        incoming_webhook_configuration_url=row.incoming_webhook_configuration_url,
        is_enterprise_install=row.is_enterprise_install,
        token_type=row.token_type,
        installed_at=row.installed_at.timestamp(),
        custom_values=json.loads(row.custom_values_json) if row.custom_values_json else None,
    )


def _bot(row: Row[Any], box: SecretBox) -> Bot:
    what = f"Slack bot {row.id}"
    return Bot(
        app_id=row.app_id,
        enterprise_id=row.enterprise_id or None,
        enterprise_name=row.enterprise_name,
        team_id=row.team_id or None,
        team_name=row.team_name,
        bot_token=box.decrypt(row.bot_token_encrypted, what=f"the bot token of {what}"),
        bot_id=row.bot_id,
        bot_user_id=row.bot_user_id,
        bot_scopes=row.bot_scopes or "",
        bot_refresh_token=_decrypt(box, row.bot_refresh_token_encrypted, f"the bot refresh token of {what}"),
        bot_token_expires_at=_to_unix(row.bot_token_expires_at),
        is_enterprise_install=row.is_enterprise_install,
        installed_at=row.installed_at.timestamp(),
    )


def _take_bot(installation: Installation, bot: Bot) -> None:
    installation.bot_id = bot.bot_id
    installation.bot_user_id = bot.bot_user_id
    installation.bot_token = bot.bot_token
    installation.bot_scopes = bot.bot_scopes
    installation.bot_refresh_token = bot.bot_refresh_token
    installation.bot_token_expires_at = bot.bot_token_expires_at
