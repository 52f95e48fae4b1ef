"""Writing mirrored Nextcloud statuses to Matrix presence on a real Synapse."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from presence_bridge.core.ids import NextcloudUserId, Platform
from presence_bridge.core.status import MatrixPresenceState, NextcloudStatus, NextcloudStatusType
from presence_bridge.matrix.appservice_client import AppserviceClient
from presence_bridge.matrix.echo import EchoFilter
from presence_bridge.matrix.presence_events import BUSY_STATE
from presence_bridge.matrix.presence_writer import MatrixPresenceWriter
from presence_bridge.sync.platform import Applied, ChatWrite, PermanentFailure, TransientFailure
from tests.matrix.client_helpers import SyncingDevice, login_device, share_room, wait_for_presence
from tests.matrix.synapse_harness import SynapseServer


def chat_write(user_id: str, status: NextcloudStatus) -> ChatWrite:
    return ChatWrite(
        platform=Platform.MATRIX,
        workspace="localhost",
        chat_user_id=user_id,
        nextcloud_user_id=NextcloudUserId("alice"),
        desired=status,
        fingerprint="f",
        idempotency_key="k",
    )


@pytest.fixture
async def client(synapse: SynapseServer) -> AsyncIterator[AppserviceClient]:
    async with AppserviceClient(synapse.base_url, synapse.bridge.as_token) as appservice:
        yield appservice


async def test_dnd_busy_then_online_with_device(synapse: SynapseServer, client: AppserviceClient) -> None:
    alice = synapse.register_user("alice")
    bob = synapse.register_user("bob")
    await share_room(synapse.base_url, alice, bob)
    phone = await login_device(synapse.base_url, alice, "phone")
    writer = MatrixPresenceWriter(client)
    dnd = NextcloudStatus(NextcloudStatusType.DND, message="Focus time", icon="⛔")
    online = NextcloudStatus(NextcloudStatusType.ONLINE, message="Back", icon="💻")

    async with SyncingDevice(synapse.base_url, phone) as syncing:
        assert await writer.apply(chat_write(alice.user_id, dnd)) == Applied()
        busy = await wait_for_presence(synapse.base_url, bob, alice.user_id, lambda p: p["presence"] == BUSY_STATE)
        await syncing.wait_for_syncs(2)

        assert await writer.apply(chat_write(alice.user_id, online)) == Applied()
        back = await wait_for_presence(synapse.base_url, bob, alice.user_id, lambda p: p["presence"] == "online")

    assert busy["status_msg"] == "⛔ Focus time"
    assert back["status_msg"] == "💻 Back"


async def test_dnd_without_msc3026(synapse: SynapseServer, client: AppserviceClient) -> None:
    alice = synapse.register_user("alice")
    writer = MatrixPresenceWriter(client, msc3026="off")

    result = await writer.apply(chat_write(alice.user_id, NextcloudStatus(NextcloudStatusType.DND)))

    presence = await client.get_presence(alice.user_id)
    assert result == Applied()
    assert presence.state == "unavailable"
    assert presence.status_msg == "Do not disturb"


async def test_away_without_message(synapse: SynapseServer, client: AppserviceClient) -> None:
    alice = synapse.register_user("alice")
    writer = MatrixPresenceWriter(client)
    await client.set_presence(alice.user_id, "online", "old message")

    result = await writer.apply(chat_write(alice.user_id, NextcloudStatus(NextcloudStatusType.AWAY)))

    presence = await client.get_presence(alice.user_id)
    assert result == Applied()
    assert presence.state == "unavailable"
    assert presence.status_msg is None


async def test_unknown_user_permanent(client: AppserviceClient) -> None:
    writer = MatrixPresenceWriter(client)

    result = await writer.apply(chat_write("@nobody-here:localhost", NextcloudStatus(NextcloudStatusType.ONLINE)))

    assert isinstance(result, PermanentFailure)


async def test_rate_limited_write_transient(synapse: SynapseServer) -> None:
    alice = synapse.register_user("alice", rate_limited=True)
    async with AppserviceClient(synapse.base_url, synapse.limited.as_token) as limited:
        writer = MatrixPresenceWriter(limited, msc3026="on")
        first = await writer.apply(chat_write(alice.user_id, NextcloudStatus(NextcloudStatusType.ONLINE)))
        second = await writer.apply(chat_write(alice.user_id, NextcloudStatus(NextcloudStatusType.AWAY)))

    assert first == Applied()
    assert isinstance(second, TransientFailure)
    assert second.retry_after is not None


def test_invalid_mode_rejected() -> None:
    with pytest.raises(ValueError):
        MatrixPresenceWriter(AppserviceClient("http://127.0.0.1:9", "token"), msc3026="maybe")


async def test_written_presence_pushed_back_as_echo(synapse: SynapseServer, client: AppserviceClient) -> None:
    alice = synapse.register_user("alice")
    echoes = EchoFilter()
    writer = MatrixPresenceWriter(client, echo_filter=echoes)
    away = NextcloudStatus(NextcloudStatusType.AWAY, message="Lunch", icon="🍽️")

    assert await writer.apply(chat_write(alice.user_id, away)) == Applied()
    pushed = await synapse.sink.wait_for(alice.user_id, lambda u: u.presence.status_msg == "🍽️ Lunch")
    async with httpx.AsyncClient(base_url=synapse.base_url) as http:
        response = await http.put(
            f"/_matrix/client/v3/presence/{alice.user_id}/status",
            json={"presence": "online", "status_msg": "🍽️ Lunch"},
            headers={"Authorization": f"Bearer {alice.access_token}"},
        )
        response.raise_for_status()
    own = await synapse.sink.wait_for(alice.user_id, lambda u: u.presence.presence == MatrixPresenceState.ONLINE)

    assert echoes.observe(pushed) is True
    assert echoes.observe(own) is False
    assert echoes.own_client_present(alice.user_id) is True
