"""The Matrix chat platform: the engine's writes out, the bot and the appservice endpoint in.

:class:`MatrixPlatform` implements :class:`~presence_bridge.sync.platform.ChatPlatform`
for the outbox dispatcher (``apply`` through
:class:`~presence_bridge.matrix.presence_writer.MatrixPresenceWriter`, ``notify``
and ``channel_members`` through the bot), serves the appservice routes on the
``run`` process's HTTP server (it is an
:class:`~presence_bridge.service.http_app.HttpEndpoints`), and runs two loops in
:meth:`MatrixPlatform.run`: the bot (with its own sync when there is no
appservice) and the presence renewals.

Renewals follow :mod:`presence_bridge.matrix.presence_policy`: every
``renewal.tick`` seconds the users whose bridge-set presence is about to decay,
and whose own Matrix client is not present, are written again, at most
``max_per_round`` per tick.  A renewal that fails (a 429 included) is logged and
tried again at a later tick; it never delays the outbox.

Without an appservice (no ``as_token``) the bridge cannot set other users'
presence, so ``apply`` fails for good.  Presence still flows from Matrix to
Nextcloud through the bot's sync.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from starlette.routing import BaseRoute

from presence_bridge.core.ids import Platform
from presence_bridge.errors import MatrixError
from presence_bridge.matrix.appservice_client import AppserviceClient
from presence_bridge.matrix.bot import MatrixBot
from presence_bridge.matrix.bot_sync import SyncLoop
from presence_bridge.matrix.commands import CommandHandler
from presence_bridge.matrix.echo import EchoFilter
from presence_bridge.matrix.presence_policy import MirroredUser, RenewalSettings, plan_renewals
from presence_bridge.matrix.presence_writer import MatrixPresenceWriter
from presence_bridge.matrix.transactions import APPSERVICE_PREFIX, TransactionEndpoint
from presence_bridge.sync.platform import Applied, ApplyResult, ChatWrite, PermanentFailure, Reply

logger = logging.getLogger(__name__)

RENEWAL_TICK = 5.0
"""Seconds between two renewal rounds."""
NO_APPSERVICE = (
    "the bridge has no appservice registration ([matrix] as_token and hs_token), so it cannot "
    "set Matrix presence for users"
)


class MatrixPlatform:
    """The Matrix adapter of one process; see the module docstring."""

    def __init__(
        self,
        bot: MatrixBot,
        sync_loop: SyncLoop | None,
        commands: CommandHandler,
        echo_filter: EchoFilter,
        *,
        writer: MatrixPresenceWriter | None = None,
        appservice: AppserviceClient | None = None,
        endpoint: TransactionEndpoint | None = None,
        renewal: RenewalSettings | None = None,
        renewal_tick: float = RENEWAL_TICK,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bot = bot
        self.sync_loop = sync_loop
        self.commands = commands
        self.echo_filter = echo_filter
        self.writer = writer
        self._appservice = appservice
        self.endpoint = endpoint
        self.renewal = renewal or RenewalSettings()
        self._renewal_tick = renewal_tick
        self._clock = clock
        self._mirrored: set[str] = set()
        self._stop = asyncio.Event()
        self.renewed = 0
        """Renewal writes made since the start."""

    @property
    def platform(self) -> Platform:
        return Platform.MATRIX

    async def apply(self, write: ChatWrite) -> ApplyResult:
        """Set the user's presence and status message; a failure is a result."""
        if self.writer is None:
            return PermanentFailure(NO_APPSERVICE)
        result = await self.writer.apply(write)
        if isinstance(result, Applied):
            self._mirrored.add(write.chat_user_id)
        return result

    async def notify(self, workspace: str, chat_user_id: str, reply: Reply) -> None:
        """Send ``reply`` in a direct-message room with the user."""
        await self.commands.deliver(None, chat_user_id, reply)

    async def channel_members(self, workspace: str, channel_id: str) -> Sequence[str]:
        return await self.bot.room_members(channel_id)

    @property
    def http_prefix(self) -> str:
        return APPSERVICE_PREFIX

    def http_routes(self) -> Sequence[BaseRoute]:
        """Return the appservice routes, or none when the bridge runs as a plain bot user."""
        return self.endpoint.http_routes() if self.endpoint is not None else []

    async def run(self) -> None:
        """Run the bot (and its sync, without an appservice) and the renewals until :meth:`stop`."""
        renewals = asyncio.create_task(self._renew_loop(), name="matrix renewals")
        try:
            await (self.sync_loop.run() if self.sync_loop is not None else self.bot.run())
        finally:
            self._stop.set()
            await renewals
            if self._appservice is not None:
                await self._appservice.aclose()

    def stop(self) -> None:
        self._stop.set()
        if self.sync_loop is not None:
            self.sync_loop.stop()
        self.bot.stop()

    def mirrored_users(self) -> list[MirroredUser]:
        """Return what the bridge last wrote per user, for the renewal policy."""
        users = []
        for user_id in sorted(self._mirrored):
            written = self.echo_filter.last_written(user_id)
            if written is not None:
                present = self.echo_filter.own_client_present(user_id)
                users.append(MirroredUser(user_id, written.presence, written.at, written.presence.busy, present))
        return users

    async def renew_due(self) -> int:
        """Write again the presences that are due; return how many writes succeeded."""
        if self.writer is None:
            return 0
        due = plan_renewals(self.mirrored_users(), now=self._clock(), settings=self.renewal)
        done = 0
        for user_id in due:
            written = self.echo_filter.last_written(user_id)
            if written is None:
                continue
            try:
                await self.writer.write(user_id, written.presence)
            except MatrixError as exc:
                logger.warning("Renewing the presence of %s failed; trying again later: %s", user_id, exc)
                continue
            done += 1
        self.renewed += done
        return done

    async def _renew_loop(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=self._renewal_tick)
            except TimeoutError:
                await self.renew_due()
