"""The demo's pieces: status phrases, change detection and the printed curl commands."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from presence_bridge import demo
from presence_bridge.core.status import NextcloudStatusType
from presence_bridge.nextcloud import Credential, NextcloudClient, PublicStatus, list_statuses, make_http_client


def status(user_id: str, kind: str, message: str | None = None, icon: str | None = None,
           clear_at: int | None = None) -> PublicStatus:
    return PublicStatus(user_id=user_id, status=NextcloudStatusType(kind), message=message, icon=icon,
                        clear_at=clear_at)


def test_describe_phrases() -> None:
    assert demo.describe(None) == "(no status)"
    assert demo.describe(status("bob", "away")) == "away"
    assert demo.describe(status("alice", "online", "Working from home", "🏠")) == "online 🏠 Working from home"
    assert demo.describe(status("carol", "dnd", "In a meeting", None, 1_800_000_000)) == (
        "dnd In a meeting (until 08:00 UTC)"
    )


def test_changes_lists_differences() -> None:
    before = {"alice": status("alice", "online"), "bob": status("bob", "away")}
    after = {"alice": status("alice", "online"), "bob": status("bob", "dnd"), "dave": status("dave", "offline")}

    found = demo.changes(before, after)

    assert [user_id for user_id, _, _ in found] == ["bob", "dave"]
    assert found[0][1] == before["bob"]
    assert found[0][2] == after["bob"]
    assert found[1][1] is None


def test_changes_sees_removed_user() -> None:
    found = demo.changes({"bob": status("bob", "away")}, {})
    assert found == [("bob", status("bob", "away"), None)]


def test_demo_seed_shape() -> None:
    assert demo.DEMO_SEED == {"users": demo.DEMO_USERS}
    for user in demo.DEMO_USERS:
        assert set(user) == {"id", "display_name", "email", "language", "groups", "password", "app_password"}
    assert demo.READER.app_password == "alice-app-password"


@pytest.fixture
def emulator_url() -> Iterator[str]:
    server_module = pytest.importorskip("presence_bridge.emulator.server")
    with server_module.start_emulator(host="127.0.0.1", port=0, control=True) as server:
        yield server.base_url


async def test_curl_examples_change_statuses(emulator_url: str) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    async with make_http_client(base_url=emulator_url) as http:
        await demo.seed_team(http)

        for command in demo.curl_examples(emulator_url):
            # The printed commands continue lines with a backslash; the shell joins them.
            result = subprocess.run(
                ["bash", "-c", command], capture_output=True, text=True, timeout=60, check=False
            )
            assert result.returncode == 0, result.stderr
            assert '"statuscode":200' in result.stdout, result.stdout

        reader = NextcloudClient(http, Credential(demo.READER.id, demo.READER.app_password))
        users = (await list_statuses(reader, own_user_id=demo.READER.id)).users

    assert users["bob"].status == NextcloudStatusType("dnd")
    assert users["dave"].message == "Out for lunch"
    assert users["dave"].icon == "🍕"
    assert users["carol"].message is None


async def test_watch_prints_team(emulator_url: str) -> None:
    out = io.StringIO()
    await demo.watch(emulator_url, interval=0.01, out=out, max_polls=1)

    text = out.getvalue()
    assert "  alice  online 🏠 Working from home" in text
    assert "  dave   (no status)" in text
    assert "curl -sS -u bob:bob-app-password" in text
