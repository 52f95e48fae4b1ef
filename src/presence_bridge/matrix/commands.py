"""``!status`` commands from Matrix: permissions, the engine's gateway, and where the reply goes.

:class:`CommandHandler` takes one message the bot received.  Messages that do not
start with the command word (``!status``), or that come from a room the bot has
not joined, are ignored.  Then:

- A sender not allowed by ``[matrix]`` (``allowed_servers``, ``allowed_users``,
  ``admins``) gets one polite refusal, the first time only.  The rejected user ids
  are kept in the store, so a restart does not send the refusal again.
- ``!status health`` from an admin is answered here: link health, queued writes and
  the members of the bot's rooms who are not linked.  From anyone else it goes to
  the gateway like every other command.
- Everything else goes to :meth:`Gateway.handle_command
  <presence_bridge.sync.gateway.Gateway.handle_command>`.  A private reply (the
  ``link`` login URL) is sent in a direct-message room with the sender, never in a
  shared room; the shared room only gets a pointer to it.

Commands of one sender run one at a time, in the order received.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Protocol

from nio import AsyncClient

from presence_bridge.core.ids import Platform
from presence_bridge.matrix.replies import reply_content, text_content
from presence_bridge.matrix.rooms import direct_room, is_direct_room, joined_members, send
from presence_bridge.matrix.settings import MatrixSettings, server_of
from presence_bridge.storage import Health, OutboxState, Store
from presence_bridge.sync.platform import Conversation, Reply

logger = logging.getLogger(__name__)

COMMAND_WORD = "!status"
REFUSED_KEY_PREFIX = "matrix.refused:"
"""Store key prefix marking a user who was already sent the refusal."""
REFUSAL = (
    "Sorry, this bridge only serves accounts its operator allowed, and {user} is not one of them. "
    "I will not answer further messages from this account."
)
PRIVATE_POINTER = "I sent you a direct message with the details."
PRIVATE_FAILED = "I could not open a direct message with you; invite me to one and send the command there."


class CommandGateway(Protocol):
    """The part of :class:`~presence_bridge.sync.gateway.Gateway` the bot calls."""

    async def handle_command(self, conversation: Conversation, text: str, *, prefix: str = "") -> Reply: ...


def command_text(body: str) -> str | None:
    """Return the text after the command word, or None when ``body`` is not a command."""
    stripped = body.strip()
    word, _, rest = stripped.partition(" ")
    if word.lower() != COMMAND_WORD:
        return None
    return rest.strip()


class CommandHandler:
    """Runs one received command; see the module docstring."""

    def __init__(
        self,
        client: AsyncClient,
        settings: MatrixSettings,
        store: Store,
        gateway: CommandGateway,
        *,
        members: Callable[[], Awaitable[set[str]]],
    ) -> None:
        self._client = client
        self._settings = settings
        self._store = store
        self._gateway = gateway
        self._members = members
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def handle_message(self, room_id: str, sender: str, body: str) -> None:
        """Run ``body`` from ``sender`` in ``room_id`` and send the reply, when it is a command."""
        text = command_text(body)
        if text is None:
            return
        # An appservice receives the messages of every room its users write in, so reply only where the bot is.
        if str(self._client.user_id) not in await joined_members(self._client, room_id):
            return
        async with self._locks[sender]:
            if not self._settings.is_allowed(sender):
                await self._refuse_once(room_id, sender)
                return
            if text.lower() == "health" and self._settings.is_admin(sender):
                await send(self._client, room_id, reply_content(await self.health_reply()))
                return
            conversation = Conversation(Platform.MATRIX, server_of(sender), sender, room_id)
            reply = await self._gateway.handle_command(conversation, text, prefix=COMMAND_WORD + " ")
            await self.deliver(room_id, sender, reply)

    async def deliver(self, room_id: str | None, user_id: str, reply: Reply) -> None:
        """Send ``reply`` to ``user_id``: in ``room_id``, or in a direct-message room when private or no room."""
        if room_id is not None and (not reply.private or await is_direct_room(self._client, room_id, user_id)):
            await send(self._client, room_id, reply_content(reply))
            return
        direct = await direct_room(self._client, self._store, user_id)
        if direct is None:
            if room_id is not None:
                await send(self._client, room_id, text_content(PRIVATE_FAILED))
            return
        await send(self._client, direct, reply_content(reply))
        if room_id is not None and room_id != direct:
            await send(self._client, room_id, text_content(PRIVATE_POINTER))

    async def _refuse_once(self, room_id: str, sender: str) -> None:
        key = REFUSED_KEY_PREFIX + sender
        if await self._store.get_value(key) is not None:
            logger.debug("Ignored a command from %s, who was already sent the refusal", sender)
            return
        await self._store.set_value(key, "1")
        logger.info("Refused %s: the [matrix] allowed_servers and allowed_users settings exclude it", sender)
        await send(self._client, room_id, text_content(REFUSAL.format(user=sender)))

    async def health_reply(self) -> Reply:
        """Return the admin's view: link health, queued writes and unlinked room members."""
        links = await self._store.list_links()
        unhealthy = [link for link in links if link.health is Health.UNHEALTHY]
        pending = await self._store.list_outbox(state=OutboxState.PENDING, limit=10_000)
        linked = {link.identity.user_id for link in links if link.identity.platform is Platform.MATRIX}
        unlinked = sorted(await self._members() - linked - {str(self._client.user_id)})
        lines = [
            f"Links: {len(links)}, healthy: {len(links) - len(unhealthy)}, unhealthy: {len(unhealthy)}.",
            f"Writes queued for chat: {len(pending)}.",
        ]
        lines += [f"Unhealthy: {link.identity} ({link.health_reason or 'no reason stored'})" for link in unhealthy]
        lines.append("Unlinked members of my rooms: " + (", ".join(unlinked) if unlinked else "none") + ".")
        text = "\n".join(lines)
        return Reply(text, formatted="*Bridge health*\n" + text)
