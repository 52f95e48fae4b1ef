"""Typed results about accounts: credentials, user details, sharee matches and Login Flow v2."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from presence_bridge.nextcloud.models import PublicStatus, read_field, read_mapping


@dataclass(frozen=True, slots=True)
class Sharee:
    """A user match of the sharees search, with that user's public status if they have one."""

    user_id: str
    display_name: str
    subline: str
    status: PublicStatus | None
    exact: bool

    @classmethod
    def from_ocs(cls, data: Any, *, exact: bool) -> Sharee:
        data = read_mapping(data, "a sharee")
        value = read_mapping(data.get("value"), "a sharee value")
        user_id = read_field(value, "shareWith", str, optional=False)
        raw_status = data.get("status")
        # Nextcloud sends an empty list, not null, for a user without a status row.
        status = PublicStatus.from_ocs(raw_status, user_id=user_id) if raw_status else None
        return cls(
            user_id=user_id,
            display_name=read_field(data, "label", str, optional=False),
            subline=read_field(data, "subline", str, optional=True) or "",
            status=status,
            exact=exact,
        )


@dataclass(frozen=True, slots=True)
class UserDetails:
    """The reading account's own details from ``/cloud/user``; ``locale`` is ``""`` when unset."""

    id: str
    display_name: str
    email: str | None
    language: str
    locale: str

    @classmethod
    def from_ocs(cls, data: Any) -> UserDetails:
        data = read_mapping(data, "the user details")
        return cls(
            id=read_field(data, "id", str, optional=False),
            display_name=read_field(data, "display-name", str, optional=True)
            or read_field(data, "displayname", str, optional=False),
            email=read_field(data, "email", str, optional=True),
            language=read_field(data, "language", str, optional=True) or "",
            locale=read_field(data, "locale", str, optional=True) or "",
        )


@dataclass(frozen=True, slots=True)
class LoginFlowStart:
    """A started Login Flow v2: the user opens ``login_url``; the bridge polls ``poll_endpoint``."""

    login_url: str
    poll_endpoint: str
    poll_token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class LoginFlowCredentials:
    """What a granted login flow returns; ``login_name`` (not the user id) goes into Basic auth."""

    server: str
    login_name: str
    app_password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Credential:
    """A login name and app password for Basic auth; the password never shows in ``repr``."""

    login_name: str
    app_password: str = field(repr=False)

    def __post_init__(self) -> None:
        # Basic auth splits user and password at the first colon.
        if not self.login_name or ":" in self.login_name:
            raise ValueError(f"invalid Nextcloud login name {self.login_name!r}: it must be non-empty without ':'")
        if not self.app_password:
            raise ValueError(f"the app password for {self.login_name!r} is empty")
