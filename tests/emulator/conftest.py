"""Fixtures for emulator tests over real HTTP on 127.0.0.1.

``emulator``: one running emulator per test module (control API on).
``nc``: a :class:`NextcloudCalls` helper over that emulator, reset before each
test and seeded with admin, alice, bob, carol and dave (group ``team-a`` =
alice, bob, carol), whose app password is ``<id>-app`` and login password
``<id>-login``.  The clock is frozen at :data:`T0`.
``server``: an :class:`Emulator` over the same module's emulator, with one
plain ``httpx.Client`` kept open for the module; modules that use it seed
their own accounts.
"""

from __future__ import annotations

import http.cookiejar
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from presence_bridge.emulator.server import EmulatorServer, start_emulator
from presence_bridge.emulator.state import EmulatorState
from presence_bridge.nextcloud.transport import RejectAllCookies

T0 = 1_796_411_751
"""A fixed start time (2026-12-04 19:15:51 UTC) for tests that freeze the clock."""

OCS_HEADERS = {"OCS-APIRequest": "true", "Accept": "application/json"}
USER_STATUS = "/apps/user_status/api/v1"

SEED_USERS = [
    {"id": "admin", "display_name": "admin", "groups": ["admin"]},
    {"id": "alice", "display_name": "Alice Test", "groups": ["team-a"]},
    {"id": "bob", "display_name": "Bob Test", "groups": ["team-a"]},
    {"id": "carol", "display_name": "Carol Test", "groups": ["team-a"]},
    {"id": "dave", "display_name": "Dave Test"},
]


@dataclass
class Emulator:
    """A running emulator with one HTTP client kept open for the whole module."""

    base_url: str
    state: EmulatorState
    http: httpx.Client


class NextcloudCalls:
    """Thin helpers for OCS and control calls against one emulator."""

    def __init__(self, server: EmulatorServer, client: httpx.Client) -> None:
        self.server = server
        self.client = client
        self.state = server.state

    def ocs(
        self, method: str, path: str, *, user: str | None = "alice", version: int = 2, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Call ``/ocs/v{version}.php{path}`` as ``user`` with their app password."""
        auth = (user, f"{user}-app") if user is not None else None
        return self.client.request(
            method, f"/ocs/v{version}.php{path}", auth=auth, headers=OCS_HEADERS if headers is None else headers, **kwargs
        )

    def status(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call a user_status route (``path`` after ``/apps/user_status/api/v1``)."""
        return self.ocs(method, USER_STATUS + path, **kwargs)

    def data(self, response: httpx.Response) -> Any:
        return response.json()["ocs"]["data"]

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self.client.request(method, "/_emulator" + path, json=body)
        assert response.status_code < 400, response.text
        return response.json()

    def set_clock(self, now: int) -> None:
        self.control("PUT", "/clock", {"now": now, "frozen": True})


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with start_emulator(control=True) as server:
        yield server


@pytest.fixture(scope="module")
def server(emulator: EmulatorServer) -> Iterator[Emulator]:
    with httpx.Client() as http:
        yield Emulator(emulator.base_url, emulator.state, http)


@pytest.fixture
def nc(emulator: EmulatorServer) -> Iterator[NextcloudCalls]:
    # Cookie-less, so that each call authenticates only by the credentials it
    # sends and never by an earlier call's session cookie.
    no_cookies = http.cookiejar.CookieJar(policy=RejectAllCookies())
    with httpx.Client(base_url=emulator.base_url, timeout=30.0, cookies=no_cookies) as client:
        calls = NextcloudCalls(emulator, client)
        calls.control("POST", "/reset")
        users = [{**user, "app_password": f"{user['id']}-app", "password": f"{user['id']}-login"} for user in SEED_USERS]
        calls.control("POST", "/users", users)
        calls.set_clock(T0)
        yield calls
