"""The sync engine: keeps Nextcloud and every chat platform in agreement for each linked user.

Who calls what
--------------

The ``run`` process builds one of each of these and wires them together:

- :class:`~presence_bridge.sync.worker.SyncEngine` (``worker.py``) reads Nextcloud
  with the bridge's read account.  :meth:`SyncEngine.sweep` pages ``/statuses`` (or,
  when Nextcloud hides the list, reads the linked users one by one), feeds the
  planner (:func:`presence_bridge.core.planner.plan_sweep`) and puts the planned chat
  writes in the outbox.  :meth:`SyncEngine.wake` publishes what falls due between
  sweeps (a ``clearAt`` passing, a debounced write).  :meth:`SyncEngine.run` sweeps
  every ``sync.sweep_interval_seconds`` and wakes at the earliest known due time in
  between.  The process calls it only on the replica that holds the sweep lease.
- :class:`~presence_bridge.sync.gateway.Gateway` (``gateway.py``) is what chat
  adapters call.  ``handle_command(conversation, text)`` parses and runs a user's
  command and returns a :class:`~presence_bridge.sync.platform.Reply` for the adapter
  to send; ``handle_presence(...)`` and ``handle_chat_status(...)`` take activity and
  status changes seen in chat.  It writes Nextcloud with the user's own app password
  (through :class:`~presence_bridge.linking.user_clients.UserClients`) and records
  each write for echo suppression.  ``show`` and ``who`` are answered by
  ``queries.py``, ``link`` and ``unlink`` by the linking service through
  :class:`~presence_bridge.sync.accounts.LinkingCommands`.  Every replica runs a gateway.
- :class:`~presence_bridge.sync.keepalive.KeepAlive` (``keepalive.py``) re-sends chat
  activity as Nextcloud heartbeats; its ``run`` loop runs on every replica, and the
  gateway and the engine share one instance.
- :class:`~presence_bridge.sync.executor.PlanExecutor` (``executor.py``) loads, plans
  and saves under one lock per process.  Give the engine and the gateway of one
  process the same executor, so that they never plan for one user at the same time.
- The outbox dispatcher (``dispatcher.py``) claims the rows the engine and the
  gateway enqueued, rebuilds each with
  :meth:`~presence_bridge.sync.platform.ChatWrite.from_outbox` and sends it through
  :meth:`~presence_bridge.sync.platform.ChatPlatform.apply`.
- :class:`~presence_bridge.sync.platform.ChatPlatform` (``platform.py``) is the
  interface each chat adapter implements;
  :class:`~presence_bridge.sync.recording.RecordingPlatform` (``recording.py``) is
  the one that appends every write to a JSON-lines file.
- :class:`~presence_bridge.sync.metrics.EngineMetrics` (``metrics.py``) holds the
  engine's counters on a ``prometheus_client`` registry that the process publishes
  at ``/metrics``.

State
-----

The planner's per-user state (:class:`~presence_bridge.core.sync_state.UserSyncState`)
is kept in the store, one JSON document per Nextcloud user (``state_store.py``).  A
sweep or a command saves new states in the same transaction as the outbox rows they
plan, and only where the stored state is still the one it planned from; a user whose
state another caller changed meanwhile is planned again on the next sweep.  Nextcloud
writes are made directly (not through the outbox), so their result can be told to
the user; the chat fan-out that follows them goes through the outbox.
"""
