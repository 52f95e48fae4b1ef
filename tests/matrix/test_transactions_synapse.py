"""The transaction endpoint receiving real pushes from Synapse, and its checks on requests."""

from __future__ import annotations

import httpx

from presence_bridge.core.status import MatrixPresenceState
from presence_bridge.matrix.appservice_client import AppserviceClient
from presence_bridge.matrix.presence_events import BUSY_STATE
from tests.matrix.client_helpers import SyncingDevice, login_device
from tests.matrix.synapse_harness import AppserviceSink, SynapseServer

TRANSACTIONS = "/_matrix/app/v1/transactions"


async def test_own_presence_change_pushed(synapse: SynapseServer) -> None:
    alice = synapse.register_user("alice")

    async with httpx.AsyncClient(base_url=synapse.base_url) as http:
        response = await http.put(
            f"/_matrix/client/v3/presence/{alice.user_id}/status",
            json={"presence": "unavailable", "status_msg": "🍽️ Lunch"},
            headers={"Authorization": f"Bearer {alice.access_token}"},
        )
        response.raise_for_status()

    update = await synapse.sink.wait_for(alice.user_id, lambda u: u.presence.status_msg == "🍽️ Lunch")
    assert update.presence.presence == MatrixPresenceState.UNAVAILABLE
    assert update.presence.busy is False
    assert update.backlog is False


async def test_syncing_client_pushed_online(synapse: SynapseServer) -> None:
    alice = synapse.register_user("alice")
    phone = await login_device(synapse.base_url, alice, "phone")

    async with SyncingDevice(synapse.base_url, phone):
        update = await synapse.sink.wait_for(
            alice.user_id, lambda u: u.presence.presence == MatrixPresenceState.ONLINE
        )

    assert update.currently_active is True
    assert update.last_active_at is not None


async def test_bridge_busy_write_pushed_back(synapse: SynapseServer) -> None:
    alice = synapse.register_user("alice")
    async with AppserviceClient(synapse.base_url, synapse.bridge.as_token) as bridge:
        await bridge.set_presence(alice.user_id, BUSY_STATE, "⛔ Do not disturb")

    update = await synapse.sink.wait_for(alice.user_id, lambda u: u.presence.busy)
    assert update.presence.status_msg == "⛔ Do not disturb"


async def test_wrong_hs_token_rejected(appservice_sink: AppserviceSink) -> None:
    body = {"events": [], "ephemeral": [_presence_event("@mallory:localhost")]}
    async with httpx.AsyncClient(base_url=appservice_sink.url) as http:
        wrong = await http.put(f"{TRANSACTIONS}/wrong-1", json=body, headers={"Authorization": "Bearer nope"})
        missing = await http.put(f"{TRANSACTIONS}/missing-1", json=body)
        wrong_query = await http.put(f"{TRANSACTIONS}/wrong-2", json=body, params={"access_token": "nope"})

    assert wrong.status_code == 403
    assert wrong.json()["errcode"] == "M_FORBIDDEN"
    assert missing.status_code == 401
    assert missing.json()["errcode"] == "M_UNAUTHORIZED"
    assert wrong_query.status_code == 403
    assert appservice_sink.updates_for("@mallory:localhost") == []


async def test_legacy_query_token_accepted(appservice_sink: AppserviceSink) -> None:
    user_id = "@legacy-query:localhost"
    body = {"events": [], "ephemeral": [_presence_event(user_id)]}
    async with httpx.AsyncClient(base_url=appservice_sink.url) as http:
        response = await http.put(
            f"{TRANSACTIONS}/legacy-1", json=body, params={"access_token": appservice_sink.hs_token}
        )

    assert response.status_code == 200
    assert len(appservice_sink.updates_for(user_id)) == 1


async def test_repeated_txn_id_handled_once(appservice_sink: AppserviceSink) -> None:
    user_id = "@repeat-txn:localhost"
    body = {"events": [], "ephemeral": [_presence_event(user_id)]}
    headers = {"Authorization": f"Bearer {appservice_sink.hs_token}"}
    async with httpx.AsyncClient(base_url=appservice_sink.url) as http:
        first = await http.put(f"{TRANSACTIONS}/repeat-1", json=body, headers=headers)
        again = await http.put(f"{TRANSACTIONS}/repeat-1", json=body, headers=headers)
        other = await http.put(f"{TRANSACTIONS}/repeat-2", json=body, headers=headers)

    assert (first.status_code, again.status_code, other.status_code) == (200, 200, 200)
    assert [update.txn_id for update in appservice_sink.updates_for(user_id)] == ["repeat-1", "repeat-2"]


def _presence_event(user_id: str) -> dict[str, object]:
    return {"type": "m.presence", "sender": user_id, "content": {"presence": "online"}}
