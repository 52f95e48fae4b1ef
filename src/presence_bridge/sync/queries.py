"""``show`` and ``who``: reading statuses for a user, under Nextcloud's visibility rules.

- ``show <name>`` searches with the asking user's own app password (the sharees
  search), so Nextcloud's user-enumeration settings decide whom they can find.
- ``who`` without an argument (or naming the current channel or room) lists the
  linked members of the channel or room the command was sent in, people the asker
  can already see there.  Other channels and rooms are not looked up.
- ``who <group>`` reads the group's members with the bridge's account (only an
  admin or a subadmin may) and is answered only to members of that group and to
  the leads the configuration names for it.  Everyone else gets the same refusal
  whether or not the group exists, so the reply reveals nothing.

A status itself is the public view that any logged-in Nextcloud user may read
(``invisible`` shows as offline).
"""

from __future__ import annotations

import logging
import time
import zoneinfo
from collections.abc import Callable, Mapping, Sequence

from presence_bridge.core.ids import ChatIdentity, NextcloudUserId, Platform
from presence_bridge.core.localtime import describe_instant
from presence_bridge.core.planner_rules import outward_status
from presence_bridge.core.status import NextcloudStatus
from presence_bridge.errors import NextcloudError, NextcloudForbidden, NextcloudNotFound
from presence_bridge.nextcloud import NextcloudClient, Sharee
from presence_bridge.storage import Store
from presence_bridge.sync.executor import UserClientPool
from presence_bridge.sync.platform import Conversation, PlatformRegistry, Reply
from presence_bridge.sync.state_store import PlannerStateStore

logger = logging.getLogger(__name__)

MAX_LISTED = 50
"""Maximum number of people one ``who`` reply lists; the rest are counted."""

REFUSAL = "You can list the statuses of a Nextcloud group only if you are a member or a lead of that group."


def describe_status(status: NextcloudStatus | None, now: float, tz: zoneinfo.ZoneInfo) -> str:
    """Describe a status in a few words, e.g. ``dnd, 🌴 On vacation (until tomorrow 17:00)``."""
    if status is None:
        return "offline (no status)"
    shown = outward_status(status, now)
    text = shown.status.value
    message = " ".join(part for part in (shown.icon, shown.message or shown.message_id) if part)
    if message:
        text += f", {message}"
    if shown.clear_at is not None:
        text += f" (until {describe_instant(shown.clear_at, int(now), tz)})"
    return text


def _lines_reply(title: str, lines: Sequence[tuple[str, str]], total: int) -> Reply:
    text_lines = [title] + [f"{name}: {status}" for name, status in lines]
    formatted_lines = [f"*{title}*"] + [f"*{name}*: {status}" for name, status in lines]
    if total > len(lines):
        more = f"… and {total - len(lines)} more"
        text_lines.append(more)
        formatted_lines.append(more)
    return Reply("\n".join(text_lines), "\n".join(formatted_lines))


def _conversation_word(platform: Platform) -> str:
    """Return what the platform calls a conversation: a room on Matrix, a channel elsewhere."""
    return "room" if platform is Platform.MATRIX else "channel"


def _channel_reference(scope: str) -> str | None:
    """Return the channel or room a ``who`` argument names, or None when it names a Nextcloud group.

    ``<#C123|general>`` (how Slack sends a channel mention) gives ``C123``; a
    ``#name`` or a Matrix room id or alias is returned as typed.
    """
    text = scope.strip()
    if text.startswith("<#") and text.endswith(">"):
        return text[2:-1].split("|", 1)[0]
    if text.startswith(("#", "!")):
        return text
    return None


