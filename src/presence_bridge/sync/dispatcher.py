"""The outbox dispatcher: claims due writes, sends them through their chat platform, settles them.

One loop per process: claim up to ``batch_size`` due rows under a lease, skip the
rows a newer write for the same user makes obsolete (:mod:`.ordering`), send each
other row through :meth:`ChatPlatform.apply`, then settle the row:

- :class:`Applied`: the row is deleted (acknowledged).
- :class:`TransientFailure`: the row is released and due again after the
  platform's Retry-After, or after an exponential backoff when the platform sent
  none.  After ``max_attempts`` tries it is given up like a permanent failure.
- :class:`PermanentFailure`: the row is marked dead, an audit entry records it,
  and the user gets the failure's ``user_message`` once (through the platform's
  :meth:`ChatPlatform.notify`).  "Once" is a lease in the store named after the
  user and the message, held for :data:`NOTIFY_REPEAT_AFTER`: a revoked token that
  fails every write is reported once a day at most, by one replica, also across
  restarts.

Crash safety.  Claiming is one UPDATE that sets ``claimed_by`` and
``claimed_until``; acknowledging is one DELETE that matches ``claimed_by``.  Each is
its own transaction, so a kill leaves the row either unclaimed, claimed (and
claimable again when the lease ends) or deleted, never lost.  A kill between a send
and its acknowledgement leaves a claimed row behind, which is sent again after the
lease (unless a newer write for the same user has replaced it by then): the only
way a write is repeated.  A write sets a state, so the repeat
changes nothing on the platform.

Replicas.  Every replica runs a dispatcher.  On PostgreSQL the claim uses ``FOR
UPDATE SKIP LOCKED`` and on SQLite the whole claim runs under the database write
lock, so a row goes to one replica at a time.  The rows a dead replica held become
claimable when their lease ends, one lease period after the claim at most.  Before
each send the dispatcher checks that enough of the lease is left for a send to
finish (``send_timeout``), and gives the row back otherwise, so no row is sent by
two live replicas at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from ..storage import OutboxItem, OutboxState, Store
from .platform import (
    Applied,
    ApplyResult,
    ChatWrite,
    PermanentFailure,
    PlatformRegistry,
    Reply,
    TransientFailure,
    status_to_json,
)
from .ordering import Order, order_check
from .testhooks import AFTER_ACK, AFTER_CLAIM, AFTER_SEND, BEFORE_CLAIM, KillSwitch

logger = logging.getLogger(__name__)

NOTIFIED_KEY_PREFIX = "dispatcher.notified:"
"""Lease name prefix that marks a user as already notified of one permanent failure; a hash of the
user and the message follows it."""

NOTIFY_REPEAT_AFTER = timedelta(days=1)
"""How long the same failure message is not sent to the same user again."""


class WriteMetrics(Protocol):
    """The counters the dispatcher updates; :class:`~presence_bridge.service.metrics.ServiceMetrics` implements them."""

    def record_write(self, platform: str, result: str) -> None: ...

    def record_rate_limit(self, platform: str, wait_seconds: float) -> None: ...


@dataclass(frozen=True)
class DispatcherOptions:
    """Batch size, polling, lease and retry timing, all in seconds."""

    batch_size: int = 20
    poll_interval: float = 1.0
    lease: float = 30.0
    send_timeout: float = 20.0
    retry_base: float = 5.0
    retry_max: float = 3600.0
    max_attempts: int = 12

    def __post_init__(self) -> None:
        if self.send_timeout >= self.lease:
            raise ValueError(
                f"the send timeout ({self.send_timeout:g} s) must be shorter than the claim lease "
                f"({self.lease:g} s), or another replica could send the same write while it runs"
            )

    def backoff(self, attempts: int) -> float:
        """Return the wait before the next try after ``attempts`` failed ones: ``retry_base`` doubling up to ``retry_max``."""
        exponent = min(max(attempts - 1, 0), 30)
        return float(min(self.retry_base * (2**exponent), self.retry_max))


class Dispatcher:
    """Deliver outbox rows for the replica ``worker_id`` until :meth:`stop`."""

    def __init__(
        self,
        store: Store,
        platforms: PlatformRegistry,
        *,
        worker_id: str,
        options: DispatcherOptions = DispatcherOptions(),
        metrics: WriteMetrics | None = None,
        kill_switch: KillSwitch | None = None,
        send_delay: float = 0.0,
    ) -> None:
        self._store = store
        self._platforms = platforms
        self._worker_id = worker_id
        self._options = options
        self._metrics = metrics
        self._kill = kill_switch or KillSwitch()
        self._send_delay = send_delay
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.sent = 0

    def wake(self) -> None:
        """Claim again now rather than at the next poll (the worker calls this after queueing writes)."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the write being sent, give the rest of the batch back, and end :meth:`run`."""
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Claim and deliver batches until :meth:`stop`; a failing store is logged and retried."""
        logger.debug("Outbox dispatcher %s started", self._worker_id)
        while not self._stopping.is_set():
            try:
                handled = await self.dispatch_once()
            except Exception:
                # A store outage must not end the loop: the rows stay queued.
                logger.exception("Dispatching outbox rows failed; trying again in %g s", self._options.poll_interval)
                handled = 0
            if handled >= self._options.batch_size:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._options.poll_interval)
            except TimeoutError:
                pass
            self._wake.clear()
        logger.debug("Outbox dispatcher %s stopped after %d sends", self._worker_id, self.sent)

    async def dispatch_once(self) -> int:
        """Claim one batch and settle it; return how many rows were settled rather than given back.

        :meth:`run` claims again at once only after a full batch was settled, so rows
        that wait for another replica never make it spin.
        """
        if self._kill.armed_for(BEFORE_CLAIM) and await self._due_row_exists():
            self._kill.reach(BEFORE_CLAIM)
        lease = timedelta(seconds=self._options.lease)
        items = await self._store.claim_outbox(self._worker_id, limit=self._options.batch_size, lease=lease)
        if not items:
            return 0
        self._kill.reach(AFTER_CLAIM)
        settled = 0
        for index, item in enumerate(items):
            if self._stopping.is_set():
                await self._release(items[index:])
                break
            if await self._deliver(item):
                settled += 1
        return settled

    async def _due_row_exists(self) -> bool:
        now = self._store.now()
        for item in await self._store.list_outbox(limit=1000):
            if item.state == OutboxState.PENDING and item.next_attempt_at <= now and item.claimed_by is None:
                return True
        return False

    async def _release(self, items: list[OutboxItem]) -> None:
        for item in items:
            await self._store.release_outbox(item)
        logger.info("Gave %d claimed outbox rows back on stop", len(items))

    async def _deliver(self, item: OutboxItem) -> bool:
        """Send one claimed row and settle it; return False when it was given back unsent.

        No exception from the platform escapes.
        """
        assert item.claimed_until is not None
        remaining = (item.claimed_until - self._store.now()).total_seconds()
        if remaining <= self._options.send_timeout:
            # The lease could end mid-send and let another replica send the same row.
            await self._store.release_outbox(item)
            logger.info("Gave outbox row %s back: only %.1f s of its lease were left", item.id, remaining)
            return False
        try:
            write = ChatWrite.from_outbox(item)
        except (ValueError, KeyError, TypeError) as exc:
            await self._give_up(item, None, PermanentFailure(f"unreadable outbox row: {exc}"))
            return True
        order = await order_check(self._store, item)
        if order is Order.SUPERSEDED:
            if await self._store.ack_outbox(item):
                logger.info(
                    "Dropped outbox row %s unsent: a newer write for %s:%s is queued", item.id, item.platform, item.user_id
                )
            self._record(item.platform, "superseded")
            return True
        if order is Order.WAIT:
            await self._store.release_outbox(item)
            logger.debug("Outbox row %s waits for an older row of the same user held by another worker", item.id)
            return False
        platform = self._platforms.get(write.platform)
        if platform is None:
            result: ApplyResult = TransientFailure(
                f"this process has no {item.platform} platform configured; another replica may have one"
            )
        else:
            result = await self._send(platform.apply, write)
        self._kill.reach(AFTER_SEND)
        await self._settle(item, write, result)
        return True

    async def _send(self, apply: Callable[[ChatWrite], Awaitable[ApplyResult]], write: ChatWrite) -> ApplyResult:
        if self._send_delay:
            await asyncio.sleep(self._send_delay)
        try:
            result = await asyncio.wait_for(apply(write), timeout=self._options.send_timeout)
        except TimeoutError:
            return TransientFailure(f"the platform did not answer within {self._options.send_timeout:g} s")
        except Exception as exc:
            # apply() must not raise for a failed request; a raise is a bug in the adapter.
            logger.exception("The %s platform raised while applying a write", write.platform.value)
            return TransientFailure(f"the adapter raised {type(exc).__name__}: {exc}")
        self.sent += 1
        return result

    async def _settle(self, item: OutboxItem, write: ChatWrite, result: ApplyResult) -> None:
        platform = item.platform
        if isinstance(result, Applied):
            if await self._store.ack_outbox(item):
                self._kill.reach(AFTER_ACK)
            else:
                logger.warning("Outbox row %s was delivered but its lease had passed to another replica", item.id)
            self._record(platform, "ok")
        elif isinstance(result, TransientFailure):
            await self._retry(item, write, result)
        else:
            await self._give_up(item, write, result)

    async def _retry(self, item: OutboxItem, write: ChatWrite, failure: TransientFailure) -> None:
        attempts = item.attempts + 1
        self._record(item.platform, "transient")
        if attempts >= self._options.max_attempts:
            reason = f"gave up after {attempts} attempts; last error: {failure.reason}"
            await self._give_up(item, write, PermanentFailure(reason))
            return
        if failure.retry_after is not None:
            delay = max(failure.retry_after, 0.0)
            if self._metrics is not None:
                self._metrics.record_rate_limit(item.platform, delay)
        else:
            delay = self._options.backoff(attempts)
        await self._store.retry_outbox(item, failure.reason, delay=timedelta(seconds=delay))

    async def _give_up(self, item: OutboxItem, write: ChatWrite | None, failure: PermanentFailure) -> None:
        self._record(item.platform, "permanent")
        if not await self._store.give_up_outbox(item, failure.reason):
            return
        desired = None if write is None else status_to_json(write.desired)
        await self._store.add_audit(
            actor="bridge",
            source="dispatcher",
            action="write_failed",
            nextcloud_user_id=item.nextcloud_user_id,
            platform=item.platform,
            workspace=item.workspace,
            chat_user_id=item.user_id,
            new_value=json.dumps({"desired": desired, "error": failure.reason}, sort_keys=True, ensure_ascii=False),
        )
        if failure.user_message:
            await self._notify_once(item, failure.user_message)

    async def _notify_once(self, item: OutboxItem, message: str) -> None:
        # A hash keeps the name within the lease table's 255 characters for any user id.
        target = f"{item.platform}\n{item.workspace}\n{item.user_id}\n{message}"
        name = NOTIFIED_KEY_PREFIX + hashlib.sha256(target.encode("utf-8")).hexdigest()
        platform = self._platforms.get(item.platform)
        if platform is None:
            return
        # The lease is taken atomically, so of two replicas giving up rows of the same
        # user only one sends.  It is taken before sending: a crash after the send must
        # not send the message a second time.
        holder = f"{self._worker_id}:{item.id}"
        if not await self._store.acquire_lease(name, holder, NOTIFY_REPEAT_AFTER):
            logger.debug("User %s:%s was already notified: %s", item.platform, item.user_id, message)
            return
        try:
            await platform.notify(item.workspace, item.user_id, Reply(text=message, ok=False))
        except Exception:
            logger.exception("Telling %s:%s about a failed write failed", item.platform, item.user_id)

    def _record(self, platform: str, result: str) -> None:
        if self._metrics is not None:
            self._metrics.record_write(platform, result)
