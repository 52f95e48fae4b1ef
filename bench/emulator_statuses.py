"""Time ``GET /statuses`` pages of the Nextcloud emulator holding 100,000 users.

Seeds users and status rows through the bulk control API over real HTTP on
127.0.0.1, then pages through the whole table at limit 1000 and at limit 5000
and prints one table row per limit.  No assertions: this only measures.

Run: ``.venv/bin/python bench/emulator_statuses.py [--users N]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx

from presence_bridge.emulator.server import start_emulator

STATUS_TYPES = ("online", "away", "dnd", "busy", "invisible", "offline")
HEADERS = {"OCS-APIRequest": "true", "Accept": "application/json"}
STATUSES_PATH = "/ocs/v2.php/apps/user_status/api/v1/statuses"


def seed(client: httpx.Client, count: int, now: int) -> tuple[float, float]:
    """Create ``count`` users and one row each; return (users seconds, rows seconds)."""
    users = [{"id": f"user{index:06d}", "display_name": f"User {index}", "app_password": "bench"} for index in range(count)]
    started = time.perf_counter()
    client.post("/_emulator/users", json=users).raise_for_status()
    users_s = time.perf_counter() - started
    rows = [
        {
            "user_id": f"user{index:06d}",
            "status": STATUS_TYPES[index % len(STATUS_TYPES)],
            "status_timestamp": now,
            "is_user_defined": index % 2 == 0,
            "custom_message": "Focus time" if index % 3 == 0 else None,
            "custom_icon": "🎧" if index % 3 == 0 else None,
        }
        for index in range(count)
    ]
    started = time.perf_counter()
    client.put("/_emulator/rows", json=rows).raise_for_status()
    return users_s, time.perf_counter() - started


def sweep(client: httpx.Client, limit: int) -> tuple[float, list[float], int]:
    """Page through every row; return (total seconds, per-page seconds, rows seen)."""
    pages: list[float] = []
    seen = 0
    started = time.perf_counter()
    offset = 0
    while True:
        page_started = time.perf_counter()
        response = client.get(STATUSES_PATH, params={"limit": limit, "offset": offset}, headers=HEADERS, auth=("user000000", "bench"))
        response.raise_for_status()
        data = response.json()["ocs"]["data"]
        pages.append(time.perf_counter() - page_started)
        seen += len(data)
        if len(data) < limit:
            break
        offset += limit
    return time.perf_counter() - started, pages, seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000, help="number of users and rows to seed (default 100000)")
    args = parser.parse_args()
    with start_emulator(control=True) as server, httpx.Client(base_url=server.base_url, timeout=120.0) as client:
        now = int(time.time())
        client.put("/_emulator/clock", json={"now": now, "frozen": True}).raise_for_status()
        users_s, rows_s = seed(client, args.users, now)
        print(f"seeded {args.users} users in {users_s:.2f} s and {args.users} rows in {rows_s:.2f} s")
        print(f"{'limit':>6} {'pages':>6} {'rows':>8} {'sweep s':>8} {'page median ms':>15} {'page max ms':>12}")
        for limit in (1000, 5000):
            total, pages, seen = sweep(client, limit)
            median_ms = statistics.median(pages) * 1000
            print(f"{limit:>6} {len(pages):>6} {seen:>8} {total:>8.2f} {median_ms:>15.1f} {max(pages) * 1000:>12.1f}")


if __name__ == "__main__":
    main()
