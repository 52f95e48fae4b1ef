"""Sharee search, recommended sharees and ``core/autocomplete/get``, with user statuses.

Users are found by a case-insensitive substring of their id, display name or
e-mail address, sorted by display name; the caller is left out.  A user whose
id, display name or e-mail equals the search term is an *exact* match; the rest
are *wide* matches.  The user-enumeration setting decides what is shown:

* ``all``: exact and wide matches;
* ``group``: only users sharing a group with the caller are searched, plus a
  user whose id equals the term;
* ``none``: exact matches only.

Each user match carries the status other users see (``invisible`` as
``offline``, expired messages cleared) or ``[]`` when the user has no status
row, and ``subline`` repeats the status message.  Groups (share type 1) are
matched by id the same way.  Other share types (remote, e-mail, circles, rooms)
never return anything here.

NOTE: no ``Link: rel="next"`` header is sent when more results exist, and the
recommended sharees are always empty because no shares are emulated.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute

from presence_bridge.emulator.accounts import User
from presence_bridge.emulator.ocs import OcsContext, OcsError, ocs_routes, php_int, required_str
from presence_bridge.emulator.state import EmulatorState, public_status

SHARE_TYPE_USER = 0
SHARE_TYPE_GROUP = 1
DEFAULT_SHARE_TYPES = (SHARE_TYPE_USER, SHARE_TYPE_GROUP)

_RESULT_TYPES = ("users", "groups", "remotes", "remote_groups", "emails", "circles", "rooms")
_RECOMMENDED_TYPES = ("users", "groups", "remotes", "remote_groups", "emails")

Entries = list[dict[str, Any]]
SearchResult = dict[str, tuple[Entries, Entries]]
"""Result type ("users", "groups") → (exact matches, wide matches)."""


def status_for(state: EmulatorState, user_id: str) -> dict[str, Any] | list[Any]:
    """Return the status others see for ``user_id``, or ``[]`` without a status row."""
    row = state.find_status(user_id)
    if row is None:
        return []
    view = public_status(row)
    return {"status": view["status"], "message": view["message"], "icon": view["icon"], "clearAt": view["clearAt"]}


def _matches(user: User, term: str) -> bool:
    return any(term in (value or "").lower() for value in (user.id, user.display_name, user.email))


def _is_full_match(user: User, term: str) -> bool:
    return term != "" and term in (user.id.lower(), user.display_name.lower(), (user.email or "").lower())


def _user_entry(user: User, status: dict[str, Any] | list[Any]) -> dict[str, Any]:
    message = status.get("message") if isinstance(status, dict) else None
    return {
        "label": user.display_name,
        "subline": message or "",
        "icon": "icon-user",
        "value": {"shareType": SHARE_TYPE_USER, "shareWith": user.id},
        "shareWithDisplayNameUnique": user.email or user.id,
        "status": status,
    }


def _candidates(state: EmulatorState, caller: User, term: str, limit: int, offset: int) -> list[User]:
    """Return the users the account backend finds for ``term``, caller removed."""
    with state.lock:
        users = list(state.accounts.users.values())
    if state.settings.user_enumeration == "group":
        # Each of the caller's groups is searched on its own, with the page limits applied per group.
        by_id: dict[str, User] = {}
        for group in caller.groups:
            members = sorted((u for u in users if group in u.groups and _matches(u, term)), key=lambda u: u.id)
            by_id.update((user.id, user) for user in members[offset : offset + limit])
        found = list(by_id.values())
    else:
        found = sorted((user for user in users if _matches(user, term)), key=lambda u: (u.display_name.lower(), u.id))
        found = found[offset : offset + limit]
    found.sort(key=lambda user: user.display_name.casefold())
    return [user for user in found if user.id != caller.id]


def search_users(state: EmulatorState, caller: User, search: str, limit: int, offset: int) -> tuple[Entries, Entries]:
    """Return (exact, wide) user matches as Nextcloud 31's user plugin does."""
    mode = state.settings.user_enumeration
    term = search.lower()
    candidates = _candidates(state, caller, term, limit, offset)
    statuses = {user.id: status_for(state, user.id) for user in candidates}
    exact: Entries = []
    wide: Entries = []
    found_by_id = False
    for user in candidates:
        entry = _user_entry(user, statuses[user.id])
        if _is_full_match(user, term):
            found_by_id = found_by_id or user.id.lower() == term
            exact.append(entry)
        elif mode == "all" or (mode == "group" and set(caller.groups) & set(user.groups)):
            wide.append(entry)

    if offset == 0 and not found_by_id and term:
        # A direct hit on a user id counts even when enumeration hid that user.
        with state.lock:
            direct = state.accounts.by_login(search)
        if direct is not None:
            # NOTE: no recording covers it, but Nextcloud's user plugin keeps the caller
            # in this step, so searching one's own id returns oneself.
            exact.append(_user_entry(direct, statuses.get(direct.id, [])))
    return exact, wide


