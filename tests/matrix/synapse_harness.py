"""A real Synapse on 127.0.0.1 for the Matrix tests, and the appservice sink it pushes to.

Synapse runs from its own virtual environment (``scripts/synapse-venv`` makes
``.venv-synapse``), found through ``PRESENCE_BRIDGE_SYNAPSE_PYTHON``.  The config
listens on loopback only, has federation off, contacts no key server, hashes
passwords with 4 bcrypt rounds and lifts every rate limit except
``rc_presence``, which keeps Synapse's default of one change per user per 10 s.
Users made by :meth:`SynapseServer.register_user` are exempted from all rate limits
through the admin API, unless the test asks for a rate-limited user.

Two appservices are registered: the bridge's own (rendered by
:func:`~presence_bridge.matrix.registration.render_registration`, ``rate_limited:
false``, pushing transactions to :class:`AppserviceSink`) and a second one with
``rate_limited: true`` and no URL, whose masqueraded requests meet the presence
rate limit.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from presence_bridge import synapse_local
from presence_bridge.matrix.presence_events import BacklogRule, PresenceUpdate
from presence_bridge.matrix.registration import Registration, default_user_regex, generate_token, render_registration
from presence_bridge.matrix.transactions import TransactionEndpoint
from tests.helpers.threaded_server import ThreadedServer

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON_ENV = synapse_local.PYTHON_ENV
SERVER_NAME = "localhost"
STARTUP_TIMEOUT = 60.0
"""Seconds to wait for a test server to start: a guard against hanging, not a measurement.

Synapse itself gets :data:`presence_bridge.synapse_local.STARTUP_TIMEOUT`.
"""
WAIT_TIMEOUT = 20.0
"""Seconds a test waits for an event to arrive before it fails."""


def find_synapse_python() -> Path | None:
    """Return the interpreter with Synapse: ``$PRESENCE_BRIDGE_SYNAPSE_PYTHON``, else ``.venv-synapse``."""
    return synapse_local.find_synapse_python(REPO_ROOT)


free_port = synapse_local.free_port


@dataclass(frozen=True)
class MatrixUser:
    """A user registered on the test homeserver, with the token of its first device."""

    user_id: str
    password: str
    access_token: str
    device_id: str


class AppserviceSink:
    """The bridge's transaction endpoint served by uvicorn in a thread, recording every update."""

    def __init__(self, hs_token: str) -> None:
        self.hs_token = hs_token
        self.updates: list[PresenceUpdate] = []
        self._lock = threading.Lock()
        # The test homeserver loads the appservice before any user exists, so it sends
        # no startup backlog: every update the tests cause is live.
        no_backlog = BacklogRule(started_at=time.time(), window_seconds=0)
        self.endpoint = TransactionEndpoint(hs_token=hs_token, on_presence=self._record, backlog_rule=no_backlog)
        app = Starlette(routes=self.endpoint.routes())
        self._server = ThreadedServer(app, "appservice sink", startup_timeout=STARTUP_TIMEOUT)
        self.url = self._server.url

    async def _record(self, updates: Sequence[PresenceUpdate]) -> None:
        with self._lock:
            self.updates.extend(updates)

    def updates_for(self, user_id: str) -> list[PresenceUpdate]:
        with self._lock:
            return [update for update in self.updates if update.user_id == user_id]

    async def wait_for(self, user_id: str, matches: Callable[[PresenceUpdate], bool]) -> PresenceUpdate:
        """Return the first recorded update of ``user_id`` that ``matches``; fail after WAIT_TIMEOUT."""
        deadline = time.monotonic() + WAIT_TIMEOUT
        while time.monotonic() < deadline:
            for update in self.updates_for(user_id):
                if matches(update):
                    return update
            await asyncio.sleep(0.05)
        raise AssertionError(f"no matching presence update for {user_id}; received: {self.updates_for(user_id)}")

    def stop(self) -> None:
        self._server.stop()


@dataclass
class SynapseServer:
    """A running Synapse: its URL, the two appservice registrations and user registration.

    Without a ``sink`` the bridge's registration has no URL, so Synapse pushes nothing.
    ``extra_config`` replaces top-level keys of the generated homeserver.yaml.
    """

    python: Path
    datadir: Path
    sink: AppserviceSink | None
    extra_config: dict[str, Any] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    shared_secret: str = field(default_factory=generate_token)
    server_name: str = SERVER_NAME
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.datadir / "synapse.log"
        self.bridge = Registration(
            id="presence-bridge",
            url=self.sink.url if self.sink else None,
            as_token=generate_token(),
            hs_token=self.sink.hs_token if self.sink else generate_token(),
            sender_localpart="presence-bridge",
            user_regex=default_user_regex(SERVER_NAME),
        )
        self.limited = Registration(
            id="rate-limited",
            url=None,
            as_token=generate_token(),
            hs_token=generate_token(),
            sender_localpart="rate-limited-bot",
            user_regex=default_user_regex(SERVER_NAME),
            rate_limited=True,
            receive_ephemeral=False,
        )
        self._admin: MatrixUser | None = None
        self._local: synapse_local.LocalSynapse | None = None
        self.ready_at: float | None = None
        """``time.monotonic()`` when Synapse first returned 200 for ``/versions``."""

    def start(self) -> None:
        """Start Synapse through :class:`~presence_bridge.synapse_local.LocalSynapse` and register an admin."""
        registrations = [(registration.id, render_registration(registration)) for registration in (self.bridge, self.limited)]
        self._local = synapse_local.LocalSynapse(
            self.python,
            self.datadir,
            registrations=registrations,
            server_name=SERVER_NAME,
            port=self.port,
            extra_config=self.extra_config,
            shared_secret=self.shared_secret,
        )
        self._local.start()
        self.process = self._local.process
        self.ready_at = time.monotonic()
        self._admin = self.register_user("admin", admin=True)

    def stop(self) -> None:
        """Stop Synapse as :meth:`LocalSynapse.stop` does; do nothing when it was never started."""
        if self._local is not None:
            self._local.stop()

    def register_user(self, prefix: str = "user", *, admin: bool = False, rate_limited: bool = False) -> MatrixUser:
        """Register a user with a fresh localpart through the shared-secret admin API.

        Unless ``rate_limited`` is true, the user is exempted from every rate limit, so
        that only the tests that request it meet the presence limit.
        """
        localpart = f"{prefix}-{secrets.token_hex(4)}"
        password = secrets.token_urlsafe(12)
        registered = synapse_local.register_user(self.base_url, self.shared_secret, localpart, password, admin=admin)
        user = MatrixUser(registered.user_id, password, registered.access_token, registered.device_id)
        if not rate_limited and self._admin is not None:
            self._exempt_from_rate_limits(user.user_id)
        return user

    def _exempt_from_rate_limits(self, user_id: str) -> None:
        assert self._admin is not None
        response = httpx.post(
            f"{self.base_url}/_synapse/admin/v1/users/{user_id}/override_ratelimit",
            json={"messages_per_second": 0, "burst_count": 0},
            headers={"Authorization": f"Bearer {self._admin.access_token}"},
            timeout=10,
        )
        response.raise_for_status()

