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


def start_replica(files: BridgeFiles, emulator: EmulatorServer, runs: list[BridgeRun], name: str) -> BridgeRun:
    port = free_port()
    config = files.write_config(name, emulator.base_url, port=port, lease=LEASE, extra="batch_size = 2")
    # A short pause per send keeps each replica busy, so the other one claims rows too.
    run = BridgeRun(files, config, port, env={"PRESENCE_BRIDGE_TEST_SEND_DELAY": "0.1"})
    runs.append(run)
    return run


def is_leader(run: BridgeRun) -> bool:
    return bool(re.search(r"^presence_bridge_leader 1\.0$", run.get("/metrics").text, re.MULTILINE))


def expected(team: Team) -> dict[str, tuple[str, str | None]]:
    return {user: team.status_of(user) for user in team.users}


def test_replicas_share_work_and_take_over(
    emulator: EmulatorServer, files: BridgeFiles, runs: list[BridgeRun]
) -> None:
    team = make_team(emulator, files, 12)
    first = start_replica(files, emulator, runs, "replica-a")
    second = start_replica(files, emulator, runs, "replica-b")
    first.wait_serving()
    second.wait_serving()

    wait_until(lambda: files.last_written() == expected(team), timeout=60, what="the first statuses in chat")
    assert files.repeated_keys() == {}
    assert {write["pid"] for write in files.writes()} == {first.pid, second.pid}
    leaders = [run for run in (first, second) if is_leader(run)]
    assert len(leaders) == 1
    leader = leaders[0]
    follower = second if leader is first else first

    for user in team.users[:6]:
        team.set_status(user, "away", f"second message of {user}")
    leader.kill()
    killed_at = time.monotonic()
    # Only a sweep can see these, and only the leader sweeps: the follower must take over.
    for user in team.users[6:]:
        team.set_status(user, "online")

    wait_until(lambda: is_leader(follower), timeout=LEASE * 10, what="the follower to take the leader lease")
    takeover = time.monotonic() - killed_at
    wait_until(lambda: files.last_written() == expected(team), timeout=60, what="the new statuses in chat")

    print(f"takeover after {takeover:.1f} s with a {LEASE:g} s lease")
    repeated = files.repeated_keys()
    # A repeat is allowed only for the write the killed replica had sent but not acknowledged.
    assert len(repeated) <= 1
    first_writer = {}
    for write in files.writes():
        first_writer.setdefault(write["idempotency_key"], write["pid"])
    assert all(first_writer[key] == leader.pid for key in repeated)
    assert all(count == 2 for count in repeated.values())
    assert follower.terminate() == 0
