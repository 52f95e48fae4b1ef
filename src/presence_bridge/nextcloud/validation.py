"""Checks that reject, before sending, every value Nextcloud 31 would reject.

Nextcloud rejects a bad value with 400, and a value of the wrong JSON type or a
negative offset with 500 (OCS 996).  The client never retries a 500, so these
checks exist to make such requests impossible rather than to save a round trip.
Each check raises :class:`NextcloudValidationError` naming the value and the rule.

The icon rule is the one of Nextcloud's ``EmojiHelper``: exactly one grapheme
cluster (Unicode text segmentation), at least two UTF-8 bytes, and every code
point an emoji code point (Unicode properties ``Emoji``, ``Emoji_Component`` or
``Extended_Pictographic``).  Nextcloud 31 itself checks general categories
instead (``So``, ``Sk``, ``Cf``, ``Po``, ``Ll``, ``Sm`` and a few more), which
also lets through one-grapheme non-emoji such as ``ä`` or ``→``.  The bridge
rejects those, because a status icon is meant to be an emoji; every code point
the emoji rule accepts also passes Nextcloud 31's category rule, so nothing the
bridge sends is rejected for its icon (a test checks this over all code points).
"""

from __future__ import annotations

from collections.abc import Iterable

import regex

from presence_bridge.core.status import NEXTCLOUD_MESSAGE_MAX, NextcloudStatusType
from presence_bridge.errors import NextcloudValidationError

CLEAR_AT_MAX = 2**32 - 1
"""Nextcloud stores ``clear_at`` in an unsigned 32-bit column (the year 2106)."""

HEARTBEAT_STATUSES = frozenset({NextcloudStatusType.ONLINE, NextcloudStatusType.AWAY})
"""The only values ``PUT /heartbeat`` accepts; anything else gets 400 with an empty message."""

MESSAGE_IDS_31 = frozenset(
    {
        "meeting",
        "commuting",
        "remote-work",
        "sick-leave",
        "vacationing",
        "call",
        "out-of-office",
        "availability",
        "busy-tentative",
    }
)
"""Message ids Nextcloud 31 accepts for a predefined message, including the hidden ones."""

MESSAGE_IDS_32 = MESSAGE_IDS_31 | {"be-right-back"}
"""Nextcloud 32 adds ``be-right-back``."""

_GRAPHEME = regex.compile(r"\X")
_EMOJI_CODE_POINT = regex.compile(r"[\p{Emoji}\p{Emoji_Component}\p{Extended_Pictographic}]")
_SURROGATE = regex.compile(r"[\ud800-\udfff]")


def _reject(message: str) -> NextcloudValidationError:
    return NextcloudValidationError(message, retryable=False)


def _check_text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise _reject(f"{name} must be a string, got {value!r}")
    # A lone surrogate cannot be encoded as UTF-8, and Nextcloud's JSON decoder rejects its escape.
    if _SURROGATE.search(value):
        raise _reject(f"{name} {value!r} contains a lone surrogate code point; pass valid Unicode text")
    return value


def validate_message(message: object) -> str:
    """Return ``message`` if Nextcloud accepts it: at most 80 code points (not graphemes, not bytes)."""
    text = _check_text(message, "the status message")
    if len(text) > NEXTCLOUD_MESSAGE_MAX:
        raise _reject(
            f"the status message is {len(text)} code points long; Nextcloud accepts at most "
            f"{NEXTCLOUD_MESSAGE_MAX} (an emoji such as 👨‍💻 counts as 3): shorten it"
        )
    return text


def is_single_emoji(icon: str) -> bool:
    """Return whether ``icon`` is exactly one emoji grapheme (the module docstring gives the rule)."""
    if len(icon.encode("utf-8", "surrogatepass")) < 2:
        return False
    if len(_GRAPHEME.findall(icon)) != 1:
        return False
    return all(_EMOJI_CODE_POINT.fullmatch(code_point) for code_point in icon)


