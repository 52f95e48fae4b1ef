"""Fixtures for the sync engine: the emulator over HTTP, a SQLite file store and the recording platform.

``bridge`` builds the engine, the gateway and the user-client pool in-process.
Writes reach the recording platform when a test calls :meth:`Bridge.drain`, which
runs the outbox dispatcher until no row is due.
Users: ``admin`` (the bridge's read account, an administrator), ``alice``,
``bob`` and ``carol`` (group ``team-a``) and ``dave``; each app password is
``<id>-app``.  The emulator follows real time, as the engine does.
"""

from __future__ import annotations

import dataclasses
import http.cookiejar
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from presence_bridge.core.ids import ChatIdentity, Platform
from presence_bridge.core.sync_state import PlannerSettings
from presence_bridge.emulator.server import EmulatorServer, start_emulator
from presence_bridge.linking.user_clients import UserClients
from presence_bridge.nextcloud import Credential, NextcloudClient, make_http_client
from presence_bridge.nextcloud.transport import RejectAllCookies
from presence_bridge.storage import Store, open_store
from presence_bridge.sync.executor import PlanExecutor
from presence_bridge.sync.gateway import Gateway
from presence_bridge.sync.keepalive import KeepAlive
from presence_bridge.sync.metrics import EngineMetrics
from presence_bridge.sync.dispatcher import Dispatcher
from presence_bridge.sync.platform import Conversation, PlatformRegistry
from presence_bridge.sync.recording import RecordingPlatform, read_recording
from presence_bridge.sync.settings import EngineSettings
from presence_bridge.sync.worker import SyncEngine

WORKSPACE = "ws"
OCS_HEADERS = {"OCS-APIRequest": "true", "Accept": "application/json"}
USER_STATUS = "/ocs/v2.php/apps/user_status/api/v1"
USERS = [
    {"id": "admin", "display_name": "admin", "groups": ["admin"]},
    {"id": "alice", "display_name": "Alice Test", "groups": ["team-a"]},
    {"id": "bob", "display_name": "Bob Test", "groups": ["team-a"]},
    {"id": "carol", "display_name": "Carol Test", "groups": ["team-a"]},
    {"id": "dave", "display_name": "Dave Test"},
]


def chat_id(user: str) -> str:
    return f"U-{user}"


def identity(user: str) -> ChatIdentity:
    return ChatIdentity(Platform.RECORDING, WORKSPACE, chat_id(user))


class Nextcloud:
    """Synchronous calls to the emulator, as users and through its control API."""

    def __init__(self, server: EmulatorServer, client: httpx.Client) -> None:
        self.server = server
        self.client = client

    def as_user(self, user: str, method: str, path: str, body: Any = None) -> Any:
        response = self.client.request(
            method, USER_STATUS + path, auth=(user, f"{user}-app"), headers=OCS_HEADERS, json=body
        )
        assert response.status_code < 400, response.text
        return response.json()["ocs"]["data"] if response.content else None

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self.client.request(method, "/_emulator" + path, json=body)
        assert response.status_code < 400, response.text
        return response.json()

    def set_status(self, user: str, status: str) -> None:
        self.as_user(user, "PUT", "/user_status/status", {"statusType": status})

    def set_custom(self, user: str, message: str, clear_at: int | None = None) -> None:
        self.as_user(user, "PUT", "/user_status/message/custom", {"message": message, "clearAt": clear_at})

    def own_status(self, user: str) -> dict[str, Any]:
        data: dict[str, Any] = self.as_user(user, "GET", "/user_status")
        return data

    def set_enumeration(self, mode: str) -> None:
        self.control("PUT", "/settings", {"user_enumeration": mode})


@dataclasses.dataclass
class Bridge:
    """The engine's parts over one store and one recording file."""

    store: Store
    nextcloud: Nextcloud
    recording: RecordingPlatform
    settings: EngineSettings
    metrics: EngineMetrics
    executor: PlanExecutor
    engine: SyncEngine
    gateway: Gateway
    keepalive: KeepAlive
    pool: UserClients
    reader: NextcloudClient
    dispatcher: Dispatcher
    http: httpx.AsyncClient

    async def link(self, user: str, *, credentials: bool = True) -> ChatIdentity:
        who = identity(user)
        await self.store.link(who, user)
        if credentials:
            await self.store.set_credentials(who, user, f"{user}-app")
        return who

    async def drain(self) -> int:
        """Deliver every due outbox row to the recording platform; return how many rows were claimed."""
        delivered = 0
        while claimed := await self.dispatcher.dispatch_once():
            delivered += claimed
        return delivered

    def writes(self, user: str | None = None) -> list[dict[str, Any]]:
        lines = read_recording(self.recording.path)
        return [line for line in lines if user is None or line["nextcloud_user_id"] == user]

    async def command(self, user: str, text: str, channel: str | None = None) -> Any:
        conversation = Conversation(Platform.RECORDING, WORKSPACE, chat_id(user), channel)
        return await self.gateway.handle_command(conversation, text)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with start_emulator(control=True) as server:
        yield server


@pytest.fixture
def nextcloud(emulator: EmulatorServer) -> Iterator[Nextcloud]:
    no_cookies = http.cookiejar.CookieJar(policy=RejectAllCookies())
    with httpx.Client(base_url=emulator.base_url, timeout=30.0, cookies=no_cookies) as client:
        calls = Nextcloud(emulator, client)
        calls.control("POST", "/reset")
        calls.control("POST", "/users", [{**user, "app_password": f"{user['id']}-app"} for user in USERS])
        yield calls


def make_settings(**overrides: Any) -> EngineSettings:
    """Engine settings for tests: sweeps only when a test asks, no debounce, per-user reads not spread."""
    values: dict[str, Any] = {
        "platforms": frozenset({Platform.RECORDING}),
        "sweep_interval": 3600.0,
        "spread_fraction": 0.0,
        "reader_user_id": "admin",
        "team_leads": {"team-a": ("dave",)},
        "planner": PlannerSettings(debounce_seconds=0.0),
    }
    values.update(overrides)
    return EngineSettings(**values)


@pytest.fixture
async def bridge(nextcloud: Nextcloud, tmp_path: Path) -> AsyncIterator[Bridge]:
    store = await open_store(
        f"sqlite+aiosqlite:///{tmp_path / 'bridge.sqlite3'}", encryption_keys=[Fernet.generate_key().decode()]
    )
    http = make_http_client(base_url=nextcloud.server.base_url)
    reader = NextcloudClient(http, Credential("admin", "admin-app"))
    pool = UserClients(store, http)
    recording = RecordingPlatform(tmp_path / "recording.jsonl")
    settings = make_settings()
    metrics = EngineMetrics()
    executor = PlanExecutor(store, settings, metrics, clock=time.time)
    keepalive = KeepAlive(pool, settings, metrics, store=store)
    engine = SyncEngine(store, reader, settings, pool=pool, keepalive=keepalive, metrics=metrics, executor=executor)
    platforms = PlatformRegistry([recording])
    gateway = Gateway(executor, pool, reader, platforms, keepalive=keepalive)
    dispatcher = Dispatcher(store, platforms, worker_id="test-dispatcher")
    try:
        yield Bridge(
            store, nextcloud, recording, settings, metrics, executor, engine, gateway, keepalive, pool, reader, dispatcher, http
        )
    finally:
        await http.aclose()
        await store.close()
