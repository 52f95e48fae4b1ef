"""The parser for the bridge's chat commands (Slack ``/ncstatus ...``, Matrix ``!status ...``).

:func:`parse_command` receives the text after the command word and returns one
command object from :mod:`presence_bridge.core.command_types`, or raises
CommandError with the reply to send and the usage line of the command tried.  It
never returns a partial command.  Command words match case-insensitively.
Message text keeps its case and inner whitespace.
"""

from __future__ import annotations

import difflib
import functools
import re
import zoneinfo
from collections.abc import Callable, Collection

from presence_bridge.core.command_help import (
    HELP_TOPICS,
    KNOWN_PREDEFINED_IDS,
    PREDEFINED_ALIASES,
    STATUS_WORDS,
    usage_for,
)
from presence_bridge.core.command_types import (
    QUOTE_PAIRS,
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
    SyncMode,
    TimezoneCommand,
    UnlinkCommand,
    WhoCommand,
)
from presence_bridge.core.emoji import Icon, split_leading_icon
from presence_bridge.core.status import NEXTCLOUD_MESSAGE_MAX, NextcloudStatusType
from presence_bridge.core.timeexpr import (
    Expiry,
    TimeContext,
    parse_expiry,
    resolve_expiry,
    split_trailing_expiry,
)
from presence_bridge.core.timesyntax import parse_expiry_syntax
from presence_bridge.errors import CommandError, TimeExpressionError

MAX_COMMAND_LENGTH = 1000
"""The maximum length of a command text, in code points.  No valid command comes close,
and the emoji scan of a custom status takes time in proportion to the text."""

_FIRST_WORD_RE = re.compile(r"\s*(\S+)(.*)", re.DOTALL)
_STRICT_QUOTES = ('"', "\u201c")
_ZONE_EXAMPLE = "Give an IANA zone name such as Europe/Berlin or America/New_York."
_SYNC_CHOICES = "Choose both, to-chat, to-nextcloud or off."

Handler = Callable[[str, str], Command]


def parse_command(text: str, ctx: TimeContext, predefined_ids: Collection[str] = ()) -> Command:
    """Parse the text after the command word into a command.

    ``ctx`` resolves expiries to clear-at seconds.  ``predefined_ids`` are the
    message ids the user's Nextcloud server lists (``GET /predefined_statuses/``):
    a predefined status is accepted only if its id is among them.

    Raises CommandError (TimeExpressionError for a bad expiry) whose ``reply``
    states what was wrong and whose ``usage`` is the command's usage line.
    """
    if len(text) > MAX_COMMAND_LENGTH:
        raise CommandError(
            f"The command has {len(text)} characters, but the maximum is {MAX_COMMAND_LENGTH}. "
            "Send a shorter command, or 'help' for the list of commands."
        )
    match = _FIRST_WORD_RE.fullmatch(text)
    if match is None:
        raise CommandError("No command given. Send 'help' for the list of commands.", usage=usage_for("help"))
    first, rest = match[1], match[2].strip()
    word = first.lower()

    handler = _HANDLERS.get(word)
    if handler is not None:
        return handler(word, rest)
    if word in STATUS_WORDS:
        return SetStatusCommand(NextcloudStatusType(word), _optional_expiry(rest, ctx, word))
    message_id = _predefined_id(word, predefined_ids)
    if message_id is not None:
        return SetPredefinedCommand(message_id, _optional_expiry(rest, ctx, "predefined"))
    leading_icon = split_leading_icon(text)
    if leading_icon is not None:
        return _parse_custom(*leading_icon, ctx)
    if len(first) > 2 and first.startswith(":") and first.endswith(":"):
        raise CommandError(
            f"'{first}' is not one emoji. Start a custom status with one emoji or one shortcode, "
            "such as :palm_tree: or :+1::skin-tone-2:.",
            usage=usage_for("custom"),
        )
    raise CommandError(
        f"Unknown command '{first}'. Start with a status (online, away, dnd, busy, invisible, "
        "offline), a predefined status such as meeting, an emoji for a custom status, or one of "
        "clear, restore, show, who, link, unlink, sync, timezone and help."
    )


def _optional_expiry(rest: str, ctx: TimeContext, usage_word: str) -> Expiry | None:
    if not rest:
        return None
    try:
        return parse_expiry(rest, ctx)
    except TimeExpressionError as exc:
        raise TimeExpressionError(exc.reply, usage=usage_for(usage_word)) from None


def _predefined_id(word: str, offered: Collection[str]) -> str | None:
    """Map a word to an offered predefined id, or raise if it names a known id the server does not offer."""
    offered_ids = {message_id.lower(): message_id for message_id in offered}
    message_id = PREDEFINED_ALIASES.get(word, word)
    if message_id in offered_ids:
        return offered_ids[message_id]
    if word in PREDEFINED_ALIASES or word in KNOWN_PREDEFINED_IDS:
        choices = ", ".join(sorted(offered_ids)) or "none"
        raise CommandError(
            f"Your Nextcloud server does not offer the predefined status '{message_id}'. "
            f"It offers: {choices}.",
            usage=usage_for("predefined"),
        )
    return None


