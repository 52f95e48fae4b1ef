"""The processes of the demo: Nextcloud emulator, loopback Synapse and ``presence-bridge run``.

:func:`presence_bridge.demo.run_demo` does step 1: it starts the Nextcloud
emulator (a thread of the demo process) and seeds the team.  :class:`DemoStack`
then goes through the steps an operator would, in a state folder:

2. writes the bridge's configuration (SQLite store, Fernet key and appservice
   tokens in files) and makes the appservice registration with
   ``presence-bridge matrix registration``;
3. starts Synapse on 127.0.0.1 with that registration and registers one Matrix
   account per team member with the shared secret;
4. links the members in :data:`~presence_bridge.demo.EXPLICIT_LINKS` with
   ``presence-bridge link ... --app-password-stdin`` (both directions); the rest
   are mirrored Nextcloud -> Matrix by ``[linking] matrix_user_template``;
5. starts ``presence-bridge run`` and waits for ``/readyz``;
6. opens a direct-message room from each explicitly linked member to the bot.

Synapse and ``run`` are child processes in their own sessions, so Ctrl-C reaches
only the demo, which stops them in order (:meth:`DemoStack.stop`).  Start the
stack from the main thread: see :func:`~presence_bridge.synapse_local.die_with_parent`.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from presence_bridge.matrix.registration import generate_token
from presence_bridge.synapse_local import LocalSynapse, RegisteredUser, die_with_parent, free_port

logger = logging.getLogger(__name__)

SERVER_NAME = "localhost"
READY_TIMEOUT = 60.0
"""Seconds to wait for ``run`` to report ready: a guard against hanging, not a measurement."""
STOP_TIMEOUT = 30.0
"""Seconds ``run`` gets to stop after SIGTERM before it is killed."""
CLI_TIMEOUT = 60.0


def cli_command() -> list[str]:
    """Return the argv prefix that runs the ``presence-bridge`` command of this interpreter."""
    script = Path(sys.executable).parent / "presence-bridge"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from presence_bridge.cli import main; sys.exit(main())"]


@dataclass
class MatrixAccount:
    """A team member's Matrix account; ``dm_room_id`` is the room with the bot, if linked explicitly."""

    nextcloud_user: str
    user_id: str
    password: str
    access_token: str
    dm_room_id: str | None = None


@dataclass
class DemoInfo:
    """The processes, addresses and tokens of a running demo, saved as ``demo.json`` for scripts and tests."""

    state_dir: str
    config_path: str
    run_log: str
    nextcloud_url: str
    synapse_url: str
    bridge_url: str
    bot_user_id: str
    as_token: str
    run_pid: int = 0
    synapse_pid: int = 0
    accounts: list[MatrixAccount] = field(default_factory=list)

    def account(self, nextcloud_user: str) -> MatrixAccount:
        return next(account for account in self.accounts if account.nextcloud_user == nextcloud_user)


def render_config(*, nextcloud_url: str, reader: str, state_dir: Path, synapse_url: str, bridge_port: int) -> str:
    """Return the bridge's TOML configuration for the demo; secrets are read from files in ``state_dir``."""
    database = (state_dir / "bridge.sqlite3").as_posix()
    return f"""\
# Written by `presence-bridge demo`; every path is inside this folder.
[nextcloud]
url = "{nextcloud_url}"
login = "{reader}"
app_password_file = "secrets/nextcloud-app-password"

[storage]
url = "sqlite+aiosqlite:///{database}"
encryption_key_file = "secrets/encryption-key"

[logging]
level = "INFO"

[sync]
# Short times so that a change shows within seconds; the defaults suit a real team better.
sweep_interval_seconds = 2
settle_seconds = 2
debounce_seconds = 2

[server]
host = "127.0.0.1"
port = {bridge_port}

[linking]
matrix_user_template = "@{{nextcloud_user}}:{SERVER_NAME}"

[matrix]
homeserver_url = "{synapse_url}"
server_name = "{SERVER_NAME}"
as_token_file = "secrets/matrix-as-token"
hs_token_file = "secrets/matrix-hs-token"
appservice_url = "http://127.0.0.1:{bridge_port}"
"""


