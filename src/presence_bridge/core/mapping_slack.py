"""Mapping rules between a Nextcloud status and a Slack status, presence and DND.

The table of what each side cannot represent is in :mod:`presence_bridge.core.mapping`.
"""

from __future__ import annotations

from collections.abc import Mapping

from presence_bridge.core.emoji import Icon, glyph_to_shortcode, icon_from_slack_status
from presence_bridge.core.mapping_common import (
    ClearMessage,
    Heartbeat,
    MappingOptions,
    NextcloudWrite,
    NoWrite,
    PredefinedLookup,
    SetCustom,
    SetPredefined,
    SetStatus,
    active_clear_at,
    is_expired,
    match_predefined,
    message_parts,
    replace_inline_shortcodes,
    truncate_text,
)
from presence_bridge.core.status import (
    NEXTCLOUD_MESSAGE_MAX,
    SLACK_STATUS_TEXT_MAX,
    NextcloudStatus,
    NextcloudStatusType,
    SlackPresence,
    SlackStatus,
)

SLACK_DEFAULT_STATUSES: Mapping[str, tuple[str, str]] = {
    ":spiral_calendar_pad:": ("meeting", "In a meeting"),
    ":bus:": ("commuting", "Commuting"),
    ":face_with_thermometer:": ("sick-leave", "Out sick"),
    ":palm_tree:": ("vacationing", "Vacationing"),
    ":house_with_garden:": ("remote-work", "Working remotely"),
}
"""Slack's built-in status choices (emoji, English text) and the Nextcloud predefined id
that means the same, so that Nextcloud shows them in each reader's language."""

_SLACK_ACTIVE_TYPES = frozenset(
    {NextcloudStatusType.ONLINE, NextcloudStatusType.DND, NextcloudStatusType.BUSY}
)
"""Nextcloud types published as Slack presence ``auto``; all others force ``away``."""

_NO_PREDEFINED: PredefinedLookup = {}
_DEFAULT_OPTIONS = MappingOptions()


def nextcloud_to_slack(
    status: NextcloudStatus,
    *,
    now: int,
    predefined: PredefinedLookup = _NO_PREDEFINED,
    options: MappingOptions = _DEFAULT_OPTIONS,
) -> SlackStatus:
    """Return the Slack status, presence and DND state that mirror a Nextcloud status.

    ``predefined`` supplies the text and icon of predefined messages (the server lists
    them in the user's language).  A message whose clear-at has passed counts as gone
    and the status as ``offline``, as Nextcloud resets both then.
    """
    if is_expired(status.clear_at, now):
        return SlackStatus(presence=SlackPresence.AWAY)
    presence = SlackPresence.AUTO if status.status in _SLACK_ACTIVE_TYPES else SlackPresence.AWAY
    dnd_until = _dnd_until(status, now, options) if status.status == NextcloudStatusType.DND else None
    icon, text = message_parts(status, predefined)
    text = truncate_text(text, SLACK_STATUS_TEXT_MAX)
    shortcode = glyph_to_shortcode(icon) if icon else None
    if not text and shortcode is None:
        return SlackStatus(dnd_until=dnd_until, presence=presence)
    return SlackStatus(
        text=text,
        emoji=shortcode or "",
        expiration=active_clear_at(status.clear_at, now) or 0,
        dnd_until=dnd_until,
        presence=presence,
    )


def _dnd_until(status: NextcloudStatus, now: int, options: MappingOptions) -> int:
    """End the snooze at clear-at, but never later than ``dnd_max_seconds`` from now.

    NOTE: a longer Nextcloud DND needs the snooze renewed before it ends; this
    function only computes one snooze.
    """
    limit = now + options.dnd_max_seconds
    clear_at = active_clear_at(status.clear_at, now)
    return min(clear_at, limit) if clear_at else limit


