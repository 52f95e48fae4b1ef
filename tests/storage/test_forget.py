"""Forgetting a person ("forget me") and purging users who are gone."""

from __future__ import annotations

from slack_sdk.oauth.installation_store.models.installation import Installation

from presence_bridge.core.ids import ChatIdentity, Platform
from presence_bridge.storage import NEXTCLOUD_PLATFORM, Store

ALICE_SLACK = ChatIdentity(Platform.SLACK, "T1", "U1")
ALICE_MATRIX = ChatIdentity(Platform.MATRIX, "example.org", "@alice:example.org")
BOB_SLACK = ChatIdentity(Platform.SLACK, "T1", "U2")
ALICE_PASSWORD = "alice-app-password-abcdef"
ALICE_USER_TOKEN = "xoxp-alice-user-token-1234"


async def add_person(store: Store, identity: ChatIdentity, nextcloud_user: str, password: str) -> None:
    await store.link(identity, nextcloud_user)
    await store.set_credentials(identity, nextcloud_user, password)
    await store.save_observed_status(nextcloud_user, {"status": "online"})
    await store.record_write(nextcloud_user, identity.platform.value, identity.workspace, "fp")
    await store.record_write(nextcloud_user, NEXTCLOUD_PLATFORM, "", "fp-nc")
    await store.enqueue(identity.platform.value, identity.workspace, identity.user_id, {"status": "away"},
                        idempotency_key=f"{identity}-chat", nextcloud_user_id=nextcloud_user)
    await store.enqueue(NEXTCLOUD_PLATFORM, "", nextcloud_user, {"status": "dnd"},
                        idempotency_key=f"{identity}-nc", nextcloud_user_id=nextcloud_user)
    await store.add_audit(actor=str(identity), source=identity.platform.value, action="status",
                          nextcloud_user_id=nextcloud_user, platform=identity.platform.value,
                          workspace=identity.workspace, chat_user_id=identity.user_id,
                          old_value="online", new_value="away")


async def save_slack_user_token(store: Store) -> None:
    installations = store.slack_installation_store("client-1")
    await installations.async_save(
        Installation(team_id="T1", user_id="U1", user_token=ALICE_USER_TOKEN, user_scopes="users:write")
    )


async def test_forget_user_deletes_everything(store: Store) -> None:
    await add_person(store, ALICE_SLACK, "alice", ALICE_PASSWORD)
    await add_person(store, BOB_SLACK, "bob", "bob-app-password-123")
    await save_slack_user_token(store)

    forgotten = await store.forget_user(ALICE_SLACK)

    assert forgotten is not None
    assert forgotten.link.nextcloud_user_id == "alice"
    assert forgotten.login_name == "alice"
    assert forgotten.app_password is not None
    assert forgotten.app_password.reveal() == ALICE_PASSWORD
    assert forgotten.slack_user_token is not None
    assert forgotten.slack_user_token.reveal() == ALICE_USER_TOKEN
    assert ALICE_PASSWORD not in repr(forgotten)

    assert await store.get_link(ALICE_SLACK) is None
    assert await store.get_observed_status("alice") is None
    assert await store.get_last_write("alice", "slack", "T1") is None
    assert await store.get_last_write("alice", NEXTCLOUD_PLATFORM, "") is None
    assert await store.list_audit(nextcloud_user_id="alice") == []
    remaining_outbox = await store.list_outbox()
    assert {item.nextcloud_user_id for item in remaining_outbox} == {"bob"}
    installations = store.slack_installation_store("client-1")
    assert await installations.async_find_installation(enterprise_id=None, team_id="T1", user_id="U1") is None

    assert await store.get_link(BOB_SLACK) is not None
    assert await store.get_observed_status("bob") is not None
    assert len(await store.list_audit(nextcloud_user_id="bob")) == 1


async def test_forget_one_of_two_links(store: Store) -> None:
    await add_person(store, ALICE_SLACK, "alice", ALICE_PASSWORD)
    await add_person(store, ALICE_MATRIX, "alice", "alice-matrix-password")

    forgotten = await store.forget_user(ALICE_SLACK)

    assert forgotten is not None
    assert await store.get_link(ALICE_MATRIX) is not None
    assert await store.get_observed_status("alice") is not None
    assert await store.get_last_write("alice", "slack", "T1") is None
    assert await store.get_last_write("alice", "matrix", "example.org") is not None
    audit = await store.list_audit(nextcloud_user_id="alice")
    assert [entry.platform for entry in audit] == ["matrix"]
    outbox_platforms = sorted(item.platform for item in await store.list_outbox())
    assert outbox_platforms == ["matrix", "nextcloud", "nextcloud"]


async def test_forget_unlinked_user(store: Store) -> None:
    await store.add_audit(actor="slack:T1:U1", source="slack", action="command",
                          platform="slack", workspace="T1", chat_user_id="U1")

    assert await store.forget_user(ALICE_SLACK) is None
    assert await store.list_audit() == []


async def test_forget_nextcloud_user_all_links(store: Store) -> None:
    await add_person(store, ALICE_SLACK, "alice", ALICE_PASSWORD)
    await add_person(store, ALICE_MATRIX, "alice", "alice-matrix-password")

    forgotten = await store.forget_nextcloud_user("alice")

    assert sorted(str(item.link.identity) for item in forgotten) == sorted([str(ALICE_SLACK), str(ALICE_MATRIX)])
    assert await store.list_links() == []
    assert await store.list_outbox() == []
    assert await store.list_audit() == []


async def test_purge_gone_chat_account_keeps_one_line(store: Store) -> None:
    await add_person(store, ALICE_SLACK, "alice", ALICE_PASSWORD)

    forgotten = await store.purge_gone_user(ALICE_SLACK, "Slack account deactivated")

    assert len(forgotten) == 1
    assert forgotten[0].app_password is not None
    assert await store.get_link(ALICE_SLACK) is None
    (entry,) = await store.list_audit()
    assert entry.action == "purge"
    assert entry.actor == "bridge"
    assert entry.new_value == "Slack account deactivated"
    assert entry.nextcloud_user_id == "alice"
    assert entry.platform == "slack"
    assert entry.chat_user_id == "U1"


async def test_purge_gone_nextcloud_user(store: Store) -> None:
    await add_person(store, ALICE_SLACK, "alice", ALICE_PASSWORD)
    await add_person(store, ALICE_MATRIX, "alice", "alice-matrix-password")
    await add_person(store, BOB_SLACK, "bob", "bob-app-password-123")

    forgotten = await store.purge_gone_user("alice", "Nextcloud user no longer exists")

    assert len(forgotten) == 2
    assert [link.identity for link in await store.list_links()] == [BOB_SLACK]
    purge_lines = [entry for entry in await store.list_audit() if entry.action == "purge"]
    assert len(purge_lines) == 1
    assert purge_lines[0].nextcloud_user_id == "alice"
    assert purge_lines[0].new_value == "Nextcloud user no longer exists"
    assert len(await store.list_audit(nextcloud_user_id="alice")) == 1
