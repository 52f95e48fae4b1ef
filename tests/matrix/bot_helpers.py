"""A Matrix user talking to the bridge's bot with their own token: rooms, messages and replies."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

import httpx

from tests.matrix.bridge_harness import wait_until
from tests.matrix.synapse_harness import MatrixUser

CLIENT = "/_matrix/client/v3"


class Chat:
    """Requests made as one Matrix user."""

    def __init__(self, base_url: str, user: MatrixUser) -> None:
        self.base_url = base_url
        self.user = user

    async def request(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30) as http:
            response = await http.request(
                method, CLIENT + path, json=body, params=params, headers={"Authorization": f"Bearer {self.user.access_token}"}
            )
        response.raise_for_status()
        return response.json()

    async def open_room(self, *invite: str, direct: bool = True) -> str:
        body = {"preset": "private_chat", "invite": list(invite), "is_direct": direct}
        return str((await self.request("POST", "/createRoom", body))["room_id"])

    async def invite(self, room_id: str, user_id: str) -> None:
        await self.request("POST", f"/rooms/{quote(room_id)}/invite", {"user_id": user_id})

    async def join(self, room_id: str) -> None:
        await self.request("POST", f"/join/{quote(room_id)}", {})

    async def members(self, room_id: str) -> set[str]:
        data = await self.request("GET", f"/rooms/{quote(room_id)}/joined_members")
        return set(data["joined"])

    async def wait_for_member(self, room_id: str, user_id: str) -> None:
        async def joined() -> bool:
            return user_id in await self.members(room_id)

        await wait_until(joined, f"{user_id} to join {room_id}")

    async def say(self, room_id: str, text: str) -> None:
        content = {"msgtype": "m.text", "body": text}
        await self.request("PUT", f"/rooms/{quote(room_id)}/send/m.room.message/{secrets.token_hex(8)}", content)

    async def messages_from(self, room_id: str, sender: str) -> list[dict[str, Any]]:
        """Return the message contents ``sender`` posted in the room, oldest first."""
        data = await self.request("GET", f"/rooms/{quote(room_id)}/messages", params={"dir": "b", "limit": "100"})
        events = [event for event in data["chunk"] if event["type"] == "m.room.message" and event["sender"] == sender]
        return [event["content"] for event in reversed(events)]

    async def wait_for_replies(self, room_id: str, sender: str, count: int) -> list[dict[str, Any]]:
        """Wait until ``sender`` posted at least ``count`` messages in the room; return them all."""

        async def enough() -> list[dict[str, Any]] | None:
            messages = await self.messages_from(room_id, sender)
            return messages if len(messages) >= count else None

        return list(await wait_until(enough, f"{count} messages from {sender} in {room_id}"))

    async def set_presence(self, presence: str, status_msg: str | None = None) -> None:
        body: dict[str, str] = {"presence": presence}
        if status_msg:
            body["status_msg"] = status_msg
        await self.request("PUT", f"/presence/{quote(self.user.user_id)}/status", body)

    async def direct_rooms_with(self, user_id: str) -> list[str]:
        """Return the rooms this user is invited to or joined together with only ``user_id``."""
        joined = (await self.request("GET", "/joined_rooms"))["joined_rooms"]
        rooms = []
        for room_id in joined:
            if await self.members(room_id) == {self.user.user_id, user_id}:
                rooms.append(room_id)
        return rooms
