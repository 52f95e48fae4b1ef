"""The bot's own ``/sync`` loop, for a bridge without an appservice registration.

:class:`SyncLoop` long-polls with the bot user's access token and hands the room
events to :class:`~presence_bridge.matrix.bot.MatrixBot` and the ``m.presence``
events to the presence handler.  The homeserver sends the bot only the presence of users it shares a room with.

- The ``next_batch`` token is stored in the bridge's store before the events of a
  sync are handled, so a restart continues after the last handled sync instead of
  replaying old commands.  With no stored token (the first start), the first sync's
  timeline is ignored: it holds up to ten old messages per room.  Its invites are
  still answered.
- Every sync passes ``set_presence="offline"``, which leaves the bot's presence alone.
- The nio client returns a 429 as an error (``max_limit_exceeded=0``), and the loop
  then waits what the homeserver asked for before its next sync.

NOTE: every replica of ``run`` with the same plain bot token syncs and replies, so
run one replica in this mode; the appservice mode has no such limit because the
homeserver pushes each transaction to one URL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from nio import SyncResponse

from presence_bridge.matrix.bot import MatrixBot
from presence_bridge.matrix.presence_events import PresenceUpdate, presence_from_content
from presence_bridge.matrix.rooms import RATE_LIMITED, retry_wait
from presence_bridge.storage import Store

logger = logging.getLogger(__name__)

SYNC_TOKEN_KEY = "matrix.bot.sync_token"
"""Store key of the ``next_batch`` token of the bot's last handled sync."""
DEFAULT_SYNC_TIMEOUT_MS = 30_000
ERROR_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Seconds to wait after consecutive failed syncs; the last value repeats."""

PresenceHandler = Callable[[Sequence[PresenceUpdate]], Awaitable[None]]


class SyncLoop:
    """Syncs as the bot user until :meth:`stop`; see the module docstring."""

    def __init__(
        self,
        bot: MatrixBot,
        store: Store,
        on_presence: PresenceHandler,
        *,
        sync_timeout_ms: int = DEFAULT_SYNC_TIMEOUT_MS,
        clock: Callable[[], float],
    ) -> None:
        self.bot = bot
        self._store = store
        self._on_presence = on_presence
        self._sync_timeout_ms = sync_timeout_ms
        self._clock = clock
        self._stop = asyncio.Event()
        self.synced = asyncio.Event()
        """Set once the first sync of this process was handled."""

    def stop(self) -> None:
        self._stop.set()
        self.bot.stop()

    async def run(self) -> None:
        bot = asyncio.create_task(self.bot.run(), name="matrix bot")
        try:
            await self._loop()
        finally:
            self.bot.stop()
            await bot

    async def _loop(self) -> None:
        client = self.bot.client
        token = await self._store.get_value(SYNC_TOKEN_KEY)
        first = True
        failures = 0
        while not self._stop.is_set():
            timeout = 0 if first else self._sync_timeout_ms
            sync = asyncio.ensure_future(client.sync(timeout=timeout, since=token, set_presence="offline"))
            stopped = asyncio.ensure_future(self._stop.wait())
            await asyncio.wait([sync, stopped], return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not sync.done():
                sync.cancel()
                return
            response = sync.result()
            if not isinstance(response, SyncResponse):
                failures += 1
                await self._wait_after_error(response, failures)
                continue
            failures = 0
            replay = token is None
            token = response.next_batch
            await self._store.set_value(SYNC_TOKEN_KEY, token)
            await self._handle(response, skip_timeline=replay, backlog=first)
            if first:
                logger.info("The Matrix bot %s is syncing", self.bot.user_id)
                first = False
                self.synced.set()

    async def _wait_after_error(self, response: Any, failures: int) -> None:
        if getattr(response, "status_code", None) == RATE_LIMITED:
            wait = retry_wait(response)
            logger.warning("The bot's sync was rate-limited; waiting %.1f s", wait)
        else:
            wait = ERROR_BACKOFF[min(failures, len(ERROR_BACKOFF)) - 1]
            logger.warning("The bot's sync failed (%d in a row): %s; retrying in %.0f s", failures, response, wait)
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=wait)
        except TimeoutError:
            pass

    async def _handle(self, response: SyncResponse, *, skip_timeline: bool, backlog: bool) -> None:
        for room_id, invite in response.rooms.invite.items():
            await self.bot.handle_events([event.source for event in invite.invite_state], room_id)
        if not skip_timeline:
            for room_id, room in response.rooms.join.items():
                await self.bot.handle_events([event.source for event in room.timeline.events], room_id)
        updates = self._presence_updates(response, backlog=backlog)
        if updates:
            try:
                await self._on_presence(updates)
            except Exception:
                logger.exception("Handling presence from the bot's sync failed; those updates are lost")

    def _presence_updates(self, response: SyncResponse, *, backlog: bool) -> list[PresenceUpdate]:
        now = self._clock()
        updates = []
        for event in response.presence_events:
            user_id = getattr(event, "user_id", None)
            if not isinstance(user_id, str) or user_id == self.bot.user_id:
                continue
            presence = presence_from_content({"presence": event.presence, "status_msg": event.status_msg})
            if presence is None:
                continue
            ago = event.last_active_ago
            updates.append(
                PresenceUpdate(
                    user_id=user_id,
                    presence=presence,
                    last_active_at=now - ago / 1000 if isinstance(ago, int) else None,
                    currently_active=event.currently_active,
                    received_at=now,
                    backlog=backlog,
                    txn_id=f"sync:{response.next_batch}",
                )
            )
        return updates
