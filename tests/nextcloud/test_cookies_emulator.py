"""The client's session cookies against the Nextcloud emulator over HTTP.

The emulator starts a PHP session per request that arrives without a valid
session cookie and counts them per user, as ``GET /_emulator/sessions`` shows.
A client that keeps its own cookie jar therefore makes one session per user.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from presence_bridge import errors
from presence_bridge.emulator.sessions import SESSION_COOKIE
from presence_bridge.nextcloud import NextcloudClient
from tests.nextcloud.conftest import USERS, Emulator

ClientFor = Callable[..., NextcloudClient]


def sessions(emulator: Emulator) -> dict[str, Any]:
    summary: dict[str, Any] = emulator.call("GET", "/sessions")
    return summary


def replace_app_password(emulator: Emulator, user_id: str, app_password: str) -> None:
    """Store ``user_id`` again with only ``app_password``; sessions stay as they are."""
    user = next(user for user in USERS if user["id"] == user_id)
    emulator.call("POST", "/users", {**user, "app_password": app_password})


async def test_sequential_requests_share_one_session(emulator: Emulator, client_for: ClientFor) -> None:
    alice = client_for("alice")

    for _ in range(20):
        details = await alice.get_user(refresh=True)
        assert details.id == "alice"

    assert alice.requests_sent == 20
    assert sessions(emulator)["created"] == {"alice": 1}
    assert sessions(emulator)["active"] == 1


async def test_concurrent_users_keep_own_sessions(
    emulator: Emulator, http: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """Alice and Bob on one connection pool each get one session and always act as themselves."""
    clients = {user: client_for(user) for user in ("alice", "bob")}

    async def set_and_check(user: str, status: str) -> None:
        result = await clients[user].set_status(status)
        assert result.user_id == user, f"a request of {user} acted as {result.user_id}"

    # The first round starts each user's session.  Concurrent first requests of
    # one user would each start a session, as on a real server.
    await asyncio.gather(set_and_check("alice", "online"), set_and_check("bob", "online"))
    rounds = [set_and_check(user, status) for status in ("away", "dnd", "online") * 5 for user in clients]
    await asyncio.gather(*rounds)

    assert sessions(emulator)["created"] == {"alice": 1, "bob": 1}
    assert sessions(emulator)["active"] == 2
    assert len(http.cookies) == 0
    assert clients["alice"].cookies.get(SESSION_COOKIE) != clients["bob"].cookies.get(SESSION_COOKIE)


async def test_fresh_jar_after_401(emulator: Emulator, client_for: ClientFor) -> None:
    alice = client_for("alice")
    await alice.get_user(refresh=True)
    assert alice.cookies.get(SESSION_COOKIE) is not None

    replace_app_password(emulator, "alice", "another-app-password")
    with pytest.raises(errors.NextcloudUnauthorized):
        await alice.get_user(refresh=True)
    assert len(alice.cookies) == 0

    replace_app_password(emulator, "alice", "alice-app")
    alice.reset_credential()
    details = await alice.get_user(refresh=True)

    assert details.id == "alice"
    assert sessions(emulator)["created"] == {"alice": 2}
