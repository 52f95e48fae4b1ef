"""Per-user Nextcloud clients: credentials from the store, and the one-request rule after a 401."""

from __future__ import annotations

import httpx
import pytest

from presence_bridge.core.ids import ChatIdentity, Platform
from presence_bridge.errors import CredentialRejectedError, NoCredentialsError, NotLinkedError
from presence_bridge.linking.user_clients import CREDENTIAL_REJECTED_REASON, UserClients
from presence_bridge.storage import Health, Store

from .conftest import USERS, CountingTransport, Emulator

CAROL = ChatIdentity(Platform.SLACK, "T1", "U-carol")
CAROL_MATRIX = ChatIdentity(Platform.MATRIX, "example.org", "@carol:example.org")
CAROL_PASSWORD = USERS[3]["app_password"]


async def test_call_acts_as_linked_user(store: Store, http: httpx.AsyncClient) -> None:
    await store.link(CAROL, "carol")
    await store.set_credentials(CAROL, "carol", CAROL_PASSWORD)
    clients = UserClients(store, http)

    status = await clients.call(CAROL, lambda client: client.set_status("dnd"))
    by_nextcloud_id = await clients.call("carol", lambda client: client.get_own_status())

    assert status.status == "dnd"
    assert by_nextcloud_id.status == "dnd"
    assert await clients.client_for(CAROL) is await clients.client_for("carol")


async def test_unlinked_and_credential_less_users(store: Store, http: httpx.AsyncClient) -> None:
    clients = UserClients(store, http)
    with pytest.raises(NotLinkedError, match="`link`"):
        await clients.client_for(CAROL)
    with pytest.raises(NotLinkedError, match="`link`"):
        await clients.client_for("carol")

    await store.link(CAROL, "carol")
    with pytest.raises(NoCredentialsError, match="without an app password.*`link`"):
        await clients.client_for(CAROL)
    with pytest.raises(NoCredentialsError):
        await clients.client_for("carol")


async def test_401_marks_unhealthy_after_one_request(
    store: Store, http: httpx.AsyncClient, transport: CountingTransport, emulator: Emulator
) -> None:
    await store.link(CAROL, "carol")
    await store.link(CAROL_MATRIX, "carol")
    await store.set_credentials(CAROL, "carol", CAROL_PASSWORD)
    await store.set_credentials(CAROL_MATRIX, "carol", CAROL_PASSWORD)
    clients = UserClients(store, http)
    with emulator.server.state.lock:
        emulator.server.state.accounts.revoke_app_password(CAROL_PASSWORD)

    with pytest.raises(CredentialRejectedError, match="rejected the app password.*`link`"):
        await clients.call(CAROL, lambda client: client.set_status("away"))
    sent_after_401 = len(transport.requests)
    for who in (CAROL, CAROL_MATRIX, "carol"):
        with pytest.raises(CredentialRejectedError):
            await clients.call(who, lambda client: client.set_status("away"))

    assert sent_after_401 == 1
    assert len(transport.requests) == 1
    for identity in (CAROL, CAROL_MATRIX):
        link = await store.get_link(identity)
        assert link is not None
        assert link.health is Health.UNHEALTHY
        assert link.health_reason == CREDENTIAL_REJECTED_REASON
    audit = await store.list_audit(nextcloud_user_id="carol")
    assert [entry.action for entry in audit] == ["credentials-rejected", "credentials-rejected"]


async def test_new_credentials_make_link_usable(
    store: Store, http: httpx.AsyncClient, transport: CountingTransport, emulator: Emulator
) -> None:
    await store.link(CAROL, "carol")
    await store.set_credentials(CAROL, "carol", "RevokedOrWrongPassword0000")
    clients = UserClients(store, http)
    with pytest.raises(CredentialRejectedError):
        await clients.call(CAROL, lambda client: client.get_own_status())
    await store.set_credentials(CAROL, "carol", CAROL_PASSWORD)
    with pytest.raises(CredentialRejectedError, match="unhealthy"):
        await clients.client_for(CAROL)

    await store.mark_healthy(CAROL)
    status = await clients.call(CAROL, lambda client: client.set_status("away"))

    assert status.status == "away"
    assert len(transport.requests) == 2
