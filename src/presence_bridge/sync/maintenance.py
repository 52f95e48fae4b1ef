"""Daily maintenance of the store: audit retention and purging users who are gone.

One pass (:func:`run_maintenance`) deletes audit entries older than
``[storage] audit_retention_days`` and checks with Nextcloud, through the bridge's
read account, that each linked user still exists.  A user that Nextcloud reports
as missing (OCS status 404) is unlinked and purged, with one audit entry kept.

:class:`MaintenanceTask` runs a pass in the ``run`` process once per interval,
on the replica that holds the sweep leader lease only.  The time of the last
pass is stored in the store under :data:`LAST_RUN_KEY`, so a restart or a change
of leader does not repeat a pass before the interval is over.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..errors import NextcloudError, StorageError
from ..linking.purge import PurgeReport
from ..linking.service import LinkingService
from ..nextcloud import NextcloudClient
from ..storage import Store

logger = logging.getLogger(__name__)

LAST_RUN_KEY = "maintenance.last-run"
"""Store key of the ISO 8601 UTC time the last maintenance pass finished."""
DEFAULT_INTERVAL = timedelta(days=1)
DEFAULT_CHECK_SECONDS = 60.0
"""Seconds between two reads of the time of the last pass, while this replica leads."""
FOLLOWER_CHECK_SECONDS = 1.0
"""Seconds between two looks at the leader lease while another replica leads; no I/O."""


@dataclass(frozen=True, slots=True)
class MaintenanceReport:
    """The outcome of one pass: audit entries deleted, and the purge report (None when it failed)."""

    audit_entries_deleted: int
    purge: PurgeReport | None
    purge_problem: str | None = None


async def run_maintenance(
    store: Store, linking: LinkingService, reader: NextcloudClient, *, audit_retention_days: int
) -> MaintenanceReport:
    """Run one maintenance pass and return what it did.

    A failed purge (the read account is rejected, or Nextcloud is unreachable)
    is logged and reported, and the audit retention still applies.
    """
    deleted = 0
    if audit_retention_days > 0:
        deleted = await store.purge_audit(timedelta(days=audit_retention_days))
    try:
        purge = await linking.purge_gone_users(reader)
    except NextcloudError as error:
        logger.warning("Checking whether the linked Nextcloud users still exist failed: %s", error)
        return MaintenanceReport(deleted, None, str(error))
    logger.info(
        "Maintenance finished: audit entries deleted: %d, users purged: %d, users not checked: %d",
        deleted, len(purge.purged), len(purge.unchecked),
    )
    return MaintenanceReport(deleted, purge)


class MaintenanceTask:
    """Run :func:`run_maintenance` every ``interval`` while ``is_leader()`` is true, until :meth:`stop`."""

    def __init__(
        self,
        store: Store,
        linking: LinkingService,
        reader: NextcloudClient,
        *,
        audit_retention_days: int,
        is_leader: Callable[[], bool],
        interval: timedelta = DEFAULT_INTERVAL,
        check_seconds: float = DEFAULT_CHECK_SECONDS,
    ) -> None:
        if interval <= timedelta(0) or check_seconds <= 0:
            raise ValueError(f"maintenance needs a positive interval and check period, got {interval} and {check_seconds}")
        self._store = store
        self._linking = linking
        self._reader = reader
        self._retention = audit_retention_days
        self._is_leader = is_leader
        self._interval = interval
        self._check_seconds = check_seconds
        self._stop = asyncio.Event()
        self.passes = 0
        """Passes this task finished."""

    async def run(self) -> None:
        """Run a pass whenever one is due while this replica leads, checking every ``check_seconds``."""
        while not self._stop.is_set():
            delay = min(self._check_seconds, FOLLOWER_CHECK_SECONDS)
            if self._is_leader():
                delay = self._check_seconds
                try:
                    await self.run_if_due()
                except StorageError as error:
                    logger.warning("Maintenance failed on a store error; it is tried again later: %s", error)
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=delay)
            except TimeoutError:
                pass

    async def run_if_due(self) -> MaintenanceReport | None:
        """Run a pass when the last one finished ``interval`` ago or never; return its report."""
        last = await self._store.get_value(LAST_RUN_KEY)
        if last is not None and self._store.now() - datetime.fromisoformat(last) < self._interval:
            return None
        report = await run_maintenance(
            self._store, self._linking, self._reader, audit_retention_days=self._retention
        )
        await self._store.set_value(LAST_RUN_KEY, self._store.now().isoformat())
        self.passes += 1
        return report

    def stop(self) -> None:
        """Ask :meth:`run` to return after the pass in progress."""
        self._stop.set()
