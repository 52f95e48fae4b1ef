"""The bot's messages and rooms: sending with bounded 429 retries, and direct-message rooms.

The bot's nio client is built with ``max_limit_exceeded=0``, so a 429 comes back
as an error response instead of nio sleeping and retrying forever.  :func:`send`
retries a rejected message a few times, waiting what the homeserver asked for
(capped), inside the task that handles that one command, so other users' replies
are not held up.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from nio import AsyncClient, JoinedMembersResponse, JoinedRoomsResponse, RoomCreateResponse, RoomGetStateResponse, RoomSendResponse

from presence_bridge.storage import Store

logger = logging.getLogger(__name__)

SEND_ATTEMPTS = 4
MAX_RETRY_WAIT = 30.0
"""Seconds a send waits at most after one 429 before the next attempt."""
DEFAULT_RETRY_WAIT = 5.0
"""Seconds to wait after a 429 without ``retry_after_ms``, as nio does."""
RATE_LIMITED = "M_LIMIT_EXCEEDED"
DM_KEY_PREFIX = "matrix.dm_room:"
"""Store key prefix of the direct-message room the bot opened with a user."""


def retry_wait(response: Any) -> float:
    """Return the seconds to wait after a 429 error response, capped at MAX_RETRY_WAIT."""
    milliseconds = getattr(response, "retry_after_ms", None)
    wait = milliseconds / 1000 if isinstance(milliseconds, int | float) and milliseconds > 0 else DEFAULT_RETRY_WAIT
    return min(wait, MAX_RETRY_WAIT)


async def send(client: AsyncClient, room_id: str, content: dict[str, Any]) -> bool:
    """Send one ``m.room.message``; return False when every attempt failed (the failure is logged).

    All attempts reuse one transaction id, so a retry after a lost response is not posted twice.
    """
    txn_id = uuid.uuid4().hex
    for attempt in range(1, SEND_ATTEMPTS + 1):
        response = await client.room_send(room_id, "m.room.message", content, tx_id=txn_id)
        if isinstance(response, RoomSendResponse):
            return True
        if getattr(response, "status_code", None) != RATE_LIMITED or attempt == SEND_ATTEMPTS:
            logger.warning("Sending a message to %s failed (attempt %d): %s", room_id, attempt, response)
            return False
        wait = retry_wait(response)
        logger.info("Sending to %s was rate-limited; retrying in %.1f s", room_id, wait)
        await asyncio.sleep(wait)
    return False


async def joined_members(client: AsyncClient, room_id: str) -> set[str]:
    """Return the joined members of ``room_id`` as the homeserver lists them; empty when it fails."""
    response = await client.joined_members(room_id)
    if not isinstance(response, JoinedMembersResponse):
        logger.warning("Listing the members of %s failed: %s", room_id, response)
        return set()
    return {member.user_id for member in response.members}


async def joined_or_invited(client: AsyncClient, room_id: str) -> set[str] | None:
    """Return the users joined to or invited into ``room_id``; None when the room state cannot be read."""
    response = await client.room_get_state(room_id)
    if not isinstance(response, RoomGetStateResponse):
        logger.warning("Reading the state of %s failed: %s", room_id, response)
        return None
    return {
        event["state_key"]
        for event in response.events
        if event.get("type") == "m.room.member" and event.get("content", {}).get("membership") in ("join", "invite")
    }


async def is_direct_room(client: AsyncClient, room_id: str, user_id: str) -> bool:
    """Tell whether ``room_id`` is a room of only the bot and ``user_id``, counting invited users too."""
    return await joined_or_invited(client, room_id) == {client.user_id, user_id}


async def joined_rooms(client: AsyncClient) -> list[str]:
    """Return the rooms the bot has joined; empty when the request fails."""
    response = await client.joined_rooms()
    if not isinstance(response, JoinedRoomsResponse):
        logger.warning("Listing the bot's rooms failed: %s", response)
        return []
    return list(response.rooms)


async def direct_room(client: AsyncClient, store: Store, user_id: str) -> str | None:
    """Return a room of only the bot and ``user_id``: a known one, or a new one the user is invited to.

    A room the bot created is remembered in the store, because until the user joins
    it the bot is its only member.  Returns None when the room could not be created
    (the error is logged).
    """
    key = DM_KEY_PREFIX + user_id
    remembered = await store.get_value(key)
    if remembered and await joined_members(client, remembered) in ({client.user_id}, {client.user_id, user_id}):
        return remembered
    for room_id in await joined_rooms(client):
        if await is_direct_room(client, room_id, user_id):
            await store.set_value(key, room_id)
            return room_id
    response = await client.room_create(is_direct=True, invite=[user_id], name="Nextcloud status")
    if not isinstance(response, RoomCreateResponse):
        logger.warning("Creating a direct-message room with %s failed: %s", user_id, response)
        return None
    await store.set_value(key, response.room_id)
    logger.info("Opened direct-message room %s with %s", response.room_id, user_id)
    return str(response.room_id)
