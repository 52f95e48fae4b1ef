"""The demo: its pieces, then the whole first run with a real Synapse and ``presence-bridge run``.

The end-to-end tests start ``presence-bridge demo`` as a subprocess, exactly as
``./scripts/demo`` does, with Synapse from ``PRESENCE_BRIDGE_SYNAPSE_PYTHON`` or
``.venv-synapse``.  Without Synapse they are skipped with a reason, except under
``CI=true``, where they fail.  The tests share one demo and run in file order:
the last one stops it with SIGINT.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from cryptography.fernet import Fernet

from presence_bridge import demo
from presence_bridge.demo_stack import MatrixAccount, cli_command, render_config
from presence_bridge.demo_watch import changed_keys, describe_status, nextcloud_curl, try_it_lines
from presence_bridge.core.status import NextcloudStatusType
from presence_bridge.nextcloud import Credential, NextcloudClient, PublicStatus, list_statuses, make_http_client
from presence_bridge.matrix.presence_events import BacklogRule
from presence_bridge.synapse_local import PYTHON_ENV, find_synapse_python

REPO_ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 180.0
"""Seconds the demo gets to print each line while it starts: a guard against hanging, not a measurement."""
WAIT_TIMEOUT = 30.0
"""Seconds a test waits for a change to be mirrored before it fails."""
STOP_TIMEOUT = 90.0
BACKLOG_WINDOW = BacklogRule(started_at=0).window_seconds
STATUS_API = "/ocs/v2.php/apps/user_status/api/v1"

T = TypeVar("T")


def status(user_id: str, kind: str, message: str | None = None, icon: str | None = None, clear_at: int | None = None) -> PublicStatus:
    return PublicStatus(user_id, NextcloudStatusType(kind), message, icon, clear_at)


# --- pieces -------------------------------------------------------------------------


def test_describe_status_phrases() -> None:
    assert describe_status(None) == "(no status)"
    assert describe_status(status("bob", "away")) == "away"
    assert describe_status(status("alice", "online", "Working from home", "🏠")) == "online 🏠 Working from home"
    assert describe_status(status("carol", "dnd", "In a meeting", None, 1_800_000_000)) == (
        "dnd In a meeting (until 08:00 UTC)"
    )


def test_changed_keys_lists_differences() -> None:
    before = {"alice": status("alice", "online"), "bob": status("bob", "away")}
    after = {"alice": status("alice", "dnd"), "bob": status("bob", "away"), "dave": status("dave", "online")}

    assert changed_keys(before, after) == ["alice", "dave"]
    assert changed_keys(after, {}) == ["alice", "bob", "dave"]


def test_demo_seed_matches_team() -> None:
    assert demo.DEMO_SEED == {"users": demo.DEMO_USERS}
    assert [user["id"] for user in demo.DEMO_USERS] == ["alice", "bob", "carol", "dave"]
    assert demo.READER.app_password == "alice-app-password"
    bob = demo.DEMO_USERS[1]
    assert bob["app_passwords"] == ["bob-app-password", "bob-bridge-app-password", "bob-reader-app-password"]
    assert set(demo.EXPLICIT_LINKS) < {user.id for user in demo.DEMO_TEAM}


def test_config_is_valid(tmp_path: Path) -> None:
    from presence_bridge import config

    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "nextcloud-app-password").write_text("alice-app-password\n")
    (tmp_path / "secrets" / "encryption-key").write_text(Fernet.generate_key().decode() + "\n")
    (tmp_path / "secrets" / "matrix-as-token").write_text("as-token\n")
    (tmp_path / "secrets" / "matrix-hs-token").write_text("hs-token\n")
    path = tmp_path / "config.toml"
    path.write_text(
        render_config(
            nextcloud_url="http://127.0.0.1:1", reader="alice", state_dir=tmp_path,
            synapse_url="http://127.0.0.1:2", bridge_port=3,
        )
    )

    settings = config.load(path)

    assert settings.matrix is not None
    assert settings.matrix.server_name == "localhost"
    assert settings.matrix.appservice_url == "http://127.0.0.1:3"
    assert settings.server.host == "127.0.0.1"
    assert settings.storage.url == f"sqlite+aiosqlite:///{tmp_path.as_posix()}/bridge.sqlite3"
    assert settings.linking.matrix_user_template is not None


@pytest.fixture
def emulator_url() -> Iterator[str]:
    from presence_bridge.emulator.server import start_emulator

    with start_emulator(host="127.0.0.1", port=0, control=True) as server:
        yield server.base_url


async def test_printed_nextcloud_command_works(emulator_url: str) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    async with make_http_client(base_url=emulator_url) as http:
        await demo.seed_team(http)
        command = nextcloud_curl(emulator_url, "bob", "bob-app-password")
        # The printed command continues its line with a backslash; the shell joins them.
        result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        assert '"statuscode":200' in result.stdout, result.stdout

        reader = NextcloudClient(http, Credential(demo.READER.id, demo.READER.app_password))
        users = (await list_statuses(reader, own_user_id=demo.READER.id)).users

    assert users["bob"].status == NextcloudStatusType("dnd")
    assert users["alice"].message == "Working from home"
    assert users["carol"].status == NextcloudStatusType("dnd")


def test_try_it_lines_cover_both_directions() -> None:
    alice = MatrixAccount("alice", "@alice:localhost", "pw", "token-a", dm_room_id="!room:localhost")
    dave = MatrixAccount("dave", "@dave:localhost", "pw", "token-d")

    text = "\n".join(
        try_it_lines(
            nextcloud_url="http://127.0.0.1:1", synapse_url="http://127.0.0.1:2",
            nextcloud_user=("bob", "bob-app-password"), commander=alice, presence_user=dave,
        )
    )

    assert "-u bob:bob-app-password" in text
    assert "rooms/!room:localhost/send/m.room.message/" in text
    assert '"body": "!status dnd 1h"' in text
    assert "Authorization: Bearer token-a" in text
    assert "presence/@dave:localhost/status" in text
    assert "Authorization: Bearer token-d" in text


def test_find_synapse_python_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(PYTHON_ENV, str(tmp_path / "no-python"))
    monkeypatch.chdir(tmp_path)
    assert find_synapse_python() is None


# --- the whole demo -----------------------------------------------------------------


class LineReader:
    """Collects a subprocess's output lines in a thread, so a test can wait for one."""

    def __init__(self, stream: Any) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = START_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line containing {text!r}; output so far:\n{''.join(self.seen)}") from None
            self.seen.append(line)
            if text in line:
                return line


