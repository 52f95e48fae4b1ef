"""Matrix message content for the bot's replies: plain text plus escaped HTML.

A :class:`~presence_bridge.sync.platform.Reply` quotes user text (status messages,
group names) without escaping it.  :func:`reply_content` escapes the whole
formatted text with :func:`html.escape` before adding markup, so HTML typed into a
status message shows as text in clients that render ``formatted_body``.  The only
markup added is ``*bold*`` (from the engine's light formatting) as ``<strong>``
and line breaks as ``<br>``.
"""

from __future__ import annotations

import html
import re
from typing import Any

from presence_bridge.sync.platform import Reply

HTML_FORMAT = "org.matrix.custom.html"
_BOLD = re.compile(r"\*([^*\n]+)\*")


def to_html(text: str) -> str:
    """Return ``text`` escaped for HTML, with ``*bold*`` spans and line breaks as markup."""
    escaped = html.escape(text, quote=False)
    return _BOLD.sub(r"<strong>\1</strong>", escaped).replace("\n", "<br>")


def text_content(text: str, formatted: str | None = None, *, notice: bool = True) -> dict[str, Any]:
    """Return ``m.room.message`` content with ``text`` as body and the HTML of ``formatted`` (or ``text``).

    Replies go out as ``m.notice``, which bots use so that other bots do not answer them.
    """
    return {
        "msgtype": "m.notice" if notice else "m.text",
        "body": text,
        "format": HTML_FORMAT,
        "formatted_body": to_html(formatted if formatted is not None else text),
    }


def reply_content(reply: Reply) -> dict[str, Any]:
    """Return the message content for a command reply."""
    return text_content(reply.text, reply.formatted)
