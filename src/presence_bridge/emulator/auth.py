"""Credential checks of the emulated Nextcloud.

Basic auth accepts ``login:app-password`` or ``login:login-password``; the login
name matches the user id case-insensitively.  ``Authorization: Bearer <token>``
accepts an app password of any user.  Wrong Basic credentials raise
:class:`WrongCredentials` (Nextcloud responds with 401 XML); an unknown Bearer token or
a malformed header count as no credentials (401 JSON, OCS 997, on protected routes).
With ``session_cookie=True`` a request without an ``Authorization`` header is
authenticated by a valid session cookie as that session's user (see
:mod:`~presence_bridge.emulator.sessions`).  OCS routes allow this because they
also require the ``OCS-APIRequest`` header, which Nextcloud accepts in place of
a CSRF token.

Brute-force throttling is not emulated: Nextcloud only delays responses after
failed logins and sends no header about it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from starlette.requests import Request

from presence_bridge.emulator.accounts import User
from presence_bridge.emulator.state import EmulatorState


class WrongCredentials(Exception):
    """Basic credentials were sent but match no user."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller; ``kind`` is app_password, login_password or bearer.

    ``secret`` is the password or token that authenticated the request.
    ``from_session`` is True when the session cookie authenticated the request,
    and ``kind`` and ``secret`` are then those of the login that started the session.
    """

    user: User
    kind: str
    secret: str = field(default="", repr=False)
    from_session: bool = False


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """Return (login, password) from a Basic header, or None if absent or malformed."""
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    login, separator, password = decoded.partition(":")
    if not separator or not login or not password:
        return None
    return login, password


def authenticate(request: Request, state: EmulatorState, *, session_cookie: bool = False) -> Principal | None:
    """Return the caller, None without (usable) credentials; raise on wrong Basic credentials.

    Credentials win over a session cookie: the cookie is only read, with
    ``session_cookie=True``, when the request has no ``Authorization`` header.
    """
    header = request.headers.get("authorization", "")
    if not header and session_cookie:
        return _session_principal(request, state)
    if header[:7].lower() == "bearer ":
        token = header[7:].strip()
        with state.lock:
            user = state.accounts.by_app_password(token)
        return Principal(user, "bearer", token) if user is not None else None
    credentials = basic_credentials(request)
    if credentials is None:
        return None
    login, password = credentials
    with state.lock:
        user = state.accounts.by_login(login)
    if user is None:
        raise WrongCredentials(login)
    if password in user.app_passwords:
        return Principal(user, "app_password", password)
    if user.password is not None and password == user.password:
        return Principal(user, "login_password", password)
    raise WrongCredentials(login)


def _session_principal(request: Request, state: EmulatorState) -> Principal | None:
    """Return the user of the request's session while the login behind it is still valid.

    A session started with an app password stops authenticating once that app
    password is revoked, and one started with the login password once the
    password changes.
    """
    with state.lock:
        found = state.sessions.find(request.cookies)
        if found is None:
            return None
        session = found[1]
        if session.user_id is None or session.login_kind is None:
            return None
        user = state.accounts.get(session.user_id)
    if user is None:
        return None
    if session.login_kind == "login_password":
        still_valid = user.password is not None and user.password == session.secret
    else:
        still_valid = session.secret in user.app_passwords
    if not still_valid:
        return None
    return Principal(user, session.login_kind, session.secret, from_session=True)
