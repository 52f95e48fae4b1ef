"""Accounts of the emulated Nextcloud: users, their credentials and groups."""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass, field

ADMIN_GROUP = "admin"
"""Members of this group are administrators, as in Nextcloud."""

_APP_PASSWORD_ALPHABET = string.ascii_letters + string.digits
APP_PASSWORD_LENGTH = 72
"""Nextcloud app passwords are 72 characters of ``[A-Za-z0-9]``."""


@dataclass(slots=True)
class User:
    """One account.  ``id`` doubles as the login name."""

    id: str
    display_name: str
    email: str | None = None
    language: str = "en"
    locale: str = ""
    groups: list[str] = field(default_factory=list)
    password: str | None = None
    app_passwords: set[str] = field(default_factory=set)

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups


class Accounts:
    """Users by id, groups by id (member ids in insertion order), app-password index.

    Not thread-safe on its own: :class:`~presence_bridge.emulator.state.EmulatorState`
    serialises access with its lock.
    """

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.groups: dict[str, list[str]] = {}
        self._by_login: dict[str, str] = {}
        self._by_app_password: dict[str, str] = {}

    def add(self, users: Iterable[User]) -> tuple[int, int]:
        """Insert or replace users; return how many were new and how many replaced an existing account."""
        count = 0
        replaced = 0
        for user in users:
            old = self.users.get(user.id)
            if old is not None:
                self._forget(old)
                replaced += 1
            self.users[user.id] = user
            self._by_login[user.id.lower()] = user.id
            for token in user.app_passwords:
                self._by_app_password[token] = user.id
            for group in user.groups:
                self.groups.setdefault(group, []).append(user.id)
            count += 1
        return count - replaced, replaced

    def _forget(self, user: User) -> None:
        for token in user.app_passwords:
            self._by_app_password.pop(token, None)
        for group in user.groups:
            members = self.groups.get(group)
            if members and user.id in members:
                members.remove(user.id)

    def get(self, user_id: str) -> User | None:
        return self.users.get(user_id)

    def by_login(self, login_name: str) -> User | None:
        """Find a user by login name; like Nextcloud's database backend, case-insensitively."""
        user_id = self._by_login.get(login_name.lower())
        return self.users.get(user_id) if user_id is not None else None

    def by_app_password(self, token: str) -> User | None:
        user_id = self._by_app_password.get(token)
        return self.users.get(user_id) if user_id is not None else None

    def create_app_password(self, user_id: str) -> str:
        """Issue a new 72-character app password for an existing user and return it."""
        user = self.users[user_id]
        token = "".join(secrets.choice(_APP_PASSWORD_ALPHABET) for _ in range(APP_PASSWORD_LENGTH))
        user.app_passwords.add(token)
        self._by_app_password[token] = user_id
        return token

    def revoke_app_password(self, token: str) -> bool:
        """Remove an app password; return False when it did not exist."""
        user_id = self._by_app_password.pop(token, None)
        if user_id is None:
            return False
        self.users[user_id].app_passwords.discard(token)
        return True
