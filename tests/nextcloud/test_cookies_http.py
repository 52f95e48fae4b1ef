"""Session cookies over real HTTP: kept per credential, never sent with another user's credential.

A small local server plays Nextcloud's part here: on a request without a
session cookie it starts a session for the Basic-auth user and sets its cookie,
as Nextcloud does, and it records every request's user and Cookie header, so a
test can see exactly which cookie travelled with which credential.  The same
rules are checked against the emulator in ``test_cookies_emulator.py``.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from presence_bridge.nextcloud import Credential, NextcloudClient, make_http_client
from tests.helpers.threaded_server import ThreadedServer
from tests.nextcloud.fakes import API, private_status


class SessionServer:
    """Records ``(basic user, Cookie header)`` per request and hands out one session per user."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        self.sessions: dict[str, str] = {}
        self._counter = itertools.count(1)

    async def own_status(self, request: Request) -> JSONResponse:
        encoded = request.headers["authorization"].split(" ", 1)[1]
        user = base64.b64decode(encoded).decode().split(":", 1)[0]
        cookie = request.headers.get("cookie")
        self.seen.append((user, cookie))
        response = JSONResponse(
            {"ocs": {"meta": {"status": "ok", "statuscode": 200, "message": "OK"}, "data": private_status(user)}}
        )
        if cookie is None:
            session = f"{user}-{next(self._counter)}"
            self.sessions[user] = session
            response.set_cookie("oc_session", session, path="/", httponly=True, samesite="lax")
            response.set_cookie("nc_sameSiteCookielax", "true", path="/", samesite="lax")
        return response


@pytest.fixture(scope="module")
def session_server() -> Iterator[tuple[SessionServer, str]]:
    recorder = SessionServer()
    app = Starlette(routes=[Route(f"{API}/user_status", recorder.own_status, methods=["GET"])])
    server = ThreadedServer(app, "session server", startup_timeout=10)
    yield recorder, server.url
    server.stop()


async def test_cookies_kept_apart_over_http(session_server: tuple[SessionServer, str]) -> None:
    """Concurrent users on one connection pool each send only their own session cookie."""
    recorder, base_url = session_server
    recorder.seen.clear()
    async with make_http_client(base_url=base_url) as http:
        clients = {user: NextcloudClient(http, Credential(user, f"{user}-pw")) for user in ("alice", "bob", "carol")}
        for _ in range(4):
            await asyncio.gather(*(client.get_own_status() for client in clients.values()))
        assert len(http.cookies) == 0

    assert len(recorder.seen) == 12
    for user, cookie in recorder.seen:
        if cookie is None:
            continue
        assert f"oc_session={recorder.sessions[user]}" in cookie, (user, cookie)
        for other in clients:
            if other != user:
                assert f"oc_session={other}-" not in cookie, (user, cookie)
    with_cookie = [user for user, cookie in recorder.seen if cookie is not None]
    assert sorted(with_cookie) == sorted(["alice", "bob", "carol"] * 3)
    assert len(recorder.sessions) == 3
