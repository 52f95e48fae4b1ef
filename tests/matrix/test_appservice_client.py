"""The appservice client against a real Synapse on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from presence_bridge.core.status import MatrixPresence, MatrixPresenceState
from presence_bridge.errors import MatrixForbidden, MatrixRateLimited, MatrixRequestRejected, MatrixUnauthorized
from presence_bridge.matrix.appservice_client import AppserviceClient, failure_for, presence_state
from presence_bridge.matrix.presence_events import BUSY_STATE
from presence_bridge.sync.platform import TransientFailure
from tests.matrix.client_helpers import SyncingDevice, login_device, share_room, wait_for_presence
from tests.matrix.synapse_harness import SynapseServer


@pytest.fixture
async def bridge(synapse: SynapseServer) -> AsyncIterator[AppserviceClient]:
    async with AppserviceClient(synapse.base_url, synapse.bridge.as_token) as client:
        yield client


async def test_whoami_as_sender_and_user(synapse: SynapseServer, bridge: AppserviceClient) -> None:
    alice = synapse.register_user("alice")

    assert await bridge.whoami() == f"@{synapse.bridge.sender_localpart}:{synapse.server_name}"
    assert await bridge.whoami(alice.user_id) == alice.user_id


async def test_whoami_wrong_token_unauthorized(synapse: SynapseServer) -> None:
    async with AppserviceClient(synapse.base_url, "not-the-as-token") as client:
        with pytest.raises(MatrixUnauthorized) as caught:
            await client.whoami()
    assert caught.value.errcode == "M_UNKNOWN_TOKEN"
    assert "not-the-as-token" not in str(caught.value)


async def test_unknown_user_forbidden(synapse: SynapseServer, bridge: AppserviceClient) -> None:
    with pytest.raises(MatrixForbidden) as caught:
        await bridge.set_presence("@nobody-here:localhost", "online", None)
    assert caught.value.http_status == 403


async def test_busy_feature_detected(bridge: AppserviceClient) -> None:
    assert await bridge.supports_busy() is True


@pytest.mark.parametrize(
    ("state", "status_msg"),
    [
        ("online", "💻 Working from home"),
        ("unavailable", "🍽️ Lunch break"),
        (BUSY_STATE, "⛔ Do not disturb"),
    ],
)
async def test_presence_seen_by_other_user(
    synapse: SynapseServer, bridge: AppserviceClient, state: str, status_msg: str
) -> None:
    alice = synapse.register_user("alice")
    bob = synapse.register_user("bob")
    await share_room(synapse.base_url, alice, bob)

    await bridge.set_presence(alice.user_id, state, status_msg)

    seen = await wait_for_presence(synapse.base_url, bob, alice.user_id, lambda p: p["presence"] == state)
    assert seen["status_msg"] == status_msg
    own = await bridge.get_presence(alice.user_id)
    assert own.state == state
    assert own.status_msg == status_msg


async def test_write_without_message_clears_it(synapse: SynapseServer, bridge: AppserviceClient) -> None:
    alice = synapse.register_user("alice")
    await bridge.set_presence(alice.user_id, "unavailable", "🌴 On vacation")

    await bridge.set_presence(alice.user_id, "unavailable", None)

    assert (await bridge.get_presence(alice.user_id)).status_msg is None


async def test_get_presence_as_core_model(synapse: SynapseServer, bridge: AppserviceClient) -> None:
    alice = synapse.register_user("alice")
    dnd = MatrixPresence(MatrixPresenceState.UNAVAILABLE, "⛔ Focus time", busy=True)

    await bridge.set_presence(alice.user_id, presence_state(dnd, busy_supported=True), dnd.status_msg)

    assert (await bridge.get_presence(alice.user_id)).as_presence() == dnd


async def test_busy_cleared_across_devices(synapse: SynapseServer, bridge: AppserviceClient) -> None:
    alice = synapse.register_user("alice")
    bob = synapse.register_user("bob")
    await share_room(synapse.base_url, alice, bob)
    phone = await login_device(synapse.base_url, alice, "phone")

    async with SyncingDevice(synapse.base_url, phone) as syncing:
        await wait_for_presence(synapse.base_url, bob, alice.user_id, lambda p: p["presence"] == "online")
        await bridge.set_presence(alice.user_id, BUSY_STATE, "⛔ Do not disturb")
        await wait_for_presence(synapse.base_url, bob, alice.user_id, lambda p: p["presence"] == BUSY_STATE)
        # A sync while busy stores the phone's device as busy too.
        await syncing.wait_for_syncs(2)

        # Writing only the bridge's own device leaves her busy.
        await bridge.set_presence(alice.user_id, "online", "💻 Back")
        await syncing.wait_for_syncs(2)
        still_busy = await bridge.get_presence(alice.user_id)
        assert still_busy.state == BUSY_STATE

        await bridge.clear_busy(alice.user_id, "online", "💻 Back")

        seen = await wait_for_presence(synapse.base_url, bob, alice.user_id, lambda p: p["presence"] == "online")
        assert seen["status_msg"] == "💻 Back"
        await syncing.wait_for_syncs(2)
        assert (await bridge.get_presence(alice.user_id)).state == "online"


async def test_device_ids_lists_every_session(synapse: SynapseServer, bridge: AppserviceClient) -> None:
    alice = synapse.register_user("alice")
    laptop = await login_device(synapse.base_url, alice, "laptop")

    assert sorted(await bridge.device_ids(alice.user_id)) == sorted([alice.device_id, laptop.device_id])


async def test_invalid_state_rejected(synapse: SynapseServer, bridge: AppserviceClient) -> None:
    alice = synapse.register_user("alice")

    with pytest.raises(MatrixRequestRejected) as caught:
        await bridge.set_presence(alice.user_id, "busy", None)

    assert caught.value.http_status == 400
    assert caught.value.retryable is False


async def test_rate_limit_is_transient_and_per_user(synapse: SynapseServer) -> None:
    alice = synapse.register_user("alice", rate_limited=True)
    bob = synapse.register_user("bob", rate_limited=True)
    async with AppserviceClient(synapse.base_url, synapse.limited.as_token) as limited:
        await limited.set_presence(alice.user_id, "online", "first")

        second_alice, first_bob = await asyncio.gather(
            limited.set_presence(alice.user_id, "unavailable", "second"),
            limited.set_presence(bob.user_id, "unavailable", "🍽️ Lunch"),
            return_exceptions=True,
        )

        assert isinstance(second_alice, MatrixRateLimited)
        assert first_bob is None
        assert second_alice.retry_after is not None and second_alice.retry_after > 0
        failure = failure_for(second_alice)
        assert isinstance(failure, TransientFailure)
        assert failure.retry_after == second_alice.retry_after
        # Synapse dropped the change; it did not queue it.
        assert (await limited.get_presence(alice.user_id)).status_msg == "first"


async def test_bridge_registration_not_rate_limited(synapse: SynapseServer, bridge: AppserviceClient) -> None:
    alice = synapse.register_user("alice", rate_limited=True)

    for message in ("one", "two", "three"):
        await bridge.set_presence(alice.user_id, "unavailable", message)

    assert (await bridge.get_presence(alice.user_id)).status_msg == "three"


async def test_ping_reaches_the_bridge_endpoint(bridge: AppserviceClient) -> None:
    assert await bridge.ping("presence-bridge", "ping-1") >= 0


async def test_ping_with_another_id_forbidden(bridge: AppserviceClient) -> None:
    with pytest.raises(MatrixForbidden) as caught:
        await bridge.ping("rate-limited")

    assert caught.value.http_status == 403


async def test_ping_without_registration_url_rejected(synapse: SynapseServer) -> None:
    async with AppserviceClient(synapse.base_url, synapse.limited.as_token) as client:
        with pytest.raises(MatrixRequestRejected) as caught:
            await client.ping("rate-limited")

    assert caught.value.errcode == "M_URL_NOT_SET"
