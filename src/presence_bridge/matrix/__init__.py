"""The Matrix side of the bridge: presence both ways, and the ``!status`` bot.

Entry points
------------

- :func:`presence_bridge.matrix.wiring.build_matrix_platform` builds the whole
  adapter from the ``[matrix]`` settings, the store and the engine's gateway.  The
  ``run`` process does this through its platform factory
  (:data:`presence_bridge.service.engine_task.PLATFORM_FACTORIES`) whenever the
  configuration has a ``[matrix]`` table.
- :class:`presence_bridge.matrix.platform.MatrixPlatform` is the result: the
  :class:`~presence_bridge.sync.platform.ChatPlatform` the outbox dispatcher writes
  through, an :class:`~presence_bridge.service.http_app.HttpEndpoints` serving the
  appservice routes under ``/_matrix/app/v1`` on the run server, and a background
  service (``run``/``stop``) for the bot and the presence renewals.

Two modes
---------

With ``as_token`` and ``hs_token`` (an appservice registration, see
:mod:`.registration`): Nextcloud → Matrix presence goes through
:class:`.presence_writer.MatrixPresenceWriter` (masquerading with ``?user_id=``),
and the homeserver pushes room events (commands, invites) and every namespace
user's presence to :class:`.transactions.TransactionEndpoint`.  Synapse 1.163
rejects ``/sync`` for an appservice's own user, so the bot receives commands only
from transactions in this mode.

With ``bot_access_token`` only (a plain bot user): the bot syncs
(:class:`.bot_sync.SyncLoop`, the sync token kept in the store), takes commands
and the presence of users who share a room with it, and cannot set anyone's
presence, so chat writes fail for good.

Modules
-------

``bot`` (room events → commands, invites), ``commands`` (permissions, the
gateway, private replies in a direct-message room, the admin ``health``
command), ``replies`` (plain text plus escaped HTML), ``rooms`` (sending with
bounded 429 retries, direct-message rooms), ``inbound`` (presence → gateway,
through :class:`.echo.EchoFilter` and the core mapping), ``store_log`` (the
transaction ids in the store), ``presence_policy`` (when to renew), plus the
appservice client, registration, settings and ``presence-bridge check`` checks.
"""
