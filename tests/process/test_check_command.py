"""``presence-bridge check`` against the emulator and a SQLite store."""

from __future__ import annotations

import httpx
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
    assert (
        f"FAIL  Nextcloud: Nextcloud at {emulator.base_url} rejected the login 'bridge' with the app password from "
        "config file: the password is wrong or was revoked. Create a new app password in Nextcloud (Personal "
        "settings > Security > Devices & sessions) and set nextcloud.app_password to it.\n"
    ) in output


def test_check_names_password_variable(
    emulator: EmulatorServer, files: BridgeFiles, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_team(emulator, files, 1)
    monkeypatch.setenv("FX_READER_PASSWORD", "not-the-password")

    status, output = run_check(
        files, emulator.base_url, capsys, ('app_password = "bridge-app-password"', 'app_password_env = "FX_READER_PASSWORD"')
    )

    assert status == 1
    assert "with the app password from environment variable FX_READER_PASSWORD:" in output
    assert "and set the environment variable FX_READER_PASSWORD to it.\n" in output
    assert "nextcloud.app_password " not in output


def test_check_prints_no_client_log_lines(
    emulator: EmulatorServer, files: BridgeFiles, capfd: pytest.CaptureFixture[str]
) -> None:
    make_team(emulator, files, 1)
    config = files.write_config("check", emulator.base_url, port=free_port())
    config.write_text(config.read_text().replace("bridge-app-password", "not-the-password"))

    status = main(["check", "--config", str(config)])

    captured = capfd.readouterr()
    assert status == 1
    assert "login flow" not in captured.out + captured.err
    assert captured.err == ""


def test_check_words_503_as_unavailable(
    emulator: EmulatorServer, files: BridgeFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    make_team(emulator, files, 1)
    response = httpx.post(f"{emulator.base_url}/_emulator/faults", json={"match": "/", "status": 503, "count": 1000})
    response.raise_for_status()

    status, output = run_check(files, emulator.base_url, capsys)

    assert status == 1
    assert (
        f"FAIL  Nextcloud: Nextcloud at {emulator.base_url} is unavailable (HTTP 503). Try again later, or check "
        "the Nextcloud server's log and the proxy in front of it.\n"
    ) in output
    assert "rejected" not in output


def test_check_reports_unreachable_url(files: BridgeFiles, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    status, output = run_check(files, url, capsys)

    assert status == 1
    assert (
        f"FAIL  Nextcloud: cannot reach Nextcloud at {url} (the connection failed). Check nextcloud.url, that the "
        "server is running, and the proxy, TLS settings and network between this host and the server.\n"
    ) in output


def test_check_reports_wrong_encryption_key(
    emulator: EmulatorServer, files: BridgeFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    make_team(emulator, files, 1)
    other_key = Fernet.generate_key().decode()

    status, output = run_check(files, emulator.base_url, capsys, (files.key, other_key))

    store_line = next(line for line in output.splitlines() if line.startswith("FAIL  Store:"))
    assert status == 1
    assert "none of the 1 configured encryption keys decrypts this store's data" in store_line
    assert store_line.count("storage.encryption_key") == 1
