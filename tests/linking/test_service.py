"""The linking service end to end against the Nextcloud emulator over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import httpx
import pytest

from presence_bridge.core.ids import ChatIdentity, Platform
from presence_bridge.errors import (
    CredentialRejectedError,
    LinkConflictError,
    LinkExpiredError,
    LinkingError,
    LoginFlowPending,
    NextcloudUnauthorized,
)
from presence_bridge.linking.service import LinkingService
from presence_bridge.linking.user_clients import UserClients
from presence_bridge.nextcloud import Credential, LoginFlow, LoginFlowStart, NextcloudClient
from presence_bridge.secret import Secret
from presence_bridge.storage import Health, Store

from .conftest import ADMIN_APP_PASSWORD, ADMIN_LOGIN, USERS, CountingTransport, Emulator

ALICE_SLACK = ChatIdentity(Platform.SLACK, "T1", "U-alice")
ALICE_MATRIX = ChatIdentity(Platform.MATRIX, "example.org", "@alice:example.org")
CAROL_SLACK = ChatIdentity(Platform.SLACK, "T1", "U-carol")
CAROL_PASSWORD = USERS[3]["app_password"]


async def quick_sleep(seconds: float) -> None:
    await asyncio.sleep(0.01)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class GatedSleep:
    """A sleep that waits until the test releases it, so the test decides when the next poll runs."""

    def __init__(self) -> None:
        self.sleeping = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.sleeping.set()
        await self.release.wait()
        self.release.clear()
        self.sleeping.clear()


@pytest.fixture
async def service(store: Store, http: httpx.AsyncClient) -> AsyncIterator[LinkingService]:
    linking = LinkingService(store, http, poll_interval=1.0, sleep=quick_sleep)
    yield linking
    await linking.close()


async def app_password_works(http: httpx.AsyncClient, login_name: str, password: str) -> bool:
    client = NextcloudClient(http, Credential(login_name, password))
    try:
        await client.get_user()
    except NextcloudUnauthorized:
        return False
    return True


def poll_token_sent(transport: CountingTransport) -> str:
    body = next(body for (_, path), body in zip(transport.requests, transport.bodies) if path.endswith("/poll"))
    return parse_qs(body.decode())["token"][0]


async def test_login_flow_links_initiating_identity(
    service: LinkingService, store: Store, http: httpx.AsyncClient, emulator: Emulator
) -> None:
    pending = await service.start(ALICE_SLACK)
    emulator.grant(pending.login_url, "alice")
    link = await pending.wait()

    assert link.identity == ALICE_SLACK
    assert link.nextcloud_user_id == "alice"
    assert link.health is Health.HEALTHY
    assert link.has_credentials
    assert await store.get_link(ALICE_MATRIX) is None
    credentials = await store.get_credentials(ALICE_SLACK)
    assert credentials is not None
    assert credentials.login_name == "alice"
    assert await app_password_works(http, "alice", credentials.app_password.reveal())
    assert "login_url" not in repr(pending)
    assert service.pending(ALICE_SLACK) is None


async def test_second_poll_after_success_is_404(
    service: LinkingService, http: httpx.AsyncClient, transport: CountingTransport, emulator: Emulator
) -> None:
    pending = await service.start(ALICE_SLACK)
    emulator.grant(pending.login_url, "alice")
    await pending.wait()
    start = LoginFlowStart(pending.login_url, f"{emulator.base_url}/index.php/login/v2/poll", poll_token_sent(transport))

    with pytest.raises(LoginFlowPending):
        await LoginFlow(http).poll(start)


async def test_flow_expires_after_twenty_minutes(
    store: Store, http: httpx.AsyncClient, transport: CountingTransport, emulator: Emulator
) -> None:
    clock = FakeClock()
    sleep = GatedSleep()
    service = LinkingService(store, http, clock=clock, sleep=sleep)
    pending = await service.start(ALICE_SLACK)
    await sleep.sleeping.wait()
    assert transport.count("/poll") == 1

    emulator.advance(20 * 60 + 1)
    clock.now += 20 * 60 + 1
    sleep.release.set()

    with pytest.raises(LinkExpiredError, match="within 20 minutes. Run `link` again"):
        await pending.wait()
    assert transport.count("/poll") == 2
    assert await store.get_link(ALICE_SLACK) is None
    await service.close()


async def test_poll_interval_below_one_second_rejected(store: Store, http: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError, match="at least 1 s"):
        LinkingService(store, http, poll_interval=0.5)


async def test_second_start_replaces_first(service: LinkingService, store: Store, emulator: Emulator) -> None:
    first = await service.start(ALICE_SLACK)
    second = await service.start(ALICE_SLACK)

    with pytest.raises(LinkExpiredError, match="replaced by a newer one"):
        await first.wait()
    emulator.grant(second.login_url, "alice")
    link = await second.wait()
    assert link.nextcloud_user_id == "alice"


async def test_conflict_keeps_existing_link(
    service: LinkingService, store: Store, emulator: Emulator
) -> None:
    await store.link(ALICE_SLACK, "alice")
    pending = await service.start(ALICE_SLACK)
    emulator.grant(pending.login_url, "bob")

    with pytest.raises(LinkConflictError, match="already linked to Nextcloud user 'alice'; unlink it"):
        await pending.wait()
    link = await store.get_link(ALICE_SLACK)
    assert link is not None
    assert link.nextcloud_user_id == "alice"
    assert not link.has_credentials
    bob = emulator.server.state.get_user("bob")
    assert bob is not None
    assert bob.app_passwords == set()


async def test_unlink_revokes_app_password(
    service: LinkingService, store: Store, http: httpx.AsyncClient, emulator: Emulator
) -> None:
    pending = await service.start(ALICE_SLACK)
    emulator.grant(pending.login_url, "alice")
    await pending.wait()
    credentials = await store.get_credentials(ALICE_SLACK)
    assert credentials is not None

    result = await service.unlink(ALICE_SLACK)

    assert result.app_password_revoked
    assert result.revoke_problem is None
    assert await store.get_link(ALICE_SLACK) is None
    assert not await app_password_works(http, "alice", credentials.app_password.reveal())


async def test_unlink_reports_failed_revoke(
    service: LinkingService, store: Store, emulator: Emulator
) -> None:
    await service.link_with_app_password(CAROL_SLACK, "carol", Secret(CAROL_PASSWORD))
    emulator.call("POST", "/faults", {"match": "/ocs/v2.php/core/apppassword", "status": 500, "count": 1})

    result = await service.unlink(CAROL_SLACK)

    assert not result.app_password_revoked
    assert result.revoke_problem is not None
    assert "revoking it failed" in result.revoke_problem
    assert await store.get_link(CAROL_SLACK) is None


async def test_relink_revokes_replaced_password(
    service: LinkingService, store: Store, http: httpx.AsyncClient, emulator: Emulator
) -> None:
    first = await service.start(ALICE_SLACK)
    emulator.grant(first.login_url, "alice")
    await first.wait()
    old = await store.get_credentials(ALICE_SLACK)
    assert old is not None

    second = await service.start(ALICE_SLACK)
    emulator.grant(second.login_url, "alice")
    await second.wait()

    assert not await app_password_works(http, "alice", old.app_password.reveal())
    new = await store.get_credentials(ALICE_SLACK)
    assert new is not None
    assert await app_password_works(http, "alice", new.app_password.reveal())


async def test_relink_makes_unhealthy_link_healthy(
    service: LinkingService, store: Store, http: httpx.AsyncClient, transport: CountingTransport, emulator: Emulator
) -> None:
    await store.link(CAROL_SLACK, "carol")
    await store.set_credentials(CAROL_SLACK, "carol", "WrongCarolPassword000")
    clients = UserClients(store, http)
    with pytest.raises(CredentialRejectedError):
        await clients.call(CAROL_SLACK, lambda client: client.get_own_status())

    linking = LinkingService(store, http, user_clients=clients, sleep=quick_sleep)
    link = await linking.link_with_app_password(CAROL_SLACK, "carol", Secret(CAROL_PASSWORD))
    status = await clients.call(CAROL_SLACK, lambda client: client.set_status("away"))

    assert link.health is Health.HEALTHY
    assert status.status == "away"


async def test_wrong_app_password_rejected(service: LinkingService, store: Store, emulator: Emulator) -> None:
    with pytest.raises(CredentialRejectedError, match="rejected the app password for login name 'carol'"):
        await service.link_with_app_password(CAROL_SLACK, "carol", Secret("NotTheRightPassword123"))
    assert await store.get_link(CAROL_SLACK) is None


async def test_app_password_of_other_user_rejected(service: LinkingService, store: Store, emulator: Emulator) -> None:
    with pytest.raises(LinkingError, match="belongs to Nextcloud user 'carol', not 'alice'"):
        await service.link_with_app_password(
            CAROL_SLACK, "carol", Secret(CAROL_PASSWORD), nextcloud_user_id="alice"
        )
    assert await store.get_link(CAROL_SLACK) is None


async def test_purge_deleted_nextcloud_user(
    service: LinkingService, store: Store, http: httpx.AsyncClient, emulator: Emulator
) -> None:
    await store.link(ALICE_SLACK, "alice")
    await service.link_with_app_password(CAROL_SLACK, "carol", Secret(CAROL_PASSWORD))
    emulator.delete_user("carol")
    admin = NextcloudClient(http, Credential(ADMIN_LOGIN, ADMIN_APP_PASSWORD))

    report = await service.purge_gone_users(admin)

    assert report.purged == [("carol", "the Nextcloud user no longer exists")]
    assert report.unchecked == []
    assert await store.get_link(CAROL_SLACK) is None
    assert await store.get_link(ALICE_SLACK) is not None
    audit = await store.list_audit(nextcloud_user_id="carol")
    assert [(entry.action, entry.new_value) for entry in audit] == [("purge", "the Nextcloud user no longer exists")]


async def test_purge_without_admin_rights_keeps_links(
    service: LinkingService, store: Store, http: httpx.AsyncClient, emulator: Emulator
) -> None:
    await store.link(ALICE_SLACK, "alice")
    await service.link_with_app_password(CAROL_SLACK, "carol", Secret(CAROL_PASSWORD))
    reader = NextcloudClient(http, Credential("carol", CAROL_PASSWORD))

    report = await service.purge_gone_users(reader)

    assert report.purged == []
    assert [user for user, _ in report.unchecked] == ["alice"]
    assert "subadmin" in report.unchecked[0][1]
    assert await store.get_link(ALICE_SLACK) is not None


async def test_purge_deactivated_chat_account(
    service: LinkingService, store: Store, http: httpx.AsyncClient, emulator: Emulator
) -> None:
    await service.link_with_app_password(CAROL_SLACK, "carol", Secret(CAROL_PASSWORD))
    admin = NextcloudClient(http, Credential(ADMIN_LOGIN, ADMIN_APP_PASSWORD))

    report = await service.purge_gone_users(admin, deactivated=[CAROL_SLACK])

    assert report.purged == [(str(CAROL_SLACK), "the chat account was deactivated")]
    assert report.revoke_problems == []
    assert await store.get_link(CAROL_SLACK) is None
    assert not await app_password_works(http, "carol", CAROL_PASSWORD)


async def test_unlink_cancels_pending_flow(service: LinkingService, store: Store) -> None:
    await store.link(ALICE_SLACK, "alice")
    pending = await service.start(ALICE_SLACK)

    result = await service.unlink(ALICE_SLACK)

    with pytest.raises(LinkExpiredError, match="cancelled because the user unlinked"):
        await pending.wait()
    assert result.forgotten is not None
    assert service.pending(ALICE_SLACK) is None
