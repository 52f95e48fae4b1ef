"""Bolt's installation and OAuth state stores over the encrypted tables."""

from __future__ import annotations

from datetime import timedelta

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from sqlalchemy import select

from presence_bridge.storage import Store
from presence_bridge.storage.schema import slack_bots, slack_installations, slack_oauth_states

from .conftest import FakeClock

BOT_TOKEN = "xoxb-1111-bot-token-secret"
BOT_REFRESH = "xoxe-1-bot-refresh-secret"
ADMIN_USER_TOKEN = "xoxp-admin-user-token-secret"
U2_USER_TOKEN = "xoxp-u2-user-token-secret"
WEBHOOK_URL = "https://hooks.slack.test/services/T1/B1/secretpath"


def admin_install() -> Installation:
    return Installation(
        app_id="A1",
        team_id="T1",
        team_name="Team One",
        bot_token=BOT_TOKEN,
        bot_id="B1",
        bot_user_id="UB1",
        bot_scopes="commands,users:read",
        bot_refresh_token=BOT_REFRESH,
        bot_token_expires_at=1_900_000_000,
        user_id="U1",
        user_token=ADMIN_USER_TOKEN,
        user_scopes="users.profile:write,dnd:write",
        incoming_webhook_url=WEBHOOK_URL,
        incoming_webhook_channel="#general",
        token_type="bot",
        installed_at=1_800_000_000.0,
        custom_values={"note": "first"},
    )


def user_install() -> Installation:
    return Installation(
        app_id="A1",
        team_id="T1",
        user_id="U2",
        user_token=U2_USER_TOKEN,
        user_scopes="users.profile:write",
        installed_at=1_800_000_100.0,
    )


async def test_stores_implement_slack_interfaces(store: Store) -> None:
    assert isinstance(store.slack_installation_store("client-1"), AsyncInstallationStore)
    assert isinstance(store.slack_oauth_state_store(), AsyncOAuthStateStore)


async def test_installation_round_trip(store: Store) -> None:
    installations = store.slack_installation_store("client-1")
    await installations.async_save(admin_install())

    found = await installations.async_find_installation(enterprise_id=None, team_id="T1", user_id="U1")

    assert found is not None
    assert found.bot_token == BOT_TOKEN
    assert found.bot_refresh_token == BOT_REFRESH
    assert found.bot_token_expires_at == 1_900_000_000
    assert found.user_token == ADMIN_USER_TOKEN
    assert found.user_scopes == ["users.profile:write", "dnd:write"]
    assert found.bot_scopes == ["commands", "users:read"]
    assert found.incoming_webhook_url == WEBHOOK_URL
    assert found.installed_at == 1_800_000_000.0
    assert found.enterprise_id is None
    assert found.team_name == "Team One"
    assert found.custom_values == {"note": "first"}

    bot = await installations.async_find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None
    assert bot.bot_token == BOT_TOKEN


async def test_tokens_encrypted_in_tables(store: Store) -> None:
    installations = store.slack_installation_store("client-1")
    await installations.async_save(admin_install())
    await installations.async_save(user_install())

    async with store.engine.connect() as connection:
        rows = [tuple(row) for row in (await connection.execute(select(slack_installations))).all()]
        rows += [tuple(row) for row in (await connection.execute(select(slack_bots))).all()]
    raw = repr(rows)

    for secret in (BOT_TOKEN, BOT_REFRESH, ADMIN_USER_TOKEN, U2_USER_TOKEN, WEBHOOK_URL):
        assert secret not in raw


async def test_user_install_gets_latest_bot_token(store: Store) -> None:
    installations = store.slack_installation_store("client-1")
    await installations.async_save(admin_install())
    await installations.async_save(user_install())

    by_user = await installations.async_find_installation(enterprise_id=None, team_id="T1", user_id="U2")
    latest = await installations.async_find_installation(enterprise_id=None, team_id="T1")

    assert by_user is not None
    assert by_user.user_token == U2_USER_TOKEN
    assert by_user.bot_token == BOT_TOKEN
    assert latest is not None
    assert latest.user_id == "U2"
    assert latest.bot_token == BOT_TOKEN


