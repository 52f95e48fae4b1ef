"""The ``presence-bridge run`` process and the ``check`` command.

:mod:`.runner` wires the store, the Nextcloud read account, the chat platforms,
the sync engine, the outbox dispatcher and the sweep leader lease into one
asyncio process, and serves :mod:`.http_app` (``/healthz``, ``/readyz``,
``/metrics`` and the platform adapters' endpoints) with uvicorn.
:mod:`.check` tests that every configured system is reachable.
"""
