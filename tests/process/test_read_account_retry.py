"""``presence-bridge run`` after Nextcloud rejects the read account: how often it tries to log in again."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from presence_bridge.emulator import auth
from presence_bridge.emulator.server import EmulatorServer
from presence_bridge.service.runner import READ_RETRY_VARIABLE
from tests.process.conftest import make_team
from tests.process.support import READER, READER_APP_PASSWORD, BridgeFiles, BridgeRun, free_port, wait_until

RETRY_SECONDS = 3.0
WINDOW_SECONDS = 8.0


class FailedLogins:
    """The times at which the emulator rejected Basic credentials."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._lock = threading.Lock()

    def record(self) -> None:
        with self._lock:
            self.times.append(time.monotonic())

    def between(self, start: float, end: float) -> list[float]:
        with self._lock:
            return [moment for moment in self.times if start <= moment <= end]


@pytest.fixture
def failed_logins(monkeypatch: pytest.MonkeyPatch) -> FailedLogins:
    recorder = FailedLogins()
    original = auth.WrongCredentials.__init__

    def counting(self: auth.WrongCredentials, *args: object) -> None:
        recorder.record()
        original(self, *args)

    monkeypatch.setattr(auth.WrongCredentials, "__init__", counting)
    return recorder


def revoke_reader_password(emulator: EmulatorServer) -> None:
    """Revoke the read account's app password through Nextcloud's own API, as a user would."""
    response = httpx.delete(
        f"{emulator.base_url}/ocs/v2.php/core/apppassword",
        auth=(READER, READER_APP_PASSWORD),
        headers={"OCS-APIRequest": "true"},
        timeout=10,
    )
    response.raise_for_status()


def restore_reader_password(emulator: EmulatorServer) -> None:
    accounts = emulator.state.accounts
    with emulator.state.lock:
        accounts.users[READER].app_passwords.add(READER_APP_PASSWORD)
        accounts._by_app_password[READER_APP_PASSWORD] = READER


def test_rejected_read_account_retried_slowly(
    emulator: EmulatorServer, files: BridgeFiles, runs: list[BridgeRun], failed_logins: FailedLogins
) -> None:
    make_team(emulator, files, 1)
    port = free_port()
    config = files.write_config("replica-a", emulator.base_url, port=port)
    run = BridgeRun(files, config, port, env={READ_RETRY_VARIABLE: str(RETRY_SECONDS)})
    runs.append(run)
    run.wait_serving()
    wait_until(lambda: run.get("/readyz").status_code == 200, timeout=30, what="/readyz to turn ready")

    revoke_reader_password(emulator)
    wait_until(lambda: failed_logins.times, timeout=30, what="the first failed login")
    first = failed_logins.times[0]
    wait_until(lambda: time.monotonic() > first + WINDOW_SECONDS, timeout=30, what="the end of the window")

    failures = failed_logins.between(first, first + WINDOW_SECONDS)
    readiness = run.get("/readyz")
    assert len(failures) <= WINDOW_SECONDS // RETRY_SECONDS + 1
    assert all(later - earlier >= RETRY_SECONDS - 0.5 for earlier, later in zip(failures, failures[1:]))
    assert readiness.status_code == 503
    assert "the password is wrong or was revoked" in readiness.text

    restore_reader_password(emulator)
    wait_until(lambda: run.get("/readyz").status_code == 200, timeout=30, what="/readyz to recover")
    assert run.terminate() == 0
    assert "The Nextcloud read account works again" in run.log()