async def test_reinstall_replaces_row(store: Store) -> None:
    installations = store.slack_installation_store("client-1")
    await installations.async_save(user_install())
    rotated = user_install()
    rotated.user_token = "xoxp-u2-rotated-token"
    rotated.installed_at = 1_800_000_500.0
    await installations.async_save(rotated)

    found = await installations.async_find_installation(enterprise_id=None, team_id="T1", user_id="U2")
    async with store.engine.connect() as connection:
        count = len((await connection.execute(select(slack_installations))).all())

    assert found is not None
    assert found.user_token == "xoxp-u2-rotated-token"
    assert count == 1


async def test_installations_separate_per_app(store: Store) -> None:
    await store.slack_installation_store("client-1").async_save(admin_install())

    other = store.slack_installation_store("client-2")
    assert await other.async_find_installation(enterprise_id=None, team_id="T1") is None
    assert await other.async_find_bot(enterprise_id=None, team_id="T1") is None


async def test_delete_installation_and_bot(store: Store) -> None:
    installations = store.slack_installation_store("client-1")
    await installations.async_save(admin_install())
    await installations.async_save(user_install())

    await installations.async_delete_installation(enterprise_id=None, team_id="T1", user_id="U2")
    assert await installations.async_find_installation(enterprise_id=None, team_id="T1", user_id="U2") is None
    assert await installations.async_find_installation(enterprise_id=None, team_id="T1", user_id="U1") is not None

    await installations.async_delete_all(enterprise_id=None, team_id="T1")
    assert await installations.async_find_installation(enterprise_id=None, team_id="T1") is None
    assert await installations.async_find_bot(enterprise_id=None, team_id="T1") is None


async def test_enterprise_install_found_without_team(store: Store) -> None:
    installations = store.slack_installation_store("client-1")
    org = Installation(enterprise_id="E1", team_id=None, user_id="U9", bot_token=BOT_TOKEN, bot_id="B9",
                       bot_user_id="UB9", is_enterprise_install=True, installed_at=1_800_000_000.0)
    await installations.async_save(org)

    found = await installations.async_find_installation(
        enterprise_id="E1", team_id="T5", is_enterprise_install=True
    )

    assert found is not None
    assert found.enterprise_id == "E1"
    assert found.team_id is None
    assert found.bot_token == BOT_TOKEN


async def test_rotation_covers_slack_tokens(database_url: str, keys: list[str], clock: FakeClock) -> None:
    from presence_bridge.storage import open_store

    old = await open_store(database_url, encryption_keys=[keys[0]], clock=clock)
    await old.slack_installation_store("client-1").async_save(admin_install())
    await old.close()

    rotating = await open_store(database_url, encryption_keys=[keys[1], keys[0]], clock=clock)
    changed = await rotating.rotate_keys()
    await rotating.close()
    new_only = await open_store(database_url, encryption_keys=[keys[1]], clock=clock)
    found = await new_only.slack_installation_store("client-1").async_find_installation(
        enterprise_id=None, team_id="T1", user_id="U1"
    )
    await new_only.close()

    assert changed == 6
    assert found is not None
    assert found.user_token == ADMIN_USER_TOKEN
    assert found.bot_token == BOT_TOKEN


async def test_oauth_state_single_use(store: Store) -> None:
    states = store.slack_oauth_state_store()
    state = await states.async_issue()

    async with store.engine.connect() as connection:
        stored = list((await connection.execute(select(slack_oauth_states.c.state_hash))).scalars())
    assert state not in stored
    assert await states.async_consume(state) is True
    assert await states.async_consume(state) is False
    assert await states.async_consume("never-issued") is False


async def test_oauth_state_expires(store: Store, clock: FakeClock) -> None:
    states = store.slack_oauth_state_store(lifetime=timedelta(minutes=10))
    state = await states.async_issue()

    clock.advance(timedelta(minutes=10))

    assert await states.async_consume(state) is False
