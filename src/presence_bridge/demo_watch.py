"""The demo's output: the team on both sides, how to try it, and one line per change seen.

:func:`watch_both` reads the Nextcloud status list (as the bridge's read account)
and each team member's Matrix presence (through the appservice token, acting as
that user) every ``interval`` seconds, and prints a line whenever one changes.  It
prints what each side shows, not what the bridge did: a line for Nextcloud
followed by one for the same person on Matrix is the bridge at work.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO

from presence_bridge.demo_stack import MatrixAccount
from presence_bridge.errors import MatrixError, NextcloudError
from presence_bridge.matrix.appservice_client import AppserviceClient, PresenceState
from presence_bridge.nextcloud import NextcloudClient, PublicStatus, list_statuses

logger = logging.getLogger(__name__)

STATUS_API = "/ocs/v2.php/apps/user_status/api/v1"


@dataclass(frozen=True)
class MatrixView:
    """One Matrix user's presence as the demo shows it; busy is printed as ``busy``."""

    presence: str
    status_msg: str | None

    @classmethod
    def from_state(cls, state: PresenceState) -> MatrixView:
        presence = "busy" if state.state == "org.matrix.msc3026.busy" else state.state
        return cls(presence, state.status_msg)

    def describe(self) -> str:
        return f"{self.presence} {json.dumps(self.status_msg, ensure_ascii=False)}" if self.status_msg else self.presence


def describe_status(status: PublicStatus | None) -> str:
    """Render a Nextcloud status as one short phrase, e.g. ``dnd 📅 In a meeting (until 21:00 UTC)``."""
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


def changed_keys(before: Mapping[str, object], after: Mapping[str, object]) -> list[str]:
    """List the keys whose value differs between the two mappings, sorted."""
    return sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))


def nextcloud_curl(base_url: str, user: str, app_password: str) -> str:
    """Return a shell command that sets ``user``'s Nextcloud status to do not disturb."""
    auth = shlex.quote(f"{user}:{app_password}")
    return (
        f"curl -sS -u {auth} -H 'OCS-APIRequest: true' -X PUT -d statusType=dnd \\\n"
        f"    '{base_url}{STATUS_API}/user_status/status?format=json'"
    )


def matrix_command_curl(synapse_url: str, access_token: str, room_id: str, body: str) -> str:
    """Return a shell command that sends ``body`` as a text message to ``room_id``."""
    url = f"{synapse_url}/_matrix/client/v3/rooms/{room_id}/send/m.room.message/demo-$(date +%s%N)"
    payload = json.dumps({"msgtype": "m.text", "body": body}, ensure_ascii=False)
    return (
        f"curl -sS -X PUT -H {shlex.quote('Authorization: Bearer ' + access_token)} \\\n"
        f"    -d {shlex.quote(payload)} \\\n"
        f'    "{url}"'
    )


def matrix_presence_curl(synapse_url: str, access_token: str, user_id: str, presence: str) -> str:
    """Return a shell command with which ``user_id`` sets its own Matrix presence."""
    url = f"{synapse_url}/_matrix/client/v3/presence/{user_id}/status"
    return (
        f"curl -sS -X PUT -H {shlex.quote('Authorization: Bearer ' + access_token)} \\\n"
        f"    -d '{{\"presence\": \"{presence}\"}}' '{url}'"
    )