def _parse_custom(icon: Icon, body: str, ctx: TimeContext) -> SetCustomCommand:
    usage = usage_for("custom")
    try:
        message, expiry = _split_message(body, ctx, usage)
    except TimeExpressionError as exc:
        reply = exc.reply
        if not body or body[0] not in QUOTE_PAIRS:
            # The trailing words looked like an expiry; they may have been meant as text.
            reply += " To keep those words in the message, put the message in quotes."
        raise TimeExpressionError(reply, usage=usage) from None
    if len(message) > NEXTCLOUD_MESSAGE_MAX:
        raise CommandError(
            f"The message has {len(message)} characters, but Nextcloud allows at most "
            f"{NEXTCLOUD_MESSAGE_MAX}. Shorten it to {NEXTCLOUD_MESSAGE_MAX} characters or fewer.",
            usage=usage,
        )
    return SetCustomCommand(icon, message, expiry)


def _split_message(body: str, ctx: TimeContext, usage: str) -> tuple[str, Expiry | None]:
    """Split a custom status body into its message and its optional trailing expiry.

    A body that starts with a quote mark keeps everything up to the last closing
    mark verbatim, and only an expiry may follow it.  Single quotes also serve as
    apostrophes, so a body in single quotes that does not fit that pattern is read
    as unquoted text instead of being rejected.
    """
    if body and body[0] in QUOTE_PAIRS:
        quoted = _split_quoted(body, ctx, usage)
        if quoted is not None:
            return quoted
    return split_trailing_expiry(body, ctx)


def _split_quoted(body: str, ctx: TimeContext, usage: str) -> tuple[str, Expiry | None] | None:
    opener = body[0]
    closer = QUOTE_PAIRS[opener]
    strict = opener in _STRICT_QUOTES
    end = body.rfind(closer, 1)
    if end == -1:
        if not strict:
            return None
        raise CommandError(
            f"The message starts with {opener} but has no closing {closer}. "
            "Close the quote, or leave out the quote marks.",
            usage=usage,
        )
    message, after = body[1:end], body[end + 1 :].strip()
    if not after:
        return message, None
    expr = parse_expiry_syntax(after.lower().split())
    if expr is not None:
        return message, Expiry(expr.render(), resolve_expiry(expr, ctx))
    if not strict:
        return None
    raise CommandError(
        f"Unexpected text after the quoted message: '{after}'. Only an expiry may follow "
        "the closing quote, or put the whole message in the quotes.",
        usage=usage,
    )


def _no_arguments(factory: Callable[[], Command]) -> Handler:
    def handle(word: str, rest: str) -> Command:
        if rest:
            raise CommandError(f"'{word}' takes no arguments, but got '{rest}'.", usage=usage_for(word))
        return factory()

    return handle


def _parse_sync(word: str, rest: str) -> Command:
    if not rest:
        raise CommandError(f"Missing sync mode. {_SYNC_CHOICES}", usage=usage_for(word))
    try:
        return SyncCommand(SyncMode(rest.lower()))
    except ValueError:
        raise CommandError(f"Unknown sync mode '{rest}'. {_SYNC_CHOICES}", usage=usage_for(word)) from None


def _parse_timezone(word: str, rest: str) -> Command:
    if not rest:
        raise CommandError(f"Missing time zone. {_ZONE_EXAMPLE}", usage=usage_for(word))
    zone = _zone_keys().get(rest.lower())
    if zone is not None:
        return TimezoneCommand(zone)
    reply = f"Unknown time zone '{rest}'. {_ZONE_EXAMPLE}"
    close = difflib.get_close_matches(rest.lower(), list(_zone_keys()), n=1) if len(rest) <= 64 else []
    if close:
        reply += f" Did you mean {_zone_keys()[close[0]]}?"
    raise CommandError(reply, usage=usage_for(word))


@functools.cache
def _zone_keys() -> dict[str, str]:
    """Map each IANA zone key, lower-cased, to its canonical spelling."""
    return {key.lower(): key for key in zoneinfo.available_timezones()}


def _parse_help(word: str, rest: str) -> Command:
    if not rest:
        return HelpCommand()
    topic = rest.lower()
    if topic not in HELP_TOPICS:
        raise CommandError(
            f"No help for '{rest}'. Send 'help' alone for all commands, or 'help' with a command "
            "word such as dnd, clear or sync.",
            usage=usage_for(word),
        )
    return HelpCommand(topic)


_HANDLERS: dict[str, Handler] = {
    "clear": _no_arguments(ClearCommand),
    "restore": _no_arguments(RestoreCommand),
    "link": _no_arguments(LinkCommand),
    "unlink": _no_arguments(UnlinkCommand),
    "show": lambda word, rest: ShowCommand(rest or None),
    "who": lambda word, rest: WhoCommand(rest or None),
    "sync": _parse_sync,
    "timezone": _parse_timezone,
    "help": _parse_help,
}
