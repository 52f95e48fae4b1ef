"""Running one parsed chat command and wording its reply."""

from __future__ import annotations

import datetime as dt
import logging
import time
import zoneinfo
from typing import TYPE_CHECKING

from presence_bridge.core.command_help import KNOWN_PREDEFINED_IDS, describe_expiry_effect, help_text
from presence_bridge.core.command_types import (
    ClearCommand,
    Command,
    HelpCommand,
    LinkCommand,
    RestoreCommand,
    SetCustomCommand,
    SetPredefinedCommand,
    SetStatusCommand,
    ShowCommand,
    SyncCommand,
    TimezoneCommand,
    UnlinkCommand,
    WhoCommand,
)
from presence_bridge.core.commands import parse_command
from presence_bridge.core.ids import ChatIdentity
from presence_bridge.core.status import NextcloudStatusType
from presence_bridge.core.sync_state import CommandAction, CommandIntent, StatusChange, StatusMessage
from presence_bridge.core.timeexpr import TimeContext
from presence_bridge.errors import CommandError, LinkingError, NextcloudError, NextcloudValidationError
from presence_bridge.nextcloud import PredefinedStatus
from presence_bridge.storage import Health, Link, SyncDirection
from presence_bridge.sync.platform import Conversation, Reply
from presence_bridge.sync.queries import StatusQueries, describe_status

if TYPE_CHECKING:
    from presence_bridge.sync.gateway import AccountCommands, Gateway, StatusCommand

logger = logging.getLogger(__name__)

LINK_REPLY_TEMPLATE = (
    "Your chat account is not linked to Nextcloud with an app password yet, so the bridge cannot "
    "act for you. Send {prefix}link to connect your Nextcloud account."
)
"""Reply to a user without a usable link; ``prefix`` is the platform's command word, e.g. ``"!status "``."""

RELINK_REPLY_TEMPLATE = (
    "Nextcloud no longer accepts the app password the bridge holds for you, so it sends no request "
    "as you. Send {prefix}link to connect your Nextcloud account again."
)

LINK_REPLY = LINK_REPLY_TEMPLATE.format(prefix="")
"""The link reply on a platform without a command word (the recording platform)."""

STATUS_LABELS = {
    NextcloudStatusType.ONLINE: "Online",
    NextcloudStatusType.AWAY: "Away",
    NextcloudStatusType.DND: "Do not disturb",
    NextcloudStatusType.BUSY: "Busy",
    NextcloudStatusType.INVISIBLE: "Invisible",
    NextcloudStatusType.OFFLINE: "Offline",
}
"""Message text carrying the expiry of a status set without a message, since Nextcloud rejects an empty one."""

PREDEFINED_CACHE_SECONDS = 3600.0