def validate_icon(icon: object, *, supports_emoji: bool = True) -> str | None:
    """Return the icon to send, or None to send no icon (an empty string means no icon).

    Nextcloud rejects an empty-string icon next to a message, so it is turned into None.
    """
    if icon is None:
        return None
    text = _check_text(icon, "the status icon")
    if text == "":
        return None
    if not is_single_emoji(text):
        raise _reject(
            f"the status icon {text!r} is not a single emoji; Nextcloud accepts exactly one emoji "
            "(one character such as 🌴, 👍🏽, 🇩🇪 or 👨‍💻), not text or a :shortcode:"
        )
    if not supports_emoji:
        raise _reject(
            f"this Nextcloud server cannot store emoji (its capability supports_emoji is false), "
            f"so the icon {text!r} cannot be set: send the message without an icon"
        )
    return text


def validate_clear_at(clear_at: object, *, now: int) -> int | None:
    """Return ``clear_at`` if it is None or whole Unix seconds not before ``now`` (equal passes)."""
    if clear_at is None:
        return None
    if isinstance(clear_at, bool) or not isinstance(clear_at, int):
        raise _reject(f"clearAt must be whole Unix seconds (int) or None, got {clear_at!r}")
    if clear_at < now:
        raise _reject(
            f"clearAt {clear_at} is in the past (now is {now}); pass a later time, or None for no expiry"
        )
    if clear_at > CLEAR_AT_MAX:
        raise _reject(f"clearAt {clear_at} is past {CLEAR_AT_MAX}, the largest time Nextcloud can store")
    return clear_at


def validate_status_type(status: object, *, busy_allowed: bool) -> NextcloudStatusType:
    """Return the status type if Nextcloud accepts it; ``busy`` needs ``busy_allowed``."""
    allowed = ", ".join(member.value for member in NextcloudStatusType)
    if not isinstance(status, str) or status not in {member.value for member in NextcloudStatusType}:
        raise _reject(f"unknown status type {status!r}; Nextcloud accepts {allowed} (lower case)")
    status_type = NextcloudStatusType(status)
    if status_type is NextcloudStatusType.BUSY and not busy_allowed:
        raise _reject("this Nextcloud server does not support the busy status (it needs Nextcloud 28 or newer)")
    return status_type


def validate_heartbeat_status(status: object) -> NextcloudStatusType:
    if not isinstance(status, str) or status not in HEARTBEAT_STATUSES:
        raise _reject(f"a heartbeat status must be 'online' or 'away', got {status!r}")
    return NextcloudStatusType(status)


def validate_message_id(message_id: object, known_ids: Iterable[str]) -> str:
    known = frozenset(known_ids)
    if not isinstance(message_id, str) or message_id not in known:
        raise _reject(
            f"unknown predefined message id {message_id!r}; this server accepts {', '.join(sorted(known))}"
        )
    return message_id


def validate_path_segment(value: object, name: str) -> str:
    """Return a user id, group id or message id that is safe to put in a URL path."""
    text = _check_text(value, name)
    if not text or "/" in text:
        raise _reject(f"{name} {text!r} is invalid: it must be non-empty and contain no '/'")
    return text


def validate_search_term(value: object) -> str:
    """Return the trimmed search term for the sharees search; it must not be blank."""
    term = _check_text(value, "the search term").strip()
    if not term:
        raise _reject(f"the search term {value!r} is blank; pass part of a name, user id or e-mail")
    return term


def validate_page(limit: object, offset: object) -> tuple[int, int]:
    """Return ``(limit, offset)`` for ``/statuses``: limit at least 1 and offset at least 0."""
    for name, value, minimum in (("limit", limit, 1), ("offset", offset, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise _reject(f"the /statuses {name} must be an int of at least {minimum}, got {value!r}")
    assert isinstance(limit, int) and isinstance(offset, int)
    return limit, offset
