"""SIGKILL at each step of delivering a write, then a restart: nothing is lost, nothing repeats wrongly.

The test-only hook ``PRESENCE_BRIDGE_TEST_KILL_AT`` makes the process kill itself
before a claim, between a claim and a send, or between a send and its
acknowledgement.  Statuses also change while the process is down.  After a
clean restart every user's last write must be their current Nextcloud status,
and a write may appear twice only when the kill fell between its send and its
acknowledgement.
"""

from __future__ import annotations

import signal

import pytest

from presence_bridge.emulator.server import EmulatorServer
from presence_bridge.sync.testhooks import AFTER_CLAIM, AFTER_SEND, BEFORE_CLAIM, KILL_AT_VARIABLE
from tests.process.conftest import make_team
from tests.process.support import BridgeFiles, BridgeRun, Team, free_port, pending_rows, wait_until

KILLED = -signal.SIGKILL


def converged(files: BridgeFiles, team: Team) -> bool:
    return files.last_written() == {user: team.status_of(user) for user in team.users}


def start_killed(files: BridgeFiles, emulator: EmulatorServer, runs: list[BridgeRun], point: str) -> BridgeRun:
    """Start a process that kills itself at ``point`` and wait until it has."""
    port = free_port()
    config = files.write_config("replica-a", emulator.base_url, port=port)
    run = BridgeRun(files, config, port, env={KILL_AT_VARIABLE: point})
    runs.append(run)
    status = run.wait_exit()
    assert status == KILLED, run.log()
    assert f"killing this process at {point.split(':')[0]}" in run.log()
    return run


def restart_until_converged(files: BridgeFiles, emulator: EmulatorServer, runs: list[BridgeRun], team: Team) -> None:
    port = free_port()
    run = BridgeRun(files, files.write_config("replica-a", emulator.base_url, port=port), port)
    runs.append(run)
    try:
        wait_until(lambda: converged(files, team), timeout=45, what="every user's current status in chat")
        wait_until(lambda: pending_rows(files.outbox()) == [], timeout=30, what="an empty outbox")
    except AssertionError as failure:
        expected = {user: team.status_of(user) for user in team.users}
        raise AssertionError(
            f"{failure}\nexpected {expected}\nwritten {files.last_written()}\n"
            f"outbox {files.outbox()}\nlog:\n{run.log()}"
        ) from None
    assert run.terminate() == 0


@pytest.mark.parametrize("point", [BEFORE_CLAIM, AFTER_CLAIM, AFTER_SEND])
def test_kill_then_restart_loses_nothing(
    point: str, emulator: EmulatorServer, files: BridgeFiles, runs: list[BridgeRun]
) -> None:
    team = make_team(emulator, files, 4)

    killed = start_killed(files, emulator, runs, point)
    sent_before_kill = [write for write in files.writes() if write["pid"] == killed.pid]
    # Two users the killed process did not write change status while it is down.
    untouched = [user for user in team.users if user not in {w["nextcloud_user_id"] for w in sent_before_kill}]
    team.set_status(untouched[0], "away", "changed while down")
    team.set_status(untouched[1], "online")
    restart_until_converged(files, emulator, runs, team)

    repeated = files.repeated_keys()
    if point == AFTER_SEND:
        assert [write["idempotency_key"] for write in sent_before_kill] == list(repeated)
        assert list(repeated.values()) == [2]
    else:
        assert sent_before_kill == []
        assert repeated == {}


def test_kills_in_a_row_lose_nothing(emulator: EmulatorServer, files: BridgeFiles, runs: list[BridgeRun]) -> None:
    team = make_team(emulator, files, 5)
    killed_after_send: list[int] = []

    start_killed(files, emulator, runs, f"{AFTER_CLAIM}:1")
    team.set_status("u1", "away", "second")
    killed_after_send.append(start_killed(files, emulator, runs, f"{AFTER_SEND}:2").pid)
    team.set_status("u2", "away", "second")
    team.set_status("u3", "online")
    start_killed(files, emulator, runs, f"{BEFORE_CLAIM}:1")
    team.set_status("u4", "dnd", "third")
    killed_after_send.append(start_killed(files, emulator, runs, f"{AFTER_SEND}:1").pid)
    restart_until_converged(files, emulator, runs, team)

    writes = files.writes()
    # A repeat is allowed only for the last write of a process killed after a send.
    last_before_kill = {
        [write for write in writes if write["pid"] == pid][-1]["idempotency_key"] for pid in killed_after_send
    }
    repeated = files.repeated_keys()
    assert set(repeated) <= last_before_kill
    assert all(count == 2 for count in repeated.values())
