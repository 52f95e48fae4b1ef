"""Fixtures for the process tests: an emulator with a linked team, a bridge folder, and an SQLite store on a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from presence_bridge.emulator.server import EmulatorServer, start_emulator
from presence_bridge.storage import Store, open_store
from tests.process.support import BridgeFiles, BridgeRun, Team
from tests.storage.conftest import FakeClock


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with start_emulator() as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Store]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bridge.sqlite3'}"
    async with await open_store(url, encryption_keys=[Fernet.generate_key().decode()], clock=clock) as opened:
        yield opened


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
