"""``presence-bridge check`` against the emulator and a SQLite store."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from presence_bridge.cli import main
from presence_bridge.emulator.server import EmulatorServer
from tests.process.conftest import make_team
from tests.process.support import BridgeFiles, free_port


def run_check(files: BridgeFiles, url: str, capsys: pytest.CaptureFixture[str], replace: tuple[str, str] = ("", "")) -> tuple[int, str]:
    config = files.write_config("check", url, port=free_port())
    if replace[0]:
        config.write_text(config.read_text().replace(*replace))
    status = main(["check", "--config", str(config)])
    return status, capsys.readouterr().out


def test_check_passes(emulator: EmulatorServer, files: BridgeFiles, capsys: pytest.CaptureFixture[str]) -> None:
    make_team(emulator, files, 1)

    status, output = run_check(files, emulator.base_url, capsys)

    assert status == 0, output
    assert f"OK    Nextcloud: {emulator.base_url} answers (Nextcloud 31." in output
    assert "logged in as 'bridge'" in output
    assert "busy supported; restore supported" in output
    assert "its schema is current, and the encryption key is right" in output
    assert "OK    Recording platform: writes are appended to" in output
    assert "All 4 checks passed." in output


def test_check_reports_wrong_app_password(
    emulator: EmulatorServer, files: BridgeFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    make_team(emulator, files, 1)

    status, output = run_check(
        files, emulator.base_url, capsys, ('app_password = "bridge-app-password"', 'app_password = "not-the-password"')
    )

    assert status == 1
    assert "FAIL  Nextcloud:" in output
    assert "rejected the login 'bridge'" in output
    assert "the app password is wrong or was revoked" in output
    assert "set nextcloud.app_password" in output


def test_check_reports_unreachable_url(files: BridgeFiles, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    status, output = run_check(files, url, capsys)

    assert status == 1
    assert f"FAIL  Nextcloud: cannot reach Nextcloud at {url}" in output
    assert "Check nextcloud.url" in output


def test_check_reports_wrong_encryption_key(
    emulator: EmulatorServer, files: BridgeFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    make_team(emulator, files, 1)
    other_key = Fernet.generate_key().decode()

    status, output = run_check(files, emulator.base_url, capsys, (files.key, other_key))

    assert status == 1
    assert "FAIL  Store:" in output
    assert "storage.encryption_key" in output
