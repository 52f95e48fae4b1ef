"""The commands a user can send the bridge, one frozen dataclass per command.

:func:`presence_bridge.core.commands.parse_command` builds them.  Each has a
``render()`` that returns the canonical text of the command (without the
``/ncstatus`` or ``!status`` prefix): parsing that text again with the same clock
and the same predefined ids gives an equal command.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from presence_bridge.core.emoji import Icon
from presence_bridge.core.status import NextcloudStatusType
from presence_bridge.core.timeexpr import Expiry, find_trailing_expiry

QUOTE_PAIRS = {'"': '"', "\u201c": "\u201d", "'": "'", "\u2018": "\u2019"}
"""Opening quote marks and the mark that closes each: straight, and typographic double and single."""


def _with_expiry(text: str, expiry: Expiry | None) -> str:
    return f"{text} {expiry.text}" if expiry is not None else text


class SyncMode(enum.StrEnum):
    """The direction in which the bridge copies a user's status."""

    BOTH = "both"
    TO_CHAT = "to-chat"
    TO_NEXTCLOUD = "to-nextcloud"
    OFF = "off"


@dataclass(frozen=True, slots=True)
class SetStatusCommand:
    """``dnd 1h``: set the Nextcloud status type.

    Nextcloud keeps a clear-at only on the status message, so an ``expiry`` here
    applies to the user's message (their current one, or an empty custom one), and
    Nextcloud resets the status to offline when it passes.
    """

    status: NextcloudStatusType
    expiry: Expiry | None = None

    def render(self) -> str:
        return _with_expiry(self.status.value, self.expiry)


@dataclass(frozen=True, slots=True)
class SetPredefinedCommand:
    """``meeting 30m``: set one of the server's predefined messages by its id.

    An ``expiry`` of None means the user gave none, and the caller applies the
    server's own clear-at hint for that id.  ``until never`` is an Expiry whose
    ``clear_at`` is None.
    """

    message_id: str
    expiry: Expiry | None = None

    def render(self) -> str:
        return _with_expiry(self.message_id, self.expiry)


@dataclass(frozen=True, slots=True)
class SetCustomCommand:
    """``🌴 On vacation until friday``: an emoji, an optional message and an optional expiry.

    ``message`` is at most 80 code points and may be empty.  ``icon`` has no glyph
    when it is a custom Slack workspace emoji: Slack keeps the shortcode, and Nextcloud,
    which stores only Unicode emoji, gets no icon (or the configured fallback) and the
    message unchanged.
    """

    icon: Icon
    message: str
    expiry: Expiry | None = None

    def render(self) -> str:
        icon_text = self.icon.glyph or self.icon.shortcode or ""
        if not self.message:
            return _with_expiry(icon_text, self.expiry)
        return f"{icon_text} {_with_expiry(self._message_text(), self.expiry)}"

    def _message_text(self) -> str:
        """Return the message, in quotes where the parser would otherwise read it differently."""
        unquoted = _with_expiry(self.message, self.expiry)
        needs_quotes = self.message != self.message.strip() or self.message[0] in QUOTE_PAIRS
        if not needs_quotes:
            found = find_trailing_expiry(unquoted)
            expected_start = len(self.message) + 1 if self.expiry is not None else None
            needs_quotes = (found[0] if found is not None else None) != expected_start
        return f'"{self.message}"' if needs_quotes else self.message


@dataclass(frozen=True, slots=True)
class ClearCommand:
    """``clear``: remove the status message (the status type stays)."""

    def render(self) -> str:
        return "clear"


@dataclass(frozen=True, slots=True)
class RestoreCommand:
    """``restore``: go back to the status that a call, meeting or out-of-office replaced."""

    def render(self) -> str:
        return "restore"


@dataclass(frozen=True, slots=True)
class ShowCommand:
    """``show [@someone | name]``: show one person's status, or the sender's own when ``target`` is None.

    ``target`` is the text as given (a mention, a user id or a display name), which
    the chat adapter resolves.
    """

    target: str | None = None

    def render(self) -> str:
        return f"show {self.target}" if self.target else "show"


@dataclass(frozen=True, slots=True)
class WhoCommand:
    """``who [group | #channel | room]``: list statuses (of this channel or room when ``scope`` is None).

    ``scope`` is the text as given.  The chat adapter decides whether it names a
    Nextcloud group, a Slack channel or a Matrix room.
    """

    scope: str | None = None

    def render(self) -> str:
        return f"who {self.scope}" if self.scope else "who"


@dataclass(frozen=True, slots=True)
class LinkCommand:
    """``link``: start linking the chat account to a Nextcloud account."""

    def render(self) -> str:
        return "link"


@dataclass(frozen=True, slots=True)
class UnlinkCommand:
    """``unlink``: forget the link and the stored Nextcloud credential."""

    def render(self) -> str:
        return "unlink"


@dataclass(frozen=True, slots=True)
class SyncCommand:
    """``sync both | to-chat | to-nextcloud | off``: choose the sync direction."""

    mode: SyncMode

    def render(self) -> str:
        return f"sync {self.mode.value}"


@dataclass(frozen=True, slots=True)
class TimezoneCommand:
    """``timezone Europe/Berlin``: set the zone that expiries are resolved in.

    ``zone`` is a valid IANA key with its canonical capitalisation.
    """

    zone: str

    def render(self) -> str:
        return f"timezone {self.zone}"


@dataclass(frozen=True, slots=True)
class HelpCommand:
    """``help [command]``: show every usage line, or the help for one command word."""

    topic: str | None = None

    def render(self) -> str:
        return f"help {self.topic}" if self.topic else "help"


Command = (
    SetStatusCommand
    | SetPredefinedCommand
    | SetCustomCommand
    | ClearCommand
    | RestoreCommand
    | ShowCommand
    | WhoCommand
    | LinkCommand
    | UnlinkCommand
    | SyncCommand
    | TimezoneCommand
    | HelpCommand
)
"""Any command :func:`~presence_bridge.core.commands.parse_command` returns."""
