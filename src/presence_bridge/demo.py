"""``presence-bridge demo``: a local Nextcloud emulator with a small team, watched live.

The demo starts the emulator on 127.0.0.1, creates four users through its
control API, gives three of them a status through the ordinary user-status API
(as each user, with the Nextcloud client), and then reads ``/statuses`` as
alice every few seconds, printing each change it sees until Ctrl-C.  It also
prints ``curl`` commands that change a status, so an operator can make
something happen from another terminal.

Everything the demo reads goes through :mod:`presence_bridge.nextcloud`, the
same client the bridge uses against a real server.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import httpx

from presence_bridge.errors import NextcloudError
from presence_bridge.logs import CLI
from presence_bridge.nextcloud import (
    Credential,
    NextcloudClient,
    PublicStatus,
    list_statuses,
    make_http_client,
)

logger = logging.getLogger(CLI)

STATUS_API = "/ocs/v2.php/apps/user_status/api/v1"


@dataclass(frozen=True)
class DemoUser:
    """One account of the demo team, in the shape the emulator's control API accepts."""

    id: str
    display_name: str
    groups: tuple[str, ...]

    @property
    def app_password(self) -> str:
        # Fixed and readable on purpose: the demo prints curl commands that use it.
        return f"{self.id}-app-password"

    def as_control_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "display_name": self.display_name,
            "email": f"{self.id}@example.org",
            "language": "en",
            "groups": list(self.groups),
            "password": f"{self.id}-password",
            "app_password": self.app_password,
        }


DEMO_TEAM = (
    DemoUser("alice", "Alice Adams", ("admin", "team")),
    DemoUser("bob", "Bob Barker", ("team",)),
    DemoUser("carol", "Carol Chen", ("team",)),
    DemoUser("dave", "Dave Doyle", ("team",)),
)
READER = DEMO_TEAM[0]
"""The account that reads the status list, as the bridge's own account would."""

DEMO_USERS = [user.as_control_json() for user in DEMO_TEAM]
"""The demo team as a list of control-API user objects."""

DEMO_SEED = {"users": DEMO_USERS}
"""The demo team as an emulator seed (``nextcloud-emulator --seed-demo``)."""


async def seed_team(http: httpx.AsyncClient) -> None:
    """Create the demo team through the control API and give three members a status."""
    response = await http.post("/_emulator/users", json=DEMO_USERS)
    response.raise_for_status()

    clients = {user.id: NextcloudClient(http, Credential(user.id, user.app_password)) for user in DEMO_TEAM}
    await clients["alice"].set_status("online")
    await clients["alice"].set_custom_message("Working from home", "🏠")
    await clients["bob"].set_status("away")
    await clients["carol"].set_status("dnd")
    await clients["carol"].set_predefined_message("meeting", clear_at=int(time.time()) + 3600)


def describe(status: PublicStatus | None) -> str:
    """Render a status as one short phrase, e.g. ``dnd 📅 In a meeting (until 21:00 UTC)``."""
    if status is None:
        return "(no status)"
    parts = [str(status.status)]
    if status.icon:
        parts.append(status.icon)
    if status.message:
        parts.append(status.message)
    if status.clear_at:
        until = datetime.fromtimestamp(status.clear_at, UTC).strftime("%H:%M UTC")
        parts.append(f"(until {until})")
    return " ".join(parts)


def curl_examples(base_url: str) -> list[str]:
    """Return shell commands that change bob's, dave's and carol's statuses on the emulator."""
    bob, carol, dave = DEMO_TEAM[1], DEMO_TEAM[2], DEMO_TEAM[3]
    header = "-H 'OCS-APIRequest: true'"
    api = f"{base_url}{STATUS_API}/user_status"

    def auth(user: DemoUser) -> str:
        return shlex.quote(f"{user.id}:{user.app_password}")

    return [
        f"curl -sS -u {auth(bob)} {header} -X PUT -d statusType=dnd \\\n"
        f"    '{api}/status?format=json'",
        f"curl -sS -u {auth(dave)} {header} -X PUT \\\n"
        f"    --data-urlencode 'message=Out for lunch' --data-urlencode 'statusIcon=🍕' \\\n"
        f"    '{api}/message/custom?format=json'",
        f"curl -sS -u {auth(carol)} {header} -X DELETE '{api}/message?format=json'",
    ]


def changes(
    before: Mapping[str, PublicStatus], after: Mapping[str, PublicStatus]
) -> list[tuple[str, PublicStatus | None, PublicStatus | None]]:
    """List ``(user id, old, new)`` for every user whose status differs, sorted by user id."""
    found = []
    for user_id in sorted(set(before) | set(after)):
        old, new = before.get(user_id), after.get(user_id)
        if old != new:
            found.append((user_id, old, new))
    return found


async def watch(base_url: str, *, interval: float, out: IO[str], max_polls: int | None = None) -> None:
    """Seed the team, print it, then print each status change until cancelled (or ``max_polls`` reads)."""
    async with make_http_client(base_url=base_url) as http:
        await seed_team(http)
        reader = NextcloudClient(http, Credential(READER.id, READER.app_password))
        listing = await list_statuses(reader, own_user_id=READER.id)
        current = dict(listing.users)

        print(f"The team, read as {READER.id} with GET {STATUS_API}/statuses:", file=out)
        for user in DEMO_TEAM:
            print(f"  {user.id:<6} {describe(current.get(user.id))}", file=out)
        print("\nChange a status from another terminal and watch it appear here, for example:", file=out)
        for command in curl_examples(base_url):
            print(f"  {command}", file=out)
        print(f"\nWatching for changes every {interval:g} s. Press Ctrl-C to stop.", file=out, flush=True)

        polls = 0
        while max_polls is None or polls < max_polls:
            await asyncio.sleep(interval)
            polls += 1
            try:
                listing = await list_statuses(reader, own_user_id=READER.id)
            except NextcloudError as error:
                logger.warning("reading the status list failed, trying again in %g s: %s", interval, error)
                continue
            for user_id, old, new in changes(current, listing.users):
                stamp = datetime.now(UTC).strftime("%H:%M:%S")
                print(f"{stamp} {user_id}: {describe(old)} -> {describe(new)}", file=out, flush=True)
            current = dict(listing.users)


def run_demo(*, host: str, port: int, interval: float, out: IO[str] = sys.stdout) -> int:
    """Start the emulator, run :func:`watch` until Ctrl-C, stop the emulator; return the exit status."""
    from presence_bridge.emulator.server import start_emulator

    emulator = start_emulator(host=host, port=port, control=True)
    try:
        base_url = emulator.base_url
        print(f"Nextcloud emulator running at {base_url}\n", file=out, flush=True)
        asyncio.run(watch(base_url, interval=interval, out=out))
    except KeyboardInterrupt:
        print("\nStopped the demo.", file=out, flush=True)
    finally:
        emulator.stop()
    return 0
