"""Create the initial schema

Revision ID: 0001_initial
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# The column types as of this revision, frozen here so later model changes
# cannot alter what this migration creates.
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)

revision = '0001_initial'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', ROW_ID, autoincrement=True, nullable=False),
    sa.Column('at', TIMESTAMP, nullable=False),
    sa.Column('actor', sa.String(length=255), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('nextcloud_user_id', sa.String(length=255), nullable=True),
    sa.Column('platform', sa.String(length=16), nullable=True),
    sa.Column('workspace', sa.String(length=255), nullable=True),
    sa.Column('chat_user_id', sa.String(length=255), nullable=True),
    sa.Column('old_value', sa.Text(), nullable=True),
    sa.Column('new_value', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_index('ix_audit_log_at', 'audit_log', ['at'])
    op.create_index('ix_audit_log_nextcloud_user_id', 'audit_log', ['nextcloud_user_id'])
    op.create_index('ix_audit_log_platform_workspace_chat_user_id', 'audit_log', ['platform', 'workspace', 'chat_user_id'])

    op.create_table('encryption_canary',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('token', sa.Text(), nullable=False),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_encryption_canary'))
    )
    op.create_table('identity_links',
    sa.Column('id', ROW_ID, autoincrement=True, nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('workspace', sa.String(length=255), nullable=False),
    sa.Column('chat_user_id', sa.String(length=255), nullable=False),
    sa.Column('nextcloud_user_id', sa.String(length=255), nullable=False),
    sa.Column('sync_direction', sa.String(length=16), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=True),
    sa.Column('locale', sa.String(length=35), nullable=True),
    sa.Column('health', sa.String(length=16), nullable=False),
    sa.Column('health_reason', sa.Text(), nullable=True),
    sa.Column('health_since', TIMESTAMP, nullable=False),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.Column('updated_at', TIMESTAMP, nullable=False),
    sa.CheckConstraint("health IN ('healthy', 'unhealthy')", name=op.f('ck_identity_links_health')),
    sa.CheckConstraint("sync_direction IN ('both', 'to-chat', 'to-nextcloud', 'off')", name=op.f('ck_identity_links_sync_direction')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_links')),
    sa.UniqueConstraint('platform', 'workspace', 'chat_user_id', name=op.f('uq_identity_links_platform_workspace_chat_user_id')),
    sa.UniqueConstraint('platform', 'workspace', 'nextcloud_user_id', name=op.f('uq_identity_links_platform_workspace_nextcloud_user_id'))
    )
    op.create_index('ix_identity_links_nextcloud_user_id', 'identity_links', ['nextcloud_user_id'])

    op.create_table('key_values',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('updated_at', TIMESTAMP, nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_key_values'))
    )
    op.create_table('leases',
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('holder', sa.String(length=255), nullable=False),
    sa.Column('expires_at', TIMESTAMP, nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_leases'))
    )
    op.create_table('nextcloud_status_state',
    sa.Column('nextcloud_user_id', sa.String(length=255), nullable=False),
    sa.Column('status_json', sa.Text(), nullable=False),
    sa.Column('observed_at', TIMESTAMP, nullable=False),
    sa.PrimaryKeyConstraint('nextcloud_user_id', name=op.f('pk_nextcloud_status_state'))
    )
    op.create_table('outbox',
    sa.Column('id', ROW_ID, autoincrement=True, nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('workspace', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('nextcloud_user_id', sa.String(length=255), nullable=True),
    sa.Column('payload_json', sa.Text(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', TIMESTAMP, nullable=False),
    sa.Column('claimed_by', sa.String(length=255), nullable=True),
    sa.Column('claimed_until', TIMESTAMP, nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.CheckConstraint("state IN ('pending', 'dead')", name=op.f('ck_outbox_state')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_outbox_idempotency_key'))
    )
    op.create_index('ix_outbox_nextcloud_user_id', 'outbox', ['nextcloud_user_id'])
    op.create_index('ix_outbox_platform_workspace_user_id', 'outbox', ['platform', 'workspace', 'user_id'])
    op.create_index('ix_outbox_state_next_attempt_at', 'outbox', ['state', 'next_attempt_at'])

    op.create_table('slack_bots',
    sa.Column('id', ROW_ID, autoincrement=True, nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('app_id', sa.String(length=64), nullable=True),
    sa.Column('enterprise_id', sa.String(length=64), nullable=False),
    sa.Column('enterprise_name', sa.String(length=255), nullable=True),
    sa.Column('team_id', sa.String(length=64), nullable=False),
    sa.Column('team_name', sa.String(length=255), nullable=True),
    sa.Column('bot_token_encrypted', sa.Text(), nullable=False),
    sa.Column('bot_id', sa.String(length=64), nullable=False),
    sa.Column('bot_user_id', sa.String(length=64), nullable=False),
    sa.Column('bot_scopes', sa.Text(), nullable=True),
    sa.Column('bot_refresh_token_encrypted', sa.Text(), nullable=True),
    sa.Column('bot_token_expires_at', TIMESTAMP, nullable=True),
    sa.Column('is_enterprise_install', sa.Boolean(), nullable=False),
    sa.Column('installed_at', TIMESTAMP, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_slack_bots')),
    sa.UniqueConstraint('client_id', 'enterprise_id', 'team_id', name=op.f('uq_slack_bots_client_id_enterprise_id_team_id'))
    )
    op.create_table('slack_installations',
    sa.Column('id', ROW_ID, autoincrement=True, nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('app_id', sa.String(length=64), nullable=True),
    sa.Column('enterprise_id', sa.String(length=64), nullable=False),
    sa.Column('enterprise_name', sa.String(length=255), nullable=True),
    sa.Column('enterprise_url', sa.String(length=255), nullable=True),
    sa.Column('team_id', sa.String(length=64), nullable=False),
    sa.Column('team_name', sa.String(length=255), nullable=True),
    sa.Column('bot_token_encrypted', sa.Text(), nullable=True),
    sa.Column('bot_id', sa.String(length=64), nullable=True),
    sa.Column('bot_user_id', sa.String(length=64), nullable=True),
    sa.Column('bot_scopes', sa.Text(), nullable=True),
    sa.Column('bot_refresh_token_encrypted', sa.Text(), nullable=True),
    sa.Column('bot_token_expires_at', TIMESTAMP, nullable=True),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('user_token_encrypted', sa.Text(), nullable=True),
    sa.Column('user_scopes', sa.Text(), nullable=True),
    sa.Column('user_refresh_token_encrypted', sa.Text(), nullable=True),
    sa.Column('user_token_expires_at', TIMESTAMP, nullable=True),
    sa.Column('incoming_webhook_url_encrypted', sa.Text(), nullable=True),
    sa.Column('incoming_webhook_channel', sa.String(length=255), nullable=True),
    sa.Column('incoming_webhook_channel_id', sa.String(length=64), nullable=True),
    sa.Column('incoming_webhook_configuration_url', sa.String(length=255), nullable=True),
    sa.Column('is_enterprise_install', sa.Boolean(), nullable=False),
    sa.Column('token_type', sa.String(length=32), nullable=True),
    sa.Column('installed_at', TIMESTAMP, nullable=False),
    sa.Column('custom_values_json', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_slack_installations')),
    sa.UniqueConstraint('client_id', 'enterprise_id', 'team_id', 'user_id', name='uq_slack_installations_user')
    )
    op.create_index('ix_slack_installations_latest', 'slack_installations', ['client_id', 'enterprise_id', 'team_id', 'installed_at'])

    op.create_table('slack_oauth_states',
    sa.Column('state_hash', sa.String(length=64), nullable=False),
    sa.Column('expire_at', TIMESTAMP, nullable=False),
    sa.PrimaryKeyConstraint('state_hash', name=op.f('pk_slack_oauth_states'))
    )
    op.create_index('ix_slack_oauth_states_expire_at', 'slack_oauth_states', ['expire_at'])

    op.create_table('written_fingerprints',
    sa.Column('nextcloud_user_id', sa.String(length=255), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('workspace', sa.String(length=255), nullable=False),
    sa.Column('fingerprint', sa.String(length=128), nullable=False),
    sa.Column('written_at', TIMESTAMP, nullable=False),
    sa.PrimaryKeyConstraint('nextcloud_user_id', 'platform', 'workspace', name=op.f('pk_written_fingerprints'))
    )
    op.create_table('nextcloud_credentials',
    sa.Column('link_id', ROW_ID, nullable=False),
    sa.Column('login_name', sa.String(length=255), nullable=False),
    sa.Column('app_password_encrypted', sa.Text(), nullable=False),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.Column('updated_at', TIMESTAMP, nullable=False),
    sa.ForeignKeyConstraint(['link_id'], ['identity_links.id'], name=op.f('fk_nextcloud_credentials_link_id_identity_links'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('link_id', name=op.f('pk_nextcloud_credentials'))
    )


def downgrade() -> None:
    op.drop_table('nextcloud_credentials')
    op.drop_table('written_fingerprints')
    op.drop_index('ix_slack_oauth_states_expire_at', table_name='slack_oauth_states')

    op.drop_table('slack_oauth_states')
    op.drop_index('ix_slack_installations_latest', table_name='slack_installations')

    op.drop_table('slack_installations')
    op.drop_table('slack_bots')
    op.drop_index('ix_outbox_state_next_attempt_at', table_name='outbox')
    op.drop_index('ix_outbox_platform_workspace_user_id', table_name='outbox')
    op.drop_index('ix_outbox_nextcloud_user_id', table_name='outbox')

    op.drop_table('outbox')
    op.drop_table('nextcloud_status_state')
    op.drop_table('leases')
    op.drop_table('key_values')
    op.drop_index('ix_identity_links_nextcloud_user_id', table_name='identity_links')

    op.drop_table('identity_links')
    op.drop_table('encryption_canary')
    op.drop_index('ix_audit_log_platform_workspace_chat_user_id', table_name='audit_log')
    op.drop_index('ix_audit_log_nextcloud_user_id', table_name='audit_log')
    op.drop_index('ix_audit_log_at', table_name='audit_log')

    op.drop_table('audit_log')
