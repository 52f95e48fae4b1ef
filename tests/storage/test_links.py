"""Identity links: creation, uniqueness, settings and health."""

from __future__ import annotations

from datetime import timedelta

import pytest

from presence_bridge.core.ids import ChatIdentity, Platform
from presence_bridge.errors import LinkConflictError, LinkNotFoundError, StorageError
from presence_bridge.storage import Health, Store, SyncDirection

from .conftest import FakeClock

ALICE_SLACK = ChatIdentity(Platform.SLACK, "T1", "U1")
BOB_SLACK = ChatIdentity(Platform.SLACK, "T1", "U2")
ALICE_MATRIX = ChatIdentity(Platform.MATRIX, "example.org", "@alice:example.org")


async def test_link_round_trip(store: Store, clock: FakeClock) -> None:
    link = await store.link(ALICE_SLACK, "alice", time_zone="Europe/Berlin", locale="de_DE")

    fetched = await store.get_link(ALICE_SLACK)
    assert fetched == link
    assert link.identity == ALICE_SLACK
    assert link.nextcloud_user_id == "alice"
    assert link.sync_direction is SyncDirection.BOTH
    assert link.time_zone == "Europe/Berlin"
    assert link.locale == "de_DE"
    assert link.health is Health.HEALTHY
    assert link.health_since == clock.now
    assert link.has_credentials is False


async def test_link_missing_returns_none(store: Store) -> None:
    assert await store.get_link(ALICE_SLACK) is None
    assert await store.get_link_for_nextcloud_user(Platform.SLACK, "T1", "alice") is None


async def test_link_same_pair_twice_is_idempotent(store: Store) -> None:
    first = await store.link(ALICE_SLACK, "alice")
    second = await store.link(ALICE_SLACK, "alice", sync_direction=SyncDirection.OFF)

    assert second == first
    assert len(await store.list_links()) == 1


async def test_link_chat_identity_taken(store: Store) -> None:
    await store.link(ALICE_SLACK, "alice")

    with pytest.raises(LinkConflictError) as caught:
        await store.link(ALICE_SLACK, "mallory")

    assert isinstance(caught.value, StorageError)
    message = str(caught.value)
    assert "'U1'" in message
    assert "'alice'" in message
    assert "'mallory'" in message


async def test_link_nextcloud_user_taken(store: Store) -> None:
    await store.link(ALICE_SLACK, "alice")

    with pytest.raises(LinkConflictError) as caught:
        await store.link(BOB_SLACK, "alice")

    message = str(caught.value)
    assert "Nextcloud user 'alice' is already linked" in message
    assert "'U1'" in message
    assert "'U2'" in message


async def test_link_same_user_on_two_platforms(store: Store) -> None:
    await store.link(ALICE_SLACK, "alice")
    await store.link(ALICE_MATRIX, "alice")

    links = await store.list_links(nextcloud_user_id="alice")
    assert [link.identity for link in links] == [ALICE_SLACK, ALICE_MATRIX]
    slack_only = await store.list_links(platform=Platform.SLACK)
    assert [link.identity for link in slack_only] == [ALICE_SLACK]


async def test_link_same_user_id_in_two_workspaces(store: Store) -> None:
    other_team = ChatIdentity(Platform.SLACK, "T2", "U1")
    await store.link(ALICE_SLACK, "alice")
    await store.link(other_team, "bob")

    assert (await store.get_link(other_team)).nextcloud_user_id == "bob"  # type: ignore[union-attr]
    found = await store.get_link_for_nextcloud_user(Platform.SLACK, "T2", "bob")
    assert found is not None
    assert found.identity == other_team


async def test_link_rejects_empty_ids(store: Store) -> None:
    with pytest.raises(ValueError, match="Nextcloud user id"):
        await store.link(ALICE_SLACK, "")
    with pytest.raises(ValueError, match="chat user id"):
        await store.link(ChatIdentity(Platform.SLACK, "T1", ""), "alice")


async def test_update_link_changes_only_given_fields(store: Store) -> None:
    await store.link(ALICE_SLACK, "alice", time_zone="UTC", locale="en")

    updated = await store.update_link(ALICE_SLACK, sync_direction=SyncDirection.TO_CHAT, locale=None)

    assert updated.sync_direction is SyncDirection.TO_CHAT
    assert updated.time_zone == "UTC"
    assert updated.locale is None


async def test_update_link_unknown_identity(store: Store) -> None:
    with pytest.raises(LinkNotFoundError, match="'U1'"):
        await store.update_link(ALICE_SLACK, sync_direction=SyncDirection.OFF)


async def test_health_unhealthy_then_healthy(store: Store, clock: FakeClock) -> None:
    link = await store.link(ALICE_SLACK, "alice")
    clock.advance(timedelta(minutes=5))
    became_unhealthy = clock.now

    first = await store.mark_unhealthy(link, "app password revoked")
    clock.advance(timedelta(minutes=5))
    second = await store.mark_unhealthy(ALICE_SLACK, "still revoked")

    assert first.health is Health.UNHEALTHY
    assert first.health_reason == "app password revoked"
    assert second.health_reason == "still revoked"
    assert second.health_since == became_unhealthy

    clock.advance(timedelta(minutes=5))
    healthy = await store.mark_healthy(ALICE_SLACK)
    assert healthy.health is Health.HEALTHY
    assert healthy.health_reason is None
    assert healthy.health_since == clock.now


async def test_links_without_credentials(store: Store) -> None:
    await store.link(ALICE_MATRIX, "alice")

    assert await store.get_credentials(ALICE_MATRIX) is None
    assert await store.delete_credentials(ALICE_MATRIX) is False

    await store.set_credentials(ALICE_MATRIX, "alice@example.org", "app-password-1")
    link = await store.get_link(ALICE_MATRIX)
    assert link is not None
    assert link.has_credentials is True

    assert await store.delete_credentials(ALICE_MATRIX) is True
    assert await store.get_credentials(ALICE_MATRIX) is None
    assert await store.get_link(ALICE_MATRIX) is not None


async def test_credentials_need_a_link(store: Store) -> None:
    with pytest.raises(LinkNotFoundError):
        await store.set_credentials(ALICE_SLACK, "alice", "app-password-1")
