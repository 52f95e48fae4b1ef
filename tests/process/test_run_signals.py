"""``presence-bridge run`` as a subprocess: readiness after failing sweeps, and the start and stop lines."""

from __future__ import annotations

import httpx

from presence_bridge.emulator.server import EmulatorServer
from tests.process.conftest import make_team
from tests.process.support import BridgeFiles, BridgeRun, free_port, wait_until

DROP_EVERY_REQUEST = {"match": "/", "drop": True, "count": 100_000}


def info_lines(log: str, text: str) -> list[str]:
    return [line for line in log.splitlines() if " INFO " in line and text in line]


def test_readyz_turns_false_while_sweeps_fail(
    emulator: EmulatorServer, files: BridgeFiles, runs: list[BridgeRun]
) -> None:
    make_team(emulator, files, 1)
    port = free_port()
    config = files.write_config("replica-a", emulator.base_url, port=port)
    config.write_text(config.read_text().replace("repeat_window_seconds = 0", "repeat_window_seconds = 600"))
    run = BridgeRun(files, config, port)
    runs.append(run)
    run.wait_serving()
    wait_until(lambda: run.get("/readyz").status_code == 200, timeout=30, what="/readyz to turn ready")

    httpx.post(f"{emulator.base_url}/_emulator/faults", json=DROP_EVERY_REQUEST, timeout=10).raise_for_status()
    wait_until(lambda: run.get("/readyz").status_code == 503, timeout=30, what="/readyz to report the failing sweeps")

    problems = run.get("/readyz").json()["problems"]
    assert any("so sweeps are failing or not running" in problem for problem in problems)

    httpx.delete(f"{emulator.base_url}/_emulator/faults", timeout=10).raise_for_status()
    wait_until(lambda: run.get("/readyz").status_code == 200, timeout=30, what="/readyz to recover")
    assert run.terminate() == 0

    log = run.log()
    lines = log.rstrip().splitlines()
    repeat_reports = [index for index, line in enumerate(lines) if "(repeated " in line]
    assert repeat_reports
    assert max(repeat_reports) < len(lines) - 1
    assert "presence-bridge stopped (received SIGTERM): replica replica-a" in lines[-1]


def test_start_and_stop_are_one_line_each(
    emulator: EmulatorServer, files: BridgeFiles, runs: list[BridgeRun]
) -> None:
    make_team(emulator, files, 1)
    port = free_port()
    run = BridgeRun(files, files.write_config("replica-a", emulator.base_url, port=port), port)
    runs.append(run)
    run.wait_serving()
    wait_until(lambda: len(files.last_written()) == 1, timeout=30, what="the write")

    assert run.terminate() == 0

    log = run.log()
    last_line = log.rstrip().splitlines()[-1]
    assert len(info_lines(log, "presence-bridge 0.1.0 started: replica replica-a (claims as replica-a/")) == 1
    assert len(info_lines(log, f"serves /healthz, /readyz and /metrics on http://127.0.0.1:{port}")) == 1
    assert len(info_lines(log, "presence-bridge stopped")) == 1
    # Components log their own start and stop at DEBUG, so only the two runner lines above remain at INFO.
    assert len(info_lines(log, "started")) == 1
    assert len(info_lines(log, "stopped")) == 1
    assert info_lines(log, "Opened") == []
    assert info_lines(log, "took the sweep leader lease") == []
    assert "presence-bridge stopped (received SIGTERM): replica replica-a ran" in last_line
    assert "sent 1 write, 0 writes left in the outbox" in last_line
    assert "uvicorn" not in log
    assert "color_message" not in log
    assert "The Nextcloud read account works" not in log
