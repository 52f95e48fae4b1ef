"""Planner states saved with their outbox rows: compare and set, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from presence_bridge.storage import Store
from presence_bridge.storage.planner_state import (
    LOAD_CHUNK,
    OutboxRow,
    StateUpdate,
    commit_planned,
    load_states,
)


def row(user: str, key: str) -> OutboxRow:
    return OutboxRow("recording", "ws", f"U-{user}", user, {"version": 1}, key)


async def test_commit_saves_states_and_rows(store: Store) -> None:
    result = await commit_planned(store, [StateUpdate("alice", None, '{"a":1}')], [row("alice", "k1")])

    states = await load_states(store, ["alice", "bob"])
    assert result.saved == {"alice"}
    assert result.enqueued == 1
    assert states["alice"].document == '{"a":1}'
    assert "bob" not in states
    assert [item.idempotency_key for item in await store.list_outbox()] == ["k1"]


async def test_commit_conflict_keeps_stored_state(store: Store) -> None:
    await commit_planned(store, [StateUpdate("alice", None, "one")], [])

    stale = await commit_planned(store, [StateUpdate("alice", "zero", "two")], [row("alice", "k1")])
    again = await commit_planned(store, [StateUpdate("alice", None, "three")], [])

    assert stale.conflicts == {"alice"}
    assert again.conflicts == {"alice"}
    assert (await load_states(store))["alice"].document == "one"
    assert await store.list_outbox() == []


async def test_concurrent_commits_save_once(store: Store) -> None:
    await commit_planned(store, [StateUpdate("alice", None, "base")], [])

    results = await asyncio.gather(
        *(commit_planned(store, [StateUpdate("alice", "base", f"next-{n}")], [row("alice", f"k{n}")]) for n in range(4))
    )

    assert sum(1 for result in results if result.saved) == 1
    assert len(await store.list_outbox()) == 1


async def test_load_many_users_in_chunks(store: Store) -> None:
    users = [f"user{index}" for index in range(LOAD_CHUNK + 10)]
    await commit_planned(store, [StateUpdate(users[0], None, "a"), StateUpdate(users[-1], None, "b")], [])

    states = await load_states(store, users)

    assert set(states) == {users[0], users[-1]}