class Watcher:
    """Reads both sides and prints changes; see the module docstring."""

    def __init__(
        self,
        reader: NextcloudClient,
        reader_id: str,
        matrix: AppserviceClient,
        matrix_users: Mapping[str, str],
        out: IO[str],
    ) -> None:
        self._reader = reader
        self._reader_id = reader_id
        self._matrix = matrix
        self._matrix_users = matrix_users
        """Matrix user id per Nextcloud user id."""
        self._out = out
        self.nextcloud: dict[str, PublicStatus] = {}
        self.presence: dict[str, MatrixView] = {}

    async def read_nextcloud(self) -> dict[str, PublicStatus] | None:
        try:
            listing = await list_statuses(self._reader, own_user_id=self._reader_id)
        except NextcloudError as error:
            logger.warning("Reading the Nextcloud status list failed, trying again: %s", error)
            return None
        return {user: status for user, status in listing.users.items() if user in self._matrix_users}

    async def read_matrix(self) -> dict[str, MatrixView]:
        views = {}
        for user_id in self._matrix_users.values():
            try:
                views[user_id] = MatrixView.from_state(await self._matrix.get_presence(user_id))
            except MatrixError as error:
                logger.warning("Reading the Matrix presence of %s failed, trying again: %s", user_id, error)
                if user_id in self.presence:
                    views[user_id] = self.presence[user_id]
        return views

    async def snapshot(self) -> None:
        """Read both sides and print them as a table."""
        self.nextcloud = await self.read_nextcloud() or {}
        self.presence = await self.read_matrix()
        print(f"  {'Nextcloud':<10} {'status':<40} {'Matrix user':<20} presence", file=self._out)
        for nextcloud_user, matrix_user in self._matrix_users.items():
            nextcloud = describe_status(self.nextcloud.get(nextcloud_user))
            matrix = self.presence[matrix_user].describe() if matrix_user in self.presence else "?"
            print(f"  {nextcloud_user:<10} {nextcloud:<40} {matrix_user:<20} {matrix}", file=self._out)
        self._out.flush()

    async def poll_once(self) -> None:
        """Read both sides once and print a line per change since the last read."""
        nextcloud = await self.read_nextcloud()
        stamp = datetime.now(UTC).strftime("%H:%M:%S")
        if nextcloud is not None:
            for user in changed_keys(self.nextcloud, nextcloud):
                old, new = describe_status(self.nextcloud.get(user)), describe_status(nextcloud.get(user))
                print(f"{stamp} Nextcloud {user}: {old} -> {new}", file=self._out, flush=True)
            self.nextcloud = nextcloud
        presence = await self.read_matrix()
        for user_id in changed_keys(self.presence, presence):
            old_view, new_view = self.presence.get(user_id), presence.get(user_id)
            old = old_view.describe() if old_view else "?"
            new = new_view.describe() if new_view else "?"
            print(f"{stamp} Matrix    {user_id}: {old} -> {new}", file=self._out, flush=True)
        self.presence = presence


async def watch_both(watcher: Watcher, *, interval: float, max_polls: int | None = None) -> None:
    """Print every change until cancelled, or after ``max_polls`` reads."""
    polls = 0
    while max_polls is None or polls < max_polls:
        await asyncio.sleep(interval)
        polls += 1
        await watcher.poll_once()


def try_it_lines(
    *,
    nextcloud_url: str,
    synapse_url: str,
    nextcloud_user: tuple[str, str],
    commander: MatrixAccount,
    presence_user: MatrixAccount,
) -> list[str]:
    """Return the "try it" section: a Nextcloud change, a bot command and a Matrix presence change.

    ``nextcloud_user`` is ``(id, app password)``.  ``commander`` sends the command to
    its direct-message room with the bot; ``presence_user`` sets its own presence.
    """
    user = nextcloud_user[0]
    lines = [
        f"Nextcloud -> Matrix: set {user}'s Nextcloud status to do not disturb; @{user} turns busy on Matrix:",
        "  " + nextcloud_curl(nextcloud_url, *nextcloud_user),
        "",
    ]
    if commander.dm_room_id is not None:
        lines += [
            f"Matrix -> Nextcloud: send a command as {commander.user_id} to the bot's direct-message room;",
            f"{commander.nextcloud_user}'s Nextcloud status turns to do not disturb for an hour:",
            "  " + matrix_command_curl(synapse_url, commander.access_token, commander.dm_room_id, "!status dnd 1h"),
            "",
        ]
    lines += [
        f"Matrix -> Nextcloud: set {presence_user.user_id}'s presence as a Matrix client would;",
        f"{presence_user.nextcloud_user}'s Nextcloud status turns away. Wait half a minute after the start first:",
        "the bridge takes a user's first presence in its first 30 s for the homeserver's startup backlog.",
        "  " + matrix_presence_curl(synapse_url, presence_user.access_token, presence_user.user_id, "unavailable"),
    ]
    return lines
