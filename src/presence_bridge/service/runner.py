"""The ``presence-bridge run`` process: one asyncio loop running every part of the bridge.

:class:`BridgeProcess` opens (and migrates) the store, builds the Nextcloud read
account and the configured chat platforms, and then runs these tasks until SIGTERM
or SIGINT:

- the HTTP server (uvicorn) with ``/healthz``, ``/readyz``, ``/metrics`` and the
  platforms' endpoints (:mod:`.http_app`);
- the sweep leader lease (:class:`~presence_bridge.sync.leader.LeaderLease`) and,
  while this replica holds it, the sync engine that sweeps Nextcloud
  (:mod:`.engine_task`);
- the outbox dispatcher (:class:`~presence_bridge.sync.dispatcher.Dispatcher`);
- a probe of the Nextcloud read account for ``/readyz``;
- the daily maintenance (:mod:`presence_bridge.sync.maintenance`) while this
  replica holds the leader lease.

Several processes may share one PostgreSQL database: the lease picks the one
that sweeps, and every process dispatches, with ``FOR UPDATE SKIP LOCKED``
claims (see :mod:`presence_bridge.sync.dispatcher`).

On SIGTERM the process stops sweeping, lets the write being sent finish, gives the
rest of its claimed rows back to the outbox, releases the leader lease so another
replica takes over at once, and exits with status 0.  A write still queued stays
in the outbox for the next start or another replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import secrets
import signal
import socket
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import httpx
import uvicorn

from .. import __version__
from ..config import Settings
from ..errors import BridgeError, NextcloudError, NextcloudUnauthorized
from ..nextcloud import Credential, NextcloudClient, RetryPolicy
from ..storage import OutboxState, Store, open_store
from ..sync.dispatcher import Dispatcher, DispatcherOptions
from ..sync.leader import LeaderLease
from ..sync.maintenance import MaintenanceTask
from ..sync.metrics import EngineMetrics
from ..sync.testhooks import KillSwitch, send_delay_from_environment
from ..logs import flush_repeats
from .check import describe_nextcloud_error, make_reader
from .engine_task import BackgroundPlatform, EngineParts, enabled_platforms
from .http_app import HttpEndpoints, ProcessStatus, create_app
from .metrics import ServiceMetrics

logger = logging.getLogger(__name__)

NEXTCLOUD_PROBE_INTERVAL = 60.0
"""Seconds between two checks of the read account for ``/readyz`` while it works."""
NEXTCLOUD_PROBE_AFTER_401 = 300.0
"""Seconds before trying a rejected app password again; each failed login slows Nextcloud's responses to this host."""
READ_RETRY_VARIABLE = "PRESENCE_BRIDGE_TEST_READ_RETRY_SECONDS"
"""Environment variable that shortens :data:`NEXTCLOUD_PROBE_AFTER_401`, for tests only."""
PROBE_POLL = 0.5
"""Seconds between two looks at whether a sweep found the read account rejected (no request is sent)."""
STALE_SWEEP_MARGIN = 5.0
"""Seconds added to two sweep intervals before ``/readyz`` reports that sweeps stopped succeeding."""
STOP_GRACE = 10.0
"""Seconds added to the send timeout for the tasks to end after SIGTERM."""


