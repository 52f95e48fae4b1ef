"""No secret reaches a log line or an error message, even with SQL echo at DEBUG."""

from __future__ import annotations

import logging
import traceback
from datetime import timedelta

import pytest
from slack_sdk.oauth.installation_store.models.installation import Installation
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from presence_bridge.core.ids import ChatIdentity, Platform
from presence_bridge.errors import LinkConflictError
from presence_bridge.storage import open_store
from presence_bridge.storage.schema import key_values

from .conftest import FakeClock

ALICE = ChatIdentity(Platform.SLACK, "T1", "U1")
APP_PASSWORD = "LogCheckAppPassword0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
ROTATED_PASSWORD = "LogCheckRotatedPassword987654321"
USER_TOKEN = "xoxp-logcheck-user-token-5555"
BOT_TOKEN = "xoxb-logcheck-bot-token-6666"
VALUE_IN_FAILED_INSERT = "LogCheckValueOfAFailedInsert42"


async def run_everything(database_url: str, keys: list[str], clock: FakeClock) -> list[str]:
    """Run every store operation that handles a secret; return the OAuth state issued."""
    store = await open_store(database_url, encryption_keys=[keys[0]], clock=clock, echo="debug")
    await store.link(ALICE, "alice")
    await store.set_credentials(ALICE, "alice", APP_PASSWORD)
    await store.get_credentials(ALICE)
    with pytest.raises(LinkConflictError):
        await store.link(ChatIdentity(Platform.SLACK, "T1", "U2"), "alice")
    installations = store.slack_installation_store("client-1")
    await installations.async_save(
        Installation(team_id="T1", user_id="U1", user_token=USER_TOKEN, bot_token=BOT_TOKEN,
                     bot_id="B1", bot_user_id="UB1", installed_at=1_800_000_000.0)
    )
    await installations.async_find_installation(enterprise_id=None, team_id="T1", user_id="U1")
    states = store.slack_oauth_state_store()
    state = await states.async_issue()
    await states.async_consume(state)
    await store.enqueue("slack", "T1", "U1", {"status": "away"}, idempotency_key="k1")
    (item,) = await store.claim_outbox("worker", lease=timedelta(seconds=30))
    await store.retry_outbox(item, "HTTP 503")
    await store.acquire_lease("poller", "replica-1", timedelta(seconds=30))
    async with store.engine.begin() as connection:
        await connection.execute(key_values.insert().values(key="k", value="v", updated_at=clock.now))
    with pytest.raises(IntegrityError) as caught:
        async with store.engine.begin() as connection:
            await connection.execute(
                key_values.insert().values(key="k", value=VALUE_IN_FAILED_INSERT, updated_at=clock.now)
            )
    failure_text = "".join(traceback.format_exception(caught.value))
    await store.close()

    rotating = await open_store(database_url, encryption_keys=[keys[1], keys[0]], clock=clock, echo="debug")
    await rotating.rotate_keys(batch_size=1)
    await rotating.set_credentials(ALICE, "alice", ROTATED_PASSWORD)
    forgotten = await rotating.forget_user(ALICE)
    assert forgotten is not None
    logging.getLogger("test").debug("forgotten: %r", forgotten)
    await rotating.close()

    with pytest.raises(Exception) as wrong_key:
        await open_store(database_url, encryption_keys=[keys[0][:-4] + "AAA="], clock=clock, echo="debug")
    failure_text += "".join(traceback.format_exception(wrong_key.value))
    return [state, failure_text]


async def test_no_secret_in_logs(
    database_url: str, keys: list[str], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("sqlalchemy.engine", "sqlalchemy.pool", "aiosqlite", "asyncpg", "alembic"):
        caplog.set_level(logging.DEBUG, logger=name)

    state, failure_text = await run_everything(database_url, keys, clock)

    secrets = [APP_PASSWORD, ROTATED_PASSWORD, USER_TOKEN, BOT_TOKEN, state, *keys]
    database_password = make_url(database_url).password
    if database_password:
        secrets.append(database_password)
    logged = "\n".join(
        [caplog.text]
        + [record.getMessage() for record in caplog.records]
        + [repr(record.args) for record in caplog.records]
    )
    engine_records = [record for record in caplog.records if record.name.startswith("sqlalchemy.engine")]
    assert len(engine_records) > 50, "SQL echo was not captured, so the check below proves nothing"
    for secret in secrets:
        assert secret not in logged
        assert secret not in failure_text
    # aiosqlite's own DEBUG lines quote bound parameters, so only the error text
    # can hide a plain value; the store binds ciphertexts and hashes, never secrets.
    assert VALUE_IN_FAILED_INSERT not in failure_text
    assert "SQL parameters hidden" in failure_text