def synapse_python_or_skip() -> Path:
    python = find_synapse_python(REPO_ROOT)
    if python is None:
        reason = (
            f"Synapse was not found: set {PYTHON_ENV} to a Python with matrix-synapse installed, "
            "or run scripts/synapse-venv (scripts/test does) to create .venv-synapse"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: the demo test must run)")
        pytest.skip(reason)
    return python


class RunningDemo:
    def __init__(self, process: subprocess.Popen[str], output: LineReader, info: dict[str, Any]) -> None:
        self.process = process
        self.output = output
        self.info = info
        self.ready_at = time.monotonic()

    def account(self, nextcloud_user: str) -> dict[str, Any]:
        return next(item for item in self.info["accounts"] if item["nextcloud_user"] == nextcloud_user)

    def presence(self, nextcloud_user: str) -> dict[str, Any]:
        account = self.account(nextcloud_user)
        response = httpx.get(
            f"{self.info['synapse_url']}/_matrix/client/v3/presence/{account['user_id']}/status",
            headers={"Authorization": f"Bearer {account['access_token']}"},
            timeout=10,
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def nextcloud_row(self, user: str) -> dict[str, Any] | None:
        response = httpx.get(f"{self.info['nextcloud_url']}/_emulator/rows/{user}", timeout=10)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="module")
