"""A loopback-only Synapse for the demo and the tests, run from its own virtual environment.

``scripts/synapse-venv`` installs Synapse into ``.venv-synapse``, apart from the
bridge's packages, because Synapse pins its own dependency versions.
:func:`find_synapse_python` finds that interpreter, or the one named by
``PRESENCE_BRIDGE_SYNAPSE_PYTHON``.

:func:`loopback_homeserver_config` writes a homeserver that listens on 127.0.0.1
only, has federation off, contacts no key server and lifts every rate limit except
``rc_presence`` (Synapse's default of one presence change per user per 10 s stays).
:class:`LocalSynapse` starts it as a child process in its own session, so a Ctrl-C
in the terminal reaches only the parent, which then stops Synapse in order.
Users are created with the shared-secret admin API (:func:`register_user`).
"""

from __future__ import annotations

import ctypes
import hashlib
import hmac
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

logger = logging.getLogger(__name__)

PYTHON_ENV = "PRESENCE_BRIDGE_SYNAPSE_PYTHON"
"""Environment variable naming a Python interpreter that has matrix-synapse installed."""
VENV_FOLDER = ".venv-synapse"
STARTUP_TIMEOUT = 60.0
"""Seconds to wait for Synapse to respond to ``/versions``: a guard against hanging, not a measurement."""
STOP_TIMEOUT = 15.0
"""Seconds Synapse gets to exit after SIGTERM before it is killed."""

_RELAXED = {"per_second": 1000, "burst_count": 1000}
_PR_SET_PDEATHSIG = 1


def find_synapse_python(search_root: Path | None = None) -> Path | None:
    """Return an interpreter that can import Synapse, or None.

    ``$PRESENCE_BRIDGE_SYNAPSE_PYTHON`` is tried first, then
    ``<search_root>/.venv-synapse/bin/python`` (``search_root`` defaults to the
    working directory).
    """
    configured = os.environ.get(PYTHON_ENV)
    root = search_root if search_root is not None else Path.cwd()
    candidate = Path(configured) if configured else root / VENV_FOLDER / "bin" / "python"
    if not candidate.is_file():
        return None
    probe = subprocess.run(
        [str(candidate), "-c", "import synapse.app.homeserver"], capture_output=True, timeout=60, check=False
    )
    return candidate if probe.returncode == 0 else None


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free on ``host`` a moment ago (another program may still take it)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def loopback_homeserver_config(
    datadir: Path, port: int, registration_files: Sequence[Path], shared_secret: str, server_name: str = "localhost"
) -> dict[str, Any]:
    """Return a loopback-only homeserver.yaml as a dict (JSON is valid YAML).

    Besides the ``registration_shared_secret`` that creates users, it turns on
    presence and MSC3026 busy presence and loads ``registration_files`` as
    appservices.  Passwords are hashed with 4 bcrypt rounds, enough for local use only.
    """
    return {
        "server_name": server_name,
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "pid_file": str(datadir / "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": str(datadir / "homeserver.db")}},
        "media_store_path": str(datadir / "media_store"),
        "signing_key_path": str(datadir / "signing.key"),
        "registration_shared_secret": shared_secret,
        "macaroon_secret_key": secrets.token_hex(16),
        "form_secret": secrets.token_hex(16),
        "enable_registration": False,
        "bcrypt_rounds": 4,
        "report_stats": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "federation_domain_whitelist": [],
        "federation_sender_instances": [],
        "url_preview_enabled": False,
        "enable_metrics": False,
        "push": {"enabled": False},
        "presence": {"enabled": True},
        "experimental_features": {"msc3026_enabled": True},
        "app_service_config_files": [str(path) for path in registration_files],
        "rc_message": _RELAXED,
        "rc_registration": _RELAXED,
        "rc_login": {"address": _RELAXED, "account": _RELAXED, "failed_attempts": _RELAXED},
        "rc_joins": {"local": _RELAXED, "remote": _RELAXED},
        "rc_joins_per_room": _RELAXED,
        "rc_invites": {"per_room": _RELAXED, "per_user": _RELAXED, "per_issuer": _RELAXED},
        "rc_room_creation": _RELAXED,
        "rc_admin_redaction": _RELAXED,
        "rc_profile": _RELAXED,
        "rc_user_directory": _RELAXED,
    }


@dataclass(frozen=True)
class RegisteredUser:
    """A user created through the shared-secret API, with the access token of its first device."""

    user_id: str
    password: str
    access_token: str
    device_id: str


