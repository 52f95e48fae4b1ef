"""Two ``run`` processes on one PostgreSQL database: shared work, no double writes, takeover.

Needs ``PRESENCE_BRIDGE_TEST_POSTGRES_URL`` (``scripts/test`` starts a server and
sets it; for a local run: ``eval "$(scripts/postgres-test-server start)"``).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path

import pytest

from presence_bridge.emulator.server import EmulatorServer
from presence_bridge.storage import OutboxItem
from tests.process.conftest import make_team
from tests.process.support import BridgeFiles, BridgeRun, Team, free_port, wait_until
from tests.storage.conftest import POSTGRES_URL_VARIABLE, reset_postgres

POSTGRES_URL = os.environ.get(POSTGRES_URL_VARIABLE)
LEASE = 3.0

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL,
    reason=f"{POSTGRES_URL_VARIABLE} is not set; scripts/postgres-test-server start prints it",
)


@pytest.fixture
def files(tmp_path: Path) -> BridgeFiles:
    assert POSTGRES_URL is not None
    asyncio.run(reset_postgres(POSTGRES_URL))
    return BridgeFiles(tmp_path, POSTGRES_URL)


SEND_DELAY = 0.5
"""Seconds each replica waits before a send, so a batch of two stays claimed for about a second."""
TAKEOVER_MARGIN = 1.0
"""Seconds allowed beyond one lease for the follower's wake-up (it sleeps until the lease's
``expires_at`` plus 0.05 s), its store round trip and this test's 0.05 s polling."""


def start_replica(files: BridgeFiles, emulator: EmulatorServer, runs: list[BridgeRun], name: str) -> BridgeRun:
    port = free_port()
    config = files.write_config(name, emulator.base_url, port=port, lease=LEASE, extra="batch_size = 2")
    # A pause per send keeps each replica busy, so the other one claims rows too and a
    # kill can land while a replica holds claimed rows it has not sent.
    run = BridgeRun(files, config, port, env={"PRESENCE_BRIDGE_TEST_SEND_DELAY": str(SEND_DELAY)})
    runs.append(run)
    return run


def is_leader(run: BridgeRun) -> bool:
    return bool(re.search(r"^presence_bridge_leader 1\.0$", run.get("/metrics").text, re.MULTILINE))


def expected(team: Team) -> dict[str, tuple[str, str | None]]:
    return {user: team.status_of(user) for user in team.users}


def claimed_by(files: BridgeFiles, replica: str) -> list[OutboxItem]:
    """Return the outbox rows whose claim belongs to an incarnation of ``replica``."""
    return [item for item in files.outbox() if (item.claimed_by or "").startswith(f"{replica}/")]


def wait_for_claim(files: BridgeFiles, replica: str) -> None:
    wait_until(lambda: bool(claimed_by(files, replica)), timeout=30, what=f"outbox rows claimed by {replica}")


def test_replicas_share_work_and_take_over(
    emulator: EmulatorServer, files: BridgeFiles, runs: list[BridgeRun]
) -> None:
    team = make_team(emulator, files, 12)
    replicas = {"replica-a": start_replica(files, emulator, runs, "replica-a")}
    replicas["replica-b"] = start_replica(files, emulator, runs, "replica-b")
    for run in replicas.values():
        run.wait_serving()

    wait_until(lambda: files.last_written() == expected(team), timeout=60, what="the first statuses in chat")
    assert files.repeated_keys() == {}
    assert {write["pid"] for write in files.writes()} == {run.pid for run in replicas.values()}
    leaders = [name for name, run in replicas.items() if is_leader(run)]
    assert len(leaders) == 1
    leader_name = leaders[0]
    leader = replicas[leader_name]
    follower = next(run for name, run in replicas.items() if name != leader_name)

    for user in team.users[:6]:
        team.set_status(user, "away", f"second message of {user}")
    # The leader sweeps these changes into the outbox; kill it while some of them are claimed by it.
    wait_for_claim(files, leader_name)
    leader.kill()
    killed_at = time.monotonic()
    held_keys = {item.idempotency_key: item for item in claimed_by(files, leader_name)}
    # Only a sweep can see these, and only the leader sweeps: the follower must take over.
    for user in team.users[6:]:
        team.set_status(user, "online")

    wait_until(lambda: is_leader(follower), timeout=LEASE * 10, what="the follower to take the leader lease")
    takeover = time.monotonic() - killed_at
    # The dead leader renewed its lease at most one lease period before the kill.
    assert takeover <= LEASE + TAKEOVER_MARGIN, f"takeover took {takeover:.2f} s with a {LEASE:g} s lease"
    wait_until(lambda: files.last_written() == expected(team), timeout=60, what="the new statuses in chat")

    writes = files.writes()
    repeated = files.repeated_keys()
    # A repeat is allowed only for the one write the killed replica had sent but not acknowledged.
    assert len(repeated) <= 1
    first_writer: dict[str, int] = {}
    for write in writes:
        first_writer.setdefault(write["idempotency_key"], write["pid"])
    assert all(first_writer[key] == leader.pid for key in repeated)
    assert all(count == 2 for count in repeated.values())

    # Rows still claimed by the dead replica reach chat through the survivor once their claim lease ends.
    survivor_writes = {write["idempotency_key"]: write for write in writes if write["pid"] == follower.pid}
    assert held_keys, "the killed leader held no claimed rows at the kill"
    for key, item in held_keys.items():
        assert key in survivor_writes, f"row {item.id} claimed by the killed replica was never delivered"
        assert item.claimed_until is not None
        # The recording's "at" and the store's claim time both come from this machine's wall clock.
        assert survivor_writes[key]["at"] >= item.claimed_until.timestamp() - 0.1
    assert files.outbox() == []
    assert follower.terminate() == 0