def default_replica_id() -> str:
    """Return ``<host name>-<process id>-<random suffix>``, unique even for restarts in a container."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def incarnation_id(replica_id: str) -> str:
    """Return the name this process claims outbox rows and leases under: the replica id plus a random suffix.

    A configured ``replica_id`` stays the same across restarts, but the rows a
    killed process left claimed must not look like the new process's own: the
    dispatcher's ordering check waits for rows held by another claimer only.
    """
    return f"{replica_id}/{secrets.token_hex(4)}"


class _Server(uvicorn.Server):
    """Uvicorn without its own signal handlers: the process handles SIGTERM for every task."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class BridgeProcess:
    """One ``run`` process built from validated settings; :meth:`run` returns the exit status."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.replica_id = settings.replicas.replica_id or default_replica_id()
        self.claimer_id = incarnation_id(self.replica_id)
        self.status = ProcessStatus()
        self.metrics = ServiceMetrics()
        self.engine_metrics = EngineMetrics(registry=self.metrics.registry)
        self._stop = asyncio.Event()
        self._stop_reason = "not started"
        self._started = time.monotonic()
        self._read_retry = float(os.environ.get(READ_RETRY_VARIABLE, NEXTCLOUD_PROBE_AFTER_401))
        self.status.sweep_stale_after = 2 * settings.sync.sweep_interval_seconds + STALE_SWEEP_MARGIN

    def request_stop(self, reason: str) -> None:
        """Begin a clean stop (SIGTERM, SIGINT, or a task that ended); the stop line names the reason."""
        if not self._stop.is_set():
            logger.debug("Stopping replica %s: %s", self.replica_id, reason)
            self._stop_reason = reason
        self.status.stopping = True
        self._stop.set()

    async def run(self) -> int:
        """Run until a stop is requested; return 0 after a clean stop, 1 when a task failed."""
        settings = self.settings
        listener = bind_listener(settings.server.host, settings.server.port)
        store = await open_store(settings.storage.url, encryption_keys=settings.storage.encryption_keys)
        self.status.started_at = store.now()
        http, reader = make_reader(settings)
        try:
            return await self._serve(store, http, reader, listener)
        finally:
            await http.aclose()
            await store.close()
            listener.close()

    async def _serve(
        self, store: Store, http: httpx.AsyncClient, reader: NextcloudClient, listener: socket.socket
    ) -> int:
        settings = self.settings
        lease_seconds = settings.replicas.lease_seconds
        leader = LeaderLease(store, self.claimer_id, lease_seconds)
        self.status.is_leader = lambda: leader.is_leader
        wake_dispatcher = _Deferred()
        engine = EngineParts(settings, store, http, reader, self.engine_metrics, wake_dispatcher)
        maintenance = MaintenanceTask(
            store,
            engine.linking,
            reader,
            audit_retention_days=settings.storage.audit_retention_days,
            is_leader=lambda: leader.is_leader,
        )
        platforms = engine.platforms
        dispatcher = Dispatcher(
            store,
            platforms,
            worker_id=self.claimer_id,
            options=dispatcher_options(settings),
            metrics=self.metrics,
            kill_switch=KillSwitch.from_environment(),
            send_delay=send_delay_from_environment(),
        )
        wake_dispatcher.target = dispatcher.wake
        endpoints = [platform for platform in platforms if isinstance(platform, HttpEndpoints)]
        app = create_app(store, self.metrics, self.status, endpoints=endpoints)
        server = _Server(
            uvicorn.Config(
                app,
                lifespan="off",
                log_config=None,
                access_log=False,
            )
        )
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop, f"received {signal.Signals(signum).name}")

        tasks = {
            "http server": self._spawn(server.serve(sockets=[listener]), "http server"),
            "leader lease": self._spawn(leader.run(), "leader lease"),
            "dispatcher": self._spawn(dispatcher.run(), "dispatcher"),
            "sweeps": self._spawn(engine.run_while_leader(leader, self._stop), "sweeps"),
            "keep-alives": self._spawn(engine.run_keepalives(), "keep-alives"),
            "maintenance": self._spawn(maintenance.run(), "maintenance"),
            "nextcloud probe": self._spawn(self._probe_nextcloud(http, reader), "nextcloud probe"),
        }
        background = [platform for platform in platforms if isinstance(platform, BackgroundPlatform)]
        for platform in background:
            name = f"{platform.platform.value} platform"
            tasks[name] = self._spawn(platform.run(), name)
        await self._log_listening(server)
        await self._stop.wait()

        # Stop taking new work first, then finish the write in flight, then let go of the lease.
        await _finish(tasks["sweeps"], timeout=STOP_GRACE)
        engine.stop_keepalives()
        await _finish(tasks["keep-alives"], timeout=STOP_GRACE)
        await _finish(tasks["nextcloud probe"], cancel=True)
        maintenance.stop()
        await _finish(tasks["maintenance"], timeout=STOP_GRACE)
        dispatcher.stop()
        await _finish(tasks["dispatcher"], timeout=settings.dispatcher.send_timeout_seconds + STOP_GRACE)
        # Platforms stop after the dispatcher, which may still be sending through them.
        for platform in background:
            platform.stop()
            await _finish(tasks[f"{platform.platform.value} platform"], timeout=STOP_GRACE)
        await engine.linking.close()
        leader.stop()
        await _finish(tasks["leader lease"], timeout=STOP_GRACE)
        server.should_exit = True
        await _finish(tasks["http server"], timeout=STOP_GRACE)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)

        pending = len(await store.list_outbox(state=OutboxState.PENDING, limit=100_000))
        # Repeat counts held back by the log filter belong before the last line.
        flush_repeats()
        logger.info(
            "presence-bridge stopped (%s): replica %s ran %.0f s, sent %s, %s left in the outbox%s",
            self._stop_reason,
            self.replica_id,
            time.monotonic() - self._started,
            plural(dispatcher.sent, "write"),
            plural(pending, "write"),
            f"; failed tasks: {', '.join(self.status.failed_tasks)}" if self.status.failed_tasks else "",
        )
        return 1 if self.status.failed_tasks else 0

    def _spawn(self, coroutine: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine, name=name)
        task.add_done_callback(self._on_task_done)
        return task

    def _on_task_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled() or self._stop.is_set():
            return
        error = task.exception()
        name = task.get_name()
        if error is not None:
            logger.error("The %s task failed: %s", name, error, exc_info=error)
        else:
            logger.error("The %s task ended on its own", name)
        self.status.failed_tasks.append(name)
        self.request_stop(f"the {name} task ended")

    async def _log_listening(self, server: uvicorn.Server) -> None:
        """Log the one start line once the HTTP server listens."""
        while not server.started and not self._stop.is_set():
            await asyncio.sleep(0.02)
        if not server.started:
            return
        settings = self.settings
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        logger.info(
            "presence-bridge %s started: replica %s (claims as %s), Nextcloud %s, store %s, platforms %s; "
            "serves /healthz, /readyz and /metrics on http://%s:%d",
            __version__,
            self.replica_id,
            self.claimer_id,
            settings.nextcloud.url,
            settings.storage.url.split("://", 1)[0],
            ", ".join(factory.platform.value for factory in enabled_platforms(settings)) or "none",
            host,
            port,
        )

    async def _probe_nextcloud(self, http: httpx.AsyncClient, reader: NextcloudClient) -> None:
        """Check the read account for ``/readyz``: every minute while it works, slowly after a 401.

        The sweeps and this probe share ``reader``.  After a 401 from either, the
        client sends nothing more.  Only this loop tries the credential again, once
        every ``NEXTCLOUD_PROBE_AFTER_401`` seconds, through a client of its own,
        and unlocks ``reader`` only when that login works: each failed login makes
        Nextcloud slow down every request from this host.
        """
        last_probe: float | None = None
        rejected_since: float | None = None
        while not self._stop.is_set():
            now = time.monotonic()
            if reader.credential_rejected:
                if rejected_since is None:
                    rejected_since = now
                    self._set_nextcloud_problem(NextcloudUnauthorized("the read account's credential was rejected"))
                if now - rejected_since >= self._read_retry:
                    rejected_since = None
                    last_probe = now
                    if await self._probe_once(self._retry_client(http)):
                        reader.reset_credential()
            elif last_probe is None or now - last_probe >= NEXTCLOUD_PROBE_INTERVAL:
                last_probe = now
                await self._probe_once(reader)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=PROBE_POLL)

    def _retry_client(self, http: httpx.AsyncClient) -> NextcloudClient:
        """Return a one-attempt client with the read account's credential, so a 401 leaves the sweeps' client locked."""
        nextcloud = self.settings.nextcloud
        credential = Credential(nextcloud.login, nextcloud.app_password.reveal())
        return NextcloudClient(http, credential, retry=RetryPolicy(attempts=1), user_agent=nextcloud.user_agent)

    async def _probe_once(self, client: NextcloudClient) -> bool:
        """Read the capabilities and the user with ``client``; return whether both worked."""
        try:
            await client.get_capabilities(refresh=True)
            await client.get_user(refresh=True)
        except NextcloudError as exc:
            self._set_nextcloud_problem(exc)
            self.status.nextcloud_checked = True
            return False
        if self.status.nextcloud_problem is not None and self.status.nextcloud_checked:
            logger.info("The Nextcloud read account works again")
        self.status.nextcloud_problem = None
        self.status.nextcloud_checked = True
        return True

    def _set_nextcloud_problem(self, error: NextcloudError) -> None:
        problem = describe_nextcloud_error(self.settings, error)
        if problem != self.status.nextcloud_problem:
            logger.error("The Nextcloud read account does not work: %s", problem)
        self.status.nextcloud_problem = problem


class _Deferred:
    """A callback whose target is set later: the engine is built before the dispatcher it wakes."""

    def __init__(self) -> None:
        self.target: Callable[[], None] | None = None

    def __call__(self) -> None:
        if self.target is not None:
            self.target()


def bind_listener(host: str, port: int) -> socket.socket:
    """Bind the HTTP server's socket before anything starts, so a taken port fails early and in plain words."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family, reuse_port=False)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise BridgeError(
                f"port {port} on {host} is already in use; stop the other program or set server.port"
            ) from None
        raise BridgeError(
            f"cannot listen on {host} port {port}: {exc.strerror or exc}. Check server.host and server.port"
        ) from None


