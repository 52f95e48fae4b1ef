"""Secrets at rest: encryption, key checks at open, and key rotation."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from presence_bridge.core.ids import ChatIdentity, Platform
from presence_bridge.errors import SecretKeyError
from presence_bridge.secret import Secret
from presence_bridge.storage import Store, open_store
from presence_bridge.storage.schema import encryption_canary, nextcloud_credentials

from .conftest import FakeClock

ALICE = ChatIdentity(Platform.SLACK, "T1", "U1")
BOB = ChatIdentity(Platform.MATRIX, "example.org", "@bob:example.org")
ALICE_PASSWORD = "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh3iJk6lMn9oPq2rSt5uVw8xYz1aBc4dEf"
BOB_PASSWORD = "bob-app-password-0123456789"


async def raw_passwords(store: Store) -> list[str]:
    async with store.engine.connect() as connection:
        query = select(nextcloud_credentials.c.app_password_encrypted).order_by(nextcloud_credentials.c.link_id)
        return list((await connection.execute(query)).scalars())


async def raw_canary(store: Store) -> str:
    async with store.engine.connect() as connection:
        return (await connection.execute(select(encryption_canary.c.token))).scalar_one()


async def add_users(store: Store) -> None:
    await store.link(ALICE, "alice")
    await store.link(BOB, "bob")
    await store.set_credentials(ALICE, "alice@example.org", Secret(ALICE_PASSWORD))
    await store.set_credentials(BOB, "bob", BOB_PASSWORD)


async def test_credentials_round_trip(store: Store) -> None:
    await add_users(store)

    credentials = await store.get_credentials(ALICE)

    assert credentials is not None
    assert credentials.login_name == "alice@example.org"
    assert credentials.app_password.reveal() == ALICE_PASSWORD
    assert ALICE_PASSWORD not in repr(credentials)
    assert ALICE_PASSWORD not in str(credentials.app_password)


async def test_credentials_replaced(store: Store) -> None:
    await add_users(store)

    await store.set_credentials(ALICE, "alice2", "second-password-xyz")

    credentials = await store.get_credentials(ALICE)
    assert credentials is not None
    assert credentials.login_name == "alice2"
    assert credentials.app_password.reveal() == "second-password-xyz"


async def test_raw_column_holds_no_plaintext(store: Store) -> None:
    await add_users(store)

    stored = await raw_passwords(store)

    assert len(stored) == 2
    for token in stored:
        assert ALICE_PASSWORD not in token
        assert BOB_PASSWORD not in token
        assert token.startswith("gAAAAA")


async def test_open_with_wrong_key(database_url: str, keys: list[str], clock: FakeClock) -> None:
    first = await open_store(database_url, encryption_keys=[keys[0]], clock=clock)
    await add_users(first)
    await first.close()

    with pytest.raises(SecretKeyError, match="none of the 1 configured encryption keys") as caught:
        await open_store(database_url, encryption_keys=[keys[1]], clock=clock)
    assert keys[1] not in str(caught.value)
    assert "storage.encryption_key" in str(caught.value)


async def test_open_without_keys(database_url: str, clock: FakeClock) -> None:
    with pytest.raises(SecretKeyError, match="no encryption key is configured"):
        await open_store(database_url, encryption_keys=[], clock=clock)


async def test_open_with_malformed_key(database_url: str, clock: FakeClock) -> None:
    malformed = "not-a-fernet-key-but-secret-looking"

    with pytest.raises(SecretKeyError, match="encryption key 2 is not a valid Fernet key") as caught:
        await open_store(database_url, encryption_keys=[Fernet.generate_key().decode(), malformed], clock=clock)

    assert malformed not in str(caught.value)
    assert caught.value.__cause__ is None


async def test_open_rejects_single_string_key(database_url: str, clock: FakeClock) -> None:
    with pytest.raises(TypeError, match="list of keys"):
        await open_store(database_url, encryption_keys=Fernet.generate_key().decode(), clock=clock)


async def test_key_rotation(database_url: str, keys: list[str], clock: FakeClock) -> None:
    old_key, new_key = keys
    old = await open_store(database_url, encryption_keys=[old_key], clock=clock)
    await add_users(old)
    tokens_before = await raw_passwords(old)
    canary_before = await raw_canary(old)
    await old.close()

    rotating = await open_store(database_url, encryption_keys=[new_key, old_key], clock=clock)
    before = await rotating.get_credentials(ALICE)
    changed = await rotating.rotate_keys(batch_size=1)
    after = await rotating.get_credentials(ALICE)
    tokens_after = await raw_passwords(rotating)
    canary_after = await raw_canary(rotating)
    again = await rotating.rotate_keys()
    await rotating.close()

    assert before is not None
    assert after is not None
    assert before.app_password.reveal() == ALICE_PASSWORD
    assert after.app_password.reveal() == ALICE_PASSWORD
    assert changed == 2
    assert again == 0
    assert all(a != b for a, b in zip(tokens_before, tokens_after, strict=True))
    assert canary_after != canary_before

    new_only = await open_store(database_url, encryption_keys=[new_key], clock=clock)
    alice = await new_only.get_credentials(ALICE)
    bob = await new_only.get_credentials(BOB)
    await new_only.close()
    assert alice is not None
    assert bob is not None
    assert alice.app_password.reveal() == ALICE_PASSWORD
    assert bob.app_password.reveal() == BOB_PASSWORD

    with pytest.raises(SecretKeyError):
        await open_store(database_url, encryption_keys=[old_key], clock=clock)


async def test_new_key_first_without_rotation(database_url: str, keys: list[str], clock: FakeClock) -> None:
    old_key, new_key = keys
    old = await open_store(database_url, encryption_keys=[old_key], clock=clock)
    await add_users(old)
    await old.close()

    both = await open_store(database_url, encryption_keys=[new_key, old_key], clock=clock)
    await both.set_credentials(BOB, "bob", "written-with-new-key-123")
    await both.close()

    # Without rotation the old key is still needed: the key check value and
    # Alice's password are still under it.
    with pytest.raises(SecretKeyError):
        await open_store(database_url, encryption_keys=[new_key], clock=clock)


async def test_undecryptable_row_names_the_row(database_url: str, keys: list[str], clock: FakeClock) -> None:
    store = await open_store(database_url, encryption_keys=[keys[0]], clock=clock)
    await add_users(store)
    foreign = Fernet(keys[1].encode()).encrypt(b"other").decode()
    async with store.engine.begin() as connection:
        await connection.execute(nextcloud_credentials.update().values(app_password_encrypted=foreign))

    with pytest.raises(SecretKeyError, match="app password of link"):
        await store.get_credentials(ALICE)
    with pytest.raises(SecretKeyError, match="cannot be re-encrypted"):
        await store.rotate_keys()
    await store.close()


async def test_lost_check_value_wrong_key(database_url: str, keys: list[str], clock: FakeClock) -> None:
    store = await open_store(database_url, encryption_keys=[keys[0]], clock=clock)
    await add_users(store)
    async with store.engine.begin() as connection:
        await connection.execute(encryption_canary.delete())
    await store.close()

    with pytest.raises(SecretKeyError, match="nextcloud_credentials"):
        await open_store(database_url, encryption_keys=[keys[1]], clock=clock)

    reopened = await open_store(database_url, encryption_keys=[keys[0]], clock=clock)
    assert await raw_canary(reopened)
    await reopened.close()