class CommandRunner:
    """Runs the commands for :class:`~presence_bridge.sync.gateway.Gateway`."""

    def __init__(self, gateway: Gateway, queries: StatusQueries, accounts: AccountCommands | None) -> None:
        self._gateway = gateway
        self._queries = queries
        self.accounts = accounts
        """The linking service's ``link`` and ``unlink``; None replies that linking is unavailable."""
        self._predefined: tuple[PredefinedStatus, ...] = ()
        self._predefined_at = float("-inf")

    async def run(self, conversation: Conversation, text: str, prefix: str) -> Reply:
        identity = ChatIdentity(conversation.platform, conversation.workspace, conversation.chat_user_id)
        link = await self._gateway.store.get_link(identity)
        tz = self._zone(link)
        ctx = TimeContext(int(self._gateway.clock()), tz, self._gateway.settings.week_start)
        predefined = await self._predefined_statuses(identity) if _usable(link) else ()
        # Without a usable link the server's list is unknown: Nextcloud 31's ids let
        # a command parse, so that the reply can ask the user to link.
        offered = [status.id for status in predefined] or sorted(KNOWN_PREDEFINED_IDS)
        try:
            command = parse_command(text, ctx, offered)
        except CommandError as error:
            usage = f"\nUsage: {prefix}{error.usage}" if error.usage else ""
            return Reply(f"{error.reply}{usage}", ok=False)
        self._gateway.executor.metrics.commands.labels(command=type(command).__name__).inc()
        if isinstance(command, HelpCommand):
            return Reply(help_text(command.topic, prefix=prefix))
        if isinstance(command, LinkCommand | UnlinkCommand):
            return await self._account_command(conversation, command, prefix)
        if link is None:
            return Reply(LINK_REPLY_TEMPLATE.format(prefix=prefix), ok=False)
        try:
            return await self._linked_command(conversation, link, command, ctx, predefined, prefix)
        except LinkingError as error:
            return Reply(str(error), ok=False)

    async def _linked_command(
        self,
        conversation: Conversation,
        link: Link,
        command: Command,
        ctx: TimeContext,
        predefined: tuple[PredefinedStatus, ...],
        prefix: str,
    ) -> Reply:
        if isinstance(command, TimezoneCommand):
            await self._gateway.store.update_link(link.identity, time_zone=command.zone)
            return Reply(f"Times you type are now read in {command.zone}.")
        if isinstance(command, SyncCommand):
            await self._gateway.store.update_link(link.identity, sync_direction=SyncDirection(command.mode.value))
            return Reply(f"Sync direction set to {command.mode.value}.")
        if isinstance(command, ShowCommand):
            return await self._queries.show(link.identity, command.target, ctx.tz)
        if isinstance(command, WhoCommand):
            return await self._queries.who(conversation, link.nextcloud_user_id, command.scope, ctx.tz, prefix)
        if link.health is Health.UNHEALTHY:
            return Reply(RELINK_REPLY_TEMPLATE.format(prefix=prefix), ok=False)
        if not link.has_credentials:
            return Reply(LINK_REPLY_TEMPLATE.format(prefix=prefix), ok=False)
        assert isinstance(command, SetStatusCommand | SetPredefinedCommand | SetCustomCommand | ClearCommand | RestoreCommand)
        return await self._status_command(link, command, ctx, predefined)

    async def _status_command(
        self, link: Link, command: StatusCommand, ctx: TimeContext, predefined: tuple[PredefinedStatus, ...]
    ) -> Reply:
        intent = await self._intent(link, command, ctx, predefined)
        outcome = await self._gateway.run_status_command(link, command, intent)
        if outcome.errors:
            error = outcome.errors[0]
            if isinstance(error, NextcloudValidationError):
                return Reply(f"Nextcloud rejected the change: {error}", ok=False)
            if isinstance(error, LinkingError):
                return Reply(str(error), ok=False)
            logger.warning("Command %s of %s failed: %s", command.render(), link.identity, error)
            return Reply(f"Nextcloud did not take the change ({error}). Try again in a minute.", ok=False)
        if outcome.ended_before is not None:
            now = self._gateway.clock()
            shown = describe_status(outcome.ended_before, now, ctx.tz)
            return Reply(f"Nextcloud had already ended the call, meeting or out-of-office status. Your status is now {shown}.")
        if outcome.not_restored is not None:
            return Reply(f"There is no saved status to restore: {outcome.not_restored}.", ok=False)
        reply = self._confirmation(command, intent, ctx)
        if outcome.lost_backup:
            note = (
                " This replaced a status set by a call, meeting or out-of-office, so Nextcloud will not "
                "restore your earlier status when it ends."
            )
            return Reply(reply.text + note)
        return reply

    async def _intent(
        self, link: Link, command: StatusCommand, ctx: TimeContext, predefined: tuple[PredefinedStatus, ...]
    ) -> CommandIntent:
        user = link.nextcloud_user_id
        issued = self._gateway.clock()
        platform = link.identity.platform
        if isinstance(command, RestoreCommand):
            return CommandIntent(user, CommandAction.RESTORE, issued, platform=platform)
        if isinstance(command, ClearCommand):
            return CommandIntent(user, CommandAction.CLEAR_MESSAGE, issued, platform=platform)
        if isinstance(command, SetStatusCommand):
            message = None
            if command.expiry is not None:
                message = await self._message_with_expiry(link, command.status, command.expiry.clear_at)
            change = StatusChange(command.status, message)
        elif isinstance(command, SetPredefinedCommand):
            clear_at = command.expiry.clear_at if command.expiry is not None else _default_clear_at(command.message_id, predefined, ctx)
            change = StatusChange(message=StatusMessage(message_id=command.message_id, clear_at=clear_at))
        else:
            clear_at = command.expiry.clear_at if command.expiry is not None else None
            change = StatusChange(message=self._custom_message(command, clear_at))
        return CommandIntent(user, CommandAction.SET, issued, change, platform)

    def _custom_message(self, command: SetCustomCommand, clear_at: int | None) -> StatusMessage:
        """Build the Nextcloud message of a custom status.

        Nextcloud stores only Unicode emoji, so a custom Slack workspace emoji
        becomes the configured fallback icon or no icon.  With neither a
        fallback nor a message, the shortcode becomes the message text, as the
        Slack -> Nextcloud mapping does, so the status is not an empty message.
        """
        if not command.icon.is_custom:
            return StatusMessage(message=command.message, icon=command.icon.glyph, clear_at=clear_at)
        fallback = self._gateway.settings.mapping.custom_emoji_fallback
        text = command.message
        if fallback is None and not text:
            text = command.icon.shortcode or ""
        return StatusMessage(message=text, icon=fallback, clear_at=clear_at)

    async def _message_with_expiry(
        self, link: Link, status: NextcloudStatusType, clear_at: int | None
    ) -> StatusMessage:
        """Carry a status's expiry on the current message, or on a message naming the status."""
        own = await self._gateway.read_own_status(link.identity)
        if own is not None and own.message_id:
            return StatusMessage(message_id=own.message_id, clear_at=clear_at)
        if own is not None and (own.message or own.icon):
            return StatusMessage(message=own.message, icon=own.icon, clear_at=clear_at)
        return StatusMessage(message=STATUS_LABELS[status], clear_at=clear_at)

    def _confirmation(self, command: StatusCommand, intent: CommandIntent, ctx: TimeContext) -> Reply:
        if isinstance(command, RestoreCommand):
            return Reply("Restored the status you had before the call, meeting or out-of-office.")
        if isinstance(command, ClearCommand):
            return Reply("Cleared your Nextcloud status message.")
        change = intent.change
        clear_at = change.message.clear_at if change.message is not None else None
        if change.status_type is NextcloudStatusType.ONLINE and clear_at is None:
            # Online is not sticky: Nextcloud turns it offline 15 minutes after the last activity.
            return Reply(f"Done: {command.render()}. Nextcloud keeps you online while one of your clients is active.")
        effect = describe_expiry_effect(change.status_type, clear_at, ctx, has_message=True)
        label = STATUS_LABELS.get(change.status_type) if change.status_type is not None else None
        if change.message is not None and label is not None and change.message.message == label:
            effect += f" The status message reads {label!r}."
        if isinstance(command, SetCustomCommand) and command.icon.is_custom and change.message is not None:
            effect += _custom_emoji_note(command.icon.shortcode or "", change.message)
        return Reply(f"Done: {command.render()}. {effect}")

    async def _account_command(
        self, conversation: Conversation, command: LinkCommand | UnlinkCommand, prefix: str
    ) -> Reply:
        if self.accounts is None:
            return Reply("Linking is not available on this bridge yet. Ask the bridge's operator.", ok=False)
        if isinstance(command, LinkCommand):
            return await self.accounts.link(conversation, prefix=prefix)
        return await self.accounts.unlink(conversation)

    async def _predefined_statuses(self, identity: ChatIdentity) -> tuple[PredefinedStatus, ...]:
        """Return the server's predefined statuses, read with the user's client and kept for an hour after a successful read."""
        now = time.monotonic()
        if now - self._predefined_at < PREDEFINED_CACHE_SECONDS:
            return self._predefined
        try:
            self._predefined = await self._gateway.pool.call(identity, lambda client: client.get_predefined_statuses())
        except (LinkingError, NextcloudError) as error:
            logger.warning("Reading the predefined statuses as %s failed: %s", identity, error)
            return self._predefined
        self._predefined_at = now
        return self._predefined

    def _zone(self, link: Link | None) -> zoneinfo.ZoneInfo:
        if link is not None and link.time_zone:
            try:
                return zoneinfo.ZoneInfo(link.time_zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                logger.warning("Link %s has the unknown time zone %r; using the default", link.identity, link.time_zone)
        return self._gateway.settings.default_timezone


def _custom_emoji_note(shortcode: str, message: StatusMessage) -> str:
    """Tell the user what Nextcloud shows in place of a custom workspace emoji, which has no Unicode form."""
    if message.icon is not None:
        return f" Nextcloud has no {shortcode} emoji, so it shows {message.icon} in its place."
    if message.message == shortcode:
        return f" Nextcloud has no {shortcode} emoji, so your status message there reads {shortcode!r}."
    return f" Nextcloud has no {shortcode} emoji, so your status there shows the message without an icon."


def _usable(link: Link | None) -> bool:
    return link is not None and link.has_credentials and link.health is Health.HEALTHY


def _default_clear_at(message_id: str, predefined: tuple[PredefinedStatus, ...], ctx: TimeContext) -> int | None:
    """Apply the server's clear-at rule of a predefined status (Nextcloud leaves that to clients)."""
    for status in predefined:
        if status.id == message_id and status.clear_at is not None:
            now = dt.datetime.fromtimestamp(ctx.now, ctx.tz)
            return status.clear_at.resolve(now, first_weekday=ctx.week_start)
    return None