def register_user(
    base_url: str, shared_secret: str, localpart: str, password: str, *, admin: bool = False
) -> RegisteredUser:
    """Create ``localpart`` with Synapse's shared-secret registration API (``/_synapse/admin/v1/register``).

    The request carries an HMAC-SHA1 over the nonce, user name, password and admin
    flag, keyed with ``registration_shared_secret``.  Raises ``httpx.HTTPStatusError``
    when Synapse rejects it, e.g. 400 for a user that exists.
    """
    url = f"{base_url}/_synapse/admin/v1/register"
    nonce = httpx.get(url, timeout=10).raise_for_status().json()["nonce"]
    message = b"\x00".join([nonce.encode(), localpart.encode(), password.encode(), b"admin" if admin else b"notadmin"])
    mac = hmac.new(shared_secret.encode(), message, hashlib.sha1).hexdigest()
    body = {"nonce": nonce, "username": localpart, "password": password, "admin": admin, "mac": mac}
    data = httpx.post(url, json=body, timeout=30).raise_for_status().json()
    return RegisteredUser(data["user_id"], password, data["access_token"], data["device_id"])


def _load_prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


# Looked up once here, because a child between fork and exec must not call dlopen.
_PRCTL = _load_prctl()


def die_with_parent() -> None:
    """Ask Linux to send SIGTERM to this child process when the thread that started it ends.

    Used as ``preexec_fn``, so a child does not outlive a parent that was killed
    without a chance to stop it.  Start children from the main thread: a child
    started from a worker thread would get SIGTERM when that thread ends.  Does
    nothing where ``prctl`` is missing.
    """
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


class LocalSynapse:
    """One Synapse process on 127.0.0.1 with a generated config in ``datadir``.

    ``registrations`` are appservice registration texts, each written to a file
    and listed in ``app_service_config_files``.  ``extra_config`` replaces top-level
    keys of the generated homeserver.yaml.  Without a ``shared_secret`` a random
    registration secret is generated.
    """

    def __init__(
        self,
        python: Path,
        datadir: Path,
        *,
        registrations: Sequence[tuple[str, str]] = (),
        server_name: str = "localhost",
        port: int | None = None,
        extra_config: dict[str, Any] | None = None,
        shared_secret: str | None = None,
    ) -> None:
        self.python = python
        self.datadir = datadir
        self.registrations = list(registrations)
        self.server_name = server_name
        self.port = port if port is not None else free_port()
        self.extra_config = extra_config or {}
        self.shared_secret = shared_secret if shared_secret is not None else secrets.token_urlsafe(32)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = datadir / "synapse.log"
        self.config_path = datadir / "homeserver.yaml"
        self.process: subprocess.Popen[bytes] | None = None

    def write_config(self) -> Path:
        """Write the registration files and homeserver.yaml; return the latter's path."""
        self.datadir.mkdir(parents=True, exist_ok=True)
        files = []
        for name, text in self.registrations:
            path = self.datadir / f"{name}.yaml"
            path.write_text(text, encoding="utf-8")
            files.append(path)
        config = loopback_homeserver_config(self.datadir, self.port, files, self.shared_secret, self.server_name)
        self.config_path.write_text(json.dumps(config | self.extra_config, indent=2), encoding="utf-8")
        return self.config_path

    def start(self) -> None:
        """Write the config, start Synapse and return once ``/_matrix/client/versions`` returns 200."""
        self.write_config()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(self.python), "-m", "synapse.app.homeserver", "-c", str(self.config_path)],
                cwd=self.datadir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        logger.info("Started Synapse (pid %d) on %s, logging to %s", self.process.pid, self.base_url, self.log_path)
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Synapse exited with status {self.process.returncode}; see {self.log_path}")
            try:
                if httpx.get(f"{self.base_url}/_matrix/client/versions", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Synapse did not respond on {self.base_url} within {STARTUP_TIMEOUT:g} s; see {self.log_path}")

    def register_user(self, localpart: str, password: str, *, admin: bool = False) -> RegisteredUser:
        """Create a user on this server; see :func:`register_user`."""
        return register_user(self.base_url, self.shared_secret, localpart, password, admin=admin)

    def stop(self) -> None:
        """Send SIGTERM, wait up to STOP_TIMEOUT seconds, then SIGKILL; does nothing when not running."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            logger.warning("Synapse (pid %d) did not stop within %g s; killing it", self.process.pid, STOP_TIMEOUT)
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)
        logger.info("Synapse (pid %d) stopped", self.process.pid)
