"""Helpers that run ``presence-bridge run`` as a subprocess against the emulator and a real store.

The tests build a team in the emulator, link its users to the recording platform
in the store, write a configuration file with short intervals, and start the
process with ``python -m presence_bridge.cli run``.  They read the recording file
to see which writes reached "chat", and the store to see what stayed queued.
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy.engine import URL, make_url

from presence_bridge.core.ids import ChatIdentity, Platform
from presence_bridge.emulator.server import EmulatorServer
from presence_bridge.storage import OutboxItem, OutboxState, open_store
from presence_bridge.sync.recording import read_recording
from presence_bridge.sync.testhooks import KILL_AT_VARIABLE, SEND_DELAY_VARIABLE

TEST_HOOK_VARIABLES = (KILL_AT_VARIABLE, SEND_DELAY_VARIABLE)

READER = "bridge"
READER_APP_PASSWORD = "bridge-app-password"
WORKSPACE = "local"
START_TIMEOUT = 60.0
"""Seconds a process gets to serve /healthz; generous for a loaded CI machine."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def chat_id(user: str) -> str:
    return f"chat-{user}"


class Team:
    """Users and statuses in a running emulator, changed through its control API."""

    def __init__(self, emulator: EmulatorServer, users: Iterable[str]) -> None:
        self.emulator = emulator
        self.users = list(users)
        self.http = httpx.Client(base_url=emulator.base_url, timeout=10)
        accounts: list[dict[str, Any]] = [
            {"id": READER, "groups": ["admin"], "password": "pw", "app_password": READER_APP_PASSWORD}
        ]
        accounts += [{"id": user, "password": "pw", "app_password": f"{user}-app-password"} for user in self.users]
        self.http.post("/_emulator/users", json=accounts).raise_for_status()

    def set_status(self, user: str, status: str, message: str | None = None) -> None:
        """Give ``user`` a user-defined status and custom message, as the web UI would."""
        now = int(self.emulator.state.clock.now())
        row = {
            "status": status,
            "status_timestamp": now,
            "is_user_defined": True,
            "custom_message": message,
            "message_id": None,
            "custom_icon": None,
            "clear_at": None,
            "status_message_timestamp": now,
        }
        self.http.put(f"/_emulator/rows/{user}", json=row).raise_for_status()

    def status_of(self, user: str) -> tuple[str, str | None]:
        row = self.http.get(f"/_emulator/rows/{user}").json()
        return row["status"], row.get("custom_message")

    def close(self) -> None:
        self.http.close()


@dataclass
class BridgeFiles:
    """The store, key and recording file that several processes of one test share."""

    folder: Path
    store_url: str
    """URL for the test itself, with the password when PostgreSQL needs one."""
    key: str = field(default_factory=lambda: Fernet.generate_key().decode())

    @property
    def recording(self) -> Path:
        return self.folder / "recording.jsonl"

    def config_store_url(self) -> tuple[str, dict[str, str]]:
        """Return the URL for the config file (no password allowed there) and the environment it needs."""
        parsed = make_url(self.store_url)
        if parsed.password is None:
            return self.store_url, {}
        password = str(parsed.password)
        without_password = URL.create(
            parsed.drivername, parsed.username, None, parsed.host, parsed.port, parsed.database
        )
        return without_password.render_as_string(hide_password=False), {"PGPASSWORD": password}

    def write_config(
        self, name: str, emulator_url: str, *, port: int, lease: float = 2.0, sweep: float = 1.0, extra: str = ""
    ) -> Path:
        """Write a configuration with short intervals; return its path."""
        url, _ = self.config_store_url()
        path = self.folder / f"{name}.toml"
        path.write_text(
            f"""
[nextcloud]
url = "{emulator_url}"
login = "{READER}"
app_password = "{READER_APP_PASSWORD}"
timeout_read = 5

[storage]
url = "{url}"
encryption_key = "{self.key}"

[logging]
level = "INFO"
repeat_window_seconds = 0

[sync]
sweep_interval_seconds = {sweep}
settle_seconds = 0
debounce_seconds = 0

[recording]
enabled = true
path = "{self.recording}"
workspace = "{WORKSPACE}"

[server]
port = {port}

[replicas]
lease_seconds = {lease}
replica_id = "{name}"

[dispatcher]
poll_interval_seconds = 0.1
send_timeout_seconds = {min(1.0, lease / 2)}
retry_base_seconds = 0.5
{extra}
""",
            encoding="utf-8",
        )
        return path

    def link(self, users: Iterable[str]) -> None:
        """Link each user to ``chat-<user>`` on the recording platform."""

        async def link_all() -> None:
            async with await open_store(self.store_url, encryption_keys=[self.key]) as store:
                for user in users:
                    await store.link(ChatIdentity(Platform.RECORDING, WORKSPACE, chat_id(user)), user)

        asyncio.run(link_all())

    def outbox(self) -> list[OutboxItem]:
        async def read() -> list[OutboxItem]:
            async with await open_store(self.store_url, encryption_keys=[self.key]) as store:
                return await store.list_outbox(limit=10_000)

        return asyncio.run(read())

    def writes(self) -> list[dict[str, Any]]:
        return read_recording(self.recording)

    def last_written(self) -> dict[str, tuple[str, str | None]]:
        """Return the last status written per Nextcloud user, as (status, message)."""
        last: dict[str, tuple[str, str | None]] = {}
        for write in self.writes():
            last[write["nextcloud_user_id"]] = (write["desired"]["status"], write["desired"]["message"])
        return last

    def repeated_keys(self) -> dict[str, int]:
        """Return the idempotency keys written more than once, with their counts."""
        counts = collections.Counter(write["idempotency_key"] for write in self.writes())
        return {key: count for key, count in counts.items() if count > 1}


class BridgeRun:
    """One ``presence-bridge run`` subprocess with its log file."""

    def __init__(self, files: BridgeFiles, config: Path, port: int, env: Mapping[str, str] | None = None) -> None:
        self.files = files
        self.port = port
        self.log_path = config.with_suffix(f".{time.monotonic_ns()}.log")
        _, store_env = files.config_store_url()
        environment = {name: value for name, value in os.environ.items() if name not in TEST_HOOK_VARIABLES}
        environment.update(store_env)
        environment.update(env or {})
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "presence_bridge.cli", "run", "--config", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=10)

    def wait_serving(self) -> None:
        """Wait until ``/healthz`` returns 200; fail with the log if the process exits first."""

        def serving() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"the process exited with {self.process.returncode}:\n{self.log()}")
            try:
                return self.get("/healthz").status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(serving, timeout=START_TIMEOUT, what=f"/healthz on port {self.port}")

    def wait_exit(self, timeout: float = START_TIMEOUT) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"the process did not exit within {timeout:g} s:\n{self.log()}") from None

    def terminate(self) -> int:
        """Send SIGTERM and return the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.wait_exit()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)

    def stop_if_running(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


def pending_rows(items: Iterable[OutboxItem]) -> list[OutboxItem]:
    return [item for item in items if item.state == OutboxState.PENDING]
