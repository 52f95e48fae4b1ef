"""Load the Nextcloud exchanges recorded from a real Nextcloud 31.0.6 server.

The project keeps a copy under ``tests/data/nextcloud_recordings``.  When the
environment variable ``PRESENCE_BRIDGE_RECORDINGS`` names a folder, every ``*.jsonl``
file of that folder is read instead, so new exchanges are picked up without code
changes.  ``_setup_steps.jsonl`` holds state changes made outside HTTP, not exchanges.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

PROJECT_COPY = Path(__file__).parent / "data" / "nextcloud_recordings"
SETUP_STEPS_FILE = "_setup_steps.jsonl"


def recordings_dir() -> Path:
    override = os.environ.get("PRESENCE_BRIDGE_RECORDINGS")
    return Path(override) if override else PROJECT_COPY


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_exchanges(folder: Path | None = None) -> list[dict[str, Any]]:
    """Return every recorded exchange of the folder, sorted by ``seq``."""
    folder = folder or recordings_dir()
    exchanges: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.jsonl")):
        if path.name == SETUP_STEPS_FILE:
            continue
        exchanges.extend(_read_jsonl(path))
    return sorted(exchanges, key=lambda exchange: exchange["seq"])


def load_setup_steps(folder: Path | None = None) -> list[dict[str, Any]]:
    """Return the out-of-band setup steps, in file order (each has ``before_seq``)."""
    path = (folder or recordings_dir()) / SETUP_STEPS_FILE
    return _read_jsonl(path) if path.exists() else []
