"""Helpers for client tests over ``httpx.MockTransport``: OCS responses and a request recorder."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx

from presence_bridge.nextcloud import Credential, NextcloudClient, RetryPolicy, make_http_client

BASE_URL = "https://cloud.example.test"
API = "/ocs/v2.php/apps/user_status/api/v1"


def ocs(data: Any, status: int = 200, message: str = "OK", headers: dict[str, str] | None = None) -> httpx.Response:
    meta = {"status": "ok" if status < 300 else "failure", "statuscode": status, "message": message}
    return httpx.Response(status, json={"ocs": {"meta": meta, "data": data}}, headers=headers)


def private_status(user_id: str = "alice", status: str = "online", **fields: Any) -> dict[str, Any]:
    row = {
        "userId": user_id,
        "message": None,
        "messageId": None,
        "messageIsPredefined": False,
        "icon": None,
        "clearAt": None,
        "status": status,
        "statusIsUserDefined": True,
    }
    row.update(fields)
    return row


def public_status(user_id: str, status: str = "online", **fields: Any) -> dict[str, Any]:
    row = {"userId": user_id, "message": None, "icon": None, "clearAt": None, "status": status}
    row.update(fields)
    return row


def capabilities(major: int = 31, **user_status: Any) -> dict[str, Any]:
    flags = {"enabled": True, "restore": True, "supports_emoji": True}
    flags.update(user_status)
    return {
        "version": {"major": major, "minor": 0, "micro": 6, "string": f"{major}.0.6"},
        "capabilities": {"user_status": flags},
    }


def basic_user(request: httpx.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    return base64.b64decode(header[6:]).decode().split(":", 1)[0]


def request_json(request: httpx.Request) -> Any:
    return json.loads(request.content) if request.content else None


class Recorder:
    """A MockTransport handler that records every request and returns what ``respond`` builds."""

    def __init__(self, respond: Callable[[httpx.Request], httpx.Response]) -> None:
        self.respond = respond
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.respond(request)


class SleepRecorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def make_client(
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    login: str = "alice",
    http: httpx.AsyncClient | None = None,
    retry: RetryPolicy | None = None,
    sleep: SleepRecorder | None = None,
    now: float = 1_800_000_000.0,
    **kwargs: Any,
) -> NextcloudClient:
    http = http or make_http_client(base_url=BASE_URL, transport=httpx.MockTransport(handler))
    return NextcloudClient(
        http,
        Credential(login, f"{login}-app-password"),
        retry=retry or RetryPolicy(attempts=3, base_delay=0.5, max_delay=8.0),
        sleep=sleep or SleepRecorder(),
        clock=lambda: now,
        **kwargs,
    )
