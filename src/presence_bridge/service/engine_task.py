"""The chat platforms and the sync engine of the ``run`` process, and sweeping only while leading.

Chat adapters plug in through :data:`PLATFORM_FACTORIES`: each
:class:`PlatformFactory` names its :class:`~presence_bridge.core.ids.Platform`, tells
from the settings whether it is enabled, and builds the adapter from a
:class:`PlatformContext`, which carries the :class:`~presence_bridge.sync.gateway.Gateway`
that the adapter calls for commands and chat activity.  An adapter with HTTP
endpoints also implements :class:`~presence_bridge.service.http_app.HttpEndpoints`.

:class:`EngineParts` builds the parts one process shares: the per-user client pool,
the keep-alives, the plan executor (whose lock serialises planning between the
sweeps and the gateway) and the gateway.  :meth:`EngineParts.run_while_leader`
runs the :class:`~presence_bridge.sync.worker.SyncEngine` while this replica holds
the sweep leader lease, and stores the end time of each sweep under
:data:`~presence_bridge.service.http_app.LAST_SWEEP_KEY` for ``/readyz`` on every
replica.  The keep-alive loop runs on every replica, since each one sends
keep-alives for the chat activity it received.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import httpx
from prometheus_client import CollectorRegistry

from ..config import Settings
from ..core.ids import Platform
from ..errors import NextcloudError, StorageError
from ..linking.service import LinkingService
from ..linking.user_clients import UserClients
from ..matrix.wiring import build_matrix_platform
from ..nextcloud import NextcloudClient
from ..storage import Store
from ..sync.accounts import LinkingCommands
from ..sync.executor import PlanExecutor
from ..sync.gateway import Gateway
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


@dataclass(frozen=True)
class PlatformContext:
    """The inputs a chat adapter is built from: the settings, the store, the gateway and the metrics registry."""

    settings: Settings
    store: Store
    gateway: Gateway
    registry: CollectorRegistry


@dataclass(frozen=True)
class PlatformFactory:
    """The recipe for one chat adapter: its platform, when the settings enable it, and how to build it."""

    platform: Platform
    enabled: Callable[[Settings], bool]
    build: Callable[[PlatformContext], ChatPlatform]


def _build_recording(context: PlatformContext) -> ChatPlatform:
    path = context.settings.recording.path
    if path is None:
        raise ValueError("recording.path is missing while the recording platform is enabled")
    return RecordingPlatform(path)


def _build_matrix(context: PlatformContext) -> ChatPlatform:
    matrix = context.settings.matrix
    if matrix is None:
        raise ValueError("the [matrix] table is missing while the Matrix platform is enabled")
    return build_matrix_platform(matrix, context.store, context.gateway, mapping=context.gateway.settings.mapping)


PLATFORM_FACTORIES: list[PlatformFactory] = [
    PlatformFactory(Platform.RECORDING, lambda settings: settings.recording.enabled, _build_recording),
    PlatformFactory(Platform.MATRIX, lambda settings: settings.matrix is not None, _build_matrix),
]
"""The chat adapters the process can run; an adapter module appends its factory here."""


@runtime_checkable
class BackgroundPlatform(Protocol):
    """An adapter with a loop of its own (the Matrix bot's sync), run by the process until :meth:`stop`."""

    async def run(self) -> None: ...

    def stop(self) -> None: ...


def enabled_platforms(settings: Settings) -> list[PlatformFactory]:
    """Return the factories of the platforms the settings enable."""
    return [factory for factory in PLATFORM_FACTORIES if factory.enabled(settings)]


class EngineParts:
    """The engine, gateway and chat platforms of one process; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        http: httpx.AsyncClient,
        reader: NextcloudClient,
        metrics: EngineMetrics,
        on_enqueued: Callable[[], None],
    ) -> None:
        self._store = store
        self._reader = reader
        self._metrics = metrics
        factories = enabled_platforms(settings)
        self.platforms = PlatformRegistry()
        self.engine_settings = EngineSettings.from_config(settings, frozenset(f.platform for f in factories))
        self.pool = UserClients(store, http, user_agent=settings.nextcloud.user_agent)
        self.keepalive = KeepAlive(self.pool, self.engine_settings, metrics)
        self.executor = PlanExecutor(store, self.engine_settings, metrics, on_enqueued=on_enqueued)
        self.linking = LinkingService(store, http, user_clients=self.pool, user_agent=settings.nextcloud.user_agent)
        accounts = LinkingCommands(self.linking, self.platforms)
        self.gateway = Gateway(
            self.executor, self.pool, reader, self.platforms, keepalive=self.keepalive, accounts=accounts
        )
        context = PlatformContext(settings, store, self.gateway, metrics.registry)
        for factory in factories:
            self.platforms.add(factory.build(context))
        self._engine: SyncEngine | None = None

    async def run_keepalives(self) -> None:
        """Send keep-alive heartbeats until :meth:`stop_keepalives`."""
        await self.keepalive.run()

    def stop_keepalives(self) -> None:
        self.keepalive.stop()

    async def run_while_leader(self, leader: LeaderLease, stop: asyncio.Event) -> None:
        """Sweep whenever this replica holds the leader lease, until ``stop`` is set."""
        while not stop.is_set():
            if not leader.is_leader:
                await _wait(stop, leader.changed)
                continue
            await self._lead(leader, stop)

    async def _lead(self, leader: LeaderLease, stop: asyncio.Event) -> None:
        engine = await self._sync_engine()
        task = asyncio.create_task(engine.run(), name="sync engine")
        recorded = engine.sweeps
        try:
            while leader.is_leader and not stop.is_set() and not task.done():
                await _wait(stop, leader.changed)
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
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
        if not stop.is_set():
            logger.info("Sweeping stopped: this replica no longer holds the leader lease")

    async def _sync_engine(self) -> SyncEngine:
        """Return the process's engine, built at the first leadership with the read account's user id."""
        if self._engine is None:
            settings = self.engine_settings
            try:
                user = await self._reader.get_user()
            except NextcloudError as exc:
                logger.warning("Reading the read account's user id failed; sweeps work without it: %s", exc)
            else:
                settings = dataclasses.replace(settings, reader_user_id=user.id)
            self._engine = SyncEngine(
                self._store,
                self._reader,
                settings,
                pool=self.pool,
                keepalive=self.keepalive,
                metrics=self._metrics,
                executor=self.executor,
            )
        return self._engine

    async def _record_sweep(self) -> None:
        try:
            await self._store.set_value(LAST_SWEEP_KEY, self._store.now().isoformat())
        except StorageError as exc:
            logger.warning("Storing the time of the last sweep failed: %s", exc)


async def _wait(stop: asyncio.Event, changed: asyncio.Event, *, timeout: float = LEADERSHIP_POLL) -> None:
    """Wait for ``stop``, a lease change or ``timeout`` seconds, whichever comes first."""
    changed.clear()
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(changed.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