def running_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDemo]:
    python = synapse_python_or_skip()
    env = os.environ | {PYTHON_ENV: str(python), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [*cli_command(), "demo", "--port", "0", "--interval", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True, env=env,
        cwd=tmp_path_factory.mktemp("demo-cwd"),
    )
    try:
        output = LineReader(process.stdout)
        state_line = output.wait_for("State folder: ")
        state_dir = Path(state_line.split("State folder: ", 1)[1].split(" (", 1)[0])
        info = json.loads((state_dir / "demo.json").read_text(encoding="utf-8"))
        output.wait_for("Press Ctrl-C to stop")
        yield RunningDemo(process, output, info)
    finally:
        # SIGINT lets the demo stop its children and delete its state folder; SIGKILL is the fallback.
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)


def wait_until(read: Callable[[], T], accept: Callable[[T], bool], what: str) -> T:
    """Return the first value of ``read()`` that ``accept`` takes; fail after WAIT_TIMEOUT with the last one."""
    deadline = time.monotonic() + WAIT_TIMEOUT
    value = read()
    while not accept(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {value!r} after {WAIT_TIMEOUT:g} s")
        time.sleep(0.2)
        value = read()
    return value


def set_nextcloud_status(running: RunningDemo, user: str, status_type: str) -> None:
    response = httpx.put(
        f"{running.info['nextcloud_url']}{STATUS_API}/user_status/status",
        data={"statusType": status_type},
        auth=(user, f"{user}-app-password"),
        headers={"OCS-APIRequest": "true"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_demo_links_and_configures(running_demo: RunningDemo) -> None:
    seen = "".join(running_demo.output.seen)
    assert "Linked matrix:localhost:@alice:localhost to Nextcloud user alice with a checked app password" in seen
    assert "matrix_user_template: carol" in seen
    assert running_demo.account("alice")["dm_room_id"]
    state_dir = Path(running_demo.info["state_dir"])
    assert (state_dir / "registration.yaml").is_file()
    assert (state_dir / "bridge.sqlite3").is_file()
    for name in ("nextcloud_url", "synapse_url", "bridge_url"):
        assert running_demo.info[name].startswith("http://127.0.0.1:")


def test_nextcloud_change_reaches_matrix(running_demo: RunningDemo) -> None:
    set_nextcloud_status(running_demo, "bob", "dnd")

    presence = wait_until(
        lambda: running_demo.presence("bob"),
        lambda body: body["presence"] == "org.matrix.msc3026.busy",
        "presence of @bob:localhost",
    )

    assert presence["status_msg"] == "Do not disturb"
    line = running_demo.output.wait_for("Matrix    @bob:localhost: ", timeout=WAIT_TIMEOUT)
    assert line.rstrip().endswith('-> busy "Do not disturb"')


def test_matrix_command_reaches_nextcloud(running_demo: RunningDemo) -> None:
    alice = running_demo.account("alice")
    headers = {"Authorization": f"Bearer {alice['access_token']}"}
    synapse = running_demo.info["synapse_url"]
    room = alice["dm_room_id"]
    bot = running_demo.info["bot_user_id"]

    def joined() -> list[str]:
        response = httpx.get(f"{synapse}/_matrix/client/v3/rooms/{room}/joined_members", headers=headers, timeout=10)
        response.raise_for_status()
        return list(response.json()["joined"])

    wait_until(joined, lambda members: bot in members, f"members of the direct-message room {room}")
    response = httpx.put(
        f"{synapse}/_matrix/client/v3/rooms/{room}/send/m.room.message/test-{time.time_ns()}",
        json={"msgtype": "m.text", "body": "!status dnd 1h"},
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 200, response.text

    row = wait_until(
        lambda: running_demo.nextcloud_row("alice"),
        lambda row: row is not None and row["status"] == "dnd",
        "Nextcloud status row of alice",
    )

    assert row is not None
    assert row["is_user_defined"] is True


def test_template_user_reaches_matrix(running_demo: RunningDemo) -> None:
    set_nextcloud_status(running_demo, "carol", "away")

    presence = wait_until(
        lambda: running_demo.presence("carol"),
        lambda body: body["presence"] == "unavailable",
        "presence of @carol:localhost",
    )

    assert presence["presence"] == "unavailable"


def test_matrix_presence_reaches_nextcloud(running_demo: RunningDemo) -> None:
    # The bridge takes a user's first presence within BACKLOG_WINDOW of its start for
    # the homeserver's startup backlog, and a PUT of "unavailable" is no activity.
    remaining = running_demo.ready_at + BACKLOG_WINDOW - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)
    dave = running_demo.account("dave")
    response = httpx.put(
        f"{running_demo.info['synapse_url']}/_matrix/client/v3/presence/{dave['user_id']}/status",
        json={"presence": "unavailable"},
        headers={"Authorization": f"Bearer {dave['access_token']}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text

    row = wait_until(
        lambda: running_demo.nextcloud_row("dave"),
        lambda row: row is not None and row["status"] == "away",
        "Nextcloud status row of dave",
    )

    assert row is not None
    assert row["is_user_defined"] is False


def test_unlink_keeps_own_app_password(running_demo: RunningDemo) -> None:
    bob = running_demo.account("bob")
    headers = {"Authorization": f"Bearer {bob['access_token']}"}
    synapse = running_demo.info["synapse_url"]
    room = bob["dm_room_id"]
    bot = running_demo.info["bot_user_id"]

    def bot_messages() -> list[str]:
        response = httpx.get(
            f"{synapse}/_matrix/client/v3/rooms/{room}/messages",
            params={"dir": "b", "limit": "50"},
            headers=headers,
            timeout=10,
        )
        response.raise_for_status()
        return [
            event["content"].get("body", "")
            for event in response.json()["chunk"]
            if event["sender"] == bot and event["type"] == "m.room.message"
        ]

    def joined() -> list[str]:
        response = httpx.get(f"{synapse}/_matrix/client/v3/rooms/{room}/joined_members", headers=headers, timeout=10)
        response.raise_for_status()
        return list(response.json()["joined"])

    wait_until(joined, lambda members: bot in members, f"members of the direct-message room {room}")
    response = httpx.put(
        f"{synapse}/_matrix/client/v3/rooms/{room}/send/m.room.message/test-{time.time_ns()}",
        json={"msgtype": "m.text", "body": "!status unlink"},
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 200, response.text

    replies = wait_until(
        bot_messages, lambda bodies: any(body.startswith("Unlinked") for body in bodies), "the bot's reply to unlink"
    )

    reply = next(body for body in replies if body.startswith("Unlinked"))
    assert reply == (
        "Unlinked from Nextcloud user bob and deleted the bridge's data about you. The bridge also revoked "
        "the app password it used in Nextcloud; your other devices keep their own app passwords."
    )
    # The demo's curl examples use bob's own app password, which the unlink left alone.
    set_nextcloud_status(running_demo, "bob", "away")


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def port_closed(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) != 0


def test_sigint_stops_everything(running_demo: RunningDemo) -> None:
    info = running_demo.info

    running_demo.process.send_signal(signal.SIGINT)

    assert running_demo.process.wait(timeout=STOP_TIMEOUT) == 0
    assert "Stopped the demo." in running_demo.output.wait_for("Stopped the demo", timeout=STOP_TIMEOUT)
    assert process_gone(info["run_pid"])
    assert process_gone(info["synapse_pid"])
    for name in ("nextcloud_url", "synapse_url", "bridge_url"):
        assert port_closed(info[name]), f"{name} {info[name]} still accepts connections"
    assert not Path(info["state_dir"]).exists()
