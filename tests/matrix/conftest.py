"""Fixtures that start one real Synapse per test session; see ``synapse_harness``.

Without Synapse the Matrix tests that need it are skipped, except under
``CI=true``, where a missing Synapse fails them: CI must run them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.matrix.synapse_harness import PYTHON_ENV, AppserviceSink, SynapseServer, find_synapse_python

MISSING_SYNAPSE = (
    f"Synapse was not found: set {PYTHON_ENV} to a Python with matrix-synapse installed, "
    "or run scripts/synapse-venv (scripts/test does) to create .venv-synapse"
)


@pytest.fixture(scope="session")
def appservice_sink() -> Iterator[AppserviceSink]:
    """The bridge's transaction endpoint on 127.0.0.1, recording the updates Synapse pushes."""
    sink = AppserviceSink(hs_token="hs-" + os.urandom(16).hex())
    yield sink
    sink.stop()


def synapse_python() -> Path:
    """Return the interpreter with Synapse, or skip the test (fail it under CI=true)."""
    python = find_synapse_python()
    if python is None:
        if os.environ.get("CI") == "true":
            pytest.fail(MISSING_SYNAPSE + " (CI=true: the Matrix tests must run)")
        pytest.skip(MISSING_SYNAPSE)
    return python


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory, appservice_sink: AppserviceSink) -> Iterator[SynapseServer]:
    """A Synapse on 127.0.0.1 with the bridge's and a rate-limited appservice registered."""
    server = SynapseServer(python=synapse_python(), datadir=tmp_path_factory.mktemp("synapse"), sink=appservice_sink)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def short_timer_synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    """A second Synapse whose API-set presence decays after 3 s instead of 30 s; it pushes nothing.

    Synapse 1.163 runs its first presence timeout check 30 s after it starts, so
    nothing decays before then.
    """
    presence = {"enabled": True, "sync_online_timeout": "3s", "idle_timeout": "6s", "last_active_granularity": "2s"}
    server = SynapseServer(
        python=synapse_python(),
        datadir=tmp_path_factory.mktemp("synapse-short-timers"),
        sink=None,
        extra_config={"presence": presence},
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()


# The fixtures of the tests that run the whole bridge against Synapse.
from tests.matrix.bridge_fixtures import (  # noqa: E402,F401
    appservice_relay,
    bridge_emulator,
    bridge_nextcloud,
    bridge_synapse,
    running_bridge,
)
