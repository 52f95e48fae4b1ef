"""``run_emulator`` in the foreground, as ``presence-bridge nextcloud-emulator`` runs it."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import httpx
import pytest

from presence_bridge.emulator.server import control_exposure_warning

SCRIPT = """
import logging
from presence_bridge.emulator.server import run_emulator
logging.basicConfig(level=logging.INFO)
try:
    run_emulator(port=0)
except KeyboardInterrupt:
    pass
"""
# Any line that announces the emulator's address, so that a wrong port fails instead of hanging.
ANNOUNCED = re.compile(r"Nextcloud emulator [a-z ]*(http://127\.0\.0\.1:(\d+))")


def test_free_port_logged_as_bound() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert process.stdout is not None
        lines = []
        match = None
        for line in process.stdout:
            lines.append(line)
            match = ANNOUNCED.search(line)
            if match:
                break
        assert match is not None, "".join(lines)
        assert int(match[2]) != 0
        assert httpx.get(match[1] + "/status.php", timeout=10).status_code == 200

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_control_on_loopback_not_warned(host: str) -> None:
    assert control_exposure_warning(host, control=True) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "emulator.example.org"])
def test_control_beyond_loopback_warned(host: str) -> None:
    warning = control_exposure_warning(host, control=True)

    assert warning is not None
    assert host in warning
    assert "--no-control" in warning
    assert control_exposure_warning(host, control=False) is None
