"""Usage lines, help text and reply texts for the bridge's chat commands.

One table, :data:`COMMAND_TABLE`, contains the usage line of every command.  The
``help`` command prints it and every CommandError the parser raises quotes the
line of the command that failed, so the two never disagree.  Usage lines carry no
``/ncstatus`` or ``!status`` prefix, and :func:`help_text` adds the one the chat uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from presence_bridge.core.localtime import describe_instant
from presence_bridge.core.status import NextcloudStatusType
from presence_bridge.core.timeexpr import EXPIRY_USAGE, TimeContext

PREDEFINED_ALIASES = {
    "remote": "remote-work",
    "wfh": "remote-work",
    "sick": "sick-leave",
    "vacation": "vacationing",
    "brb": "be-right-back",
    "ooo": "out-of-office",
}
"""Short words for Nextcloud's predefined message ids.  Each id is accepted as itself too."""

KNOWN_PREDEFINED_IDS = (
    "meeting",
    "commuting",
    "be-right-back",
    "remote-work",
    "sick-leave",
    "vacationing",
    "call",
    "out-of-office",
)
"""The predefined message ids Nextcloud 20 to 32 define, listed or hidden."""

STATUS_WORDS = tuple(status.value for status in NextcloudStatusType)


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One row of the command table: the words that start the command, its usage and purpose."""

    words: tuple[str, ...]
    usage: str
    summary: str


COMMAND_TABLE = (
    CommandSpec(
        STATUS_WORDS,
        "online | away | dnd | busy | invisible | offline [<expiry>]",
        "Set your Nextcloud status. With an expiry, Nextcloud clears your status message "
        "then and sets you offline until your next activity.",
    ),
    CommandSpec(
        ("predefined", *KNOWN_PREDEFINED_IDS, *PREDEFINED_ALIASES),
        "meeting | commuting | remote | sick | vacation | brb [<expiry>]",
        "Set a predefined status that your Nextcloud server offers. Without an expiry "
        "the server's default applies, such as 1 hour for meeting.",
    ),
    CommandSpec(
        ("custom", "emoji"),
        "<emoji> [<message>] [<expiry>]",
        "Set a custom status: one emoji or :shortcode:, a message of at most 80 characters "
        "and an expiry. A final expiry is taken off the message. Put the message in "
        'quotes ("...") to keep it exactly as written.',
    ),
    CommandSpec(("clear",), "clear", "Remove your status message."),
    CommandSpec(
        ("restore",),
        "restore",
        "Go back to the status you had before a call, meeting or out-of-office replaced it.",
    ),
    CommandSpec(
        ("show",),
        "show [@someone | name]",
        "Show your own status, or the status of someone else.",
    ),
    CommandSpec(
        ("who",),
        "who [group | #channel | room]",
        "List the statuses of a Nextcloud group, a channel or a room (this one by default).",
    ),
    CommandSpec(("link",), "link", "Link your chat account to your Nextcloud account."),
    CommandSpec(("unlink",), "unlink", "Remove the link and the stored Nextcloud app password."),
    CommandSpec(
        ("sync",),
        "sync both | to-chat | to-nextcloud | off",
        "Choose which way your status is copied between Nextcloud and chat.",
    ),
    CommandSpec(
        ("timezone",),
        "timezone <IANA zone>",
        "Set the time zone for expiries such as 'until 17:00', for example Europe/Berlin.",
    ),
    CommandSpec(("help",), "help [command]", "Show all commands, or the help for one."),
    CommandSpec(("expiry",), EXPIRY_USAGE, "How to say when a status clears."),
)

_SPEC_BY_WORD = {word: spec for spec in COMMAND_TABLE for word in spec.words}

HELP_TOPICS = tuple(_SPEC_BY_WORD)
"""Every word that ``help <word>`` accepts."""


def usage_for(word: str) -> str:
    """Return the usage line of the command that starts with ``word``."""
    return _SPEC_BY_WORD[word].usage


def help_text(topic: str | None = None, *, prefix: str = "") -> str:
    """Build the reply to ``help`` (all usage lines) or ``help <topic>``.

    ``prefix`` is the chat's command word with its trailing space, such as
    ``"/ncstatus "``.  Raises KeyError for an unknown topic, which the parser
    rejects before a HelpCommand exists.
    """
    if topic is not None:
        spec = _SPEC_BY_WORD[topic]
        usage = spec.usage if spec.words == ("expiry",) else f"{prefix}{spec.usage}"
        return f"{usage}\n{spec.summary}"
    lines = [f"{prefix}{spec.usage}" for spec in COMMAND_TABLE if spec.words != ("expiry",)]
    lines.append(EXPIRY_USAGE)
    return "\n".join(lines)


def describe_expiry_effect(
    status: NextcloudStatusType | None,
    clear_at: int | None,
    ctx: TimeContext,
    *,
    has_message: bool = False,
) -> str:
    """Explain in a reply what happens when a status's expiry passes.

    ``status`` is the status type the command set, or None for a command that
    set only a message.  Nextcloud stores the clear-at on the message, so for a
    status type the bridge attaches it to the user's current message
    (``has_message``) or to an empty custom one.  When it passes, Nextcloud clears
    the message and resets the status to offline, and the user's next activity in
    Nextcloud brings them back online.
    """
    if clear_at is None:
        if status is None:
            return "Your status message stays until you change it."
        return f"Your status stays {status.value} until you change it."
    when = f"{describe_instant(clear_at, ctx.now, ctx.tz)} ({ctx.tz.key})"
    after = (
        "Nextcloud then sets your status to offline, and your next activity in Nextcloud "
        "brings you back online."
    )
    if status is None:
        return f"Your status message clears at {when}. {after}"
    carrier = "your current status message" if has_message else "an empty status message"
    return (
        f"Your status is {status.value}. Nextcloud can only clear a status message, "
        f"not a status, so {carrier} is set to clear at {when}. {after}"
    )
