"""Typed ``m.presence`` events from appservice transactions (no I/O).

Synapse 1.163 sends presence in a transaction body as
``{"events": [], "ephemeral": [{"type": "m.presence", "sender": "@bob:example.org",
"content": {"presence": "unavailable", "status_msg": "Lunch"}}], ...}``.  Homeservers
that implement only the unstable MSC2409 name use ``de.sorunome.msc2409.ephemeral``
instead.  When both keys are present they contain the same events, so only
``ephemeral`` is read.  ``status_msg`` is absent, not null, when the user has none,
and ``last_active_ago`` (milliseconds before the transaction was built) appears
only once the user has been active.

A homeserver sends its current presence of many users when an appservice first
registers or comes back after being unreachable.  Those events describe states
that were set before the bridge was listening, so they are marked ``backlog``:
the engine may record them as the known state without mirroring them as fresh
changes.  :class:`BacklogRule` decides which ones.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from presence_bridge.core.status import MatrixPresence, MatrixPresenceState

logger = logging.getLogger(__name__)

PRESENCE_EVENT_TYPE = "m.presence"
BUSY_STATE = "org.matrix.msc3026.busy"
"""The unstable MSC3026 value of the busy state, as Synapse sends and accepts it."""

EPHEMERAL_KEYS = ("ephemeral", "de.sorunome.msc2409.ephemeral")

_STATES = {state.value: state for state in MatrixPresenceState}


@dataclass(frozen=True)
class PresenceUpdate:
    """One user's presence as the homeserver pushed it to the bridge.

    ``presence.busy`` is set for MSC3026 busy; ``presence.presence`` is then
    ``unavailable``, the state busy falls back to.  ``last_active_at`` is the Unix
    time of the user's last activity, when the homeserver sent one.
    """

    user_id: str
    presence: MatrixPresence
    last_active_at: float | None
    currently_active: bool | None
    received_at: float
    backlog: bool
    txn_id: str


@dataclass(frozen=True)
class BacklogRule:
    """Marks the presence a homeserver sends right after the bridge starts as backlog.

    An update is backlog when it arrives within ``window_seconds`` of
    ``started_at``, it is the first update of that user since the start, and the
    user's last activity is unknown or before ``started_at``.  Anything else
    happened while the bridge was listening: a second update of a user is a change
    (Synapse pushes presence only when it changes), and so is an update from a user
    active after the start.  After the window every update is live.

    NOTE: a user who changes their presence without activity (a ``PUT`` of
    ``unavailable`` does not count as activity in Synapse 1.163) in the first
    ``window_seconds`` after the start, with no update before, is marked backlog.
    """

    started_at: float
    window_seconds: float = 30.0

    def is_backlog(self, received_at: float, last_active_at: float | None, *, seen_before: bool) -> bool:
        if seen_before or received_at >= self.started_at + self.window_seconds:
            return False
        return last_active_at is None or last_active_at < self.started_at


def ephemeral_events(body: Mapping[str, object]) -> Sequence[object]:
    """Return the ephemeral events of a transaction body, from the stable key if present."""
    for key in EPHEMERAL_KEYS:
        events = body.get(key)
        if isinstance(events, list):
            return events
    return ()


def parse_presence_update(
    event: object, *, txn_id: str, received_at: float, backlog_rule: BacklogRule, seen_users: set[str]
) -> PresenceUpdate | None:
    """Return the update an ``m.presence`` event carries, or None for other or malformed events.

    Malformed presence events are logged and skipped: the transaction as a whole is
    still accepted, because the homeserver would otherwise send it again forever.
    ``seen_users`` contains the users with an update since the start, and the sender is added to it.
    """
    if not isinstance(event, Mapping) or event.get("type") != PRESENCE_EVENT_TYPE:
        return None
    sender = event.get("sender")
    content = event.get("content")
    if not isinstance(sender, str) or not sender.startswith("@") or not isinstance(content, Mapping):
        logger.warning("Skipped an m.presence event without a valid sender or content in transaction %s", txn_id)
        return None
    presence = presence_from_content(content)
    if presence is None:
        logger.warning(
            "Skipped m.presence of %s in transaction %s: unknown state %r", sender, txn_id, content.get("presence")
        )
        return None

    last_active_ago = content.get("last_active_ago")
    last_active_at = None
    if isinstance(last_active_ago, int) and not isinstance(last_active_ago, bool) and last_active_ago >= 0:
        last_active_at = received_at - last_active_ago / 1000
    currently_active = content.get("currently_active")
    backlog = backlog_rule.is_backlog(received_at, last_active_at, seen_before=sender in seen_users)
    seen_users.add(sender)
    return PresenceUpdate(
        user_id=sender,
        presence=presence,
        last_active_at=last_active_at,
        currently_active=currently_active if isinstance(currently_active, bool) else None,
        received_at=received_at,
        backlog=backlog,
        txn_id=txn_id,
    )


def presence_from_content(content: Mapping[str, object]) -> MatrixPresence | None:
    """Return the presence in an ``m.presence`` content or a presence GET body, or None for an unknown state."""
    state = content.get("presence")
    status_msg = content.get("status_msg")
    message = status_msg if isinstance(status_msg, str) and status_msg else None
    if state == BUSY_STATE:
        return MatrixPresence(MatrixPresenceState.UNAVAILABLE, message, busy=True)
    if isinstance(state, str) and state in _STATES:
        return MatrixPresence(_STATES[state], message)
    return None


def parse_presence_updates(
    body: Mapping[str, object],
    *,
    txn_id: str,
    received_at: float,
    backlog_rule: BacklogRule,
    seen_users: set[str],
) -> list[PresenceUpdate]:
    """Return the presence updates of one transaction body, in the order sent."""
    updates = []
    for event in ephemeral_events(body):
        update = parse_presence_update(
            event, txn_id=txn_id, received_at=received_at, backlog_rule=backlog_rule, seen_users=seen_users
        )
        if update is not None:
            updates.append(update)
    return updates
