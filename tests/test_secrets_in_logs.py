"""No secret used by the storage and linking suites reaches any log record, even at DEBUG.

The test runs ``pytest tests/storage tests/linking`` in a subprocess with the
plugin :mod:`tests.secret_scan_plugin`, which writes every log record of every
logger at DEBUG to a file (without the bridge's redaction filter) and records
every secret the suites create.  The subprocess uses the same interpreter and
environment, so the PostgreSQL half of the suites runs too when
``PRESENCE_BRIDGE_TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
MIN_SECRET_LENGTH = 8
"""Shorter values (test passwords such as ``pw``) would match ordinary words."""
MIN_DEBUG_LINES = 1000
"""A floor that shows DEBUG capture worked: one run writes tens of thousands of DEBUG lines."""
TEST_CONTROL_REQUEST = re.compile(r"httpx INFO HTTP Request: \w+ http://127\.0\.0\.1:\d+/_emulator/")
"""httpx lines of the tests' own control client, which grants login flows in place of a user's browser.

The grant URL contains the login token, as a browser's address bar would; the
bridge never sends these requests.
"""


def test_suites_log_no_secret(tmp_path: Path) -> None:
    log_path = tmp_path / "log.txt"
    secrets_path = tmp_path / "secrets.jsonl"
    env = {**os.environ, "SECRET_SCAN_LOG": str(log_path), "SECRET_SCAN_SECRETS": str(secrets_path)}
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.secret_scan_plugin",
        "tests/storage", "tests/linking",
    ]

    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)

    assert result.returncode == 0, f"the suites failed under the scan plugin:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    lines = [line for line in log_path.read_text(encoding="utf-8").splitlines() if not TEST_CONTROL_REQUEST.search(line)]
    debug_lines = [line for line in lines if " DEBUG " in line]
    assert len(debug_lines) >= MIN_DEBUG_LINES, f"only {len(debug_lines)} DEBUG lines were captured"
    secrets = [json.loads(line) for line in secrets_path.read_text(encoding="utf-8").splitlines()]
    checked = [secret for secret in secrets if len(secret) >= MIN_SECRET_LENGTH]
    assert len(checked) >= 50, f"only {len(checked)} secrets were recorded; the plugin's recorders may not run"
    leaks = find_leaks(lines, checked)
    assert not leaks, "secrets found in log records:\n" + "\n".join(leaks[:20])


def find_leaks(lines: list[str], secrets: list[str]) -> list[str]:
    """Describe each secret that occurs in ``lines``: its first characters and the first such line, masked."""
    text = "\n".join(lines)
    leaks = []
    for secret in secrets:
        position = text.find(secret)
        if position < 0:
            continue
        start = text.rfind("\n", 0, position) + 1
        end = text.find("\n", position)
        line = text[start:] if end < 0 else text[start:end]
        masked = line.replace(secret, "<SECRET>")
        leaks.append(f"secret starting {secret[:4]!r} ({len(secret)} characters) in: {masked[:300]}")
    return leaks
