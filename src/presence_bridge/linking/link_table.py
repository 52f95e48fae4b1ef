"""The table that ``presence-bridge links`` prints: who is linked to whom, and what works."""

from __future__ import annotations

from collections.abc import Sequence

from ..storage import Health, Link, SyncDirection

HEADERS = ("CHAT IDENTITY", "NEXTCLOUD USER", "CREDENTIALS", "WORKING DIRECTIONS", "HEALTH")

_TO_CHAT = (SyncDirection.BOTH, SyncDirection.TO_CHAT)
_TO_NEXTCLOUD = (SyncDirection.BOTH, SyncDirection.TO_NEXTCLOUD)


def working_directions(link: Link) -> str:
    """Name the directions that work: the link's setting, and chat -> Nextcloud only with healthy credentials."""
    directions = []
    if link.sync_direction in _TO_CHAT:
        directions.append("nextcloud->chat")
    if link.sync_direction in _TO_NEXTCLOUD and link.has_credentials and link.health is Health.HEALTHY:
        directions.append("chat->nextcloud")
    if directions:
        return ", ".join(directions)
    return "none (sync off)" if link.sync_direction is SyncDirection.OFF else "none"


def describe_health(link: Link) -> str:
    if link.health is Health.HEALTHY:
        return "healthy"
    since = link.health_since.strftime("%Y-%m-%d %H:%M UTC")
    return f"unhealthy since {since}: {link.health_reason or 'no reason recorded'}"


def link_row(link: Link) -> tuple[str, str, str, str, str]:
    credentials = "app password" if link.has_credentials else "none"
    return (str(link.identity), link.nextcloud_user_id, credentials, working_directions(link), describe_health(link))


def format_links(links: Sequence[Link]) -> list[str]:
    """Return the lines of the table, or one line saying there are no links."""
    if not links:
        return ["No links."]
    rows = [HEADERS, *(link_row(link) for link in links)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(HEADERS) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)]
        lines.append("  ".join([*cells, row[-1]]))
    return lines
