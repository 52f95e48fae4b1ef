"""The sweeping worker: reads Nextcloud with the bridge's account and plans the chat writes.

:meth:`SyncEngine.sweep` reads ``/statuses`` page by page.  When Nextcloud hides
the list (user enumeration restricted: it then returns an empty list with HTTP
200), the sweep reads each linked user with ``/statuses/{userId}`` instead, spread
over ``spread_fraction`` of the sweep interval.  Such a per-user sweep is never
"complete", so no user is taken as gone because the list turned empty, and the
switch causes no burst of offline writes.

:meth:`SyncEngine.run` sweeps every ``sweep_interval`` and, in between, wakes at the
earliest due time the planner reported (a ``clearAt`` passing, a debounced write
falling due), so an expiry reaches chat at that moment, not a sweep later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from presence_bridge.core.ids import NextcloudUserId
from presence_bridge.core.planner import plan_sweep, plan_wake
from presence_bridge.core.planner_rules import OFFLINE
from presence_bridge.core.status import NextcloudStatus, NextcloudStatusType
from presence_bridge.core.sync_state import SweepObservation, UserSyncState
from presence_bridge.errors import BridgeError, NextcloudError, NextcloudNotFound
from presence_bridge.nextcloud import NextcloudClient, PublicStatus, list_statuses
from presence_bridge.storage import Link, Store
from presence_bridge.storage.planner_state import load_states
from presence_bridge.sync.executor import ChatTarget, PlanExecutor, UserClientPool, apply_nextcloud_writes
from presence_bridge.sync.keepalive import KeepAlive
from presence_bridge.sync.metrics import EngineMetrics
from presence_bridge.sync.report import SweepReport
from presence_bridge.sync.schedule import DueTimes
from presence_bridge.sync.settings import EngineSettings

logger = logging.getLogger(__name__)

RETRY_HELD_AFTER = 60.0
"""Seconds before a wake-up retries a held Nextcloud write that failed."""


class SyncEngine:
    """The Nextcloud → chat side of the bridge; see the module docstring.

    ``reader`` is the client of the bridge's own Nextcloud account.  ``pool`` gives
    clients of the linked users, for the debounced chat → Nextcloud writes that fall
    due at a wake-up; ``keepalive`` (optional) receives the users a sweep shows
    offline.  ``on_enqueued`` is called after outbox rows were added (the process
    passes the dispatcher's ``wake``).  ``sleep`` spaces the per-user reads; by
    default it returns early when :meth:`stop` is called.
    """

    def __init__(
        self,
        store: Store,
        reader: NextcloudClient,
        settings: EngineSettings,
        *,
        pool: UserClientPool | None = None,
        keepalive: KeepAlive | None = None,
        metrics: EngineMetrics | None = None,
        executor: PlanExecutor | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        on_enqueued: Callable[[], None] | None = None,
    ) -> None:
        self.metrics = metrics or EngineMetrics()
        self.executor = executor or PlanExecutor(store, settings, self.metrics, clock=clock, on_enqueued=on_enqueued)
        self.settings = settings
        self._reader = reader
        self._pool = pool
        self._keepalive = keepalive
        self._clock = clock
        self._sleep = sleep or self._wait_stop
        self._due = DueTimes(settings.planner)
        self.executor.wake_listeners.append(self._note_states)
        self._wake_changed = asyncio.Event()
        self._stopping = asyncio.Event()
        self.sweeps = 0

    @property
    def next_wake_at(self) -> float | None:
        """Unix time of the next wake-up between sweeps, or None when nothing is due."""
        return self._due.next

    def _note_states(self, states: Mapping[NextcloudUserId, UserSyncState], now: float) -> None:
        self._due.update(states, now)
        self._wake_changed.set()

    async def sweep(self) -> SweepReport:
        """Read every linked user's status once and queue the chat writes it calls for."""
        started = time.monotonic()
        links = await self.executor.linked_users()
        if not links and self.executor.matrix_user_rule is None:
            # Nothing to publish, so Nextcloud is not read at all.
            return self._finish(SweepReport("list"), started)
        listing = await list_statuses(self._reader, limit=self.settings.page_limit, own_user_id=self.settings.reader_user_id)
        known = await self._known_users()
        if listing.hidden:
            links = self.executor.add_implicit_targets(links, known)
            report = await self._sweep_per_user(links)
        else:
            links = self.executor.add_implicit_targets(links, [*listing.users, *known])
            report = SweepReport("list", read=len(listing.users) + len(listing.backups))
            now = self._clock()
            users = _linked_statuses(listing.users, links)
            observation = SweepObservation(users, frozenset(NextcloudUserId(u) for u in listing.backups), True, now)
            async with self.executor.lock:
                prepared = await self.executor.prepare(links)
                plan = plan_sweep(prepared.states, observation, now, self.settings.planner)
                result = await self.executor.commit(prepared, plan)
            report.add(plan, result.enqueued)
            report.keepalives = await self._keep_alive_offline(links, users)
        return self._finish(report, started)

    async def _known_users(self) -> list[str]:
        """Return the Nextcloud users with a stored planner state, to apply the Matrix user rule to.

        Every user of an earlier complete listing has a stored state.  A complete
        sweep needs them too: a user whose status row was deleted is missing from
        the listing and must still be planned, so Matrix gets the offline status.
        A hidden list shows no user, so only these users are read one by one.
        NOTE: a user who first appears while the list stays hidden is not mirrored
        implicitly until a complete listing shows them.  This reads every stored
        state once per sweep, and only when the rule is set and Matrix is served.
        """
        if self.executor.matrix_user_rule is None:
            return []
        return list(await load_states(self.executor.store))

    async def _sweep_per_user(self, links: dict[NextcloudUserId, list[ChatTarget]]) -> SweepReport:
        report = SweepReport("per_user")
        spacing = self.settings.spread_fraction * self.settings.sweep_interval / max(len(links), 1)
        offline: dict[NextcloudUserId, NextcloudStatus] = {}
        for index, user in enumerate(sorted(links)):
            if index and spacing > 0:
                await self._sleep(spacing)
            if self._stopping.is_set():
                break
            try:
                status, has_backup = await self._read_user(user)
            except NextcloudError as error:
                report.errors += 1
                self.metrics.errors.labels(stage="read").inc()
                logger.warning("Reading the status of %s failed: %s", user, error)
                continue
            report.read += 1
            now = self._clock()
            backups = frozenset({user}) if has_backup else frozenset()
            observation = SweepObservation({user: status}, backups, False, now)
            async with self.executor.lock:
                prepared = await self.executor.prepare({user: links[user]})
                plan = plan_sweep(prepared.states, observation, now, self.settings.planner)
                result = await self.executor.commit(prepared, plan)
            report.add(plan, result.enqueued)
            if status.status is NextcloudStatusType.OFFLINE:
                offline[user] = status
        report.keepalives = await self._keep_alive_offline(links, offline)
        return report

    async def _read_user(self, user: NextcloudUserId) -> tuple[NextcloudStatus, bool]:
        """Read one user's public status, and whether an automation's backup row exists.

        A 404 means the user has no status row: Nextcloud shows them offline.  The
        backup row is read only for a status with a message, because every
        automation (call, meeting, out-of-office, availability) sets one.
        """
        try:
            status = (await self._reader.get_user_status(user)).to_status()
        except NextcloudNotFound:
            return OFFLINE, False
        if not status.has_message:
            return status, False
        try:
            await self._reader.get_backup_status(user)
        except NextcloudNotFound:
            return status, False
        return status, True

    async def _keep_alive_offline(
        self, links: dict[NextcloudUserId, list[ChatTarget]], users: dict[NextcloudUserId, NextcloudStatus]
    ) -> int:
        if self._keepalive is None:
            return 0
        # Only stored links can carry chat activity: the gateway ignores implicit targets.
        offline = [
            uid
            for uid, targets in links.items()
            if uid in users
            and users[uid].status is NextcloudStatusType.OFFLINE
            and any(isinstance(target, Link) for target in targets)
        ]
        return await self._keepalive.on_offline(offline)

    async def wake(self) -> SweepReport:
        """Publish the expiries and held writes that are due now, without reading Nextcloud.

        Only the users whose due time has come are loaded and planned.
        """
        started = time.monotonic()
        report = SweepReport("wake")
        now = self._clock()
        due = self._due.due(now)
        links = await self.executor.linked_users(due)
        self._due.forget(user for user in due if user not in links)
        if links:
            async with self.executor.lock:
                prepared = await self.executor.prepare(links)
                plan = plan_wake(prepared.states, now, self.settings.planner)
                plan, errors = await apply_nextcloud_writes(
                    plan, self._pool, lambda user: user, self.executor.store, self.metrics
                )
                result = await self.executor.commit(prepared, plan)
            report.errors += len(errors)
            if errors:
                self.metrics.errors.labels(stage="nextcloud-write").inc(len(errors))
            report.add(plan, result.enqueued)
        # A held write that failed stays due; try it again later instead of at once.
        self._due.postpone(self._due.due(now), now + min(RETRY_HELD_AFTER, self.settings.sweep_interval))
        self.metrics.wakes.inc()
        return self._finish(report, started)

    def _finish(self, report: SweepReport, started: float) -> SweepReport:
        report.duration = time.monotonic() - started
        if report.mode != "wake":
            self.sweeps += 1
            self.metrics.sweeps.labels(mode=report.mode).inc()
            self.metrics.sweep_duration.observe(report.duration)
            self.metrics.statuses_read.inc(report.read)
        report.log()
        return report

    def stop(self) -> None:
        """End :meth:`run` after the current sweep or wake-up."""
        self._stopping.set()
        self._wake_changed.set()

    async def run(self) -> None:
        """Sweep every ``sweep_interval`` and wake at each due time until :meth:`stop`."""
        logger.debug("Sync engine started (sweep every %g s)", self.settings.sweep_interval)
        self._stopping.clear()
        # Due times planned by the gateway (a command with an expiry) wake this loop too.
        if self._note_states not in self.executor.wake_listeners:
            self.executor.wake_listeners.append(self._note_states)
        tasks = [asyncio.create_task(self._sweep_loop()), asyncio.create_task(self._wake_loop())]
        try:
            await asyncio.gather(*tasks)
        finally:
            # An engine replaced on a leadership change leaves no listener behind.
            self.executor.wake_listeners.remove(self._note_states)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            logger.debug("Sync engine stopped after %d sweeps", self.sweeps)

    async def _sweep_loop(self) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                await self.sweep()
            except (BridgeError, OSError) as error:
                self.metrics.errors.labels(stage="sweep").inc()
                logger.error("Sweep failed, the next one runs in %g s: %s", self.settings.sweep_interval, error)
            remaining = self.settings.sweep_interval - (time.monotonic() - started)
            await self._wait_stop(max(remaining, 0.0))

    async def _wake_loop(self) -> None:
        while not self._stopping.is_set():
            self._wake_changed.clear()
            due = self._due.next
            delay = None if due is None else due - self._clock()
            if delay is not None and delay <= 0:
                try:
                    await self.wake()
                except (BridgeError, OSError) as error:
                    self.metrics.errors.labels(stage="wake").inc()
                    logger.error("Wake-up failed, trying again in 1 s: %s", error)
                    await self._wait_stop(1.0)
                continue
            try:
                await asyncio.wait_for(self._wake_changed.wait(), timeout=delay)
            except TimeoutError:
                pass

    async def _wait_stop(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass


def _linked_statuses(
    listed: Mapping[str, PublicStatus], links: Mapping[NextcloudUserId, list[ChatTarget]]
) -> dict[NextcloudUserId, NextcloudStatus]:
    """Convert the listed statuses of linked users only, since the planner reads no other.

    When no linked user is listed, every listed row is kept: the planner takes a
    complete sweep without rows as inconclusive (a hidden list), which a list of
    other users' rows is not.
    """
    users = {uid: listed[uid].to_status() for uid in links if uid in listed}
    if users or not listed:
        return users
    return {NextcloudUserId(uid): row.to_status() for uid, row in listed.items()}
