"""The whole bridge (``BridgeProcess``) in the test's event loop, against a real Synapse and the emulator.

A session-wide Synapse registers the bridge's appservice with the URL of an
:class:`AppserviceRelay`: a small proxy in a thread that forwards each
``/_matrix/app/v1`` request to the HTTP server of the bridge the current test
runs.  While no bridge runs, or one is still starting, it returns 200, so Synapse
never backs off.  Synapse 1.163 drops presence updates for an appservice it is
backing off from, so a test could otherwise miss them.  When a running bridge
cannot be reached the relay returns 502, as a real bridge that is down would fail.  Each
test starts :class:`RunningBridge` with a fresh SQLite file store and its own
configuration, and drives it only from the outside: Matrix users send messages
and set presence with their own tokens, and Nextcloud is read and written
through the emulator.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from presence_bridge.config import loads
from presence_bridge.core.ids import ChatIdentity, Platform
from presence_bridge.emulator.server import EmulatorServer
from presence_bridge.service.runner import BridgeProcess
from presence_bridge.storage import open_store
from presence_bridge.matrix.registration import Registration
from tests.helpers.threaded_server import ThreadedServer
from tests.matrix.synapse_harness import STARTUP_TIMEOUT, WAIT_TIMEOUT, MatrixUser, SynapseServer, free_port

OCS_HEADERS = {"OCS-APIRequest": "true", "Accept": "application/json"}
USER_STATUS = "/ocs/v2.php/apps/user_status/api/v1"
READER = "admin"
STOP_TIMEOUT = 30.0


class AppserviceRelay:
    """Forwards the homeserver's appservice requests to ``target_url``; see the module docstring."""

    def __init__(self) -> None:
        self.target_url: str | None = None
        app = Starlette(routes=[Route("/_matrix/app/v1/{path:path}", self._forward, methods=["PUT", "POST", "GET"])])
        self._server = ThreadedServer(app, "appservice relay", startup_timeout=STARTUP_TIMEOUT)
        self.url = self._server.url

    async def _forward(self, request: Request) -> Response:
        target = self.target_url
        if target is None:
            return JSONResponse({})
        headers = {key: value for key, value in request.headers.items() if key.lower() in ("authorization", "content-type")}
        try:
            async with httpx.AsyncClient(timeout=30) as http:
                response = await http.request(
                    request.method, target + request.url.path, params=request.query_params, headers=headers, content=await request.body()
                )
        except httpx.TransportError:
            # Like a bridge that is down: the homeserver keeps the transaction and retries it.
            return JSONResponse({"errcode": "M_UNKNOWN", "error": "the bridge is not reachable"}, status_code=502)
        return Response(response.content, status_code=response.status_code, media_type="application/json")

    def stop(self) -> None:
        self._server.stop()


