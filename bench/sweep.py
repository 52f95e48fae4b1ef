"""Compare one sync-engine sweep of the Nextcloud emulator with the bare paging loop.

Seeds the emulator (over real HTTP on 127.0.0.1) with ``--users`` users and one
status row each, links ``--linked`` of them to the recording platform in a
temporary SQLite store, then measures in the same run:

- ``raw``: :func:`presence_bridge.nextcloud.list_statuses`, the client's paging loop;
- ``engine cold``: the first :meth:`SyncEngine.sweep`, which creates every linked
  user's state and queues one chat write each;
- ``engine warm``: a second sweep with no change, which writes nothing.

It prints API calls, bytes on the wire and after decompression, and seconds, with
the ratio to ``raw``.  No assertions: this only measures.

Run: ``.venv/bin/python bench/sweep.py [--users 100000] [--linked 1000] [--limit 5000]``
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from presence_bridge.core.ids import ChatIdentity, Platform
from presence_bridge.emulator.server import start_emulator
from presence_bridge.nextcloud import Credential, NextcloudClient, list_statuses, make_http_client
from presence_bridge.storage import open_store
from presence_bridge.sync.settings import EngineSettings
from presence_bridge.sync.worker import SyncEngine

STATUS_TYPES = ("online", "away", "dnd", "busy", "invisible", "offline")


@dataclass
class Traffic:
    """Bytes received, counted by an httpx response hook."""

    wire: int = 0
    decoded: int = 0

    async def count(self, response: httpx.Response) -> None:
        await response.aread()
        self.wire += response.num_bytes_downloaded
        self.decoded += len(response.content)


@dataclass
class Measure:
    name: str
    calls: int
    wire: int
    decoded: int
    seconds: float


def seed(client: httpx.Client, count: int, now: int) -> None:
    """Create ``count`` users (``reader`` is the bridge's account) and one row each."""
    users = [{"id": f"user{index:06d}", "app_password": "bench"} for index in range(count)]
    users.append({"id": "reader", "groups": ["admin"], "app_password": "bench"})
    client.post("/_emulator/users", json=users).raise_for_status()
    rows = [
        {
            "user_id": f"user{index:06d}",
            "status": STATUS_TYPES[index % len(STATUS_TYPES)],
            "status_timestamp": now,
            "is_user_defined": True,
            "custom_message": "Focus time" if index % 3 == 0 else None,
        }
        for index in range(count)
    ]
    client.put("/_emulator/rows", json=rows).raise_for_status()


async def measure(name: str, reader: NextcloudClient, traffic: Traffic, action: object) -> Measure:
    calls, wire, decoded = reader.requests_sent, traffic.wire, traffic.decoded
    started = time.perf_counter()
    await action  # type: ignore[misc]
    seconds = time.perf_counter() - started
    return Measure(name, reader.requests_sent - calls, traffic.wire - wire, traffic.decoded - decoded, seconds)


async def run(base_url: str, linked: int, limit: int, folder: Path) -> list[Measure]:
    store = await open_store(
        f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}", encryption_keys=[Fernet.generate_key().decode()]
    )
    traffic = Traffic()
    http = make_http_client(base_url=base_url, timeout_read=120.0)
    http.event_hooks["response"].append(traffic.count)
    reader = NextcloudClient(http, Credential("reader", "bench"))
    try:
        for index in range(linked):
            await store.link(ChatIdentity(Platform.RECORDING, "bench", f"U{index}"), f"user{index:06d}")
        settings = EngineSettings(page_limit=limit, sweep_interval=3600.0, reader_user_id="reader")
        engine = SyncEngine(store, reader, settings)
        return [
            await measure("raw", reader, traffic, list_statuses(reader, limit=limit, own_user_id="reader")),
            await measure("engine cold", reader, traffic, engine.sweep()),
            await measure("engine warm", reader, traffic, engine.sweep()),
        ]
    finally:
        await http.aclose()
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000, help="users and status rows to seed (default 100000)")
    parser.add_argument("--linked", type=int, default=1000, help="users linked to the recording platform (default 1000)")
    parser.add_argument("--limit", type=int, default=5000, help="rows per /statuses page (default 5000)")
    args = parser.parse_args()
    with start_emulator(control=True) as server, httpx.Client(base_url=server.base_url, timeout=300.0) as client:
        now = int(time.time())
        seed(client, args.users, now)
        with tempfile.TemporaryDirectory() as folder:
            results = asyncio.run(run(server.base_url, args.linked, args.limit, Path(folder)))
    raw = results[0]
    print(f"{args.users} users, {args.linked} linked, limit {args.limit}")
    print(f"{'run':<12} {'calls':>6} {'wire KB':>9} {'decoded KB':>11} {'seconds':>8} {'time ratio':>11}")
    for result in results:
        ratio = result.seconds / raw.seconds if raw.seconds else float("nan")
        print(
            f"{result.name:<12} {result.calls:>6} {result.wire / 1024:>9.0f} {result.decoded / 1024:>11.0f} "
            f"{result.seconds:>8.2f} {ratio:>11.2f}"
        )


if __name__ == "__main__":
    main()
