"""``[linking] matrix_user_template`` in the engine: Nextcloud users without a link are mirrored to Matrix.

A :class:`RecordingPlatform` registered as :attr:`Platform.MATRIX` replaces the
Matrix adapter, so each test reads exactly which writes reached "Matrix".
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from presence_bridge.core.ids import ChatIdentity, NextcloudUserId, Platform
from presence_bridge.core.status import NextcloudStatusType
from presence_bridge.linking.mapping_rule import MirrorTarget
from presence_bridge.linking.matrix_template import MatrixUserRule
from presence_bridge.linking.user_clients import UserClients
from presence_bridge.nextcloud import Credential, NextcloudClient, make_http_client
from presence_bridge.storage import Link, SyncDirection, open_store
from presence_bridge.sync.command_runner import LINK_REPLY
from presence_bridge.sync.dispatcher import Dispatcher
from presence_bridge.sync.executor import PlanExecutor
from presence_bridge.sync.gateway import Gateway
from presence_bridge.sync.keepalive import KeepAlive
from presence_bridge.sync.metrics import EngineMetrics
from presence_bridge.sync.platform import Conversation, PlatformRegistry
from presence_bridge.sync.recording import RecordingPlatform, read_recording
from presence_bridge.sync.worker import SyncEngine

from .conftest import OCS_HEADERS, USER_STATUS, Bridge, Nextcloud, make_settings

SERVER = "example.org"
RULE = MatrixUserRule.parse("@{nextcloud_user}:example.org")


class MatrixStandIn(RecordingPlatform):
    """The recording platform, registered for Matrix."""

    @property
    def platform(self) -> Platform:
        return Platform.MATRIX


def matrix_identity(localpart: str) -> ChatIdentity:
    return ChatIdentity(Platform.MATRIX, SERVER, f"@{localpart}:{SERVER}")


class MatrixBridge:
    """The engine's parts serving the recording platform and a Matrix stand-in."""

    def __init__(self, bridge: Bridge, matrix_path: Path) -> None:
        self.bridge = bridge
        self.matrix_path = matrix_path

    def matrix_writes(self, user: str | None = None) -> list[dict[str, Any]]:
        lines = read_recording(self.matrix_path)
        return [line for line in lines if user is None or line["nextcloud_user_id"] == user]

    async def sweep(self) -> None:
        await self.bridge.engine.sweep()
        await self.bridge.drain()


async def build(nextcloud: Nextcloud, tmp_path: Path, *, rule: MatrixUserRule | None, matrix: bool = True) -> Bridge:
    """Build the parts as the ``bridge`` fixture does; the Matrix stand-in records to ``matrix.jsonl``."""
    store = await open_store(
        f"sqlite+aiosqlite:///{tmp_path / 'bridge.sqlite3'}", encryption_keys=[Fernet.generate_key().decode()]
    )
    http = make_http_client(base_url=nextcloud.server.base_url)
    reader = NextcloudClient(http, Credential("admin", "admin-app"))
    pool = UserClients(store, http)
    recording = RecordingPlatform(tmp_path / "recording.jsonl")
    served = {Platform.RECORDING, Platform.MATRIX} if matrix else {Platform.RECORDING}
    settings = make_settings(platforms=frozenset(served), matrix_user_rule=rule)
    metrics = EngineMetrics()
    executor = PlanExecutor(store, settings, metrics, clock=time.time)
    keepalive = KeepAlive(pool, settings, metrics, store=store)
    engine = SyncEngine(store, reader, settings, pool=pool, keepalive=keepalive, metrics=metrics, executor=executor)
    platforms = PlatformRegistry([recording])
    if matrix:
        platforms.add(MatrixStandIn(tmp_path / "matrix.jsonl"))
    gateway = Gateway(executor, pool, reader, platforms, keepalive=keepalive)
    dispatcher = Dispatcher(store, platforms, worker_id="test-dispatcher")
    return Bridge(
        store, nextcloud, recording, settings, metrics, executor, engine, gateway, keepalive, pool, reader, dispatcher, http
    )


@pytest.fixture
async def matrix_bridge(nextcloud: Nextcloud, tmp_path: Path) -> AsyncIterator[MatrixBridge]:
    bridge = await build(nextcloud, tmp_path, rule=RULE)
    try:
        yield MatrixBridge(bridge, tmp_path / "matrix.jsonl")
    finally:
        await bridge.http.aclose()
        await bridge.store.close()


async def test_template_user_reaches_matrix_once(matrix_bridge: MatrixBridge) -> None:
    await matrix_bridge.sweep()
    matrix_bridge.bridge.nextcloud.set_status("carol", "away")

    for _ in range(3):
        await matrix_bridge.sweep()

    writes = matrix_bridge.matrix_writes("carol")
    away = [line for line in writes if line["desired"]["status"] == "away"]
    assert len(away) == 1
    assert away[0]["chat_user_id"] == "@carol:example.org"
    assert away[0]["workspace"] == SERVER
    assert writes[-1] is away[0]
    assert matrix_bridge.bridge.writes() == []


async def test_explicit_link_overrides_template(matrix_bridge: MatrixBridge) -> None:
    store = matrix_bridge.bridge.store
    await store.link(matrix_identity("robert"), "bob")
    # Dave's explicit link takes the Matrix id the template would give alice.
    await store.link(matrix_identity("alice"), "dave")
    for user in ("alice", "bob", "dave"):
        matrix_bridge.bridge.nextcloud.set_status(user, "dnd")

    await matrix_bridge.sweep()

    chat_ids = {line["nextcloud_user_id"]: line["chat_user_id"] for line in matrix_bridge.matrix_writes()}
    assert chat_ids["bob"] == "@robert:example.org"
    assert chat_ids["dave"] == "@alice:example.org"
    assert "alice" not in chat_ids
    assert "@bob:example.org" not in chat_ids.values()


