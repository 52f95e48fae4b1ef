"""Credential checks of the emulated Nextcloud.

Basic auth accepts ``login:app-password`` or ``login:login-password``; the login
name matches the user id case-insensitively.  ``Authorization: Bearer <token>``
accepts an app password of any user.  Wrong Basic credentials raise
:class:`WrongCredentials` (Nextcloud responds with 401 XML); an unknown Bearer token or
a malformed header count as no credentials (401 JSON, OCS 997, on protected routes).

Brute-force throttling is not emulated: Nextcloud only delays responses after
failed logins and sends no header about it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from starlette.requests import Request

from presence_bridge.emulator.accounts import User
from presence_bridge.emulator.state import EmulatorState


class WrongCredentials(Exception):
    """Basic credentials were sent but match no user."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller; ``kind`` is app_password, login_password or bearer."""

    user: User
    kind: str


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


def authenticate(request: Request, state: EmulatorState) -> Principal | None:
    """Return the caller, None without (usable) credentials; raise on wrong Basic credentials."""
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        with state.lock:
            user = state.accounts.by_app_password(header[7:].strip())
        return Principal(user, "bearer") if user is not None else None
    credentials = basic_credentials(request)
    if credentials is None:
        return None
    login, password = credentials
    with state.lock:
        user = state.accounts.by_login(login)
    if user is None:
        raise WrongCredentials(login)
    if password in user.app_passwords:
        return Principal(user, "app_password")
    if user.password is not None and password == user.password:
        return Principal(user, "login_password")
    raise WrongCredentials(login)
