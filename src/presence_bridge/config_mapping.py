"""The ``[mapping]`` settings section: operator defaults of the status mapping rules.

Declared here rather than in :mod:`presence_bridge.config` to keep that module
short. :class:`presence_bridge.config.Settings` reads it as the ``[mapping]`` table.
Whether Matrix gets busy presence is not set here, because ``[matrix] msc3026``
decides it and the Matrix adapter applies it to the options of each write.
"""

from __future__ import annotations

from dataclasses import dataclass

from presence_bridge.config_fields import LoadContext, int_range, invalid, setting
from presence_bridge.core.mapping_common import MappingOptions

_DEFAULTS = MappingOptions()

DND_MAX_SECONDS_LIMIT = 30 * 86400
"""Upper bound of ``dnd_max_seconds`` (30 days), so that a value meant in milliseconds is rejected."""

EMOJI_EXPECTED = 'one Unicode emoji such as "💬" or "🎉" (not a :shortcode:), or "" for no icon'
MESSAGE_EXPECTED = 'a string, or "" for no status message'


def _fallback_emoji(value: object, key: str, ctx: LoadContext) -> str | None:
    # Imported here because the presence_bridge.nextcloud package loads httpx, which
    # the command line imports only when a command talks to a server.
    from presence_bridge.nextcloud.validation import is_single_emoji

    if not isinstance(value, str):
        raise invalid(key, f"invalid value {value!r} ({type(value).__name__})", EMOJI_EXPECTED)
    glyph = value.strip()
    if not glyph:
        return None
    if not is_single_emoji(glyph):
        raise invalid(key, f"invalid value {glyph!r}: Nextcloud accepts exactly one emoji as a status icon", EMOJI_EXPECTED)
    try:
        MappingOptions(custom_emoji_fallback=glyph)
    except ValueError:
        raise invalid(key, f"invalid value {glyph!r}: the emoji is not in the bridge's emoji table", EMOJI_EXPECTED) from None
    return glyph


def _optional_message(value: object, key: str, ctx: LoadContext) -> str | None:
    if not isinstance(value, str):
        raise invalid(key, f"invalid value {value!r} ({type(value).__name__})", MESSAGE_EXPECTED)
    return value.strip() or None


@dataclass(frozen=True)
class MappingSettings:
    """Defaults of the mapping between Nextcloud statuses and Slack and Matrix presence."""

    dnd_max_seconds: int = setting(
        int_range(60, DND_MAX_SECONDS_LIMIT), "seconds", default=_DEFAULTS.dnd_max_seconds
    )
    """Slack DND snooze for a Nextcloud ``dnd`` without clear-at, and the cap for one with a later clear-at."""
    custom_emoji_fallback: str | None = setting(_fallback_emoji, EMOJI_EXPECTED, default=None)
    """Nextcloud icon sent in place of a Slack custom workspace emoji; None sends no icon."""
    matrix_dnd_message: str | None = setting(
        _optional_message, MESSAGE_EXPECTED, default=_DEFAULTS.matrix_dnd_message
    )
    """Matrix ``status_msg`` for a Nextcloud ``dnd`` without a message; None sends none.

    A Matrix status message equal to this or ``matrix_busy_message`` is taken for the
    bridge's own and is not copied to Nextcloud.
    """
    matrix_busy_message: str | None = setting(
        _optional_message, MESSAGE_EXPECTED, default=_DEFAULTS.matrix_busy_message
    )
    """Matrix ``status_msg`` for a Nextcloud ``busy`` without a message; None sends none."""

    def options(self) -> MappingOptions:
        """Return these settings as mapping options, with Matrix busy presence off.

        The Matrix adapter turns busy presence on per write, from ``[matrix] msc3026``.
        """
        return MappingOptions(
            dnd_max_seconds=self.dnd_max_seconds,
            custom_emoji_fallback=self.custom_emoji_fallback,
            matrix_dnd_message=self.matrix_dnd_message,
            matrix_busy_message=self.matrix_busy_message,
        )
