"""Options, result types and helpers shared by the Slack and Matrix mapping rules.

The rules themselves are in :mod:`presence_bridge.core.mapping_slack` and
:mod:`presence_bridge.core.mapping_matrix`; :mod:`presence_bridge.core.mapping`
documents what each side loses.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

import emoji as emoji_lib

from presence_bridge.core.emoji import icon_from_text, normalize_glyph, shortcode_to_glyph
from presence_bridge.core.status import NEXTCLOUD_MESSAGE_MAX, NextcloudStatus, NextcloudStatusType

DEFAULT_DND_MAX_SECONDS = 24 * 3600
"""Slack DND length for a Nextcloud ``dnd`` without clear-at, and the cap for one with it."""

ELLIPSIS = "\u2026"

UNMATCHABLE_MESSAGE_IDS = frozenset({"call", "out-of-office", "availability", "busy-tentative"})
"""Predefined ids only Nextcloud's automations set, so a chat status never maps to them.

Setting one by hand would leave an automated-looking status that no automation reverts.
``meeting`` is not here because users pick it from the list too.
"""

HEARTBEAT_STATUSES = frozenset({NextcloudStatusType.ONLINE, NextcloudStatusType.AWAY})

_INLINE_SHORTCODE_RE = re.compile(r":[a-z0-9_+'\-]+:(?::skin-tone-[2-6](?:-[2-6])?:)?")


@dataclass(frozen=True, slots=True)
class PredefinedMessage:
    """A predefined Nextcloud message as the server lists it, in the user's language."""

    icon: str | None
    text: str


PredefinedLookup = Mapping[str, PredefinedMessage]
"""Predefined message id (``meeting``, ``vacationing``, …) to its icon and text."""


@dataclass(frozen=True, slots=True)
class MappingOptions:
    """Operator settings of the mapping rules.

    ``dnd_max_seconds``: length of the Slack DND snooze for a Nextcloud ``dnd``
    without clear-at, and the cap for one with a later clear-at, in seconds.
    ``msc3026_busy``: the homeserver advertises ``org.matrix.msc3026.busy_presence``,
    so ``dnd`` and ``busy`` go out as Matrix busy rather than ``unavailable``.
    ``custom_emoji_fallback``: the Nextcloud icon for a Slack custom emoji, which has
    no Unicode form; None sends no icon.
    ``matrix_dnd_message`` and ``matrix_busy_message``: the Matrix ``status_msg`` for a
    ``dnd`` or ``busy`` without a message of its own (None for none).  Matrix users see
    the status message more than the state, and ``unavailable`` alone does not say DND.
    """

    dnd_max_seconds: int = DEFAULT_DND_MAX_SECONDS
    msc3026_busy: bool = False
    custom_emoji_fallback: str | None = None
    matrix_dnd_message: str | None = "Do not disturb"
    matrix_busy_message: str | None = "Busy"

    def __post_init__(self) -> None:
        if self.dnd_max_seconds < 60:
            raise ValueError(
                f"invalid dnd_max_seconds {self.dnd_max_seconds}: Slack snoozes in whole "
                "minutes, so use at least 60"
            )
        fallback = self.custom_emoji_fallback
        if fallback is not None:
            icon = icon_from_text(fallback)
            if icon is None or icon.glyph is None:
                raise ValueError(
                    f"invalid custom_emoji_fallback {fallback!r}: use one Unicode emoji such as 💬"
                )


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Report activity (``online``) or idleness (``away``); Nextcloud keeps a sticky status."""

    status: NextcloudStatusType

    def __post_init__(self) -> None:
        if self.status not in HEARTBEAT_STATUSES:
            raise ValueError(f"invalid heartbeat status {self.status!r}: use online or away")


@dataclass(frozen=True, slots=True)
class SetStatus:
    """Set the status type explicitly; ``away``, ``dnd``, ``busy`` and ``invisible`` stick."""

    status: NextcloudStatusType


@dataclass(frozen=True, slots=True)
class SetPredefined:
    """Set a predefined message, so that Nextcloud shows it in each reader's language."""

    message_id: str
    clear_at: int | None = None


