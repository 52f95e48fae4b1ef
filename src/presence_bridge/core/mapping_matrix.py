"""Mapping rules between a Nextcloud status and Matrix presence.

The table of what each side cannot represent is in :mod:`presence_bridge.core.mapping`.
"""

from __future__ import annotations

from presence_bridge.core.emoji import split_leading_icon
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
    is_expired,
    match_predefined,
    message_parts,
    truncate_text,
)
from presence_bridge.core.status import (
    NEXTCLOUD_MESSAGE_MAX,
    MatrixPresence,
    MatrixPresenceState,
    NextcloudStatus,
    NextcloudStatusType,
)

_STATE_BY_TYPE = {
    NextcloudStatusType.ONLINE: MatrixPresenceState.ONLINE,
    NextcloudStatusType.AWAY: MatrixPresenceState.UNAVAILABLE,
    NextcloudStatusType.DND: MatrixPresenceState.UNAVAILABLE,
    NextcloudStatusType.BUSY: MatrixPresenceState.UNAVAILABLE,
    NextcloudStatusType.INVISIBLE: MatrixPresenceState.OFFLINE,
    NextcloudStatusType.OFFLINE: MatrixPresenceState.OFFLINE,
}
"""Matrix state per Nextcloud type; for ``dnd`` and ``busy`` it is the fallback of MSC3026 busy."""

_BUSY_TYPES = frozenset({NextcloudStatusType.DND, NextcloudStatusType.BUSY})

_OFFLINE_REASON = "Matrix offline follows a timeout or a closed client, not a decision"

_NO_PREDEFINED: PredefinedLookup = {}
_DEFAULT_OPTIONS = MappingOptions()


def nextcloud_to_matrix(
    status: NextcloudStatus,
    *,
    now: int,
    predefined: PredefinedLookup = _NO_PREDEFINED,
    options: MappingOptions = _DEFAULT_OPTIONS,
) -> MatrixPresence:
    """Return the Matrix presence that mirrors a Nextcloud status.

    ``busy`` on the result requests ``org.matrix.msc3026.busy``, and ``presence`` is
    then the state to send where busy is refused.  ``status_msg`` is the icon and text of
    the message, or the configured DND/busy text when there is no message.  A message
    whose clear-at has passed counts as gone and the status as ``offline``.
    """
    if is_expired(status.clear_at, now):
        return MatrixPresence(MatrixPresenceState.OFFLINE)
    icon, text = message_parts(status, predefined)
    status_msg = " ".join(part for part in (icon, text) if part) or _placeholder(status.status, options)
    return MatrixPresence(
        presence=_STATE_BY_TYPE[status.status],
        status_msg=status_msg,
        busy=options.msc3026_busy and status.status in _BUSY_TYPES,
    )


def _placeholder(status_type: NextcloudStatusType, options: MappingOptions) -> str | None:
    if status_type == NextcloudStatusType.DND:
        return options.matrix_dnd_message
    if status_type == NextcloudStatusType.BUSY:
        return options.matrix_busy_message
    return None


def matrix_to_nextcloud(
    current: MatrixPresence,
    previous: MatrixPresence | None = None,
    *,
    predefined: PredefinedLookup = _NO_PREDEFINED,
    options: MappingOptions = _DEFAULT_OPTIONS,
) -> tuple[NextcloudWrite, ...]:
    """Return the Nextcloud writes that mirror a Matrix presence event.

    ``previous`` is the presence the bridge last mirrored, or None.  Online and
    unavailable become heartbeats, busy an explicit ``dnd`` (once), and offline
    nothing.  A changed ``status_msg`` becomes a custom message with its leading emoji
    as icon, or a predefined one when icon and text match ``predefined``.  The result
    lists a status write, then a message write, or is one :class:`NoWrite`.
    """
    writes: list[NextcloudWrite] = []
    writes.extend(_status_writes(current, previous))
    writes.extend(_message_writes(current, previous, predefined, options))
    if writes:
        return tuple(writes)
    if current.presence == MatrixPresenceState.OFFLINE and not current.busy:
        return (NoWrite(f"{_OFFLINE_REASON}; status message unchanged"),)
    return (NoWrite("Matrix busy and status message are unchanged"),)


def _status_writes(current: MatrixPresence, previous: MatrixPresence | None) -> list[NextcloudWrite]:
    """Turn busy into an explicit ``dnd`` and online or unavailable into heartbeats.

    Busy is written once, because a repeated manual write deletes the backup of a
    Nextcloud automation.  Leaving busy for online or unavailable is an explicit
    ``online``: a heartbeat cannot replace a sticky ``dnd``.
    """
    was_busy = previous is not None and previous.busy
    if current.busy:
        return [] if was_busy else [SetStatus(NextcloudStatusType.DND)]
    if current.presence == MatrixPresenceState.OFFLINE:
        return []
    if was_busy:
        return [SetStatus(NextcloudStatusType.ONLINE)]
    if current.presence == MatrixPresenceState.ONLINE:
        return [Heartbeat(NextcloudStatusType.ONLINE)]
    return [Heartbeat(NextcloudStatusType.AWAY)]


def _own_message(status_msg: str | None, options: MappingOptions) -> str | None:
    """Return the user's message, or None for no message or the bridge's DND/busy text."""
    text = (status_msg or "").strip()
    if not text or text in {options.matrix_dnd_message, options.matrix_busy_message}:
        return None
    return text


def _message_writes(
    current: MatrixPresence,
    previous: MatrixPresence | None,
    predefined: PredefinedLookup,
    options: MappingOptions,
) -> list[NextcloudWrite]:
    message = _own_message(current.status_msg, options)
    if previous is not None and message == _own_message(previous.status_msg, options):
        return []
    if message is None:
        return [] if previous is None else [ClearMessage()]

    glyph, text = None, message
    split = split_leading_icon(message)
    # Matrix has no custom emoji, so a leading unknown ":word:" stays part of the text.
    if split is not None and split[0].glyph is not None:
        glyph, text = split[0].glyph, split[1]
    message_id = match_predefined(glyph, text, predefined)
    if message_id is not None:
        return [SetPredefined(message_id)]
    return [SetCustom(glyph, truncate_text(text, NEXTCLOUD_MESSAGE_MAX) or None)]
