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

With an appservice, :meth:`MatrixPlatform.run` also pings the homeserver once at
start (:meth:`~presence_bridge.matrix.appservice_client.AppserviceClient.ping`).
The ping shows in the log whether the homeserver can reach the bridge, and it makes
Synapse send at once the transactions it held back while the bridge was down:
without it, Synapse waits out a backoff that doubles up to 512 s, so commands sent
during a restart would be handled minutes late.  Synapse also drops presence
updates for the bridge while it backs off.  A failed ping is tried again
after 1, 2, 5, 10, 30 and 60 s and then given up with a warning.  Responses that
a retry cannot change end the ping at once with a warning that names the setting
to check: 401 (the ``as_token``), 403 (the ``appservice_id``), ``M_URL_NOT_SET``
(the registration's ``url``) and ``M_BAD_STATUS`` with 401 or 403 (the bridge
rejected Synapse's ``hs_token``).  A homeserver without the endpoint is logged once.

Synapse 1.163 returns 502 ``M_CONNECTION_FAILED`` with the error text
``AlreadyCalled: ...`` when the bridge did return 200 but Synapse's own retry timer
for the bridge had already fired: its resend is then under way, and cancelling the
timer fails.  The bridge counts that response as a successful ping.

Without an appservice (no ``as_token``) the bridge cannot set other users'
presence, so ``apply`` fails for good.  Presence still flows from Matrix to
Nextcloud through the bot's sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

from starlette.routing import BaseRoute

from presence_bridge.core.ids import Platform
from presence_bridge.errors import MatrixError, MatrixForbidden, MatrixRequestRejected, MatrixUnauthorized
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
PING_RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
"""Seconds to wait before each new try of the start-up ping."""
ALREADY_RESENDING = "AlreadyCalled"
"""Start of Synapse's ping error text when its resend of held-back transactions is already running."""
BRIDGE_REJECTED_TOKEN = ("HTTP 401", "HTTP 403")
"""Starts of Synapse's ``M_BAD_STATUS`` error text when the bridge rejected Synapse's ``hs_token``."""
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
        appservice_id: str | None = None,
        ping_retry_delays: Sequence[float] = PING_RETRY_DELAYS,
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
        self._appservice_id = appservice_id
        self._ping_retry_delays = tuple(ping_retry_delays)
        self.ping_duration_ms: float | None = None
        """The round trip of the last successful start-up ping, as the homeserver measured it."""
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
        ping = asyncio.create_task(self._ping_homeserver(), name="matrix appservice ping")
        try:
            await (self.sync_loop.run() if self.sync_loop is not None else self.bot.run())
        finally:
            self._stop.set()
            await renewals
            # A ping may wait up to the client's timeout, so stopping does not wait for it.
            ping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ping
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

    async def _ping_homeserver(self) -> None:
        """Ping the homeserver through the appservice API until it reaches the bridge once (see the module docstring)."""
        if self._appservice is None or self._appservice_id is None:
            return
        delays = iter(self._ping_retry_delays)
        failures = 0
        while not self._stop.is_set():
            try:
                self.ping_duration_ms = await self._appservice.ping(self._appservice_id)
            except MatrixError as exc:
                final = final_ping_outcome(exc)
                if final is not None:
                    level, message = final
                    if level >= logging.WARNING:
                        logger.warning("%s: %s", message, exc)
                    else:
                        logger.info(message)
                    return
                failures += 1
                delay = next(delays, None)
                if delay is None:
                    logger.warning(
                        "The homeserver could not reach the bridge's appservice endpoint after %d pings. "
                        "Check the registration url and that the homeserver can connect to it: %s",
                        failures,
                        exc,
                    )
                    return
                logger.info("Appservice ping %d failed, trying again in %g s: %s", failures, delay, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=delay)
                continue
            logger.info(
                "The homeserver reached the bridge's appservice endpoint (round trip %.0f ms)", self.ping_duration_ms
            )
            return


def final_ping_outcome(error: MatrixError) -> tuple[int, str] | None:
    """Return the log level and message for a ping error that a retry cannot change, or None to retry."""
    server_message = error.server_message or ""
    if error.errcode == "M_CONNECTION_FAILED" and server_message.startswith(ALREADY_RESENDING):
        return logging.INFO, (
            "The homeserver reached the bridge's appservice endpoint and is already resending held-back transactions"
        )
    if error.errcode == "M_BAD_STATUS" and server_message.startswith(BRIDGE_REJECTED_TOKEN):
        return logging.WARNING, (
            "The bridge rejected the homeserver's appservice ping request. "
            "Check that [matrix] hs_token is the hs_token in the registration file"
        )
    if isinstance(error, MatrixUnauthorized):
        return logging.WARNING, (
            "The homeserver rejected the appservice ping because it does not know the as_token. "
            "Check [matrix] as_token against the registration file"
        )
    if error.errcode == "M_UNRECOGNIZED" or error.http_status in (404, 405):
        return logging.INFO, "The homeserver has no appservice ping endpoint, so held-back transactions follow its own backoff"
    if isinstance(error, MatrixForbidden | MatrixRequestRejected):
        return logging.WARNING, (
            "The homeserver rejected the appservice ping. Check that [matrix] appservice_id is the id "
            "in the registration file and that the registration has a url"
        )
    return None
