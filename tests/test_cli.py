"""The ``presence-bridge`` console script, run as a subprocess like an operator would."""

from __future__ import annotations

import dataclasses
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from presence_bridge import __version__, config

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).with_name("presence-bridge")
EXAMPLE_ENV = {
    "PRESENCE_BRIDGE_NEXTCLOUD_APP_PASSWORD": "alice-app-password",
    "PRESENCE_BRIDGE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
}
STARTUP_TIMEOUT = 60.0
"""Seconds to wait for a subprocess to start serving: a guard against hanging, not a measurement."""


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, env=full_env, timeout=120, check=False
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LineReader:
    """Collect a subprocess's output lines in a thread, so the test can wait for one without blocking."""

    def __init__(self, stream: object) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = STARTUP_TIMEOUT) -> str:
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no line containing {text!r}; output so far:\n{''.join(self.seen)}") from None
            self.seen.append(line)
            if text in line:
                return line


def test_console_script_installed() -> None:
    assert SCRIPT.exists(), f"{SCRIPT} is missing; install the package with pip install -e ."


def test_cli_import_skips_http_stack() -> None:
    """Importing the CLI loads no network or database library; commands import them when they run."""
    code = (
        "import sys, presence_bridge.cli; "
        "print(sorted(m for m in ('httpx', 'uvicorn', 'sqlalchemy', 'nio') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"presence-bridge {__version__}"


def test_help_lists_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("config", "db", "nextcloud-emulator", "demo"):
        assert command in result.stdout


def test_config_check_example_valid() -> None:
    result = run_cli("config", "check", "--config", str(REPO_ROOT / "config.example.toml"), env=EXAMPLE_ENV)

    assert result.returncode == 0, result.stderr
    assert "is valid" in result.stdout
    assert "http://127.0.0.1:8080" in result.stdout
    assert "environment variable PRESENCE_BRIDGE_NEXTCLOUD_APP_PASSWORD" in result.stdout
    assert "alice-app-password" not in result.stdout
    assert EXAMPLE_ENV["PRESENCE_BRIDGE_ENCRYPTION_KEY"] not in result.stdout


def test_config_check_masks_proxy_password(tmp_path: Path) -> None:
    text = (REPO_ROOT / "config.example.toml").read_text(encoding="utf-8")
    path = tmp_path / "config.toml"
    path.write_text(
        text.replace('# proxy = "http://proxy.example.org:3128"', 'proxy = "http://bridge:Proxy-Pass-123@proxy.example.org:3128"'),
        encoding="utf-8",
    )

    result = run_cli("config", "check", "--config", str(path), env=EXAMPLE_ENV)

    assert result.returncode == 0, result.stderr
    assert "Proxy-Pass-123" not in result.stdout
    assert "proxy http://bridge:***@proxy.example.org:3128" in result.stdout


def test_config_check_shows_mapping(tmp_path: Path) -> None:
    text = (REPO_ROOT / "config.example.toml").read_text(encoding="utf-8")
    path = tmp_path / "config.toml"
    path.write_text(
        text.replace('custom_emoji_fallback = ""', 'custom_emoji_fallback = "🎉"').replace(
            'matrix_busy_message = "Busy"', 'matrix_busy_message = ""'
        ),
        encoding="utf-8",
    )

    result = run_cli("config", "check", "--config", str(path), env=EXAMPLE_ENV)

    assert result.returncode == 0, result.stderr
    assert (
        "Mapping:    Slack DND of at most 86400 s; Slack custom emoji shown as 🎉; "
        "Matrix DND message 'Do not disturb', busy message none"
    ) in result.stdout


def test_config_check_invalid_names_key(tmp_path: Path) -> None:
    text = (REPO_ROOT / "config.example.toml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("timeout_read = 30", "timeout_read = -3"), encoding="utf-8")

    result = run_cli("config", "check", "--config", str(bad), env=EXAMPLE_ENV)

    assert result.returncode == 1
    assert "is invalid" in result.stderr
    assert "nextcloud.timeout_read" in result.stderr
    assert "Expected" in result.stderr
    assert result.stdout == ""


def test_config_check_missing_secret_env(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("PRESENCE_BRIDGE_")}
    result = subprocess.run(
        [str(SCRIPT), "config", "check", "--config", str(REPO_ROOT / "config.example.toml")],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert result.returncode == 1
    assert "PRESENCE_BRIDGE_NEXTCLOUD_APP_PASSWORD is not set" in result.stderr


def test_config_check_missing_file(tmp_path: Path) -> None:
    result = run_cli("config", "check", "--config", str(tmp_path / "absent.toml"))
    assert result.returncode == 1
    assert "does not exist" in result.stderr


def test_db_upgrade_creates_schema(tmp_path: Path) -> None:
    database = tmp_path / "bridge.sqlite3"
    text = (REPO_ROOT / "config.example.toml").read_text(encoding="utf-8")
    path = tmp_path / "config.toml"
    path.write_text(
        text.replace('url = "sqlite+aiosqlite:///presence-bridge.sqlite3"', f'url = "sqlite+aiosqlite:///{database}"'),
        encoding="utf-8",
    )

    first = run_cli("db", "upgrade", "--config", str(path), env=EXAMPLE_ENV)
    second = run_cli("db", "upgrade", "--config", str(path), env=EXAMPLE_ENV)

    assert first.returncode == 0, first.stderr
    assert database.is_file()
    assert "schema revision" in first.stdout
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout
    assert "alembic" not in first.stderr
    assert "Running upgrade" not in first.stderr


def test_db_upgrade_invalid_config(tmp_path: Path) -> None:
    result = run_cli("db", "upgrade", "--config", str(tmp_path / "absent.toml"))
    assert result.returncode == 1
    assert "does not exist" in result.stderr


@pytest.mark.parametrize("command", ["demo", "nextcloud-emulator"])
def test_busy_port_reported(command: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = run_cli(command, "--port", str(port))

    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port 0" in result.stderr


def test_usage_error_exit_status() -> None:
    result = run_cli("no-such-command")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


@pytest.fixture
def emulator_process() -> Iterator[tuple[subprocess.Popen[str], int]]:
    pytest.importorskip("presence_bridge.emulator.server", reason="the emulator server module is not there yet")
    port = free_port()
    process = subprocess.Popen(
        [str(SCRIPT), "nextcloud-emulator", "--host", "127.0.0.1", "--port", str(port), "--seed-demo"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def wait_until_serving(process: subprocess.Popen[str], port: int) -> httpx.Response:
    """Poll /status.php until the emulator answers; fail if the process exits first."""
    deadline_polls = int(STARTUP_TIMEOUT / 0.1)
    for _ in range(deadline_polls):
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"the emulator exited with {process.returncode}:\n{output}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/status.php", timeout=5)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the emulator did not start serving")


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_emulator_serves_then_stops_on_signal(
    emulator_process: tuple[subprocess.Popen[str], int], stop_signal: signal.Signals
) -> None:
    process, port = emulator_process

    response = wait_until_serving(process, port)
    assert response.status_code == 200
    assert response.json()["installed"] is True

    users = httpx.get(
        f"http://127.0.0.1:{port}/ocs/v2.php/cloud/user?format=json",
        auth=("alice", "alice-app-password"),
        headers={"OCS-APIRequest": "true"},
        timeout=10,
    )
    assert users.status_code == 200, users.text

    process.send_signal(stop_signal)
    assert process.wait(timeout=60) == 0


def test_demo_prints_changes() -> None:
    pytest.importorskip("presence_bridge.emulator.server", reason="the emulator server module is not there yet")
    port = free_port()
    process = subprocess.Popen(
        [str(SCRIPT), "demo", "--port", str(port), "--interval", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        output = LineReader(process.stdout)
        output.wait_for(f"running at http://127.0.0.1:{port}")
        assert "online 🏠 Working from home" in output.wait_for("  alice ")
        assert "away" in output.wait_for("  bob ")
        assert "dnd" in output.wait_for("  carol ")
        assert "(no status)" in output.wait_for("  dave ")
        output.wait_for("Watching for changes")

        base = f"http://127.0.0.1:{port}/ocs/v2.php/apps/user_status/api/v1"
        changed = httpx.put(
            f"{base}/user_status/message/custom",
            data={"message": "Out for lunch", "statusIcon": "🍕"},
            auth=("dave", "dave-app-password"),
            headers={"OCS-APIRequest": "true"},
            timeout=10,
        )
        assert changed.status_code == 200, changed.text

        line = output.wait_for("dave: ")
        assert "(no status) -> " in line
        assert "🍕 Out for lunch" in line

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
        assert any("Stopped the demo" in line for line in output.seen) or "Stopped the demo" in output.wait_for("Stopped")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


SUMMARY_LABELS = {
    "nextcloud": "Nextcloud:",
    "storage": "Storage:",
    "logging": "Logging:",
    "sync": "Sync:",
    "emulator": "Emulator:",
    "recording": "Recording:",
    "keepalive": "Keep-alive:",
    "per_user_reads": "Reads:",
    "who": "Who:",
    "server": "Server:",
    "replicas": "Replicas:",
    "dispatcher": "Dispatcher:",
    "linking": "Linking:",
    "mapping": "Mapping:",
    "matrix": "Matrix:",
}


def test_config_check_summarises_every_section(tmp_path: Path) -> None:
    text = (REPO_ROOT / "config.example.toml").read_text(encoding="utf-8")
    matrix = '\n[matrix]\nhomeserver_url = "http://127.0.0.1:8008"\nserver_name = "localhost"\nbot_access_token_env = "BOT"\n'
    path = tmp_path / "config.toml"
    path.write_text(text.replace("team_leads = {}", 'team_leads = { "ops" = ["dave"] }') + matrix, encoding="utf-8")

    result = run_cli("config", "check", "--config", str(path), env={**EXAMPLE_ENV, "BOT": "bot-secret-token"})

    assert result.returncode == 0, result.stderr
    labels = [line.split()[0] for line in result.stdout.splitlines() if line and not line.startswith(" ")]
    assert sorted(SUMMARY_LABELS) == sorted(field.name for field in dataclasses.fields(config.Settings))
    for label in SUMMARY_LABELS.values():
        assert label in labels
    assert "audit entries kept 90 days" in result.stdout
    assert "Who:        group leads: ops (dave)" in result.stdout
    assert "plain bot user, access token from environment variable BOT" in result.stdout
    assert "bot-secret-token" not in result.stdout