def slack_to_nextcloud(
    current: SlackStatus,
    previous: SlackStatus | None = None,
    *,
    now: int,
    predefined: PredefinedLookup = _NO_PREDEFINED,
    options: MappingOptions = _DEFAULT_OPTIONS,
) -> tuple[NextcloudWrite, ...]:
    """Return the Nextcloud writes that mirror a Slack status.

    ``current.presence`` is read as what ``users.getPresence`` reported: ``auto`` for
    active, ``away`` for away.  ``previous`` is the Slack status the bridge last
    mirrored, or None.  Only what changed since then is written.  With no previous
    status an empty Slack status writes nothing, so first contact never clears a
    Nextcloud message.  The result lists a status write, then a message write, or is
    one :class:`NoWrite`.
    """
    writes: list[NextcloudWrite] = []
    writes.extend(_status_writes(current, previous, now))
    writes.extend(_message_writes(current, previous, now, predefined, options))
    if not writes:
        return (NoWrite("Slack DND and status are unchanged"),)
    return tuple(writes)


def _dnd_on(status: SlackStatus, now: int) -> bool:
    return status.dnd_until is not None and status.dnd_until > now


def _status_writes(current: SlackStatus, previous: SlackStatus | None, now: int) -> list[NextcloudWrite]:
    """Turn DND into an explicit status and presence into a heartbeat.

    DND on is written once: a repeated manual write would delete the backup of a
    Nextcloud automation.  DND off after DND on is an explicit ``online``, because a
    heartbeat cannot replace a sticky ``dnd``.
    """
    was_dnd = previous is not None and previous.dnd_until is not None
    if _dnd_on(current, now):
        return [] if was_dnd else [SetStatus(NextcloudStatusType.DND)]
    if was_dnd:
        return [SetStatus(NextcloudStatusType.ONLINE)]
    if current.presence == SlackPresence.AUTO:
        return [Heartbeat(NextcloudStatusType.ONLINE)]
    return [Heartbeat(NextcloudStatusType.AWAY)]


def _profile(status: SlackStatus) -> tuple[str, str, int]:
    return status.text, status.emoji, status.expiration


def _message_writes(
    current: SlackStatus,
    previous: SlackStatus | None,
    now: int,
    predefined: PredefinedLookup,
    options: MappingOptions,
) -> list[NextcloudWrite]:
    if previous is not None and _profile(previous) == _profile(current):
        return []
    expired = current.expiration > 0 and current.expiration <= now
    icon = None if expired else icon_from_slack_status(current.emoji, current.text)
    text = "" if expired else replace_inline_shortcodes(current.text).strip()
    if icon is None and not text:
        return [] if previous is None else [ClearMessage()]

    clear_at = active_clear_at(current.expiration, now)
    message_id = _slack_default_id(icon, text, predefined) or match_predefined(
        icon.glyph if icon else None, text, predefined
    )
    if message_id is not None:
        return [SetPredefined(message_id, clear_at)]

    glyph = icon.glyph if icon else None
    if icon is not None and icon.is_custom:
        glyph = options.custom_emoji_fallback
        if glyph is None and not text:
            # Keep the custom emoji's name as the message, so the status is not lost.
            text = icon.shortcode or ""
    return [SetCustom(glyph, truncate_text(text, NEXTCLOUD_MESSAGE_MAX) or None, clear_at)]


def _slack_default_id(icon: Icon | None, text: str, predefined: PredefinedLookup) -> str | None:
    """Return the predefined id of one of Slack's built-in statuses, in English or as listed."""
    shortcode = icon.shortcode if icon is not None else None
    if shortcode is None or shortcode not in SLACK_DEFAULT_STATUSES:
        return None
    message_id, english_text = SLACK_DEFAULT_STATUSES[shortcode]
    known_texts = {english_text.casefold()}
    if message_id in predefined:
        known_texts.add(predefined[message_id].text.strip().casefold())
    return message_id if text.casefold() in known_texts else None
