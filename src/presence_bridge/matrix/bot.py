"""The Matrix bot: runs ``!status`` commands and joins the rooms allowed users invite it to.

:class:`MatrixBot` takes room events as the client-server API serves them (JSON
objects) from either source:

- with an appservice, from the transactions the homeserver pushes
  (:class:`~presence_bridge.matrix.transactions.TransactionEndpoint` ``on_events``).
  Synapse 1.163 does not let the appservice's own user ``/sync`` (it answers 500
  with ``NotImplementedError``), so transactions are the only way in, and the
  store-backed transaction log keeps a restart from handling one twice;
- without one, from the bot user's own ``/sync``
  (:class:`~presence_bridge.matrix.bot_sync.SyncLoop`).

It sends with a matrix-nio client that never syncs in appservice mode and is built
with ``max_limit_exceeded=0``, so a 429 comes back as an error instead of nio
retrying it forever.  Each command runs in its own task, so a slow or
rate-limited reply holds up no other user.  A message older than
``COMMAND_MAX_AGE`` (a command the homeserver kept while the bridge was down) is
ignored.  The bot never calls nio's
``set_presence``: nio re-sends that value on every later sync, and a stored
MSC3026 busy makes every sync fail with 400.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from nio import AsyncClient, AsyncClientConfig, JoinResponse

from presence_bridge.matrix.commands import CommandHandler
from presence_bridge.matrix.rooms import joined_members
from presence_bridge.matrix.settings import MatrixSettings

logger = logging.getLogger(__name__)

DEVICE_ID = "PRESENCEBRIDGE"
COMMAND_MAX_AGE = 600.0
"""Seconds after which a command is ignored: one sent while the bridge was down for longer is stale."""
STOP_WAIT = 10.0
"""Seconds :meth:`MatrixBot.run` waits for commands in progress after a stop."""


def make_client(homeserver_url: str, user_id: str, access_token: str, request_timeout: float = 60.0) -> AsyncClient:
    """Build a nio client that returns 429s and timeouts as errors instead of retrying forever."""
    config = AsyncClientConfig(max_limit_exceeded=0, max_timeouts=2, request_timeout=request_timeout)
    client = AsyncClient(homeserver_url, user_id, config=config)
    client.restore_login(user_id, DEVICE_ID, access_token)
    return client


class MatrixBot:
    """Handles the room events the bot receives; see the module docstring."""

    def __init__(
        self,
        client: AsyncClient,
        settings: MatrixSettings,
        commands: CommandHandler,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self._clock = clock
        self._settings = settings
        self._commands = commands
        self._tasks: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()

    @property
    def user_id(self) -> str:
        return str(self.client.user_id)

    async def handle_events(self, events: Sequence[object], room_id: str | None = None) -> None:
        """Start handling each invite of the bot and each text message; ``room_id`` fills in a missing one."""
        for event in events:
            if not isinstance(event, Mapping):
                continue
            event_room = event.get("room_id", room_id)
            sender = event.get("sender")
            content = event.get("content")
            if not isinstance(event_room, str) or not isinstance(sender, str) or not isinstance(content, Mapping):
                continue
            if sender == self.user_id:
                continue
            kind = event.get("type")
            if kind == "m.room.member" and event.get("state_key") == self.user_id and content.get("membership") == "invite":
                self._spawn(self._answer_invite(event_room, sender))
            elif kind == "m.room.message" and content.get("msgtype") == "m.text" and isinstance(content.get("body"), str):
                if self._is_stale(event):
                    logger.info("Ignored a message from %s in %s: sent more than %.0f s ago", sender, event_room, COMMAND_MAX_AGE)
                    continue
                self._spawn(self._commands.handle_message(event_room, sender, content["body"]))

    def _is_stale(self, event: Mapping[str, object]) -> bool:
        sent_at = event.get("origin_server_ts")
        if not isinstance(sent_at, int) or isinstance(sent_at, bool):
            return False
        return self._clock() - sent_at / 1000 > COMMAND_MAX_AGE

    async def _answer_invite(self, room_id: str, inviter: str) -> None:
        if not self._settings.is_allowed(inviter):
            await self.client.room_leave(room_id)
            logger.info("Declined the invite to %s from %s: not allowed to use the bridge", room_id, inviter)
            return
        result = await self.client.join(room_id)
        if isinstance(result, JoinResponse):
            logger.info("Joined %s on the invite of %s", room_id, inviter)
        else:
            logger.warning("Joining %s on the invite of %s failed: %s", room_id, inviter, result)

    async def room_members(self, room_id: str) -> list[str]:
        """Return the joined members of a room, without the bot; empty for a room the bot cannot see."""
        return sorted(await joined_members(self.client, room_id) - {self.user_id})

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("Handling a Matrix event failed", exc_info=task.exception())

    async def idle(self) -> None:
        """Wait until every event handed over so far is handled (for tests and a clean stop)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Wait for :meth:`stop`, then for the commands in progress, and close the client."""
        try:
            await self._stop.wait()
        finally:
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=STOP_WAIT)
            await self.client.close()
