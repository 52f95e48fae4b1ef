"""The appservice registration file, which registers the bridge with a homeserver.

The operator adds the file to Synapse's ``app_service_config_files`` and
restarts Synapse.  The registration gives the bridge:

- a non-exclusive user namespace, so the bridge may act for the mirrored users
  (``?user_id=`` masquerading) while they keep logging in with their own clients;
- ``rate_limited: false``, which exempts those requests from Synapse's rate limits,
  among them the presence limit of one change per user per 10 s;
- ``receive_ephemeral: true``, so the homeserver pushes the ``m.presence`` of
  every user in the namespace to the bridge's transaction endpoint, whether or not
  they share a room with the bot.  The older MSC2409 key
  ``de.sorunome.msc2409.push_ephemeral`` is left out: Synapse 1.163 reads both, and
  with both set it sends every event twice, under ``ephemeral`` and under
  ``de.sorunome.msc2409.ephemeral``.

The file is written without a YAML library: every scalar is a JSON string or
literal, which YAML reads unchanged.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass

TOKEN_BYTES = 32
"""Random bytes per generated token (43 URL-safe characters)."""

_LOCALPART = re.compile(r"[a-z0-9._=/+-]+")


@dataclass(frozen=True)
class Registration:
    """The values of one appservice registration.

    ``url`` is where the homeserver reaches the bridge's ASGI server, or None for a
    registration that only lends its token (the homeserver then pushes nothing).
    """

    id: str
    url: str | None
    as_token: str
    hs_token: str
    sender_localpart: str
    user_regex: str
    rate_limited: bool = False
    receive_ephemeral: bool = True

    def __post_init__(self) -> None:
        if not _LOCALPART.fullmatch(self.sender_localpart):
            raise ValueError(
                f"invalid sender_localpart {self.sender_localpart!r}: use lower-case letters, digits and ._=/+-"
            )
        try:
            re.compile(self.user_regex)
        except re.error as exc:
            raise ValueError(f"invalid user namespace regex {self.user_regex!r}: {exc}") from None
        if self.as_token == self.hs_token:
            raise ValueError("as_token and hs_token must differ: each side must prove who it is")


def generate_token() -> str:
    """Return a new random token for ``as_token`` or ``hs_token``."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def default_user_regex(server_name: str) -> str:
    """Return the namespace regex that covers every user of ``server_name``."""
    return "@.*:" + re.escape(server_name)


def render_registration(registration: Registration) -> str:
    """Render ``registration`` as the YAML text of a registration file."""

    def scalar(value: object) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = [
        "# Appservice registration of presence-bridge. Add this file to Synapse's",
        "# app_service_config_files and restart Synapse. It contains two secrets.",
        f"id: {scalar(registration.id)}",
        f"url: {'null' if registration.url is None else scalar(registration.url)}",
        f"as_token: {scalar(registration.as_token)}",
        f"hs_token: {scalar(registration.hs_token)}",
        f"sender_localpart: {scalar(registration.sender_localpart)}",
        f"rate_limited: {scalar(registration.rate_limited)}",
        f"receive_ephemeral: {scalar(registration.receive_ephemeral)}",
        "namespaces:",
        "  users:",
        "    - exclusive: false",
        f"      regex: {scalar(registration.user_regex)}",
        "  aliases: []",
        "  rooms: []",
    ]
    return "\n".join(lines) + "\n"
