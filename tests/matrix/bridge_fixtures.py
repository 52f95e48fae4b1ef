"""Fixtures for the tests that run the whole bridge against Synapse; imported by ``conftest.py``."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from presence_bridge.emulator.server import EmulatorServer, start_emulator
from tests.matrix.bridge_harness import AppserviceRelay, Nextcloud, RunningBridge
from tests.matrix.synapse_harness import SynapseServer


@pytest.fixture(scope="session")
def appservice_relay() -> Iterator[AppserviceRelay]:
    relay = AppserviceRelay()
    yield relay
    relay.stop()


@pytest.fixture(scope="session")
def bridge_synapse(tmp_path_factory: pytest.TempPathFactory, appservice_relay: AppserviceRelay) -> Iterator[SynapseServer]:
    """A Synapse whose bridge registration pushes transactions to the relay, so to the running bridge."""
    from tests.matrix.conftest import synapse_python

    server = SynapseServer(python=synapse_python(), datadir=tmp_path_factory.mktemp("synapse-bridge"), sink=None)
    server.bridge = dataclasses.replace(server.bridge, url=appservice_relay.url)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def bridge_emulator() -> Iterator[EmulatorServer]:
    with start_emulator(control=True) as server:
        yield server


@pytest.fixture
def bridge_nextcloud(bridge_emulator: EmulatorServer) -> Nextcloud:
    httpx.post(bridge_emulator.base_url + "/_emulator/reset", timeout=10).raise_for_status()
    return Nextcloud(bridge_emulator)


@pytest.fixture
async def running_bridge(
    tmp_path: Path, bridge_synapse: SynapseServer, appservice_relay: AppserviceRelay, bridge_nextcloud: Nextcloud
) -> AsyncIterator[RunningBridge]:
    """A bridge to start with :meth:`RunningBridge.start`; stopped at the end of the test."""
    bridge = RunningBridge(tmp_path, bridge_synapse, appservice_relay, bridge_nextcloud)
    try:
        yield bridge
    finally:
        await bridge.stop()
