"""The ``link``, ``unlink``, ``links`` and ``import`` commands against the emulator and a SQLite file."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from presence_bridge import cli
from presence_bridge.core.ids import ChatIdentity, Platform
from presence_bridge.logs import BridgeLogHandler
from presence_bridge.storage import Link, NextcloudCredentials, open_store

from .conftest import ADMIN_APP_PASSWORD, USERS, Emulator

CAROL_PASSWORD = USERS[3]["app_password"]
CAROL = ChatIdentity(Platform.SLACK, "T1", "U0CAROL")


class Bridge:
    """A configuration file for the emulator and a fresh SQLite database, and helpers to run commands."""

    def __init__(self, tmp_path: Path, emulator: Emulator, template: Path) -> None:
        self.database = tmp_path / "bridge.db"
        shutil.copyfile(template, self.database)
        self.key = Fernet.generate_key().decode()
        self.config = tmp_path / "config.toml"
        self.config.write_text(
            f'[nextcloud]\nurl = "{emulator.base_url}"\nlogin = "admin"\napp_password = "{ADMIN_APP_PASSWORD}"\n'
            f'[storage]\nurl = "sqlite+aiosqlite:///{self.database}"\nencryption_key = "{self.key}"\n'
            '[logging]\nlevel = "INFO"\n',
            encoding="utf-8",
        )

    def run(self, *args: str) -> int:
        return cli.main([*args, "--config", str(self.config)])

    def use_read_account(self, login: str, app_password: str) -> None:
        """Make the bridge read Nextcloud as ``login`` in place of the admin."""
        text = self.config.read_text(encoding="utf-8")
        text = text.replace('login = "admin"', f'login = "{login}"').replace(ADMIN_APP_PASSWORD, app_password)
        self.config.write_text(text, encoding="utf-8")

    def read(self, identity: ChatIdentity) -> tuple[Link | None, NextcloudCredentials | None]:
        async def read() -> tuple[Link | None, NextcloudCredentials | None]:
            store = await open_store(f"sqlite+aiosqlite:///{self.database}", encryption_keys=[self.key])
            async with store:
                return await store.get_link(identity), await store.get_credentials(identity)

        return asyncio.run(read())


@pytest.fixture
def bridge(
    tmp_path: Path, emulator: Emulator, sqlite_template: Path, capsys: pytest.CaptureFixture[str]
) -> Iterator[Bridge]:
    # Requesting capsys here removes the CLI's log handler before capsys closes its stream.
    root = logging.getLogger()
    level = root.level
    yield Bridge(tmp_path, emulator, sqlite_template)
    for handler in [handler for handler in root.handlers if isinstance(handler, BridgeLogHandler)]:
        root.removeHandler(handler)
    root.setLevel(level)


def test_link_with_password_file(bridge: Bridge, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    password_file = tmp_path / "carol-app-password"
    password_file.write_text(CAROL_PASSWORD + "\n", encoding="utf-8")

    status = bridge.run("link", "--platform", "slack", "--chat-user", "U0CAROL", "--workspace", "T1",
                        "--nextcloud-user", "carol", "--app-password-file", str(password_file))

    output = capsys.readouterr()
    assert status == 0, output.err
    assert "both directions work" in output.out
    link, credentials = bridge.read(CAROL)
    assert link is not None
    assert link.nextcloud_user_id == "carol"
    assert credentials is not None
    assert credentials.app_password.reveal() == CAROL_PASSWORD
    assert CAROL_PASSWORD not in output.out + output.err


def test_link_with_password_stdin(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(CAROL_PASSWORD + "\n"))

    status = bridge.run("link", "--platform", "matrix", "--chat-user", "@carol:example.org",
                        "--nextcloud-user", "carol", "--app-password-stdin")

    assert status == 0, capsys.readouterr().err
    link, credentials = bridge.read(ChatIdentity(Platform.MATRIX, "example.org", "@carol:example.org"))
    assert link is not None
    assert credentials is not None


def test_link_wrong_stdin_password_explained(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("NotCarolsAppPassword12345\n"))

    status = bridge.run("link", "--platform", "matrix", "--chat-user", "@carol:example.org",
                        "--nextcloud-user", "carol", "--app-password-stdin")

    error = capsys.readouterr().err
    assert status == 1
    assert "rejected the app password for login name 'carol'" in error
    assert "file" not in error
    assert "Devices & sessions" in error


def test_link_stdin_in_subprocess(bridge: Bridge) -> None:
    command = [sys.executable, "-m", "presence_bridge.cli", "link", "--platform", "slack", "--chat-user", "U0CAROL",
               "--workspace", "T1", "--nextcloud-user", "carol", "--app-password-stdin", "--config", str(bridge.config)]
    result = subprocess.run(command, input=CAROL_PASSWORD + "\n", capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(Path(cli.__file__).parents[1])})

    assert result.returncode == 0, result.stderr
    assert CAROL_PASSWORD not in result.stdout + result.stderr
    link, _ = bridge.read(CAROL)
    assert link is not None


def test_link_wrong_password_explained(
    bridge: Bridge, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    password_file = tmp_path / "wrong"
    password_file.write_text("NotCarolsAppPassword12345", encoding="utf-8")

    status = bridge.run("link", "--platform", "slack", "--chat-user", "U0CAROL", "--workspace", "T1",
                        "--nextcloud-user", "carol", "--app-password-file", str(password_file))

    assert status == 1
    assert "error: Nextcloud rejected the app password for login name 'carol'" in capsys.readouterr().err
    assert bridge.read(CAROL) == (None, None)


def test_link_without_password_then_conflict(bridge: Bridge, capsys: pytest.CaptureFixture[str]) -> None:
    first = bridge.run("link", "--platform", "slack", "--chat-user", "U0CAROL", "--workspace", "T1",
                       "--nextcloud-user", "carol")
    assert "without an app password" in capsys.readouterr().out
    second = bridge.run("link", "--platform", "slack", "--chat-user", "U0OTHER", "--workspace", "T1",
                        "--nextcloud-user", "carol")

    assert first == 0
    assert second == 1
    assert "already linked to slack user 'U0CAROL'" in capsys.readouterr().err


def test_link_slack_needs_workspace(bridge: Bridge, capsys: pytest.CaptureFixture[str]) -> None:
    status = bridge.run("link", "--platform", "slack", "--chat-user", "U0CAROL", "--nextcloud-user", "carol")
    assert status == 1
    error = capsys.readouterr().err
    assert "--workspace is missing" in error
    assert "column" not in error


def test_link_recording_platform(bridge: Bridge, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    password_file = tmp_path / "carol-app-password"
    password_file.write_text(CAROL_PASSWORD, encoding="utf-8")

    status = bridge.run("link", "--platform", "recording", "--chat-user", "chat-carol", "--workspace", "ws",
                        "--nextcloud-user", "carol", "--app-password-file", str(password_file))

    assert status == 0, capsys.readouterr().err
    link, credentials = bridge.read(ChatIdentity(Platform.RECORDING, "ws", "chat-carol"))
    assert link is not None
    assert link.nextcloud_user_id == "carol"
    assert credentials is not None
    assert bridge.run("links", "--platform", "recording") == 0
    assert "chat-carol" in capsys.readouterr().out
    assert bridge.run("unlink", "--platform", "recording", "--chat-user", "chat-carol", "--workspace", "ws") == 0
    assert bridge.read(ChatIdentity(Platform.RECORDING, "ws", "chat-carol")) == (None, None)


def test_link_recording_needs_workspace(bridge: Bridge, capsys: pytest.CaptureFixture[str]) -> None:
    status = bridge.run("link", "--platform", "recording", "--chat-user", "chat-carol", "--nextcloud-user", "carol")

    assert status == 1
    assert "--workspace is missing: a recording platform user" in capsys.readouterr().err


def test_link_help_warns_unlink_revokes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["link", "--help"])

    text = " ".join(capsys.readouterr().out.split())
    assert "Settings > Security > Create new app password" in text
    assert "unlink revokes the app password the bridge holds" in text


def test_links_table(bridge: Bridge, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    password_file = tmp_path / "carol-app-password"
    password_file.write_text(CAROL_PASSWORD, encoding="utf-8")
    bridge.run("link", "--platform", "slack", "--chat-user", "U0CAROL", "--workspace", "T1",
               "--nextcloud-user", "carol", "--app-password-file", str(password_file))
    bridge.run("link", "--platform", "matrix", "--chat-user", "@bob:example.org", "--nextcloud-user", "bob")
    capsys.readouterr()

    assert bridge.run("links") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["CHAT", "IDENTITY", "NEXTCLOUD", "USER", "CREDENTIALS", "WORKING", "DIRECTIONS", "HEALTH"]
    carol = next(line for line in lines if "U0CAROL" in line)
    bob = next(line for line in lines if "@bob" in line)
    assert "app password" in carol
    assert "nextcloud->chat, chat->nextcloud" in carol
    assert carol.endswith("healthy")
    assert "none" in bob
    assert "chat->nextcloud" not in bob

    assert bridge.run("links", "--platform", "matrix") == 0
    assert "U0CAROL" not in capsys.readouterr().out


def test_links_mentions_template(bridge: Bridge, capsys: pytest.CaptureFixture[str]) -> None:
    assert bridge.run("links") == 0
    assert "matrix_user_template" not in capsys.readouterr().out
    with bridge.config.open("a", encoding="utf-8") as config:
        config.write('[linking]\nmatrix_user_template = "@{nextcloud_user}:example.org"\n')

    assert bridge.run("links") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "No links."
    assert "to @{nextcloud_user}:example.org, Nextcloud -> Matrix only." in lines[1]
    assert bridge.run("links", "--platform", "slack") == 0
    assert "matrix_user_template" not in capsys.readouterr().out


def test_unlink_revokes(bridge: Bridge, tmp_path: Path, emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    password_file = tmp_path / "carol-app-password"
    password_file.write_text(CAROL_PASSWORD, encoding="utf-8")
    bridge.run("link", "--platform", "slack", "--chat-user", "U0CAROL", "--workspace", "T1",
               "--nextcloud-user", "carol", "--app-password-file", str(password_file))

    status = bridge.run("unlink", "--platform", "slack", "--chat-user", "U0CAROL", "--workspace", "T1")

    assert status == 0
    assert "Nextcloud revoked the app password" in capsys.readouterr().out
    assert bridge.read(CAROL) == (None, None)
    carol = emulator.server.state.get_user("carol")
    assert carol is not None
    assert CAROL_PASSWORD not in carol.app_passwords
    assert bridge.run("unlink", "--platform", "slack", "--chat-user", "U0CAROL", "--workspace", "T1") == 1
    assert "is not linked" in capsys.readouterr().err


def test_import_good_and_bad_rows(bridge: Bridge, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_file = tmp_path / "links.csv"
    csv_file.write_text(
        "platform,chat user id,nextcloud user id,workspace\n"
        "slack,U0ALICE,alice,T1\n"
        "matrix,@bob:example.org,bob\n"
        "slack,U0BAD\n"
        "telegram,123,carol\n",
        encoding="utf-8",
    )

    status = bridge.run("import", str(csv_file))

    output = capsys.readouterr()
    assert status == 1
    assert f"{csv_file}:4: rejected: expected 3 or 4 columns" in output.err
    assert f"{csv_file}:5: rejected: invalid platform 'telegram'" in output.err
    assert "Imported 2 new links" in output.out
    alice, _ = bridge.read(ChatIdentity(Platform.SLACK, "T1", "U0ALICE"))
    assert alice is not None


def test_import_all_good_exits_zero(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("slack,U0ALICE,alice\n"))

    status = bridge.run("import", "-", "--workspace", "T1")

    output = capsys.readouterr()
    assert status == 0, output.err
    assert "Imported 1 new link. 0 rows were already linked the same way. 0 rows were rejected." in output.out
    alice, _ = bridge.read(ChatIdentity(Platform.SLACK, "T1", "U0ALICE"))
    assert alice is not None


def test_import_semicolon_file_hinted(bridge: Bridge, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_file = tmp_path / "links.csv"
    csv_file.write_text("slack;U0ALICE;alice;T1\n", encoding="utf-8")

    status = bridge.run("import", str(csv_file))

    output = capsys.readouterr()
    assert status == 1
    assert f"{csv_file}:1: rejected: expected 3 or 4 columns" in output.err
    assert "must be comma-separated" in output.err
    assert "Imported 0 new links. 0 rows were already linked the same way. 1 row was rejected." in output.out


def test_link_unknown_user_rejected(bridge: Bridge, capsys: pytest.CaptureFixture[str]) -> None:
    status = bridge.run("link", "--platform", "slack", "--chat-user", "U0CAROL", "--workspace", "T1",
                        "--nextcloud-user", "nosuchuser")

    assert status == 1
    assert "Nextcloud user 'nosuchuser' does not exist" in capsys.readouterr().err
    assert bridge.read(CAROL) == (None, None)


def test_link_checked_by_admin_no_warning(bridge: Bridge, capsys: pytest.CaptureFixture[str]) -> None:
    status = bridge.run("link", "--platform", "matrix", "--chat-user", "@bob:example.org", "--nextcloud-user", "bob")

    assert status == 0
    assert "warning" not in capsys.readouterr().err


def test_link_plain_reader_warns(bridge: Bridge, capsys: pytest.CaptureFixture[str]) -> None:
    bridge.use_read_account("carol", CAROL_PASSWORD)

    status = bridge.run("link", "--platform", "matrix", "--chat-user", "@bob:example.org", "--nextcloud-user", "bob")

    assert status == 0
    error = capsys.readouterr().err
    assert "warning: linked without checking that Nextcloud user 'bob' exists" in error
    assert "may not read other users" in error
    link, _ = bridge.read(ChatIdentity(Platform.MATRIX, "example.org", "@bob:example.org"))
    assert link is not None


def test_link_plain_reader_unknown_rejected(bridge: Bridge, capsys: pytest.CaptureFixture[str]) -> None:
    bridge.use_read_account("carol", CAROL_PASSWORD)

    status = bridge.run("link", "--platform", "slack", "--chat-user", "U0CAROL", "--workspace", "T1",
                        "--nextcloud-user", "nosuchuser")

    assert status == 1
    assert "Nextcloud user 'nosuchuser' does not exist" in capsys.readouterr().err