class DemoStack:
    """Starts and stops everything the demo runs; see the module docstring for the steps."""

    def __init__(self, state_dir: Path, synapse_python: Path) -> None:
        self.state_dir = state_dir
        self.synapse_python = synapse_python
        self.config_path = state_dir / "config.toml"
        self.run_log = state_dir / "bridge.log"
        self.synapse: LocalSynapse | None = None
        self.run_process: subprocess.Popen[bytes] | None = None
        self.info: DemoInfo | None = None

    def prepare(self, nextcloud_url: str, reader: tuple[str, str]) -> None:
        """Write the secrets, the configuration and the appservice registration (step 2)."""
        secrets_dir = self.state_dir / "secrets"
        secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_secret(secrets_dir / "nextcloud-app-password", reader[1])
        _write_secret(secrets_dir / "encryption-key", Fernet.generate_key().decode())
        _write_secret(secrets_dir / "matrix-as-token", generate_token())
        _write_secret(secrets_dir / "matrix-hs-token", generate_token())

        self.synapse = LocalSynapse(self.synapse_python, self.state_dir / "synapse", server_name=SERVER_NAME)
        bridge_port = free_port()
        self.config_path.write_text(
            render_config(
                nextcloud_url=nextcloud_url,
                reader=reader[0],
                state_dir=self.state_dir,
                synapse_url=self.synapse.base_url,
                bridge_port=bridge_port,
            ),
            encoding="utf-8",
        )
        registration = self.state_dir / "registration.yaml"
        self._cli("matrix", "registration", "--config", str(self.config_path), "--output", str(registration))
        self.synapse.registrations.append(("presence-bridge", registration.read_text(encoding="utf-8")))
        self.info = DemoInfo(
            state_dir=str(self.state_dir),
            config_path=str(self.config_path),
            run_log=str(self.run_log),
            nextcloud_url=nextcloud_url,
            synapse_url=self.synapse.base_url,
            bridge_url=f"http://127.0.0.1:{bridge_port}",
            bot_user_id=f"@presence-bridge:{SERVER_NAME}",
            as_token=(secrets_dir / "matrix-as-token").read_text(encoding="utf-8").strip(),
        )

    def start_synapse(self, team: list[tuple[str, str]]) -> None:
        """Start Synapse and register one account per ``(Nextcloud user, password)`` (step 3)."""
        assert self.synapse is not None and self.info is not None
        self.synapse.start()
        assert self.synapse.process is not None
        self.info.synapse_pid = self.synapse.process.pid
        for nextcloud_user, password in team:
            user: RegisteredUser = self.synapse.register_user(nextcloud_user, password)
            self.info.accounts.append(MatrixAccount(nextcloud_user, user.user_id, password, user.access_token))

    def link(self, nextcloud_user: str, app_password: str) -> str:
        """Link a member's Matrix account with the operator command (step 4); return its output."""
        assert self.info is not None
        account = self.info.account(nextcloud_user)
        return self._cli(
            "link", "--platform", "matrix", "--chat-user", account.user_id, "--nextcloud-user", nextcloud_user,
            "--app-password-stdin", "--config", str(self.config_path),
            stdin=app_password + "\n",
        )

    def start_bridge(self) -> None:
        """Start ``presence-bridge run`` and return once ``/readyz`` returns 200 (step 5)."""
        assert self.info is not None
        with self.run_log.open("wb") as log:
            self.run_process = subprocess.Popen(
                [*cli_command(), "run", "--config", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        self.info.run_pid = self.run_process.pid
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.run_process.poll() is not None:
                raise RuntimeError(
                    f"presence-bridge run exited with status {self.run_process.returncode}:\n{self.log_tail()}"
                )
            try:
                if httpx.get(f"{self.info.bridge_url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"presence-bridge run was not ready within {READY_TIMEOUT:g} s:\n{self.log_tail()}")

    def open_direct_rooms(self, nextcloud_users: list[str]) -> None:
        """Create a direct-message room from each of these members to the bot (step 6)."""
        assert self.info is not None
        for nextcloud_user in nextcloud_users:
            account = self.info.account(nextcloud_user)
            response = httpx.post(
                f"{self.info.synapse_url}/_matrix/client/v3/createRoom",
                json={"preset": "trusted_private_chat", "is_direct": True, "invite": [self.info.bot_user_id]},
                headers={"Authorization": f"Bearer {account.access_token}"},
                timeout=30,
            )
            response.raise_for_status()
            account.dm_room_id = response.json()["room_id"]

    def write_info(self) -> Path:
        """Write ``demo.json`` (mode 0600: it contains tokens) and return its path."""
        assert self.info is not None
        path = self.state_dir / "demo.json"
        _write_secret(path, json.dumps(asdict(self.info), indent=2))
        return path

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.run_log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop ``run`` (SIGTERM, so it finishes the write in flight), then Synapse."""
        process = self.run_process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                logger.warning("presence-bridge run (pid %d) did not stop within %g s; killing it", process.pid, STOP_TIMEOUT)
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)
        if self.synapse is not None:
            self.synapse.stop()

    def remove_state(self) -> None:
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def _cli(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [*cli_command(), *args], input=stdin, capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"presence-bridge {args[0]} failed with status {result.returncode}:\n{result.stderr or result.stdout}"
            )
        return result.stdout.strip()


def _write_secret(path: Path, text: str) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text + ("" if text.endswith("\n") else "\n"), encoding="utf-8")


def load_info(path: Path) -> dict[str, Any]:
    """Read a ``demo.json`` written by :meth:`DemoStack.write_info`."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
