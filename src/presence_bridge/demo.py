"""``presence-bridge demo``: the bridge mirroring a small team between Nextcloud and Matrix.

The demo starts the Nextcloud emulator, a loopback-only Synapse and
``presence-bridge run`` (see :mod:`presence_bridge.demo_stack` for the steps), then
prints every change it reads on either side (:mod:`presence_bridge.demo_watch`)
until Ctrl-C, which stops everything it started.  All its files (configuration,
SQLite store, secrets, logs, Synapse's data) live in a temporary state folder,
which is deleted after a clean stop and kept when something failed.

Without Synapse (``scripts/synapse-venv`` makes one; ``./scripts/demo`` runs it)
the demo shows the Nextcloud side only and says how to get Synapse.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from presence_bridge.demo_stack import SERVER_NAME, DemoInfo, DemoStack
from presence_bridge.demo_watch import Watcher, describe_status, try_it_lines, watch_both
from presence_bridge.logs import CLI
from presence_bridge.matrix.appservice_client import AppserviceClient
from presence_bridge.nextcloud import Credential, NextcloudClient, make_http_client
from presence_bridge.synapse_local import PYTHON_ENV, find_synapse_python

logger = logging.getLogger(CLI)


@dataclass(frozen=True)
class DemoUser:
    """One account of the demo team, in the shape the emulator's control API accepts."""

    id: str
    display_name: str
    groups: tuple[str, ...]

    @property
    def app_password(self) -> str:
        """The user's own app password, for the curl commands the demo prints and for seeding statuses."""
        # Fixed and readable on purpose: the demo prints curl commands that use it.
        return f"{self.id}-app-password"

    @property
    def bridge_app_password(self) -> str:
        """A second app password given only to the bridge with ``link``; ``!status unlink`` revokes it."""
        return f"{self.id}-bridge-app-password"

    @property
    def reader_app_password(self) -> str:
        """A third app password, used when this user is the bridge's read account, so that unlinking them leaves reading intact."""
        return f"{self.id}-reader-app-password"

    @property
    def matrix_user_id(self) -> str:
        return f"@{self.id}:{SERVER_NAME}"

    @property
    def matrix_password(self) -> str:
        return f"{self.id}-matrix-password"

    def as_control_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "display_name": self.display_name,
            "email": f"{self.id}@example.org",
            "language": "en",
            "groups": list(self.groups),
            "password": f"{self.id}-password",
            "app_passwords": [self.app_password, self.bridge_app_password, self.reader_app_password],
        }


DEMO_TEAM = (
    DemoUser("alice", "Alice Adams", ("admin", "team")),
    DemoUser("bob", "Bob Barker", ("team",)),
    DemoUser("carol", "Carol Chen", ("team",)),
    DemoUser("dave", "Dave Doyle", ("team",)),
)
READER = DEMO_TEAM[0]
"""The account the bridge reads the status list with."""

EXPLICIT_LINKS = ("alice", "bob", "dave")
"""Members linked with ``presence-bridge link`` and their bridge app password: mirrored both ways.
The others (carol) are mirrored Nextcloud -> Matrix only, by ``[linking] matrix_user_template``."""

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


async def _seed(base_url: str) -> None:
    async with make_http_client(base_url=base_url) as http:
        await seed_team(http)


def start_stack(stack: DemoStack, nextcloud_url: str, out: IO[str]) -> DemoInfo:
    """Run the steps of :class:`DemoStack`, printing each; return what was started."""
    stack.prepare(nextcloud_url, (READER.id, READER.reader_app_password))
    print(f"Configuration written to {stack.config_path} (SQLite store, secrets in files next to it).", file=out)
    print("Starting Synapse on 127.0.0.1 (federation off) with the bridge's appservice registration...", file=out, flush=True)
    stack.start_synapse([(user.id, user.matrix_password) for user in DEMO_TEAM])
    info = stack.info
    assert info is not None
    print(f"Synapse running at {info.synapse_url} (pid {info.synapse_pid}); server name {SERVER_NAME}.", file=out)
    accounts = ", ".join(f"{user.matrix_user_id} (password {user.matrix_password})" for user in DEMO_TEAM)
    print(f"Matrix accounts: {accounts}.", file=out)

    print(
        "Each linked member gives the bridge an app password of its own (<user>-bridge-app-password), "
        "because unlinking revokes it; the curl examples use the member's own <user>-app-password.",
        file=out,
    )
    for user in DEMO_TEAM:
        if user.id in EXPLICIT_LINKS:
            print(
                f"$ presence-bridge link --platform matrix --chat-user {user.matrix_user_id} "
                f"--nextcloud-user {user.id} --app-password-stdin",
                file=out,
            )
            print(f"  {stack.link(user.id, user.bridge_app_password)}", file=out)
    implicit = [user.id for user in DEMO_TEAM if user.id not in EXPLICIT_LINKS]
    print(
        f"Mirrored to Matrix without a link by [linking] matrix_user_template: {', '.join(implicit)} "
        "(Nextcloud -> Matrix only).",
        file=out,
        flush=True,
    )

    stack.start_bridge()
    print(f"presence-bridge run (pid {info.run_pid}) is ready at {info.bridge_url}; its log: {info.run_log}", file=out)
    stack.open_direct_rooms(list(EXPLICIT_LINKS))
    stack.write_info()
    print(f"State folder: {stack.state_dir} (details in demo.json)", file=out, flush=True)
    return info


