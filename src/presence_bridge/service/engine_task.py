"""The chat platforms of the ``run`` process, and its sync engine run only while the replica leads.

:func:`build_platforms` makes the adapters the configuration enables; each chat
adapter adds a builder to :data:`PLATFORM_BUILDERS`.  :class:`EngineRunner` starts
a :class:`~presence_bridge.sync.worker.SyncEngine` when this replica takes the sweep
leader lease and stops it when the lease is lost, and stores the end time of each
sweep under :data:`~presence_bridge.service.http_app.LAST_SWEEP_KEY` for
``/readyz`` on every replica.  The keep-alive loop runs on every replica, since
each one sends keep-alives for the chat activity it received.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable

import httpx

from ..config import Settings
from ..errors import NextcloudError, StorageError
from ..linking.user_clients import UserClients
from ..nextcloud import NextcloudClient
from ..storage import Store
from ..sync.keepalive import KeepAlive
from ..sync.leader import LeaderLease
from ..sync.metrics import EngineMetrics
from ..sync.platform import ChatPlatform, PlatformRegistry
from ..sync.recording import RecordingPlatform
from ..sync.settings import EngineSettings
from ..sync.worker import SyncEngine
from .http_app import LAST_SWEEP_KEY

logger = logging.getLogger(__name__)

LEADERSHIP_POLL = 0.25
"""Seconds between two looks at the lease and the sweep count while the engine runs."""
ENGINE_STOP_TIMEOUT = 5.0
"""Seconds the engine gets to finish its sweep after the lease is lost, before it is cancelled."""


def _recording_platform(settings: Settings) -> ChatPlatform | None:
    recording = settings.recording
    if not recording.enabled or recording.path is None:
        return None
    return RecordingPlatform(recording.path)


PLATFORM_BUILDERS: list[Callable[[Settings], ChatPlatform | None]] = [_recording_platform]
"""Functions that build one chat adapter from the settings, or return None when it is not configured."""


def build_platforms(settings: Settings) -> PlatformRegistry:
    """Build every chat platform the configuration enables."""
    registry = PlatformRegistry()
    for builder in PLATFORM_BUILDERS:
        platform = builder(settings)
        if platform is not None:
            registry.add(platform)
    return registry


class EngineRunner:
    """Run the sync engine on the leading replica and the keep-alives on every replica."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        http: httpx.AsyncClient,
        reader: NextcloudClient,
        platforms: PlatformRegistry,
        leader: LeaderLease,
        metrics: EngineMetrics,
        on_enqueued: Callable[[], None],
    ) -> None:
        self._store = store
        self._reader = reader
        self._leader = leader
        self._metrics = metrics
        self._on_enqueued = on_enqueued
        self.engine_settings = EngineSettings.from_config(settings, frozenset(p.platform for p in platforms))
        user_agent = settings.nextcloud.user_agent
        self.pool = UserClients(store, http, user_agent=user_agent)
        self.keepalive = KeepAlive(self.pool, self.engine_settings, metrics)

    async def run_keepalives(self) -> None:
        """Send keep-alive heartbeats until cancelled."""
        await self.keepalive.run()

    async def run_while_leader(self, stop: asyncio.Event) -> None:
        """Sweep whenever this replica holds the leader lease, until ``stop`` is set."""
        while not stop.is_set():
            if not self._leader.is_leader:
                await self._wait(stop, self._leader.changed)
                continue
            await self._lead(stop)

    async def _lead(self, stop: asyncio.Event) -> None:
        settings = await self._with_reader_id()
        engine = SyncEngine(
            self._store,
            self._reader,
            settings,
            pool=self.pool,
            keepalive=self.keepalive,
            metrics=self._metrics,
            on_enqueued=self._on_enqueued,
        )
        task = asyncio.create_task(engine.run(), name="sync engine")
        recorded = 0
        try:
            while self._leader.is_leader and not stop.is_set() and not task.done():
                await self._wait(stop, self._leader.changed, timeout=LEADERSHIP_POLL)
                if engine.sweeps > recorded:
                    recorded = engine.sweeps
                    await self._record_sweep()
        finally:
            engine.stop()
            done, _ = await asyncio.wait([task], timeout=ENGINE_STOP_TIMEOUT)
            if not done:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
        if not stop.is_set():
            logger.info("Sweeping stopped: this replica no longer holds the leader lease")

    async def _with_reader_id(self) -> EngineSettings:
        """Return the engine settings with the read account's user id, when Nextcloud returns it."""
        try:
            user = await self._reader.get_user()
        except NextcloudError as exc:
            logger.warning("Reading the read account's user id failed; sweeps work without it: %s", exc)
            return self.engine_settings
        return dataclasses.replace(self.engine_settings, reader_user_id=user.id)

    async def _record_sweep(self) -> None:
        try:
            await self._store.set_value(LAST_SWEEP_KEY, self._store.now().isoformat())
        except StorageError as exc:
            logger.warning("Storing the time of the last sweep failed: %s", exc)

    @staticmethod
    async def _wait(stop: asyncio.Event, changed: asyncio.Event, *, timeout: float = LEADERSHIP_POLL) -> None:
        """Wait for ``stop``, a lease change or ``timeout`` seconds, whichever comes first."""
        changed.clear()
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(changed.wait())]
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
