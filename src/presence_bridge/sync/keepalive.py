"""Keep-alive heartbeats for linked users who are active in chat.

Nextcloud sets a user offline 15 minutes after their last heartbeat.  On servers
without Nextcloud's heartbeat refresh fix (31.0.6 included), repeated ``online``
heartbeats do not move that timestamp either, so an active user drops to offline
every 15 minutes and comes back with the next heartbeat.  :class:`KeepAlive`
re-sends a user's last chat activity (online or away) as a heartbeat every
``keepalive_interval`` while the user is active in chat, and at once when a sweep
shows such a user offline.  At most ``keepalive_max_per_interval`` keep-alives go
out per user within one interval; they are counted apart from status writes.

Each replica sends the regular keep-alives for the activity it received.  With a
``store``, every :meth:`KeepAlive.tick` also saves the newest activity per user in
the store's key-value table, so that the sweeping replica can send the immediate
keep-alive for a user whose activity another replica received.
NOTE: the bound per user is counted per process, so two replicas may each send
up to the bound.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from presence_bridge.core.ids import NextcloudUserId
from presence_bridge.core.status import NextcloudStatusType
from presence_bridge.errors import LinkingError, NextcloudError
from presence_bridge.storage import Store
from presence_bridge.sync.executor import UserClientPool
from presence_bridge.sync.metrics import EngineMetrics
from presence_bridge.sync.settings import EngineSettings

logger = logging.getLogger(__name__)

ACTIVITY_KEY_PREFIX = "keepalive.activity:"
"""Key-value key prefix of a user's newest chat activity, saved for the other replicas."""

HEARTBEAT_STATUSES = frozenset({NextcloudStatusType.ONLINE, NextcloudStatusType.AWAY})


@dataclass
class _Activity:
    status: NextcloudStatusType
    at: float
    refreshed_at: float
    sent: deque[float] = field(default_factory=deque)


class KeepAlive:
    """Tracks chat activity per Nextcloud user and sends the keep-alive heartbeats."""

    def __init__(
        self,
        pool: UserClientPool,
        settings: EngineSettings,
        metrics: EngineMetrics,
        *,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._pool = pool
        self._store = store
        self._unsaved: set[NextcloudUserId] = set()
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._activity: dict[NextcloudUserId, _Activity] = {}
        self._stopping = asyncio.Event()

    def record_activity(self, user: NextcloudUserId, status: NextcloudStatusType, at: float, *, sent: bool) -> None:
        """Note the user's chat activity; ``sent`` is true when a heartbeat already went to Nextcloud for it."""
        if status not in HEARTBEAT_STATUSES:
            return
        entry = self._activity.get(user)
        if entry is None:
            entry = _Activity(status, at, at if sent else 0.0)
            self._activity[user] = entry
        elif at >= entry.at:
            entry.status = status
            entry.at = at
        if sent:
            entry.refreshed_at = max(entry.refreshed_at, at)
        self._unsaved.add(user)

    def is_active(self, user: NextcloudUserId, now: float) -> bool:
        entry = self._activity.get(user)
        return entry is not None and now - entry.at < self._settings.keepalive_active

    async def tick(self) -> int:
        """Send a keep-alive to every active user whose last heartbeat is one interval old; return how many went."""
        now = self._clock()
        self._forget_inactive(now)
        await self._save_activity()
        due = [
            user
            for user, entry in self._activity.items()
            if now - entry.refreshed_at >= self._settings.keepalive_interval
        ]
        sent = 0
        for user in due:
            sent += await self._send(user, now)
        return sent

    async def on_offline(self, users: Iterable[NextcloudUserId]) -> int:
        """Send a keep-alive at once to each of ``users`` that is active in chat (a sweep showed them offline)."""
        now = self._clock()
        sent = 0
        for user in users:
            if user not in self._activity:
                await self._load_activity(user)
            if self.is_active(user, now):
                sent += await self._send(user, now)
        return sent

    async def run(self) -> None:
        """Call :meth:`tick` until :meth:`stop`, four times per interval."""
        period = max(1.0, self._settings.keepalive_interval / 4)
        logger.debug("Keep-alive loop started (interval %g s)", self._settings.keepalive_interval)
        while not self._stopping.is_set():
            try:
                await self.tick()
            except Exception:
                self._metrics.errors.labels(stage="keepalive").inc()
                logger.exception("Keep-alive round failed; trying again in %g s", period)
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=period)
            except TimeoutError:
                pass
        logger.debug("Keep-alive loop stopped")

    def stop(self) -> None:
        self._stopping.set()

    async def _save_activity(self) -> None:
        if self._store is None:
            self._unsaved.clear()
            return
        for user in sorted(self._unsaved):
            entry = self._activity.get(user)
            if entry is not None:
                value = json.dumps({"status": entry.status.value, "at": entry.at})
                await self._store.set_value(ACTIVITY_KEY_PREFIX + user, value)
        self._unsaved.clear()

    async def _load_activity(self, user: NextcloudUserId) -> None:
        """Take the activity another replica saved for ``user``, if it is recent."""
        if self._store is None:
            return
        value = await self._store.get_value(ACTIVITY_KEY_PREFIX + user)
        if value is None:
            return
        try:
            data = json.loads(value)
            status = NextcloudStatusType(data["status"])
            at = float(data["at"])
        except (ValueError, KeyError, TypeError):
            logger.warning("Ignoring the unreadable saved chat activity of %s", user)
            return
        if self._clock() - at < self._settings.keepalive_active:
            self._activity[user] = _Activity(status, at, 0.0)

    def _forget_inactive(self, now: float) -> None:
        for user in [user for user in self._activity if not self.is_active(user, now)]:
            del self._activity[user]

    async def _send(self, user: NextcloudUserId, now: float) -> int:
        entry = self._activity[user]
        window = self._settings.keepalive_interval
        while entry.sent and now - entry.sent[0] >= window:
            entry.sent.popleft()
        if len(entry.sent) >= self._settings.keepalive_max_per_interval:
            self._metrics.keepalives.labels(result="skipped_bound").inc()
            logger.debug("Keep-alive for %s skipped: %d already sent in %g s", user, len(entry.sent), window)
            return 0
        entry.sent.append(now)
        entry.refreshed_at = now
        status = entry.status.value
        try:
            await self._pool.call(user, lambda client: client.heartbeat(status))
        except (LinkingError, NextcloudError) as error:
            self._metrics.keepalives.labels(result="error").inc()
            logger.warning("Keep-alive heartbeat for Nextcloud user %s failed: %s", user, error)
            return 0
        self._metrics.keepalives.labels(result="sent").inc()
        logger.debug("Sent a keep-alive heartbeat (%s) for %s", status, user)
        return 1