async def watch_team(info: DemoInfo, *, interval: float, out: IO[str], max_polls: int | None = None) -> None:
    """Print both sides, the commands to try, then every change until cancelled."""
    matrix_users = {user.id: user.matrix_user_id for user in DEMO_TEAM}
    async with make_http_client(base_url=info.nextcloud_url) as http, AppserviceClient(
        info.synapse_url, info.as_token
    ) as matrix:
        reader = NextcloudClient(http, Credential(READER.id, READER.app_password))
        watcher = Watcher(reader, READER.id, matrix, matrix_users, out)
        print("\nThe team on both sides:", file=out)
        await watcher.snapshot()

        bob = DEMO_TEAM[1]
        alice, dave = info.account("alice"), info.account("dave")
        print("\nTry it from another terminal:", file=out)
        for line in try_it_lines(
            nextcloud_url=info.nextcloud_url,
            synapse_url=info.synapse_url,
            nextcloud_user=(bob.id, bob.app_password),
            commander=alice,
            presence_user=dave,
        ):
            print(line, file=out)
        print(f"\nWatching for changes every {interval:g} s. Press Ctrl-C to stop.", file=out, flush=True)
        await watch_both(watcher, interval=interval, max_polls=max_polls)


async def watch_nextcloud_only(base_url: str, *, interval: float, out: IO[str]) -> None:
    """Print the Nextcloud side and its changes, for a machine without Synapse."""
    from presence_bridge.demo_watch import changed_keys
    from presence_bridge.nextcloud import list_statuses

    async with make_http_client(base_url=base_url) as http:
        reader = NextcloudClient(http, Credential(READER.id, READER.app_password))
        current = dict((await list_statuses(reader, own_user_id=READER.id)).users)
        for user in DEMO_TEAM:
            print(f"  {user.id:<6} {describe_status(current.get(user.id))}", file=out)
        print(f"\nWatching for changes every {interval:g} s. Press Ctrl-C to stop.", file=out, flush=True)
        while True:
            await asyncio.sleep(interval)
            latest = dict((await list_statuses(reader, own_user_id=READER.id)).users)
            for user_id in changed_keys(current, latest):
                old, new = describe_status(current.get(user_id)), describe_status(latest.get(user_id))
                print(f"{time.strftime('%H:%M:%S')} Nextcloud {user_id}: {old} -> {new}", file=out, flush=True)
            current = latest


def run_demo(*, host: str, port: int, interval: float, out: IO[str] = sys.stdout) -> int:
    """Start everything, print changes until Ctrl-C or SIGTERM, stop everything; return the exit status."""
    from presence_bridge.emulator.server import start_emulator

    emulator = start_emulator(host=host, port=port, control=True)
    stack: DemoStack | None = None
    status = 0
    try:
        print(f"Nextcloud emulator running at {emulator.base_url}", file=out, flush=True)
        asyncio.run(_seed(emulator.base_url))
        synapse_python = find_synapse_python()
        if synapse_python is None:
            print(
                f"\nSynapse was not found, so the bridge does not run and only Nextcloud is shown. Install it with "
                f"scripts/synapse-venv (./scripts/demo does), or set {PYTHON_ENV} to a Python with matrix-synapse.\n",
                file=out,
                flush=True,
            )
            asyncio.run(watch_nextcloud_only(emulator.base_url, interval=interval, out=out))
        else:
            stack = DemoStack(Path(tempfile.mkdtemp(prefix="presence-bridge-demo-")), synapse_python)
            info = start_stack(stack, emulator.base_url, out)
            asyncio.run(watch_team(info, interval=interval, out=out))
    except KeyboardInterrupt:
        print("\nStopping the demo...", file=out, flush=True)
    except (RuntimeError, OSError, httpx.HTTPError) as error:
        print(f"\nerror: the demo could not start: {error}", file=sys.stderr, flush=True)
        status = 1
    finally:
        _stop_all(stack, emulator, keep_state=status != 0, out=out)
    print("Stopped the demo.", file=out, flush=True)
    return status


def _stop_all(stack: DemoStack | None, emulator: Any, *, keep_state: bool, out: IO[str]) -> None:
    """Stop ``run``, Synapse and the emulator, ignoring a second Ctrl-C so nothing is left running."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        if stack is not None:
            stack.stop()
            if keep_state:
                print(f"The state folder {stack.state_dir} was kept for its logs.", file=out)
            else:
                stack.remove_state()
        emulator.stop()
    finally:
        signal.signal(signal.SIGINT, previous)
