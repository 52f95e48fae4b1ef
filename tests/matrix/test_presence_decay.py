"""How bridge-set presence decays on Synapse, which the renewal policy is built on.

These tests wait for Synapse's first presence timeout check, 30 s after it
starts, so they are marked slow.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from presence_bridge.matrix.appservice_client import AppserviceClient
from presence_bridge.matrix.presence_events import BUSY_STATE
from tests.matrix.synapse_harness import SynapseServer

DECAY_TIMEOUT = 75.0
"""Seconds to wait for the decay: the 30 s before the first check, plus a margin against hanging."""
RENEW_EVERY = 1.0
"""Seconds between renewals, well inside the 3 s timeout of the short-timer Synapse."""


@pytest.mark.slow
async def test_decay_renewal_and_busy(short_timer_synapse: SynapseServer) -> None:
    synapse = short_timer_synapse
    unrenewed = synapse.register_user("unrenewed")
    renewed = synapse.register_user("renewed")
    busy = synapse.register_user("busy")
    async with AppserviceClient(synapse.base_url, synapse.bridge.as_token) as bridge:
        await bridge.set_presence(unrenewed.user_id, "unavailable", "🍽️ Lunch")
        await bridge.set_presence(busy.user_id, BUSY_STATE, "⛔ Do not disturb")

        deadline = time.monotonic() + DECAY_TIMEOUT
        while (await bridge.get_presence(unrenewed.user_id)).state != "offline":
            assert time.monotonic() < deadline, "API-set presence never decayed to offline"
            await bridge.set_presence(renewed.user_id, "unavailable", "🏠 Working from home")
            await asyncio.sleep(RENEW_EVERY)

        decayed = await bridge.get_presence(unrenewed.user_id)
        kept = await bridge.get_presence(renewed.user_id)
        still_busy = await bridge.get_presence(busy.user_id)

    assert decayed.status_msg == "🍽️ Lunch"
    assert kept.state == "unavailable"
    assert kept.status_msg == "🏠 Working from home"
    assert still_busy.state == BUSY_STATE
