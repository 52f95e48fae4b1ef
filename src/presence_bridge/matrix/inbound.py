"""Matrix presence → Nextcloud: updates from transactions or the bot's sync, into the engine's gateway.

:class:`PresenceInbound` is the presence handler of both sources.  For each update it

1. drops the bot's own presence and the bridge's own writes coming back
   (:class:`~presence_bridge.matrix.echo.EchoFilter`), and ignores a status
   message that is the bridge's own recent write even where the state differs;
2. remembers the presence as the user's last known one, and stops there for a
   backlog update (a state from before the bridge was listening);
3. maps the change with :func:`~presence_bridge.core.mapping_matrix.matrix_to_nextcloud`
   (online → heartbeat online, unavailable → heartbeat away, busy → ``dnd``, a new
   ``status_msg`` → custom message, ``offline`` → nothing) and hands each write to
   the gateway, whose planner applies the user's sync direction and debounces
   flapping.

Users who are not linked are ignored by the gateway.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Protocol

from presence_bridge.core.ids import ChatIdentity, Platform
from presence_bridge.core.mapping_common import (
    ClearMessage,
    Heartbeat,
    MappingOptions,
    NextcloudWrite,
    PredefinedLookup,
    SetCustom,
    SetPredefined,
    SetStatus,
)
from presence_bridge.core.mapping_matrix import matrix_to_nextcloud
from presence_bridge.core.status import MatrixPresence, NextcloudStatusType
from presence_bridge.core.sync_state import StatusChange, StatusMessage
from presence_bridge.matrix.echo import DEFAULT_ECHO_WINDOW_SECONDS, EchoFilter
from presence_bridge.matrix.presence_events import PresenceUpdate
from presence_bridge.matrix.settings import server_of

logger = logging.getLogger(__name__)


class PresenceGateway(Protocol):
    """The part of :class:`~presence_bridge.sync.gateway.Gateway` that takes chat activity and status."""

    async def handle_presence(self, identity: ChatIdentity, status: NextcloudStatusType, event_time: float) -> None: ...

    async def handle_chat_status(self, identity: ChatIdentity, change: StatusChange, event_time: float) -> None: ...


def status_change(write: NextcloudWrite) -> StatusChange | None:
    """Return the gateway's status change for a mapped write; None for heartbeats and no-writes."""
    if isinstance(write, SetStatus):
        return StatusChange(status_type=write.status)
    if isinstance(write, SetCustom):
        return StatusChange(message=StatusMessage(message=write.message, icon=write.icon, clear_at=write.clear_at))
    if isinstance(write, SetPredefined):
        return StatusChange(message=StatusMessage(message_id=write.message_id, clear_at=write.clear_at))
    if isinstance(write, ClearMessage):
        return StatusChange(message=StatusMessage())
    return None


class PresenceInbound:
    """The presence handler of the transaction endpoint and the bot; see the module docstring."""

    def __init__(
        self,
        gateway: PresenceGateway,
        echo_filter: EchoFilter,
        *,
        bot_user_id: str,
        options: MappingOptions | None = None,
        predefined: PredefinedLookup | None = None,
    ) -> None:
        self._gateway = gateway
        self._echo_filter = echo_filter
        self._bot_user_id = bot_user_id
        self._options = options or MappingOptions()
        self._predefined = predefined or {}
        self._previous: dict[str, MatrixPresence] = {}
        self.mirrored = 0
        """Updates handed to the gateway since the start."""

    async def __call__(self, updates: Sequence[PresenceUpdate]) -> None:
        for update in updates:
            await self.handle(update)

    async def handle(self, update: PresenceUpdate) -> None:
        user_id = update.user_id
        if user_id == self._bot_user_id:
            return
        previous = self._previous.get(user_id)
        self._previous[user_id] = update.presence
        if self._echo_filter.observe(update):
            logger.debug("Dropped the echo of the bridge's own write for %s", user_id)
            return
        if update.backlog:
            return
        previous = self._without_bridge_message(update, previous)
        writes = matrix_to_nextcloud(update.presence, previous, predefined=self._predefined, options=self._options)
        identity = ChatIdentity(Platform.MATRIX, server_of(user_id), user_id)
        event_time = update.received_at
        for write in writes:
            if isinstance(write, Heartbeat):
                await self._gateway.handle_presence(identity, write.status, event_time)
            elif (change := status_change(write)) is not None:
                await self._gateway.handle_chat_status(identity, change, event_time)
            else:
                continue
            self.mirrored += 1

    def _without_bridge_message(self, update: PresenceUpdate, previous: MatrixPresence | None) -> MatrixPresence | None:
        """Return ``previous`` with the update's message when that message is the bridge's own recent write.

        A user whose own client is present shows that client's state with the
        bridge's message, so the update is no exact echo.  Its message is still not
        the user's, and mapping it would copy Nextcloud's message back or clear it.
        """
        written = self._echo_filter.last_written(update.user_id)
        if written is None or update.received_at - written.at > DEFAULT_ECHO_WINDOW_SECONDS:
            return previous
        if (update.presence.status_msg or None) != (written.presence.status_msg or None):
            return previous
        if previous is None:
            return MatrixPresence(update.presence.presence, update.presence.status_msg)
        return dataclasses.replace(previous, status_msg=update.presence.status_msg)