class StatusQueries:
    """Replies to ``show`` and ``who``.  The module docstring lists who may see what."""

    def __init__(
        self,
        store: Store,
        pool: UserClientPool,
        reader: NextcloudClient,
        platforms: PlatformRegistry,
        team_leads: Mapping[str, Sequence[str]],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._states = PlannerStateStore(store)
        self._pool = pool
        self._reader = reader
        self._platforms = platforms
        self._team_leads = team_leads
        self._clock = clock

    async def show(self, identity: ChatIdentity, target: str | None, tz: zoneinfo.ZoneInfo) -> Reply:
        """Show the asker's own status, or that of the people a sharees search for ``target`` finds."""
        now = self._clock()
        if target is None:
            try:
                own = await self._pool.call(identity, lambda client: client.get_own_status())
            except NextcloudNotFound:
                return Reply("Your Nextcloud status: offline (no status).")
            return Reply(f"Your Nextcloud status: {describe_status(own.to_status(), now, tz)}.")
        found: tuple[Sharee, ...] = await self._pool.call(identity, lambda client: client.search_users(target, per_page=5))
        if not found:
            return Reply(f"No Nextcloud user you can see matches {target!r}.", ok=False)
        exact = [sharee for sharee in found if sharee.exact]
        chosen = exact[:1] if len(exact) == 1 else list(found)
        lines = [
            (sharee.display_name, describe_status(None if sharee.status is None else sharee.status.to_status(), now, tz))
            for sharee in chosen
        ]
        if len(lines) == 1:
            name, status = lines[0]
            return Reply(f"{name}: {status}", f"*{name}*: {status}")
        return _lines_reply(f"Nextcloud users matching {target!r}:", lines, len(lines))

    async def who(
        self, conversation: Conversation, asker: NextcloudUserId, scope: str | None, tz: zoneinfo.ZoneInfo, prefix: str = ""
    ) -> Reply:
        """Reply to ``who [scope]``: list the current channel or room, or a Nextcloud group.

        A ``#channel``, a Matrix room id (``!…``) or alias (``#…``), or a Slack
        channel mention (``<#C…|name>``) counts as the current conversation only when
        it is its id.  The bridge does not resolve other names, so any other channel
        or room gets a reply saying that only the current one is supported.
        """
        if scope is None:
            return await self.who_here(conversation, tz, prefix)
        channel = _channel_reference(scope)
        if channel is None:
            return await self.who_group(asker, scope, tz)
        if conversation.channel_id is not None and channel == conversation.channel_id:
            return await self.who_here(conversation, tz, prefix)
        word = _conversation_word(conversation.platform)
        return Reply(
            f"{prefix}who lists only the {word} it is sent in, and {scope} is not this {word}. "
            f"Send {prefix}who in that {word}, or {prefix}who <group> for a Nextcloud group.",
            ok=False,
        )

    async def who_here(self, conversation: Conversation, tz: zoneinfo.ZoneInfo, prefix: str = "") -> Reply:
        """List the linked members of the conversation's channel or room."""
        word = _conversation_word(conversation.platform)
        if conversation.channel_id is None:
            return Reply(f"Send {prefix}who in a {word} to list its members, or use {prefix}who <group>.", ok=False)
        platform = self._platforms.get(conversation.platform)
        if platform is None:
            return Reply(f"This chat platform cannot list {word} members here.", ok=False)
        members = await platform.channel_members(conversation.workspace, conversation.channel_id)
        users: list[NextcloudUserId] = []
        for member in members:
            link = await self._store.get_link(ChatIdentity(conversation.platform, conversation.workspace, member))
            if link is not None:
                users.append(link.nextcloud_user_id)
        if not users:
            return Reply(f"No member of this {word} is linked to Nextcloud.")
        return await self._list(f"Nextcloud statuses in this {word}:", sorted(set(users)), tz)

    async def who_group(self, asker: NextcloudUserId, group: str, tz: zoneinfo.ZoneInfo) -> Reply:
        """List a Nextcloud group's statuses, for its members and its configured leads only."""
        is_lead = asker in self._team_leads.get(group, ())
        try:
            members = await self._reader.get_group_members(group)
        except NextcloudNotFound:
            if is_lead:
                return Reply(f"Nextcloud has no group {group!r}.", ok=False)
            return Reply(REFUSAL, ok=False)
        except NextcloudForbidden:
            logger.warning("The bridge's Nextcloud account may not read the members of group %s", group)
            if is_lead:
                return Reply(
                    f"The bridge's Nextcloud account may not read the members of {group!r}: "
                    "make it an admin or a subadmin of that group.",
                    ok=False,
                )
            return Reply(REFUSAL, ok=False)
        if not is_lead and asker not in members:
            logger.info("Refused who %s to Nextcloud user %s, who is neither a member nor a lead", group, asker)
            return Reply(REFUSAL, ok=False)
        return await self._list(f"Nextcloud statuses in {group}:", sorted(NextcloudUserId(uid) for uid in members), tz)

    async def _list(self, title: str, users: Sequence[NextcloudUserId], tz: zoneinfo.ZoneInfo) -> Reply:
        now = self._clock()
        shown = list(users[:MAX_LISTED])
        loaded = await self._states.load(shown)
        lines = []
        for user in shown:
            entry = loaded.get(user)
            status = entry.state.nextcloud if entry is not None else None
            if status is None:
                status = await self._read_public(user)
            lines.append((str(user), describe_status(status, now, tz)))
        return _lines_reply(title, lines, len(users))

    async def _read_public(self, user: NextcloudUserId) -> NextcloudStatus | None:
        try:
            return (await self._reader.get_user_status(user)).to_status()
        except NextcloudNotFound:
            return None
        except NextcloudError as error:
            logger.warning("Reading the status of %s for who failed: %s", user, error)
            return None
