"""Client-side helpers for the Matrix tests: rooms, extra devices, syncing and presence reads.

Each acts with a user's own access token, as that user's Matrix client would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.matrix.synapse_harness import WAIT_TIMEOUT, MatrixUser


async def share_room(base_url: str, owner: MatrixUser, *members: MatrixUser) -> str:
    """Create a private room of ``owner`` that ``members`` join, so they see each other's presence."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        created = await http.post(
            "/_matrix/client/v3/createRoom",
            json={"preset": "private_chat", "invite": [member.user_id for member in members]},
            headers=_bearer(owner.access_token),
        )
        created.raise_for_status()
        room_id = str(created.json()["room_id"])
        for member in members:
            joined = await http.post(f"/_matrix/client/v3/join/{room_id}", json={}, headers=_bearer(member.access_token))
            joined.raise_for_status()
    return room_id


async def login_device(base_url: str, user: MatrixUser, device_name: str) -> MatrixUser:
    """Log ``user`` in again, which creates a second device with its own token."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        response = await http.post(
            "/_matrix/client/v3/login",
            json={
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": user.user_id},
                "password": user.password,
                "initial_device_display_name": device_name,
            },
        )
        response.raise_for_status()
        data = response.json()
    return MatrixUser(user.user_id, user.password, data["access_token"], data["device_id"])


async def get_presence_as(base_url: str, observer: MatrixUser, user_id: str) -> dict[str, Any]:
    """Return ``user_id``'s presence as ``observer`` reads it with their own token."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        response = await http.get(
            f"/_matrix/client/v3/presence/{user_id}/status", headers=_bearer(observer.access_token)
        )
        response.raise_for_status()
        return dict(response.json())


async def wait_for_presence(
    base_url: str, observer: MatrixUser, user_id: str, matches: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Poll ``user_id``'s presence as ``observer`` until it ``matches``; fail after WAIT_TIMEOUT."""
    deadline = time.monotonic() + WAIT_TIMEOUT
    presence: dict[str, Any] = {}
    while time.monotonic() < deadline:
        presence = await get_presence_as(base_url, observer, user_id)
        if matches(presence):
            return presence
        await asyncio.sleep(0.1)
    raise AssertionError(f"presence of {user_id} never matched; last seen: {presence}")


class SyncingDevice:
    """A client device that long-polls ``/sync`` with ``set_presence=online``, like Element does."""

    def __init__(self, base_url: str, device: MatrixUser) -> None:
        self._base_url = base_url
        self._device = device
        self.sync_count = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        since: str | None = None
        async with httpx.AsyncClient(base_url=self._base_url, timeout=30) as http:
            while True:
                params = {"timeout": "500", "set_presence": "online"}
                if since:
                    params["since"] = since
                response = await http.get(
                    "/_matrix/client/v3/sync", params=params, headers=_bearer(self._device.access_token)
                )
                response.raise_for_status()
                since = response.json()["next_batch"]
                self.sync_count += 1

    async def wait_for_syncs(self, count: int) -> None:
        """Wait until ``count`` more syncs have completed; fail after WAIT_TIMEOUT."""
        target = self.sync_count + count
        deadline = time.monotonic() + WAIT_TIMEOUT
        while self.sync_count < target:
            if self._task is not None and self._task.done():
                self._task.result()
            if time.monotonic() > deadline:
                raise AssertionError(f"the device synced {self.sync_count} times, expected {target}")
            await asyncio.sleep(0.05)

    async def __aenter__(self) -> SyncingDevice:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._task is not None
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
