"""No app password or login-flow token reaches a log line, an error message or the CLI's output.

The test runs every linking operation that handles a secret with logging at
DEBUG for the bridge, httpx, httpcore and SQLAlchemy, then searches all
captured text for each secret.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
from cryptography.fernet import Fernet

from presence_bridge import cli
from presence_bridge.core.ids import ChatIdentity, Platform
from presence_bridge.emulator.login_flow import grant_flow
from presence_bridge.errors import BridgeError
from presence_bridge.linking.service import LinkingService
from presence_bridge.linking.user_clients import UserClients
from presence_bridge.logs import BridgeLogHandler
from presence_bridge.nextcloud import Credential, NextcloudClient, make_http_client
from presence_bridge.secret import Secret
from presence_bridge.storage import open_store

from .conftest import ADMIN_APP_PASSWORD, ADMIN_LOGIN, USERS, CountingTransport, Emulator

ALICE = ChatIdentity(Platform.SLACK, "T1", "U0ALICE")
BOB = ChatIdentity(Platform.MATRIX, "example.org", "@bob:example.org")
CAROL = ChatIdentity(Platform.SLACK, "T1", "U0CAROL")
CAROL_PASSWORD = USERS[3]["app_password"]
WRONG_PASSWORD = "LogCheckWrongAppPassword0123456789"
LOGGERS = ("sqlalchemy.engine", "sqlalchemy.pool", "aiosqlite", "asyncpg", "alembic", "httpx", "httpcore")


async def quick_sleep(seconds: float) -> None:
    await asyncio.sleep(0.01)


async def grant(emulator: Emulator, login_url: str, user: str) -> str:
    """Grant a flow in the emulator's state directly, so no test request logs the login token."""
    login_token = login_url.rsplit("/", 1)[1]
    flow = grant_flow(emulator.server.state, login_token, user)
    assert flow.app_password is not None
    return flow.app_password


def captured_errors(errors: list[BaseException]) -> str:
    return "".join("".join(traceback.format_exception(error)) for error in errors)


async def run_linking(database_url: str, key: str, emulator: Emulator) -> tuple[list[str], list[BaseException]]:
    """Link, relink, fail, unlink and purge; return the secrets used and the errors raised."""
    secrets: list[str] = []
    errors: list[BaseException] = []
    transport = CountingTransport()
    store = await open_store(database_url, encryption_keys=[key], echo="debug")
    async with store, make_http_client(base_url=emulator.base_url, transport=transport) as http:
        clients = UserClients(store, http)
        service = LinkingService(store, http, user_clients=clients, poll_interval=1.0, sleep=quick_sleep)

        replaced = await service.start(ALICE)
        pending = await service.start(ALICE)
        try:
            await replaced.wait()
        except BridgeError as error:
            errors.append(error)
        secrets += [replaced.login_url.rsplit("/", 1)[1], pending.login_url.rsplit("/", 1)[1]]
        secrets.append(await grant(emulator, pending.login_url, "alice"))
        await pending.wait()
        secrets += [parse_qs(body.decode())["token"][0] for (_, path), body in zip(transport.requests, transport.bodies)
                    if path.endswith("/poll")]
        await clients.call(ALICE, lambda client: client.set_status("dnd"))

        conflicting = await service.start(ALICE)
        secrets.append(conflicting.login_url.rsplit("/", 1)[1])
        secrets.append(await grant(emulator, conflicting.login_url, "bob"))
        try:
            await conflicting.wait()
        except BridgeError as error:
            errors.append(error)

        await store.link(BOB, "bob")
        await store.set_credentials(BOB, "bob", WRONG_PASSWORD)
        for _ in range(2):
            try:
                await clients.call(BOB, lambda client: client.get_own_status())
            except BridgeError as error:
                errors.append(error)
        try:
            await service.link_with_app_password(CAROL, "carol", Secret(WRONG_PASSWORD))
        except BridgeError as error:
            errors.append(error)
        await service.link_with_app_password(CAROL, "carol", Secret(CAROL_PASSWORD))

        result = await service.unlink(ALICE)
        logging.getLogger("test").debug("unlink result: %r", result)
        admin = NextcloudClient(http, Credential(ADMIN_LOGIN, ADMIN_APP_PASSWORD))
        await service.purge_gone_users(admin, deactivated=[CAROL])
        await service.close()
    return secrets, errors


def run_cli(tmp_path: Path, emulator: Emulator, database_url: str, key: str) -> str:
    """Link, list and unlink through the CLI with a new app password of carol; return that password."""
    with emulator.server.state.lock:
        password = emulator.server.state.accounts.create_app_password("carol")
    password_file = tmp_path / "carol-app-password"
    password_file.write_text(password, encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[nextcloud]\nurl = "{emulator.base_url}"\nlogin = "admin"\napp_password = "{ADMIN_APP_PASSWORD}"\n'
        f'[storage]\nurl = "{database_url}"\nencryption_key = "{key}"\n[logging]\nlevel = "DEBUG"\n',
        encoding="utf-8",
    )
    identity = ["--platform", "slack", "--chat-user", "U0CAROL", "--workspace", "T1"]
    assert cli.main(["link", *identity, "--nextcloud-user", "carol", "--app-password-file", str(password_file),
                     "--config", str(config)]) == 0
    assert cli.main(["links", "--config", str(config)]) == 0
    assert cli.main(["unlink", *identity, "--config", str(config)]) == 0
    return password


@pytest.fixture
def cli_logging_removed(capsys: pytest.CaptureFixture[str]) -> object:
    """Remove the CLI's log handler after the test, before capsys closes the stream it writes to."""
    root = logging.getLogger()
    level = root.level
    yield None
    for handler in [handler for handler in root.handlers if isinstance(handler, BridgeLogHandler)]:
        root.removeHandler(handler)
    root.setLevel(level)


def test_no_secret_in_logs(
    migrated_url: str,
    emulator: Emulator,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    cli_logging_removed: object,
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    key = Fernet.generate_key().decode()

    secrets, errors = asyncio.run(run_linking(migrated_url, key, emulator))
    if migrated_url.startswith("sqlite"):
        secrets.append(run_cli(tmp_path, emulator, migrated_url, key))

    secrets += [CAROL_PASSWORD, WRONG_PASSWORD, ADMIN_APP_PASSWORD, key]
    output = capsys.readouterr()
    logged = "\n".join(
        [caplog.text, output.out, output.err, captured_errors(errors)]
        + [record.getMessage() for record in caplog.records]
        + [repr(record.args) for record in caplog.records]
    )
    names = {record.name for record in caplog.records}
    assert len(secrets) >= 10
    assert len(errors) == 5
    assert "httpx" in names, "httpx's request log was not captured, so the check proves less"
    assert any(name.startswith("sqlalchemy.engine") for name in names)
    assert any(name.startswith("presence_bridge.linking") for name in names)
    for secret in secrets:
        assert secret not in logged
