"""The daily maintenance: audit retention by age, purging deleted Nextcloud users, and the leader-only task."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from presence_bridge.core.ids import ChatIdentity, Platform
from presence_bridge.linking.service import LinkingService
from presence_bridge.nextcloud import Credential, NextcloudClient
from presence_bridge.storage import Store
from presence_bridge.sync.maintenance import LAST_RUN_KEY, MaintenanceTask, run_maintenance
from tests.storage.conftest import FakeClock

from .conftest import ADMIN_APP_PASSWORD, ADMIN_LOGIN, Emulator

ALICE = ChatIdentity(Platform.SLACK, "T1", "U0ALICE")
BOB = ChatIdentity(Platform.MATRIX, "example.org", "@bob:example.org")
GONE = "the Nextcloud user no longer exists"


@pytest.fixture
async def linking(store: Store, http: httpx.AsyncClient) -> AsyncIterator[LinkingService]:
    service = LinkingService(store, http)
    yield service
    await service.close()


@pytest.fixture
def admin(http: httpx.AsyncClient) -> NextcloudClient:
    return NextcloudClient(http, Credential(ADMIN_LOGIN, ADMIN_APP_PASSWORD))


async def add_entry(store: Store, user_id: str) -> None:
    await store.add_audit(actor="test", source="test", action="status", nextcloud_user_id=user_id, new_value="away")


async def test_retention_deletes_old_entries(
    store: Store, linking: LinkingService, admin: NextcloudClient, clock: FakeClock
) -> None:
    await add_entry(store, "old")
    clock.advance(timedelta(days=60))
    await add_entry(store, "recent")
    clock.advance(timedelta(days=31))

    report = await run_maintenance(store, linking, admin, audit_retention_days=90)

    assert report.audit_entries_deleted == 1
    users = [entry.nextcloud_user_id for entry in await store.list_audit()]
    assert users == ["recent"]


async def test_retention_zero_keeps_everything(
    store: Store, linking: LinkingService, admin: NextcloudClient, clock: FakeClock
) -> None:
    await add_entry(store, "old")
    clock.advance(timedelta(days=3650))

    report = await run_maintenance(store, linking, admin, audit_retention_days=0)

    assert report.audit_entries_deleted == 0
    assert len(await store.list_audit()) == 1


async def test_deleted_user_purged_once(
    store: Store, linking: LinkingService, admin: NextcloudClient, emulator: Emulator
) -> None:
    await store.link(ALICE, "alice")
    await store.link(BOB, "bob")
    emulator.delete_user("bob")

    report = await run_maintenance(store, linking, admin, audit_retention_days=90)

    assert report.purge is not None
    assert report.purge.purged == [("bob", GONE)]
    assert await store.get_link(BOB) is None
    assert await store.get_link(ALICE) is not None
    audit = await store.list_audit(nextcloud_user_id="bob")
    assert [(entry.action, entry.new_value) for entry in audit] == [("purge", GONE)]


async def test_rejected_reader_still_applies_retention(
    store: Store, linking: LinkingService, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    await store.link(ALICE, "alice")
    await add_entry(store, "old")
    clock.advance(timedelta(days=91))
    wrong = NextcloudClient(http, Credential(ADMIN_LOGIN, "WrongAppPassword0000111122223333"))

    report = await run_maintenance(store, linking, wrong, audit_retention_days=90)

    assert report.audit_entries_deleted == 1
    assert report.purge is None
    assert report.purge_problem
    assert await store.get_link(ALICE) is not None


async def test_task_runs_only_while_leading(
    store: Store, linking: LinkingService, admin: NextcloudClient, clock: FakeClock
) -> None:
    looks: list[bool] = []
    leading = False

    def is_leader() -> bool:
        looks.append(leading)
        return leading

    task = MaintenanceTask(store, linking, admin, audit_retention_days=90, is_leader=is_leader, check_seconds=0.01)
    running = asyncio.create_task(task.run())
    try:
        while len(looks) < 3:
            await asyncio.sleep(0.01)
        assert task.passes == 0
        leading = True
        while task.passes == 0:
            await asyncio.sleep(0.01)
    finally:
        task.stop()
        await running

    assert task.passes == 1
    assert await store.get_value(LAST_RUN_KEY) == clock.now.isoformat()
    assert await task.run_if_due() is None
    clock.advance(timedelta(days=1))
    assert await task.run_if_due() is not None
