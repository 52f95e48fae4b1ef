"""The daily maintenance inside ``presence-bridge run``: a linked user missing from Nextcloud is purged at start."""

from __future__ import annotations

import asyncio

from presence_bridge.emulator.server import EmulatorServer
from presence_bridge.storage import open_store
from tests.process.conftest import make_team
from tests.process.support import BridgeFiles, BridgeRun, free_port, wait_until


def test_run_purges_missing_user(emulator: EmulatorServer, files: BridgeFiles, runs: list[BridgeRun]) -> None:
    make_team(emulator, files, 1)
    files.link(["ghost"])
    port = free_port()
    run = BridgeRun(files, files.write_config("replica-a", emulator.base_url, port=port), port)
    runs.append(run)
    run.wait_serving()

    wait_until(lambda: "Maintenance finished" in run.log(), timeout=30, what="the first maintenance pass")

    assert run.terminate() == 0
    assert "Purged ghost (1 links): the Nextcloud user no longer exists" in run.log()
    assert "audit entries deleted: 0, users purged: 1, users not checked: 0" in run.log()
    assert linked_users(files) == ["u1"]


def linked_users(files: BridgeFiles) -> list[str]:
    async def read() -> list[str]:
        async with await open_store(files.store_url, encryption_keys=[files.key]) as store:
            return sorted(link.nextcloud_user_id for link in await store.list_links())

    return asyncio.run(read())