async def wait_until(condition: Callable[[], Any], what: str, timeout: float = WAIT_TIMEOUT) -> Any:
    """Poll ``condition`` (a function or coroutine function) until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.1)


@dataclasses.dataclass
class Nextcloud:
    """Calls to the emulator as its users and through its control API."""

    server: EmulatorServer

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.base_url, timeout=10)

    def add_users(self, *users: str) -> None:
        accounts = [{"id": READER, "groups": ["admin"], "app_password": f"{READER}-app"}]
        accounts += [{"id": user, "groups": ["team"], "app_password": f"{user}-app"} for user in users]
        with self._client() as http:
            http.post("/_emulator/users", json=accounts).raise_for_status()

    def as_user(self, user: str, method: str, path: str, body: Any = None) -> Any:
        with self._client() as http:
            response = http.request(method, USER_STATUS + path, auth=(user, f"{user}-app"), headers=OCS_HEADERS, json=body)
        assert response.status_code < 400, response.text
        return response.json()["ocs"]["data"] if response.content else None

    def row(self, user: str) -> dict[str, Any]:
        with self._client() as http:
            response = http.get(f"/_emulator/rows/{user}")
        return dict(response.json() or {}) if response.status_code == 200 else {}


class RunningBridge:
    """One ``BridgeProcess`` over a SQLite file, with ``[matrix]`` pointing at the test Synapse."""

    def __init__(self, folder: Path, synapse: SynapseServer, relay: AppserviceRelay, nextcloud: Nextcloud) -> None:
        self.folder = folder
        self.synapse = synapse
        self.relay = relay
        self.nextcloud = nextcloud
        self.store_url = f"sqlite+aiosqlite:///{folder / 'bridge.sqlite3'}"
        self.key = Fernet.generate_key().decode()
        self.port = free_port()
        self.process: BridgeProcess | None = None
        self._task: asyncio.Task[int] | None = None
        self.bot_user_id = self.bot_of(synapse.bridge.sender_localpart)
        """The bot of the appservice mode; a test of the plain-bot mode sets its own."""

    def bot_of(self, localpart: str) -> str:
        return f"@{localpart}:{self.synapse.server_name}"

    async def link(self, nextcloud_user: str, matrix_user: MatrixUser, *, credentials: bool = True) -> None:
        identity = ChatIdentity(Platform.MATRIX, self.synapse.server_name, matrix_user.user_id)
        async with await open_store(self.store_url, encryption_keys=[self.key]) as store:
            await store.link(identity, nextcloud_user)
            if credentials:
                await store.set_credentials(identity, nextcloud_user, f"{nextcloud_user}-app")

    def appservice_table(self, registration: Registration | None = None) -> str:
        """Return the ``[matrix]`` keys of an appservice bridge (default: the bridge's registration)."""
        registration = registration or self.synapse.bridge
        return f"""
as_token = "{registration.as_token}"
hs_token = "{registration.hs_token}"
appservice_id = "{registration.id}"
bot_localpart = "{registration.sender_localpart}"
"""

    def config(self, matrix_table: str, debounce: float) -> str:
        return f"""
[nextcloud]
url = "{self.nextcloud.server.base_url}"
login = "{READER}"
app_password = "{READER}-app"

[storage]
url = "{self.store_url}"
encryption_key = "{self.key}"

[sync]
sweep_interval_seconds = 1
settle_seconds = 0
debounce_seconds = {debounce}

[server]
host = "127.0.0.1"
port = {self.port}

[replicas]
lease_seconds = 30

[dispatcher]
poll_interval_seconds = 0.1
retry_base_seconds = 0.5
send_timeout_seconds = 10

[matrix]
homeserver_url = "{self.synapse.base_url}"
server_name = "{self.synapse.server_name}"
{matrix_table}
"""

    async def start(self, matrix_extra: str = "", *, matrix_table: str | None = None, debounce: float = 0.0) -> BridgeProcess:
        """Start the process; ``matrix_table`` replaces the appservice keys of ``[matrix]``, ``matrix_extra`` adds keys."""
        table = (self.appservice_table() if matrix_table is None else matrix_table) + matrix_extra
        settings = loads(self.config(table, debounce), base_dir=self.folder, environ={})
        self.process = BridgeProcess(settings)
        self._task = asyncio.create_task(self.process.run(), name="bridge process")

        async def healthy() -> bool:
            if self._task is not None and self._task.done():
                raise AssertionError(f"the bridge process ended: {self._task.result()}")
            try:
                async with httpx.AsyncClient(timeout=2) as http:
                    return (await http.get(f"http://127.0.0.1:{self.port}/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        await wait_until(healthy, "the bridge's /healthz")
        # Only now: a transaction that fails while the bridge starts would put Synapse into
        # recovery, and Synapse drops presence updates for an appservice in recovery.
        self.relay.target_url = f"http://127.0.0.1:{self.port}"
        return self.process

    async def stop(self) -> int:
        if self.process is None or self._task is None:
            return 0
        self.relay.target_url = None
        self.process.request_stop("the test ended")
        status = await asyncio.wait_for(self._task, timeout=STOP_TIMEOUT)
        self.process = None
        self._task = None
        return status

    def nextcloud_writes(self) -> float:
        """Return how many Nextcloud writes with users' app passwords succeeded since the start."""
        assert self.process is not None
        value = self.process.metrics.registry.get_sample_value("presence_bridge_nextcloud_writes_total", {"result": "ok"})
        return value or 0.0
