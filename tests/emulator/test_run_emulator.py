"""``run_emulator`` in the foreground, as ``presence-bridge nextcloud-emulator`` runs it."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import httpx

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
