"""Every client call against the Nextcloud emulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from presence_bridge import errors
from presence_bridge.core.status import NextcloudStatusType
from presence_bridge.nextcloud import ClearAtKind, NextcloudClient, iter_status_pages, list_statuses
from tests.nextcloud.conftest import Emulator

ClientFor = Callable[..., NextcloudClient]


async def test_own_status_lifecycle(client_for: ClientFor) -> None:
    """No status at first (404), then every status type can be set and read back."""
    alice = client_for("alice")
    with pytest.raises(errors.NextcloudNotFound, match="no status yet"):
        await alice.get_own_status()

    for status in ("online", "away", "dnd", "busy", "invisible", "offline"):
        written = await alice.set_status(status)
        read = await alice.get_own_status()
        assert written.status == status
        assert read.status == status
        assert read.status_is_user_defined


async def test_capabilities(client_for: ClientFor) -> None:
    capabilities = await client_for("alice").get_capabilities()

    assert capabilities.version.major == 31
    assert capabilities.user_status_enabled
    assert capabilities.restore
    assert capabilities.supports_emoji
    assert capabilities.busy_allowed


async def test_predefined_message(client_for: ClientFor) -> None:
    """A predefined message is returned without text at first and filled in on the next read."""
    alice = client_for("alice")
    clear_at = int(time.time()) + 3600

    written = await alice.set_predefined_message("meeting", clear_at=clear_at)
    read = await alice.get_own_status()

    assert written.message_id == "meeting"
    assert written.clear_at == clear_at
    assert read.message == "In a meeting"
    assert read.icon == "📅"
    assert read.message_is_predefined


async def test_predefined_list(client_for: ClientFor) -> None:
    predefined = await client_for("bob").get_predefined_statuses()

    by_id = {entry.id: entry for entry in predefined}
    assert list(by_id) == ["meeting", "commuting", "remote-work", "sick-leave", "vacationing"]
    assert by_id["meeting"].clear_at is not None
    assert by_id["meeting"].clear_at.period == 3600
    assert by_id["remote-work"].clear_at is not None
    assert by_id["remote-work"].clear_at.kind is ClearAtKind.END_OF
    assert by_id["vacationing"].clear_at is None


async def test_custom_message_and_clear(client_for: ClientFor) -> None:
    bob = client_for("bob")
    await bob.set_status("dnd")
    clear_at = int(time.time()) + 600

    written = await bob.set_custom_message("Deep work", "👨‍💻", clear_at=clear_at)
    assert (written.message, written.icon, written.clear_at) == ("Deep work", "👨‍💻", clear_at)
    icon_only = await bob.set_custom_message("", "🎧")
    assert icon_only.message == ""
    assert icon_only.icon == "🎧"

    await bob.clear_message()
    cleared = await bob.get_own_status()
    assert cleared.message is None
    assert cleared.icon is None
    assert cleared.status is NextcloudStatusType.DND


async def test_other_user_status(client_for: ClientFor) -> None:
    """Others see invisible as offline, with the message still visible."""
    dave = client_for("dave")
    await dave.set_status("invisible")
    await dave.set_custom_message("hidden but with a message", "🥷")

    seen = await client_for("alice").get_user_status("dave")

    assert seen.status is NextcloudStatusType.OFFLINE
    assert seen.message == "hidden but with a message"
    with pytest.raises(errors.NextcloudNotFound, match="carol has no status"):
        await client_for("alice").get_user_status("carol")


async def test_heartbeat(client_for: ClientFor) -> None:
    """A heartbeat creates a row (200); a user-set dnd makes it return 204 (None)."""
    carol = client_for("carol")
    first = await carol.heartbeat("online")
    assert first is not None
    assert first.status is NextcloudStatusType.ONLINE
    assert not first.status_is_user_defined

    await carol.set_status("dnd")
    assert await carol.heartbeat("online") is None


async def test_backup_and_revert(emulator: Emulator, client_for: ClientFor) -> None:
    """An automation saves the status as a backup row; revert restores it."""
    alice = client_for("alice")
    bob = client_for("bob")
    await alice.set_status("online")
    await alice.set_custom_message("WFH", "🏡")
    emulator.call("POST", "/automations", {"user": "alice", "message_id": "call", "status": "busy"})

    backup = await bob.get_backup_status("alice")
    during = await alice.get_own_status()
    assert backup.user_id == "_alice"
    assert backup.message == "WFH"
    assert during.message_id == "call"

    assert await alice.revert_status("bogus") is None
    restored = await alice.revert_status("call")
    assert restored is not None
    assert restored.message == "WFH"
    with pytest.raises(errors.NextcloudNotFound, match="no backup status"):
        await bob.get_backup_status("alice")


async def test_listing_splits_backups(emulator: Emulator, client_for: ClientFor) -> None:
    for user in ("carol", "bob", "dave", "admin", "alice"):
        await client_for(user).heartbeat("online")
    emulator.call("POST", "/automations", {"user": "bob", "message_id": "out-of-office", "status": "dnd"})

    listing = await list_statuses(client_for("alice"), limit=2)

    assert set(listing.users) == {"carol", "bob", "dave", "admin", "alice"}
    assert set(listing.backups) == {"bob"}
    assert listing.users["bob"].status is NextcloudStatusType.DND
    assert listing.pages == 4
    assert listing.requests == 4
    assert not listing.hidden


async def test_paging_deduplicates_moved_row(emulator: Emulator, client_for: ClientFor) -> None:
    """A row replaced during the sweep moves to the end; the sweep reports it once, newest last."""
    for user in ("carol", "bob", "dave", "admin"):
        await client_for(user).heartbeat("online")
    alice = client_for("alice")

    pages = []
    async for page in iter_status_pages(alice, limit=2):
        pages.append(page)
        if len(pages) == 1:
            emulator.call("POST", "/automations", {"user": "carol", "message_id": "call", "status": "busy"})

    seen = [row.user_id for page in pages for row in page.users]
    assert seen.count("carol") == 2
    assert pages[-1].repeated >= {"carol"}
    # The backup row took carol's old place on the first page, which the sweep had already read.
    assert [row.user_id for page in pages for row in page.backups] == []


async def test_enumeration_hidden_confirmed(emulator: Emulator, client_for: ClientFor) -> None:
    """With enumeration off the list is empty, and the reader's own row proves it is hidden."""
    alice = client_for("alice")
    await alice.heartbeat("online")
    await client_for("bob").heartbeat("away")
    emulator.call("PUT", "/settings", {"user_enumeration": "none"})

    listing = await list_statuses(alice)

    assert listing.hidden
    assert listing.hidden_confirmed
    assert listing.users == {}
    assert (await alice.get_user_status("bob")).status is NextcloudStatusType.AWAY


