"""Builds the Matrix platform from the ``[matrix]`` settings, for the ``run`` process and tests.

:func:`build_matrix_platform` wires one set of parts:

- a nio client for the bot, acting with the appservice ``as_token`` as the
  registration's sender user (``bot_localpart``), or with ``bot_access_token``
  when the bridge runs as a plain bot user;
- with an appservice: an :class:`~presence_bridge.matrix.appservice_client.AppserviceClient`
  and a :class:`~presence_bridge.matrix.presence_writer.MatrixPresenceWriter` for
  Nextcloud → Matrix, and the :class:`~presence_bridge.matrix.transactions.TransactionEndpoint`
  with a store-backed transaction log, which passes room events to the bot and
  presence to Nextcloud;
- without one: the bot's own :class:`~presence_bridge.matrix.bot_sync.SyncLoop`
  for commands and for Matrix → Nextcloud presence.

Both presence sources feed one :class:`~presence_bridge.matrix.inbound.PresenceInbound`
that shares its :class:`~presence_bridge.matrix.echo.EchoFilter` with the writer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from presence_bridge.core.mapping_common import MappingOptions
from presence_bridge.matrix.appservice_client import AppserviceClient
from presence_bridge.matrix.bot import MatrixBot, make_client
from presence_bridge.matrix.bot_sync import DEFAULT_SYNC_TIMEOUT_MS, SyncLoop
from presence_bridge.matrix.commands import CommandGateway, CommandHandler
from presence_bridge.matrix.echo import EchoFilter
from presence_bridge.matrix.inbound import PresenceGateway, PresenceInbound
from presence_bridge.matrix.platform import RENEWAL_TICK, MatrixPlatform
from presence_bridge.matrix.presence_policy import RenewalSettings
from presence_bridge.matrix.presence_writer import MatrixPresenceWriter
from presence_bridge.matrix.rooms import joined_members, joined_rooms
from presence_bridge.matrix.settings import MatrixSettings
from presence_bridge.matrix.store_log import StoreTransactionLog
from presence_bridge.matrix.transactions import TransactionEndpoint
from presence_bridge.storage import Store


class MatrixGateway(CommandGateway, PresenceGateway, Protocol):
    """The gateway interface the Matrix platform needs: commands, activity and status."""


def build_matrix_platform(
    settings: MatrixSettings,
    store: Store,
    gateway: MatrixGateway,
    *,
    sync_timeout_ms: int = DEFAULT_SYNC_TIMEOUT_MS,
    renewal: RenewalSettings | None = None,
    renewal_tick: float = RENEWAL_TICK,
    clock: Callable[[], float] = time.time,
    mapping: MappingOptions | None = None,
) -> MatrixPlatform:
    """Build the platform; raises ValueError when neither an appservice nor a bot token is configured.

    ``mapping`` gives the DND and busy status messages both ways; its ``msc3026_busy``
    is ignored, because ``settings.msc3026`` decides busy presence.
    """
    if settings.as_token is not None:
        bot_token = settings.as_token.reveal()
    elif settings.bot_access_token is not None:
        bot_token = settings.bot_access_token.reveal()
    else:
        raise ValueError(
            "matrix: set as_token and hs_token (an appservice registration) or bot_access_token "
            "(a plain bot user) so the bot can log in"
        )
    client = make_client(settings.homeserver_url, settings.bot_user_id, bot_token, sync_timeout_ms / 1000 + 30)
    echo_filter = EchoFilter(clock=clock)
    inbound = PresenceInbound(gateway, echo_filter, bot_user_id=settings.bot_user_id, options=mapping)

    async def members_of_bot_rooms() -> set[str]:
        members: set[str] = set()
        for room_id in await joined_rooms(client):
            members |= await joined_members(client, room_id)
        return members

    commands = CommandHandler(client, settings, store, gateway, members=members_of_bot_rooms)
    bot = MatrixBot(client, settings, commands, clock=clock)
    appservice = writer = endpoint = sync_loop = None
    if settings.as_token is not None and settings.hs_token is not None:
        appservice = AppserviceClient(settings.homeserver_url, settings.as_token)
        writer = MatrixPresenceWriter(
            appservice, msc3026=settings.msc3026, options=mapping, clock=clock, echo_filter=echo_filter
        )
        endpoint = TransactionEndpoint(
            hs_token=settings.hs_token.reveal(),
            on_presence=inbound,
            on_events=bot.handle_events,
            log=StoreTransactionLog(store, settings.appservice_id),
            clock=clock,
        )
    else:
        sync_loop = SyncLoop(bot, store, inbound, sync_timeout_ms=sync_timeout_ms, clock=clock)
    return MatrixPlatform(
        bot,
        sync_loop,
        commands,
        echo_filter,
        writer=writer,
        appservice=appservice,
        endpoint=endpoint,
        appservice_id=settings.appservice_id,
        renewal=renewal,
        renewal_tick=renewal_tick,
        clock=clock,
    )
