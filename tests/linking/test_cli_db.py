"""The ``db rotate-keys`` and ``db purge`` commands against the emulator and a SQLite file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from presence_bridge.core.ids import ChatIdentity, Platform
from presence_bridge.storage import open_store

from .conftest import Emulator
from .test_cli_links import CAROL, CAROL_PASSWORD, Bridge, bridge  # noqa: F401 - fixture used by name

BOB = ChatIdentity(Platform.MATRIX, "example.org", "@bob:example.org")


def link_carol(bridge: Bridge, tmp_path: Path) -> None:
    password_file = tmp_path / "carol-app-password"
    password_file.write_text(CAROL_PASSWORD, encoding="utf-8")
    status = bridge.run("link", "--platform", "slack", "--chat-user", "U0CAROL", "--workspace", "T1",
                        "--nextcloud-user", "carol", "--app-password-file", str(password_file))
    assert status == 0


def test_rotate_keys_reencrypts(bridge: Bridge, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    link_carol(bridge, tmp_path)
    old_key = bridge.key
    new_key = Fernet.generate_key().decode()
    text = bridge.config.read_text(encoding="utf-8")
    bridge.config.write_text(
        text.replace(f'encryption_key = "{old_key}"',
                     f'encryption_key = "{new_key}"\nprevious_encryption_key = "{old_key}"'),
        encoding="utf-8",
    )
    capsys.readouterr()

    status = bridge.run("db", "rotate-keys")

    output = capsys.readouterr().out
    assert status == 0
    assert "Re-encrypted 1 stored value with [storage] encryption_key." in output
    assert "remove previous_encryption_key" in output
    bridge.key = new_key
    _, credentials = bridge.read(CAROL)
    assert credentials is not None
    assert credentials.app_password.reveal() == CAROL_PASSWORD

    assert bridge.run("db", "rotate-keys") == 0
    assert "Re-encrypted 0 stored values" in capsys.readouterr().out


def test_purge_command(
    bridge: Bridge, tmp_path: Path, emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    bridge.run("link", "--platform", "matrix", "--chat-user", "@bob:example.org", "--nextcloud-user", "bob")
    link_carol(bridge, tmp_path)
    add_audit_entry(bridge, datetime.now(UTC) - timedelta(days=91))
    emulator.delete_user("bob")
    capsys.readouterr()

    status = bridge.run("db", "purge")

    output = capsys.readouterr()
    assert status == 0, output.err
    assert "Deleted 1 audit entry older than 90 days." in output.out
    assert "Purged bob: the Nextcloud user no longer exists." in output.out
    assert "Purged 1 user who is gone. 0 linked users were not checked." in output.out
    link, _ = bridge.read(BOB)
    assert link is None
    carol, _ = bridge.read(CAROL)
    assert carol is not None
    entries = audit_entries(bridge, "bob")
    assert [(entry.action, entry.new_value) for entry in entries] == [("purge", "the Nextcloud user no longer exists")]


def add_audit_entry(bridge: Bridge, at: datetime) -> None:
    async def add() -> None:
        store = await open_store(f"sqlite+aiosqlite:///{bridge.database}", encryption_keys=[bridge.key], clock=lambda: at)
        async with store:
            await store.add_audit(actor="test", source="test", action="status", nextcloud_user_id="old")

    asyncio.run(add())


def audit_entries(bridge: Bridge, user_id: str) -> list:
    async def read() -> list:
        store = await open_store(f"sqlite+aiosqlite:///{bridge.database}", encryption_keys=[bridge.key])
        async with store:
            return await store.list_audit(nextcloud_user_id=user_id)

    return asyncio.run(read())
