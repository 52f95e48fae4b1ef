"""Fixtures for the process tests: an emulator with a linked team, and a folder for one bridge."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from presence_bridge.emulator.server import EmulatorServer, start_emulator
from tests.process.support import BridgeFiles, BridgeRun, Team


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with start_emulator() as server:
        yield server


@pytest.fixture
def files(tmp_path: Path) -> BridgeFiles:
    return BridgeFiles(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'bridge.sqlite3'}")


@pytest.fixture
def runs() -> Iterator[list[BridgeRun]]:
    """Processes a test started; any still running at the end are killed."""
    started: list[BridgeRun] = []
    yield started
    for run in started:
        run.stop_if_running()


def make_team(emulator: EmulatorServer, files: BridgeFiles, count: int) -> Team:
    """Create ``count`` users with a do-not-disturb message each, and link them all."""
    team = Team(emulator, [f"u{index}" for index in range(1, count + 1)])
    for user in team.users:
        team.set_status(user, "dnd", f"first message of {user}")
    files.link(team.users)
    return team
