"""Fixtures for the linking tests: the store (SQLite file, and PostgreSQL when configured) and the emulator.

The store fixtures come from the storage tests, so both suites run on the same
databases.  The emulator runs over real HTTP on 127.0.0.1; a counting transport
records every request the bridge sends to it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from presence_bridge.emulator.server import start_emulator
from presence_bridge.nextcloud import make_http_client
from tests.helpers.emulator_control import EmulatorControl
from tests.storage.conftest import (  # noqa: F401 - fixtures used by name
    FakeClock,
    clock,
    keys,
    migrated_url,
    sqlite_template,
    store,
)

USERS: list[dict[str, Any]] = [
    {"id": "admin", "display_name": "admin", "groups": ["admin"], "app_password": "AdminAppPassword0000111122223333"},
    {"id": "alice", "display_name": "Alice Test", "groups": ["team-a"], "password": "alice-login-password"},
    {"id": "bob", "display_name": "Bob Test", "groups": ["team-a"], "password": "bob-login-password"},
    {"id": "carol", "display_name": "Carol Test", "app_password": "CarolAppPassword0000111122223333"},
]
ADMIN_LOGIN = "admin"
ADMIN_APP_PASSWORD = USERS[0]["app_password"]


class Emulator(EmulatorControl):
    """The emulator control client, seeded with :data:`USERS` and a frozen clock, plus login-flow helpers."""

    def reset(self) -> None:
        self.call("POST", "/reset")
        self.call("POST", "/users", USERS)
        self.call("PUT", "/clock", {"frozen": True})

    def grant(self, login_url: str, user: str) -> None:
        """Do the browser half of a login flow: ``user`` logs in and grants access."""
        login_token = login_url.rsplit("/", 1)[1]
        self.call("POST", f"/login-flow/{login_token}/grant", {"user": user})

    def advance(self, seconds: float) -> None:
        self.call("PUT", "/clock", {"advance": seconds})

    def delete_user(self, user_id: str) -> None:
        """Delete an account, as an administrator would; the control API has no route for it."""
        state = self.server.state
        with state.lock:
            user = state.accounts.users[user_id]
            for token in list(user.app_passwords):
                state.accounts.revoke_app_password(token)
            del state.accounts.users[user_id]


class CountingTransport(httpx.AsyncBaseTransport):
    """Passes requests to a real transport and records each one's method, path and body."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.requests: list[tuple[str, str]] = []
        self.bodies: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        self.bodies.append(await request.aread())
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()

    def count(self, path_part: str) -> int:
        return sum(1 for _method, path in self.requests if path_part in path)


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[Emulator]:
    with start_emulator() as server:
        emulator = Emulator(server)
        yield emulator
        emulator.control.close()


@pytest.fixture
def emulator(emulator_server: Emulator) -> Emulator:
    emulator_server.reset()
    return emulator_server


@pytest.fixture
def transport() -> CountingTransport:
    return CountingTransport()


@pytest.fixture
async def http(emulator: Emulator, transport: CountingTransport) -> AsyncIterator[httpx.AsyncClient]:
    async with make_http_client(base_url=emulator.base_url, timeout_read=5.0, transport=transport) as client:
        yield client
