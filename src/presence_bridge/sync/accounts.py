"""``link`` and ``unlink`` from chat, handled by the linking service.

:class:`LinkingCommands` implements :class:`~presence_bridge.sync.gateway.AccountCommands`
over :class:`~presence_bridge.linking.service.LinkingService`.  ``link`` replies with
the Login Flow URL as a private reply and, once the user granted access, sends them
a confirmation through the chat platform's ``notify``.
"""

from __future__ import annotations

import asyncio
import logging

from presence_bridge.core.ids import ChatIdentity
from presence_bridge.errors import BridgeError
from presence_bridge.linking.pending import PendingLink
from presence_bridge.linking.service import LinkingService
from presence_bridge.sync.platform import Conversation, PlatformRegistry, Reply

logger = logging.getLogger(__name__)


class LinkingCommands:
    """The gateway's ``link`` and ``unlink`` over the linking service."""

    def __init__(self, service: LinkingService, platforms: PlatformRegistry) -> None:
        self._service = service
        self._platforms = platforms
        self._waiters: set[asyncio.Task[None]] = set()

    async def link(self, conversation: Conversation, *, prefix: str = "") -> Reply:
        """Start a Login Flow and reply privately with its URL; ``prefix`` is the platform's command word."""
        identity = _identity(conversation)
        try:
            pending = await self._service.start(identity)
        except (BridgeError, ValueError) as error:
            logger.warning("Starting a login flow for %s failed: %s", identity, error)
            return Reply(f"Linking failed to start: {error}", ok=False)
        waiter = asyncio.create_task(self._confirm(conversation, pending, prefix))
        self._waiters.add(waiter)
        waiter.add_done_callback(self._waiters.discard)
        expires = pending.expires_at.strftime("%H:%M UTC")
        text = (
            f"Open this link to connect your Nextcloud account, before {expires}: {pending.login_url}\n"
            "Log in there and grant access; the bridge then acts with its own app password."
        )
        return Reply(text, private=True)

    async def unlink(self, conversation: Conversation) -> Reply:
        """Forget the link and its data, revoke the app password in Nextcloud, and say whether that worked."""
        result = await self._service.unlink(_identity(conversation))
        if result.forgotten is None:
            return Reply("Your chat account was not linked to Nextcloud.")
        user = result.forgotten.link.nextcloud_user_id
        text = f"Unlinked from Nextcloud user {user} and deleted the bridge's data about you."
        if result.app_password_revoked:
            text += (
                " The bridge also revoked the app password it used in Nextcloud; "
                "your other devices keep their own app passwords."
            )
        elif result.revoke_problem:
            text += (
                f" The app password the bridge used was {result.revoke_problem}; "
                "remove it in Nextcloud under Settings > Security if nothing else uses it."
            )
        return Reply(text)

    async def _confirm(self, conversation: Conversation, pending: PendingLink, prefix: str) -> None:
        platform = self._platforms.get(conversation.platform)
        try:
            link = await pending.wait()
        except (BridgeError, OSError) as error:
            reply = Reply(f"Linking did not complete: {error}. Send {prefix}link to try again.", ok=False)
        else:
            reply = Reply(f"Linked to Nextcloud user {link.nextcloud_user_id}.")
        if platform is None:
            logger.warning("No %s platform to tell %s the link result", conversation.platform, conversation.chat_user_id)
            return
        await platform.notify(conversation.workspace, conversation.chat_user_id, reply)


def _identity(conversation: Conversation) -> ChatIdentity:
    return ChatIdentity(conversation.platform, conversation.workspace, conversation.chat_user_id)
