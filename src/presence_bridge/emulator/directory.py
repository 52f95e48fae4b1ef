"""Provisioning endpoints: group members, a user's groups and account details.

Subadmins (a user who administers one group) live in ``state.extras`` and are
set through the control API: ``PUT``/``DELETE /_emulator/groups/{group}/subadmins/{user}``.

Access rules, as Nextcloud 31's provisioning API applies them:

* group members: admins and the group's subadmins.  A caller who is neither admin
  nor subadmin of any group gets 403 "Logged in account must be at least a sub
  admin" before the group is looked up.  A subadmin of another group gets 403
  with no message.
* a user's groups: the user themself and admins see all of them, and a subadmin
  sees the groups they administer.  Anyone else gets 404 with OCS code 998.
* account details: the same rule, with 404 (998) for a plain user reading another.

The sharee and autocomplete searches are in :mod:`presence_bridge.emulator.sharees`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from presence_bridge.emulator.accounts import User
from presence_bridge.emulator.ocs import OcsContext, OcsError, get_state, ocs_routes
from presence_bridge.emulator.sharees import sharee_routes
from presence_bridge.emulator.state import EmulatorState

SUBADMINS_KEY = "directory.subadmins"
NOT_SUBADMIN = "Logged in account must be at least a sub admin"
GROUP_NOT_FOUND = "The requested group could not be found"
RESPOND_NOT_FOUND = 998
"""OCS code Nextcloud uses for "not found or not allowed" in the provisioning API."""

_SCOPE_FEDERATED = "v2-federated"
_SCOPE_LOCAL = "v2-local"


def subadmins(state: EmulatorState) -> dict[str, set[str]]:
    """Return the group id → subadmin user ids map of ``state`` (created on first use)."""
    with state.lock:
        table: dict[str, set[str]] = state.extras.setdefault(SUBADMINS_KEY, {})
        return table


def subadmin_groups(state: EmulatorState, user_id: str) -> list[str]:
    """Return the groups ``user_id`` administers, sorted."""
    with state.lock:
        return sorted(group for group, members in subadmins(state).items() if user_id in members)


def can_manage(state: EmulatorState, caller: User, target: User) -> bool:
    """Tell whether ``caller`` is an admin or a subadmin of one of ``target``'s groups."""
    if caller.is_admin:
        return True
    return bool(set(subadmin_groups(state, caller.id)) & set(target.groups))


async def group_users(ctx: OcsContext) -> Response:
    caller = ctx.user
    assert caller is not None
    group_id = str(ctx.request.path_params["group"])
    managed = subadmin_groups(ctx.state, caller.id)
    if not caller.is_admin and not managed:
        raise OcsError(403, NOT_SUBADMIN)
    with ctx.state.lock:
        members = ctx.state.accounts.groups.get(group_id)
        members = None if members is None else sorted(members)
    if members is None:
        raise OcsError(404, GROUP_NOT_FOUND)
    if not caller.is_admin and group_id not in managed:
        raise OcsError(403)
    return ctx.respond({"users": members})


async def user_groups(ctx: OcsContext) -> Response:
    caller = ctx.user
    assert caller is not None
    target = ctx.state.get_user(str(ctx.request.path_params["uid"]))
    if target is None:
        raise OcsError(RESPOND_NOT_FOUND)
    if target.id == caller.id or caller.is_admin:
        return ctx.respond({"groups": list(target.groups)})
    if not can_manage(ctx.state, caller, target):
        raise OcsError(RESPOND_NOT_FOUND)
    managed = set(subadmin_groups(ctx.state, caller.id))
    return ctx.respond({"groups": [group for group in target.groups if group in managed]})