def search_groups(state: EmulatorState, caller: User, search: str, limit: int, offset: int) -> tuple[Entries, Entries]:
    """Return (exact, wide) group matches; group ids double as display names."""
    mode = state.settings.user_enumeration
    term = search.lower()
    with state.lock:
        group_ids = sorted(state.accounts.groups)
    found = [gid for gid in group_ids if term in gid.lower()][offset : offset + limit]
    if mode == "group":
        found = [gid for gid in found if gid in caller.groups]

    def entry(gid: str) -> dict[str, Any]:
        return {"label": gid, "value": {"shareType": SHARE_TYPE_GROUP, "shareWith": gid}}

    exact = [entry(gid) for gid in found if gid.lower() == term]
    wide = [entry(gid) for gid in found if gid.lower() != term] if mode != "none" else []
    if offset == 0 and not exact and search in group_ids and (mode != "group" or search in caller.groups):
        exact.append(entry(search))
    return exact, wide


def collaborator_search(
    state: EmulatorState, caller: User, search: str, share_types: list[int], limit: int, offset: int
) -> SearchResult:
    """Run the user and group searches requested by ``share_types``."""
    result: SearchResult = {}
    if SHARE_TYPE_USER in share_types:
        result["users"] = search_users(state, caller, search, limit, offset)
    if SHARE_TYPE_GROUP in share_types:
        result["groups"] = search_groups(state, caller, search, limit, offset)
    return result


def _share_types(raw: Any) -> list[int]:
    if raw is None:
        return list(DEFAULT_SHARE_TYPES)
    values = raw if isinstance(raw, list) else [raw]
    return [php_int(value) for value in values]


async def search_sharees(ctx: OcsContext) -> Response:
    caller = ctx.user
    assert caller is not None
    params = ctx.params
    search = params.get("search", "")
    if not isinstance(search, str):
        search = str(search)
    page = php_int(params.get("page", 1))
    per_page = php_int(params.get("perPage", 200))
    if per_page <= 0:
        raise OcsError(400, "Invalid perPage argument")
    if page <= 0:
        raise OcsError(400, "Invalid page")

    found = collaborator_search(
        ctx.state, caller, search, _share_types(params.get("shareType")), per_page, per_page * (page - 1)
    )
    data: dict[str, Any] = {"exact": {name: [] for name in _RESULT_TYPES}}
    for name in _RESULT_TYPES:
        data[name] = []
        if name == "emails":
            data["lookup"] = []
    for name, (exact, wide) in found.items():
        data["exact"][name] = exact
        data[name] = wide
    data["lookupEnabled"] = False
    return ctx.respond(data)


async def recommended_sharees(ctx: OcsContext) -> Response:
    required_str(ctx.params, "itemType")
    data: dict[str, Any] = {"exact": {name: [] for name in _RECOMMENDED_TYPES}}
    data.update({name: [] for name in _RECOMMENDED_TYPES})
    return ctx.respond(data)


def autocomplete_entries(found: SearchResult) -> list[dict[str, Any]]:
    """Flatten a search result as ``core/autocomplete/get`` does: per type, exact matches first."""
    entries: list[dict[str, Any]] = []
    for source, (exact, wide) in found.items():
        for item in exact + wide:
            status = item.get("status")
            entries.append(
                {
                    "id": str(item["value"]["shareWith"]),
                    "label": item["label"],
                    "icon": item.get("icon", ""),
                    "source": source,
                    "status": status if isinstance(status, dict) and status else "",
                    "subline": item.get("subline", ""),
                    "shareWithDisplayNameUnique": item.get("shareWithDisplayNameUnique", ""),
                }
            )
    return entries


async def autocomplete(ctx: OcsContext) -> Response:
    caller = ctx.user
    assert caller is not None
    search = required_str(ctx.params, "search")
    raw_types = ctx.params.get("shareTypes")
    share_types = _share_types(raw_types) if raw_types is not None else [SHARE_TYPE_USER]
    limit = php_int(ctx.params.get("limit", 10))
    found = collaborator_search(ctx.state, caller, search, share_types, limit, 0)
    return ctx.respond(autocomplete_entries(found))


def sharee_routes() -> list[BaseRoute]:
    """Routes of this module; :mod:`presence_bridge.emulator.directory` serves them."""
    return [
        *ocs_routes("/apps/files_sharing/api/v1/sharees", search_sharees, ["GET"]),
        *ocs_routes("/apps/files_sharing/api/v1/sharees_recommended", recommended_sharees, ["GET"]),
        *ocs_routes("/core/autocomplete/get", autocomplete, ["GET"]),
    ]
