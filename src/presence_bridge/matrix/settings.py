"""The ``[matrix]`` settings section: homeserver, appservice tokens and permissions.

Declared here rather than in :mod:`presence_bridge.config` to keep that module
short; :class:`presence_bridge.config.Settings` reads it as the ``[matrix]`` table.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from presence_bridge.config_fields import (
    LoadContext,
    choice,
    http_url,
    invalid,
    secret_setting,
    setting,
    text,
)
from presence_bridge.secret import Secret

MSC3026_MODES = ("auto", "on", "off")
ANY_SERVER = "*"
DEFAULT_APPSERVICE_ID = "presence-bridge"
DEFAULT_BOT_LOCALPART = "presence-bridge"
TOKEN_EXPECTED = "a random token, the same as in the appservice registration file"

_SERVER_NAME = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::[0-9]{1,5})?")
_LOCALPART = re.compile(r"[a-z0-9._=/+-]+")


def _server_name(value: object, key: str, ctx: LoadContext) -> str:
    name = text(value, key, ctx)
    if not _SERVER_NAME.fullmatch(name):
        raise invalid(key, f"invalid server name {name!r}", "a Matrix server name such as example.org or example.org:8448")
    return name


def _localpart(value: object, key: str, ctx: LoadContext) -> str:
    localpart = text(value, key, ctx)
    if not _LOCALPART.fullmatch(localpart):
        raise invalid(key, f"invalid localpart {localpart!r}", "lower-case letters, digits and ._=/+- only")
    return localpart


def _regex(value: object, key: str, ctx: LoadContext) -> str:
    pattern = text(value, key, ctx)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise invalid(key, f"invalid regular expression {pattern!r} ({exc})", "a regular expression over Matrix user ids") from None
    return pattern


def _server_list(value: object, key: str, ctx: LoadContext) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise invalid(key, f"invalid value {value!r}", 'a list of server names, or ["*"] for every server')
    return tuple(item if item == ANY_SERVER else _server_name(item, key, ctx) for item in value)


def _user_list(value: object, key: str, ctx: LoadContext) -> tuple[str, ...]:
    expected = 'a list of Matrix user ids such as ["@alice:example.org"]'
    if not isinstance(value, list):
        raise invalid(key, f"invalid value {value!r}", expected)
    users = []
    for item in value:
        user_id = text(item, key, ctx)
        if not user_id.startswith("@") or ":" not in user_id:
            raise invalid(key, f"invalid Matrix user id {user_id!r}", expected)
        users.append(user_id)
    return tuple(users)


def server_of(user_id: str) -> str:
    """Return the server name part of a Matrix user id (everything after the first colon)."""
    return user_id.partition(":")[2]


def _homeserver_url(value: object, key: str, ctx: LoadContext) -> str:
    """Parse the homeserver's base URL, to which the client itself adds ``/_matrix/client/...``."""
    url = http_url(value, key, ctx)
    if "_matrix" in urllib.parse.urlsplit(url).path.split("/"):
        raise invalid(
            key,
            f"the URL {url!r} contains the API path /_matrix/",
            "the homeserver's base URL without /_matrix/..., such as https://matrix.example.org",
        )
    return url


@dataclass(frozen=True)
class MatrixSettings:
    """How to reach the Matrix homeserver, the appservice registration, and who may use the bridge.

    Without ``as_token`` and ``hs_token`` the bridge runs as a plain bot user with
    ``bot_access_token`` and sees only the presence of users who share a room with
    the bot; one of the two is required.
    """

    homeserver_url: str = setting(_homeserver_url, "the homeserver's client-server API base URL")
    server_name: str = setting(_server_name, "the homeserver's server name, the part after ':' in user ids")
    as_token: Secret | None = secret_setting(TOKEN_EXPECTED, required=False)
    hs_token: Secret | None = secret_setting(TOKEN_EXPECTED, required=False)
    bot_access_token: Secret | None = secret_setting("the bot user's access token", required=False)
    """Token of a plain bot user, used only without an appservice registration."""
    appservice_id: str = setting(text, "the appservice id", default=DEFAULT_APPSERVICE_ID)
    appservice_url: str | None = setting(http_url, "the URL the homeserver reaches the bridge at", default=None)
    bot_localpart: str = setting(_localpart, "a user id localpart", default=DEFAULT_BOT_LOCALPART)
    user_regex: str | None = setting(_regex, "a regular expression", default=None)
    allowed_servers: tuple[str, ...] = setting(_server_list, "a list of server names", default=())
    allowed_users: tuple[str, ...] = setting(_user_list, "a list of Matrix user ids", default=())
    admins: tuple[str, ...] = setting(_user_list, "a list of Matrix user ids", default=())
    msc3026: str = setting(choice(MSC3026_MODES), "auto, on or off", default="auto")

    def __post_init__(self) -> None:
        if (self.as_token is None) != (self.hs_token is None):
            missing = "matrix.hs_token" if self.hs_token is None else "matrix.as_token"
            raise invalid(
                missing,
                "the key is missing while the other appservice token is set",
                "both as_token and hs_token (an appservice registration) or neither (a plain bot user)",
            )
        if self.as_token is not None and self.as_token == self.hs_token:
            raise invalid("matrix.hs_token", "hs_token equals as_token", "two different random tokens")

    def require_token(self) -> None:
        """Raise ConfigError unless an appservice or a bot token is set, so the bot can log in.

        Not part of ``__post_init__``: ``matrix registration`` reads a ``[matrix]``
        table without tokens to generate them.
        """
        if self.as_token is None and self.bot_access_token is None:
            raise invalid(
                "matrix.as_token",
                "no token is set, so the bridge cannot log in to the homeserver",
                "as_token and hs_token (an appservice registration) or bot_access_token (a plain bot user), "
                "each directly or as *_env or *_file",
            )

    @property
    def uses_appservice(self) -> bool:
        return self.as_token is not None

    @property
    def bot_user_id(self) -> str:
        return f"@{self.bot_localpart}:{self.server_name}"

    @property
    def namespace_regex(self) -> str:
        """The user namespace of the registration: ``user_regex``, or every user of ``server_name``."""
        return self.user_regex or "@.*:" + re.escape(self.server_name)

    def is_allowed(self, user_id: str) -> bool:
        """Return True when ``user_id`` may use the bridge.

        Admins always may.  Others need a server in ``allowed_servers`` (default:
        only ``server_name``; ``*`` allows every server) and, when ``allowed_users``
        is set, to be listed there.
        """
        if user_id in self.admins:
            return True
        servers = self.allowed_servers or (self.server_name,)
        if ANY_SERVER not in servers and server_of(user_id) not in servers:
            return False
        return not self.allowed_users or user_id in self.allowed_users

    def is_admin(self, user_id: str) -> bool:
        return user_id in self.admins