@dataclass(frozen=True, slots=True)
class SetCustom:
    """Set a custom message: an icon, a text of at most 80 code points, or both."""

    icon: str | None
    message: str | None
    clear_at: int | None = None

    def __post_init__(self) -> None:
        if not self.icon and not self.message:
            raise ValueError("invalid SetCustom: icon and message are both empty; use ClearMessage")
        if self.message is not None and len(self.message) > NEXTCLOUD_MESSAGE_MAX:
            raise ValueError(
                f"invalid SetCustom message of {len(self.message)} code points: "
                f"Nextcloud accepts at most {NEXTCLOUD_MESSAGE_MAX}; truncate it first"
            )


@dataclass(frozen=True, slots=True)
class ClearMessage:
    """Remove the message (custom or predefined); the status type stays."""


@dataclass(frozen=True, slots=True)
class NoWrite:
    """Leave Nextcloud alone; ``reason`` is the explanation for the debug log."""

    reason: str


NextcloudWrite = Heartbeat | SetStatus | SetPredefined | SetCustom | ClearMessage | NoWrite
"""One request the bridge should send to Nextcloud (or :class:`NoWrite`)."""


def truncate_text(text: str, limit: int) -> str:
    """Shorten ``text`` to at most ``limit`` code points.

    Longer text is cut to ``limit - 1`` code points, moved back so that no emoji
    sequence or base letter loses its combining marks, stripped of trailing
    whitespace, and ended with "…".
    """
    if len(text) <= limit:
        return text
    cut = limit - 1
    for match in emoji_lib.emoji_list(text):
        if match["match_start"] < cut < match["match_end"]:
            cut = match["match_start"]
            break
    while cut > 0 and unicodedata.combining(text[cut]):
        cut -= 1
    return text[:cut].rstrip() + ELLIPSIS


def active_clear_at(clear_at: int | None, now: int) -> int | None:
    """Return a clear-at (or Slack expiration) still in the future, else None.

    Zero means "never" on Slack, so it gives None too.
    """
    if not clear_at or clear_at <= now:
        return None
    return clear_at


def is_expired(clear_at: int | None, now: int) -> bool:
    """True when a message's clear-at has passed, which resets Nextcloud to offline."""
    return clear_at is not None and 0 < clear_at <= now


def message_parts(status: NextcloudStatus, predefined: PredefinedLookup) -> tuple[str | None, str]:
    """Return the icon and text Nextcloud shows for a status's message.

    For a predefined message the server-filled ``message``/``icon`` win, because an
    out-of-office status keeps its own text there; the lookup fills what is missing.
    """
    icon, text = status.icon, status.message or ""
    entry = predefined.get(status.message_id) if status.message_id else None
    if entry is not None:
        icon = icon or entry.icon
        text = text or entry.text
    return icon or None, text.strip()


def match_predefined(
    glyph: str | None,
    text: str,
    predefined: PredefinedLookup,
) -> str | None:
    """Return the predefined id whose icon and text equal these, ignoring case.

    Automation-only ids (:data:`UNMATCHABLE_MESSAGE_IDS`) never match.
    """
    wanted_text = text.strip().casefold()
    wanted_glyph = normalize_glyph(glyph) if glyph else None
    for message_id, entry in predefined.items():
        if message_id in UNMATCHABLE_MESSAGE_IDS or entry.text.strip().casefold() != wanted_text:
            continue
        entry_glyph = normalize_glyph(entry.icon) if entry.icon else None
        if entry_glyph == wanted_glyph:
            return message_id
    return None


def replace_inline_shortcodes(text: str) -> str:
    """Replace standard Slack ``:name:`` codes inside a text by their emoji.

    Custom workspace emoji have no Unicode form and stay as ``:name:``.
    """

    def replace(match: re.Match[str]) -> str:
        return shortcode_to_glyph(match[0]) or match[0]

    return _INLINE_SHORTCODE_RE.sub(replace, text)
