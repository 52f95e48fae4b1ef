"""Fixtures for client tests against the Nextcloud emulator over HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from presence_bridge.emulator.server import start_emulator
from presence_bridge.nextcloud import Credential, NextcloudClient, RetryPolicy, make_http_client
from tests.helpers.emulator_control import EmulatorControl

USERS: list[dict[str, Any]] = [
    {"id": "admin", "display_name": "admin", "groups": ["admin"], "app_password": "admin-app"},
    {"id": "alice", "display_name": "Alice Test", "email": "alice@example.test", "language": "de",
     "locale": "de_DE", "groups": ["team-a"], "app_password": "alice-app"},
    {"id": "bob", "display_name": "Bob Test", "groups": ["team-a"], "app_password": "bob-app"},
    {"id": "carol", "display_name": "Carol Test", "groups": ["team-a"], "app_password": "carol-app"},
    {"id": "dave", "display_name": "Dave Test", "app_password": "dave-app"},
]


class Emulator(EmulatorControl):
    """The emulator control client, seeded with :data:`USERS`, plus fault injection."""

    def reset(self) -> None:
        self.call("POST", "/reset")
        self.call("POST", "/users", USERS)

    def fault(self, match: str, count: int = 1, **kind: Any) -> None:
        self.call("POST", "/faults", {"match": match, "count": count, **kind})


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
async def http(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with make_http_client(base_url=emulator.base_url, timeout_read=2.0) as client:
        yield client


class FastSleep:
    """Records backoff delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def sleep() -> FastSleep:
    return FastSleep()


@pytest.fixture
def client_for(http: httpx.AsyncClient, sleep: FastSleep) -> Callable[..., NextcloudClient]:
    def build(user: str, password: str | None = None, **kwargs: Any) -> NextcloudClient:
        kwargs.setdefault("retry", RetryPolicy(attempts=3, base_delay=0.25, max_delay=1.0))
        return NextcloudClient(http, Credential(user, password or f"{user}-app"), sleep=sleep, **kwargs)

    return build