async def test_invalid_matrix_id_is_skipped(matrix_bridge: MatrixBridge) -> None:
    nextcloud = matrix_bridge.bridge.nextcloud
    nextcloud.control("POST", "/users", [{"id": "Eve", "display_name": "Eve Upper", "app_password": "Eve-app"}])
    nextcloud.set_status("Eve", "dnd")
    nextcloud.set_status("carol", "dnd")

    await matrix_bridge.sweep()

    users = {line["nextcloud_user_id"] for line in matrix_bridge.matrix_writes()}
    assert "Eve" not in users
    assert "carol" in users


async def test_no_implicit_target_without_rule(nextcloud: Nextcloud, tmp_path: Path) -> None:
    bridge = await build(nextcloud, tmp_path, rule=None)
    try:
        nextcloud.set_status("carol", "dnd")

        report = await bridge.engine.sweep()
        await bridge.drain()
        targets = await bridge.executor.linked_users(["carol"])
    finally:
        await bridge.http.aclose()
        await bridge.store.close()

    assert report.read == 0
    assert targets == {}
    assert read_recording(tmp_path / "matrix.jsonl") == []


async def test_no_implicit_target_without_matrix(nextcloud: Nextcloud, tmp_path: Path) -> None:
    bridge = await build(nextcloud, tmp_path, rule=RULE, matrix=False)
    try:
        await bridge.link("alice")
        nextcloud.set_status("carol", "dnd")

        await bridge.engine.sweep()
        await bridge.drain()
        targets = await bridge.executor.linked_users(["carol"])
    finally:
        await bridge.http.aclose()
        await bridge.store.close()

    assert targets == {}
    assert bridge.writes("carol") == []


async def test_linked_users_by_id_adds_implicit_target(matrix_bridge: MatrixBridge) -> None:
    executor = matrix_bridge.bridge.executor
    await matrix_bridge.bridge.store.link(matrix_identity("carol"), "dave")
    await matrix_bridge.bridge.link("bob")

    targets = await executor.linked_users(["alice", "bob", "carol", "_alice"])

    assert targets[NextcloudUserId("alice")] == [
        MirrorTarget(matrix_identity("alice"), NextcloudUserId("alice"), SyncDirection.TO_CHAT, None)
    ]
    bob = targets[NextcloudUserId("bob")]
    assert [target.identity.platform for target in bob] == [Platform.RECORDING, Platform.MATRIX]
    assert isinstance(bob[0], Link)
    assert "carol" not in targets
    assert "_alice" not in targets


async def test_hidden_list_reads_known_template_users(matrix_bridge: MatrixBridge) -> None:
    nextcloud = matrix_bridge.bridge.nextcloud
    nextcloud.set_status("carol", "away")
    await matrix_bridge.sweep()
    nextcloud.set_enumeration("none")
    nextcloud.set_status("carol", "dnd")

    report = await matrix_bridge.bridge.engine.sweep()
    await matrix_bridge.bridge.drain()

    assert report.mode == "per_user"
    assert matrix_bridge.matrix_writes("carol")[-1]["desired"]["status"] == "dnd"


async def test_template_user_command_asks_to_link(matrix_bridge: MatrixBridge) -> None:
    gateway = matrix_bridge.bridge.gateway
    conversation = Conversation(Platform.MATRIX, SERVER, "@carol:example.org", None)

    reply = await gateway.handle_command(conversation, "dnd")
    await gateway.handle_presence(matrix_identity("carol"), NextcloudStatusType.AWAY, time.time())

    assert reply.text == LINK_REPLY
    assert not reply.ok
    # Carol has never had a status, so Nextcloud still has no status row for her.
    response = matrix_bridge.bridge.nextcloud.client.get(
        USER_STATUS + "/user_status", auth=("carol", "carol-app"), headers=OCS_HEADERS
    )
    assert response.status_code == 404


async def test_command_fans_out_to_template_identity(matrix_bridge: MatrixBridge) -> None:
    await matrix_bridge.bridge.link("alice")

    reply = await matrix_bridge.bridge.command("alice", "dnd")
    await matrix_bridge.bridge.drain()

    assert reply.ok, reply.text
    writes = matrix_bridge.matrix_writes("alice")
    assert [line["chat_user_id"] for line in writes] == ["@alice:example.org"]
    assert writes[0]["desired"]["status"] == "dnd"


async def test_deleted_row_sends_template_user_offline(matrix_bridge: MatrixBridge) -> None:
    nextcloud = matrix_bridge.bridge.nextcloud
    nextcloud.set_status("carol", "dnd")
    # Alice's row keeps the listing non-empty, so the sweeps stay complete.
    nextcloud.set_status("alice", "online")
    await matrix_bridge.sweep()
    nextcloud.control("DELETE", "/rows/carol")

    # The planner takes a user as gone after two complete sweeps without the row.
    reports = [await matrix_bridge.bridge.engine.sweep() for _ in range(2)]
    await matrix_bridge.bridge.drain()

    assert [report.mode for report in reports] == ["list", "list"]

    statuses = [line["desired"]["status"] for line in matrix_bridge.matrix_writes("carol")]
    assert statuses[-2:] == ["dnd", "offline"]