def user_details(state: EmulatorState, target: User, *, with_scopes: bool, as_manager: bool) -> dict[str, Any]:
    """Build the account details of ``GET /cloud/users/{uid}`` and ``GET /cloud/user``.

    ``as_manager`` adds ``storageLocation`` (an admin or subadmin is asking) and
    ``with_scopes`` the ``…Scope`` fields (the user is reading their own account).

    NOTE: login times are not tracked, so the timestamps are always 0.
    """
    data: dict[str, Any] = {"enabled": True}
    if as_manager:
        data["storageLocation"] = f"/var/lib/nextcloud/data/{target.id}"
    data.update(
        {
            "id": target.id,
            "firstLoginTimestamp": 0,
            "lastLoginTimestamp": 0,
            "lastLogin": 0,
            "backend": "Database",
            "subadmin": subadmin_groups(state, target.id),
            "quota": {"free": -3, "used": 0, "total": -3, "relative": 0, "quota": -3},
            "manager": "",
        }
    )
    # (field, value, name of its scope field or "", scope) in Nextcloud's order.
    profile: list[tuple[str, Any, str, Any]] = [
        ("email", target.email, "emailScope", _SCOPE_FEDERATED),
        ("additional_mail", [], "additional_mailScope", []),
        ("displayname", target.display_name, "", None),
        ("display-name", target.display_name, "displaynameScope", _SCOPE_FEDERATED),
        *[(name, "", f"{name}Scope", _SCOPE_LOCAL) for name in _TEXT_PROPERTIES],
        ("profile_enabled", "1", "profile_enabledScope", _SCOPE_LOCAL),
        ("pronouns", "", "pronounsScope", _SCOPE_FEDERATED),
    ]
    if with_scopes:
        data["avatarScope"] = _SCOPE_FEDERATED
    for name, value, scope_name, scope in profile:
        data[name] = value
        if with_scopes and scope_name:
            data[scope_name] = scope
    data.update(
        {
            "groups": list(target.groups),
            "language": target.language,
            "locale": target.locale,
            "notify_email": None,
            "backendCapabilities": {"setDisplayName": True, "setPassword": True},
        }
    )
    return data


_TEXT_PROPERTIES = (
    "phone", "address", "website", "twitter", "fediverse", "organisation", "role", "headline", "biography",
)  # fmt: skip


async def get_user(ctx: OcsContext) -> Response:
    caller = ctx.user
    assert caller is not None
    target = ctx.state.get_user(str(ctx.request.path_params["uid"]))
    if target is None:
        raise OcsError(404, "User does not exist")
    manager = can_manage(ctx.state, caller, target)
    is_self = target.id == caller.id
    if not manager and not is_self:
        raise OcsError(RESPOND_NOT_FOUND)
    return ctx.respond(user_details(ctx.state, target, with_scopes=is_self, as_manager=manager))


async def get_current_user(ctx: OcsContext) -> Response:
    caller = ctx.user
    assert caller is not None
    details = user_details(ctx.state, caller, with_scopes=True, as_manager=caller.is_admin)
    return ctx.respond(details)


def routes() -> list[BaseRoute]:
    return [
        *ocs_routes("/cloud/groups/{group}/users", group_users, ["GET"]),
        *ocs_routes("/cloud/users/{uid}/groups", user_groups, ["GET"]),
        *ocs_routes("/cloud/users/{uid}", get_user, ["GET"]),
        *ocs_routes("/cloud/user", get_current_user, ["GET"]),
        *sharee_routes(),
    ]


async def _set_subadmin(request: Request) -> Response:
    """Make a user subadmin of a group (``PUT``) or remove that right (``DELETE``)."""
    state = get_state(request)
    group, user_id = request.path_params["group"], request.path_params["user"]
    with state.lock:
        if group not in state.accounts.groups:
            return JSONResponse({"error": f"group {group!r} does not exist; create it with a member first"}, 404)
        if state.get_user(user_id) is None:
            return JSONResponse({"error": f"user {user_id!r} does not exist"}, 404)
        members = subadmins(state).setdefault(group, set())
        if request.method == "PUT":
            members.add(user_id)
        else:
            members.discard(user_id)
    return JSONResponse({"group": group, "subadmins": sorted(members)})


def control_routes() -> list[BaseRoute]:
    return [Route("/_emulator/groups/{group}/subadmins/{user}", _set_subadmin, methods=["PUT", "DELETE"])]
