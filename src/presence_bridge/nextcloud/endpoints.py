"""Builders of every Nextcloud call the bridge makes, each validated before it is built.

Each function returns an :class:`ApiRequest` with its parser.  Values come from
callers and chat users, so the builders run the checks of
:mod:`presence_bridge.nextcloud.validation` and raise
:class:`NextcloudValidationError` instead of building a request Nextcloud would
reject.  Only OCS v2 routes are used.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from presence_bridge.errors import NextcloudProtocolError, NextcloudValidationError
from presence_bridge.nextcloud import validation
from presence_bridge.nextcloud.account_models import Sharee, UserDetails
from presence_bridge.nextcloud.models import Capabilities, PredefinedStatus, PrivateStatus, PublicStatus
from presence_bridge.nextcloud.ocs import ApiRequest

OCS = "/ocs/v2.php"
USER_STATUS_API = f"{OCS}/apps/user_status/api/v1"
SHAREES_PATH = f"{OCS}/apps/files_sharing/api/v1/sharees"
SHARE_TYPE_USER = "0"


def _segment(value: str) -> str:
    return quote(value, safe="")


def _list(data: Any, what: str) -> list[Any]:
    if not isinstance(data, list):
        raise NextcloudProtocolError(f"expected a list of {what}, got {data!r}")
    return data


def _nothing(data: Any) -> None:
    return None


def _private_or_none(data: Any) -> PrivateStatus | None:
    # Nextcloud sends an empty list when there was nothing to revert.
    return None if data == [] else PrivateStatus.from_ocs(data)


def _public_list(data: Any) -> tuple[PublicStatus, ...]:
    return tuple(PublicStatus.from_ocs(row) for row in _list(data, "statuses"))


def _predefined_list(data: Any) -> tuple[PredefinedStatus, ...]:
    return tuple(PredefinedStatus.from_ocs(entry) for entry in _list(data, "predefined statuses"))


def _capabilities(data: Any) -> Capabilities:
    return Capabilities.from_ocs(data)


def _sharees(data: Any) -> tuple[Sharee, ...]:
    if not isinstance(data, dict) or not isinstance(data.get("exact"), dict):
        raise NextcloudProtocolError(f"expected sharee results with an 'exact' part, got {data!r}")
    exact = [Sharee.from_ocs(entry, exact=True) for entry in _list(data["exact"].get("users", []), "users")]
    other = [Sharee.from_ocs(entry, exact=False) for entry in _list(data.get("users", []), "users")]
    return tuple(exact + other)


def _group_members(data: Any) -> tuple[str, ...]:
    users = _list(data.get("users") if isinstance(data, dict) else None, "user ids")
    if not all(isinstance(user, str) for user in users):
        raise NextcloudProtocolError(f"expected user ids as strings, got {users!r}")
    return tuple(users)


def get_own_status() -> ApiRequest[PrivateStatus]:
    return ApiRequest(
        "GET",
        f"{USER_STATUS_API}/user_status",
        action="read the account's own status",
        parse=PrivateStatus.from_ocs,
        messages={404: "the account has no status yet; Nextcloud creates one on the first heartbeat or status change"},
    )


def set_status(status: object, *, busy_allowed: bool) -> ApiRequest[PrivateStatus]:
    status_type = validation.validate_status_type(status, busy_allowed=busy_allowed)
    return ApiRequest(
        "PUT",
        f"{USER_STATUS_API}/user_status/status",
        action=f"set the status {status_type.value}",
        parse=PrivateStatus.from_ocs,
        json={"statusType": status_type.value},
    )


def set_predefined_message(
    message_id: object, clear_at: object, *, now: int, known_ids: Iterable[str]
) -> ApiRequest[PrivateStatus]:
    checked_id = validation.validate_message_id(message_id, known_ids)
    checked_clear_at = validation.validate_clear_at(clear_at, now=now)
    return ApiRequest(
        "PUT",
        f"{USER_STATUS_API}/user_status/message/predefined",
        action=f"set the predefined message {checked_id}",
        parse=PrivateStatus.from_ocs,
        json={"messageId": checked_id, "clearAt": checked_clear_at},
    )


def set_custom_message(
    message: object, icon: object, clear_at: object, *, now: int, supports_emoji: bool
) -> ApiRequest[PrivateStatus]:
    """Build ``PUT message/custom``; an empty icon is left out, and an empty message needs an icon.

    Nextcloud clears the message when message and icon are both empty, and
    responds 404 when the account has no status row, so such a call is rejected
    here: use :func:`clear_message` for that.
    """
    checked_message = validation.validate_message(message)
    checked_icon = validation.validate_icon(icon, supports_emoji=supports_emoji)
    checked_clear_at = validation.validate_clear_at(clear_at, now=now)
    if not checked_message and checked_icon is None:
        raise NextcloudValidationError(
            "a custom message needs a text or an icon; to remove the message, clear it instead"
        )
    body: dict[str, Any] = {"message": checked_message, "clearAt": checked_clear_at}
    if checked_icon is not None:
        body["statusIcon"] = checked_icon
    return ApiRequest(
        "PUT",
        f"{USER_STATUS_API}/user_status/message/custom",
        action="set a custom message",
        parse=PrivateStatus.from_ocs,
        json=body,
    )


def clear_message() -> ApiRequest[None]:
    return ApiRequest(
        "DELETE", f"{USER_STATUS_API}/user_status/message", action="clear the status message", parse=_nothing
    )


def get_predefined_statuses() -> ApiRequest[tuple[PredefinedStatus, ...]]:
    return ApiRequest(
        "GET",
        f"{USER_STATUS_API}/predefined_statuses",
        action="list the predefined statuses",
        parse=_predefined_list,
    )


def get_statuses_page(limit: object, offset: object) -> ApiRequest[tuple[PublicStatus, ...]]:
    checked_limit, checked_offset = validation.validate_page(limit, offset)
    return ApiRequest(
        "GET",
        f"{USER_STATUS_API}/statuses",
        action=f"list statuses (limit {checked_limit}, offset {checked_offset})",
        parse=_public_list,
        params=(("limit", str(checked_limit)), ("offset", str(checked_offset))),
    )


def get_user_status(user_id: object) -> ApiRequest[PublicStatus]:
    checked = validation.validate_path_segment(user_id, "the user id")
    return ApiRequest(
        "GET",
        f"{USER_STATUS_API}/statuses/{_segment(checked)}",
        action=f"read the status of {checked}",
        parse=PublicStatus.from_ocs,
        messages={404: f"{checked} has no status in Nextcloud (no such user, or no status row yet)"},
    )


def get_backup_status(user_id: object) -> ApiRequest[PublicStatus]:
    """Build the read of the status that an automation (call, meeting, out-of-office) saved aside."""
    checked = validation.validate_path_segment(user_id, "the user id")
    return ApiRequest(
        "GET",
        f"{USER_STATUS_API}/statuses/_{_segment(checked)}",
        action=f"read the backup status of {checked}",
        parse=PublicStatus.from_ocs,
        messages={404: f"{checked} has no backup status (no automation replaced their status)"},
    )


def revert_status(message_id: object) -> ApiRequest[PrivateStatus | None]:
    """Build ``DELETE revert/{messageId}``; the result is None when there was nothing to revert.

    A restored status is not refreshed by Nextcloud: a predefined message may come
    back with null text and icon, so read the own status again to display it.
    """
    checked = validation.validate_path_segment(message_id, "the message id")
    return ApiRequest(
        "DELETE",
        f"{USER_STATUS_API}/user_status/revert/{_segment(checked)}",
        action=f"revert the automated status {checked}",
        parse=_private_or_none,
    )


def heartbeat(status: object) -> ApiRequest[PrivateStatus | None]:
    """Build ``PUT /heartbeat``; Nextcloud responds 204 (result None) while a sticky status is set."""
    status_type = validation.validate_heartbeat_status(status)
    return ApiRequest(
        "PUT",
        f"{USER_STATUS_API}/heartbeat",
        action=f"send the heartbeat {status_type.value}",
        parse=lambda data: None if data is None else PrivateStatus.from_ocs(data),
        json={"status": status_type.value},
        accepts_empty=True,
    )


def get_capabilities() -> ApiRequest[Capabilities]:
    return ApiRequest("GET", f"{OCS}/cloud/capabilities", action="read the capabilities", parse=_capabilities)


def revoke_app_password() -> ApiRequest[None]:
    return ApiRequest(
        "DELETE",
        f"{OCS}/core/apppassword",
        action="revoke the app password",
        parse=_nothing,
        # A retry after a lost response would run with a revoked password and get 401.
        idempotent=False,
    )


def search_sharees(search: object, *, per_page: int = 10) -> ApiRequest[tuple[Sharee, ...]]:
    """Build the sharees search for users whose id, name or e-mail matches ``search``."""
    term = validation.validate_search_term(search)
    return ApiRequest(
        "GET",
        SHAREES_PATH,
        action=f"search users matching {term!r}",
        parse=_sharees,
        params=(
            ("search", term),
            ("itemType", "file"),
            ("lookup", "false"),
            ("perPage", str(per_page)),
            ("shareType[]", SHARE_TYPE_USER),
        ),
    )


def get_group_members(group_id: object) -> ApiRequest[tuple[str, ...]]:
    checked = validation.validate_path_segment(group_id, "the group id")
    return ApiRequest(
        "GET",
        f"{OCS}/cloud/groups/{_segment(checked)}/users",
        action=f"list the members of group {checked}",
        parse=_group_members,
        messages={
            403: (
                f"the bridge's account may not read group {checked}: Nextcloud lets only admins "
                f"and subadmins of that group list its members ({{server}})"
            ),
            404: f"group {checked} not found in Nextcloud",
        },
    )


def get_user() -> ApiRequest[UserDetails]:
    return ApiRequest("GET", f"{OCS}/cloud/user", action="read the account's own details", parse=UserDetails.from_ocs)


def known_message_ids(major_version: int | None, listed: Iterable[str] = ()) -> frozenset[str]:
    """Return the predefined message ids a server accepts: its release's set plus any it listed."""
    base = validation.MESSAGE_IDS_32 if major_version is not None and major_version >= 32 else validation.MESSAGE_IDS_31
    return base | frozenset(listed)