async def test_enumeration_hidden_without_own_row(emulator: Emulator, client_for: ClientFor) -> None:
    await client_for("bob").heartbeat("away")
    emulator.call("PUT", "/settings", {"user_enumeration": "none"})

    listing = await list_statuses(client_for("alice"))

    assert listing.hidden
    assert not listing.hidden_confirmed


async def test_empty_instance_reported_unconfirmed(client_for: ClientFor) -> None:
    """No rows at all looks like a hidden list; it is reported hidden but not confirmed."""
    listing = await list_statuses(client_for("alice"))

    assert listing.hidden
    assert not listing.hidden_confirmed
    assert listing.pages == 1


async def test_sharee_search(client_for: ClientFor) -> None:
    bob = client_for("bob")
    await bob.set_status("dnd")
    await bob.set_custom_message("Focus time", "🎧")
    alice = client_for("alice")

    exact = await alice.search_users("bob")
    by_name = await alice.search_users("Test")

    assert [sharee.user_id for sharee in exact] == ["bob"]
    assert exact[0].exact
    assert exact[0].status is not None
    assert exact[0].status.status is NextcloudStatusType.DND
    assert exact[0].status.icon == "🎧"
    assert {"bob", "carol", "dave"} <= {sharee.user_id for sharee in by_name}
    assert await alice.search_users("zzznomatch") == ()


async def test_group_members(client_for: ClientFor) -> None:
    assert await client_for("admin").get_group_members("team-a") == ("alice", "bob", "carol")
    with pytest.raises(errors.NextcloudForbidden, match="may not read group team-a"):
        await client_for("alice").get_group_members("team-a")
    with pytest.raises(errors.NextcloudNotFound, match="group no-such-group not found"):
        await client_for("admin").get_group_members("no-such-group")


async def test_group_members_as_subadmin(emulator: Emulator, client_for: ClientFor) -> None:
    emulator.call("PUT", "/groups/team-a/subadmins/dave")
    assert await client_for("dave").get_group_members("team-a") == ("alice", "bob", "carol")


async def test_own_user_details(client_for: ClientFor) -> None:
    details = await client_for("alice").get_user()

    assert details.id == "alice"
    assert details.display_name == "Alice Test"
    assert details.email == "alice@example.test"
    assert details.language == "de"
    assert details.locale == "de_DE"