def plural(count: int, noun: str) -> str:
    """Return ``"1 write"`` or ``"3 writes"``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def dispatcher_options(settings: Settings) -> DispatcherOptions:
    """Build the dispatcher's options from ``[dispatcher]`` and ``[replicas]``."""
    dispatcher = settings.dispatcher
    return DispatcherOptions(
        batch_size=dispatcher.batch_size,
        poll_interval=dispatcher.poll_interval_seconds,
        lease=settings.replicas.lease_seconds,
        send_timeout=dispatcher.send_timeout_seconds,
        retry_base=dispatcher.retry_base_seconds,
        retry_max=dispatcher.retry_max_seconds,
        max_attempts=dispatcher.max_attempts,
    )


async def _finish(*tasks: asyncio.Task[Any], timeout: float | None = None, cancel: bool = False) -> None:
    """Wait for ``tasks`` to end, cancelling them first or after ``timeout`` seconds."""
    if cancel:
        for task in tasks:
            task.cancel()
    done, still_running = await asyncio.wait(tasks, timeout=timeout)
    for task in still_running:
        logger.warning("The %s task did not stop within %s s; cancelling it", task.get_name(), timeout)
        task.cancel()
    if still_running:
        await asyncio.wait(still_running)


def run(settings: Settings) -> int:
    """Run the process in a new event loop and return its exit status.

    A problem the bridge reports (a taken port, a store it cannot open) ends the
    process with one plain ERROR line and the stop line, never a traceback.
    """
    process = BridgeProcess(settings)
    try:
        return asyncio.run(process.run())
    except BridgeError as exc:
        logger.error("presence-bridge cannot run: %s", exc)
        logger.info("presence-bridge stopped (did not start): replica %s", process.replica_id)
        return 1
