"""``presence-bridge run`` as a subprocess: endpoints, log lines and a clean stop on SIGTERM."""

from __future__ import annotations

import signal
import socket

from presence_bridge.emulator.server import EmulatorServer
from tests.process.conftest import make_team
from tests.process.support import BridgeFiles, BridgeRun, free_port, pending_rows, wait_until


def test_run_serves_health_and_metrics(emulator: EmulatorServer, files: BridgeFiles, runs: list[BridgeRun]) -> None:
    team = make_team(emulator, files, 3)
    port = free_port()
    run = BridgeRun(files, files.write_config("replica-a", emulator.base_url, port=port), port)
    runs.append(run)
    run.wait_serving()

    wait_until(lambda: len(files.last_written()) == 3, timeout=30, what="a write for every user")
    wait_until(lambda: run.get("/readyz").status_code == 200, timeout=30, what="/readyz to turn ready")

    health = run.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    metrics = run.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    page = metrics.text
    assert 'presence_bridge_writes_total{platform="recording",result="ok"} 3.0' in page
    assert 'presence_bridge_sweeps_total{mode="list"}' in page
    assert "presence_bridge_sweep_duration_seconds_count" in page
    assert 'presence_bridge_outbox_depth{state="pending"} 0.0' in page
    assert 'presence_bridge_linked_users{health="healthy"} 3.0' in page
    assert "presence_bridge_leader 1.0" in page
    assert 'presence_bridge_outbox_depth{state="dead"} 0.0' in page

    assert run.terminate() == 0
    log = run.log()
    assert "presence-bridge 0.1.0 started: replica replica-a (claims as replica-a/" in log
    assert "Sweep (list): read" in log
    assert "presence-bridge stopped (received SIGTERM): replica replica-a" in log
    assert "sent 3 writes, 0 writes left in the outbox" in log
    assert files.last_written() == {user: team.status_of(user) for user in team.users}


def test_readyz_reports_a_wrong_app_password(emulator: EmulatorServer, files: BridgeFiles, runs: list[BridgeRun]) -> None:
    make_team(emulator, files, 1)
    port = free_port()
    config = files.write_config("replica-a", emulator.base_url, port=port)
    config.write_text(config.read_text().replace('app_password = "bridge-app-password"', 'app_password = "wrong"'))
    run = BridgeRun(files, config, port)
    runs.append(run)
    run.wait_serving()

    wait_until(lambda: "the password is wrong or was revoked" in run.get("/readyz").text, timeout=30, what="/readyz to name the password")

    ready = run.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["ready"] is False
    assert run.get("/healthz").status_code == 200
    assert run.terminate() == 0


def test_sigterm_leaves_pending_writes_queued(
    emulator: EmulatorServer, files: BridgeFiles, runs: list[BridgeRun]
) -> None:
    team = make_team(emulator, files, 6)
    port = free_port()
    config = files.write_config("replica-a", emulator.base_url, port=port, lease=10.0, extra="batch_size = 1")
    # Each send waits 0.5 s, so SIGTERM arrives with writes still queued.
    run = BridgeRun(files, config, port, env={"PRESENCE_BRIDGE_TEST_SEND_DELAY": "0.5"})
    runs.append(run)
    run.wait_serving()
    wait_until(lambda: len(files.writes()) >= 1, timeout=30, what="the first write")

    run.process.send_signal(signal.SIGTERM)
    status = run.wait_exit()

    assert status == 0
    written = files.writes()
    queued = pending_rows(files.outbox())
    assert len(written) < len(team.users)
    assert len(written) + len(queued) == len(team.users)
    assert all(row.claimed_by is None for row in queued)
    assert {write["nextcloud_user_id"] for write in written}.isdisjoint({row.nextcloud_user_id for row in queued})
    log = run.log()
    assert "received SIGTERM" in log
    assert f"{len(queued)} writes left in the outbox" in log

    # The next start delivers the rest.
    restarted = BridgeRun(files, config, port)
    runs.append(restarted)
    wait_until(lambda: len(files.last_written()) == len(team.users), timeout=30, what="the queued writes")
    assert restarted.terminate() == 0
    assert files.repeated_keys() == {}


def test_taken_port_is_reported(emulator: EmulatorServer, files: BridgeFiles, runs: list[BridgeRun]) -> None:
    make_team(emulator, files, 1)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        run = BridgeRun(files, files.write_config("replica-a", emulator.base_url, port=port), port)
        runs.append(run)

        status = run.wait_exit()

    log = run.log()
    assert status == 1
    assert f"presence-bridge cannot run: port {port} on 127.0.0.1 is already in use; stop the other program or set server.port" in log
    assert "is invalid" not in log
    assert "Traceback" not in log
    assert "presence-bridge stopped (did not start): replica replica-a" in log.rstrip().splitlines()[-1]
