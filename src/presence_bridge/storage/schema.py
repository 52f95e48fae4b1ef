"""The store's tables, as SQLAlchemy Core metadata.

The migrations under ``migrations/versions`` create exactly these tables; a test
compares the two with Alembic's autogenerate, so a change here needs a new
migration.  Columns ending in ``_encrypted`` hold Fernet tokens, never plain text.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ._types import UtcDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
RowId = BigInteger().with_variant(Integer(), "sqlite")

identity_links = Table(
    "identity_links",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("workspace", String(255), nullable=False),
    Column("chat_user_id", String(255), nullable=False),
    Column("nextcloud_user_id", String(255), nullable=False),
    Column("sync_direction", String(16), nullable=False),
    Column("time_zone", String(64)),
    Column("locale", String(35)),
    Column("health", String(16), nullable=False),
    Column("health_reason", Text),
    Column("health_since", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("platform", "workspace", "chat_user_id"),
    UniqueConstraint("platform", "workspace", "nextcloud_user_id"),
    CheckConstraint(
        "sync_direction IN ('both', 'to-chat', 'to-nextcloud', 'off')", name="sync_direction"
    ),
    CheckConstraint("health IN ('healthy', 'unhealthy')", name="health"),
)
Index(None, identity_links.c.nextcloud_user_id)

nextcloud_credentials = Table(
    "nextcloud_credentials",
    metadata,
    Column(
        "link_id",
        RowId,
        ForeignKey("identity_links.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("login_name", String(255), nullable=False),
    Column("app_password_encrypted", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

nextcloud_status_state = Table(
    "nextcloud_status_state",
    metadata,
    Column("nextcloud_user_id", String(255), primary_key=True),
    Column("status_json", Text, nullable=False),
    Column("observed_at", UtcDateTime, nullable=False),
)

written_fingerprints = Table(
    "written_fingerprints",
    metadata,
    Column("nextcloud_user_id", String(255), primary_key=True),
    Column("platform", String(16), primary_key=True),
    Column("workspace", String(255), primary_key=True),
    Column("fingerprint", String(128), nullable=False),
    Column("written_at", UtcDateTime, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("workspace", String(255), nullable=False),
    Column("user_id", String(255), nullable=False),
    Column("nextcloud_user_id", String(255)),
    Column("payload_json", Text, nullable=False),
    Column("idempotency_key", String(255), nullable=False, unique=True),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("claimed_by", String(255)),
    Column("claimed_until", UtcDateTime),
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("state IN ('pending', 'dead')", name="state"),
)
Index(None, outbox.c.state, outbox.c.next_attempt_at)
Index(None, outbox.c.nextcloud_user_id)
Index(None, outbox.c.platform, outbox.c.workspace, outbox.c.user_id)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(255), nullable=False),
    Column("source", String(32), nullable=False),
    Column("action", String(64), nullable=False),
    Column("nextcloud_user_id", String(255)),
    Column("platform", String(16)),
    Column("workspace", String(255)),
    Column("chat_user_id", String(255)),
    Column("old_value", Text),
    Column("new_value", Text),
)
Index(None, audit_log.c.at)
Index(None, audit_log.c.nextcloud_user_id)
Index(None, audit_log.c.platform, audit_log.c.workspace, audit_log.c.chat_user_id)

key_values = Table(
    "key_values",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("holder", String(255), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

encryption_canary = Table(
    "encryption_canary",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("token", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# Slack OAuth data.  An absent enterprise or team id is stored as "" so that the
# unique constraints apply (SQL treats every NULL as distinct).
slack_installations = Table(
    "slack_installations",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("client_id", String(64), nullable=False),
    Column("app_id", String(64)),
    Column("enterprise_id", String(64), nullable=False),
    Column("enterprise_name", String(255)),
    Column("enterprise_url", String(255)),
    Column("team_id", String(64), nullable=False),
    Column("team_name", String(255)),
    Column("bot_token_encrypted", Text),
    Column("bot_id", String(64)),
    Column("bot_user_id", String(64)),
    Column("bot_scopes", Text),
    Column("bot_refresh_token_encrypted", Text),
    Column("bot_token_expires_at", UtcDateTime),
    Column("user_id", String(64), nullable=False),
    Column("user_token_encrypted", Text),
    Column("user_scopes", Text),
    Column("user_refresh_token_encrypted", Text),
    Column("user_token_expires_at", UtcDateTime),
    Column("incoming_webhook_url_encrypted", Text),
    Column("incoming_webhook_channel", String(255)),
    Column("incoming_webhook_channel_id", String(64)),
    Column("incoming_webhook_configuration_url", String(255)),
    Column("is_enterprise_install", Boolean, nullable=False),
    Column("token_type", String(32)),
    Column("installed_at", UtcDateTime, nullable=False),
    Column("custom_values_json", Text),
    UniqueConstraint(
        "client_id", "enterprise_id", "team_id", "user_id", name="uq_slack_installations_user"
    ),
)
Index(
    "ix_slack_installations_latest",
    slack_installations.c.client_id,
    slack_installations.c.enterprise_id,
    slack_installations.c.team_id,
    slack_installations.c.installed_at,
)

slack_bots = Table(
    "slack_bots",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("client_id", String(64), nullable=False),
    Column("app_id", String(64)),
    Column("enterprise_id", String(64), nullable=False),
    Column("enterprise_name", String(255)),
    Column("team_id", String(64), nullable=False),
    Column("team_name", String(255)),
    Column("bot_token_encrypted", Text, nullable=False),
    Column("bot_id", String(64), nullable=False),
    Column("bot_user_id", String(64), nullable=False),
    Column("bot_scopes", Text),
    Column("bot_refresh_token_encrypted", Text),
    Column("bot_token_expires_at", UtcDateTime),
    Column("is_enterprise_install", Boolean, nullable=False),
    Column("installed_at", UtcDateTime, nullable=False),
    UniqueConstraint("client_id", "enterprise_id", "team_id"),
)

slack_oauth_states = Table(
    "slack_oauth_states",
    metadata,
    # SHA-256 of the state value: a leaked table cannot be replayed.
    Column("state_hash", String(64), primary_key=True),
    Column("expire_at", UtcDateTime, nullable=False),
)
Index(None, slack_oauth_states.c.expire_at)

SECRET_COLUMNS: dict[str, tuple[str, ...]] = {
    "nextcloud_credentials": ("app_password_encrypted",),
    "slack_installations": (
        "bot_token_encrypted",
        "bot_refresh_token_encrypted",
        "user_token_encrypted",
        "user_refresh_token_encrypted",
        "incoming_webhook_url_encrypted",
    ),
    "slack_bots": ("bot_token_encrypted", "bot_refresh_token_encrypted"),
}
"""Every encrypted column, by table; :meth:`Store.rotate_keys` re-encrypts these."""
