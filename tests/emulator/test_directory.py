"""Sharee search, autocomplete and the provisioning endpoints of the emulator, over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from presence_bridge.emulator.accounts import User
from tests.emulator.conftest import Emulator, OCS_HEADERS

SHAREES = "/ocs/v2.php/apps/files_sharing/api/v1/sharees"


@pytest.fixture(autouse=True)
def accounts(server: Emulator) -> None:
    server.state.reset()
    server.state.add_users(
        [
            User("admin", "admin", groups=["admin"], app_passwords={"admin-app"}),
            User("alice", "Alice Test", groups=["team-a"], app_passwords={"alice-app"}, language="de", locale="de_DE"),
            User("bob", "Bob Test", groups=["team-a"], app_passwords={"bob-app"}),
            User("carol", "Carol Test", email="carol@example.org", groups=["team-a"], app_passwords={"carol-app"}),
            User("dave", "Dave Test", app_passwords={"dave-app"}),
        ]
    )


def call(server: Emulator, user: str, path: str, **params: Any) -> httpx.Response:
    return server.http.get(server.base_url + path, auth=(user, f"{user}-app"), headers=OCS_HEADERS, params=params)


def data(response: httpx.Response) -> Any:
    return response.json()["ocs"]["data"]


def sharees(server: Emulator, user: str, search: str, **params: Any) -> Any:
    response = call(server, user, SHAREES, search=search, itemType="file", lookup="false", perPage="10", **params)
    assert response.status_code == 200, response.text
    return data(response)


def ids(entries: list[dict[str, Any]]) -> list[str]:
    return [entry["value"]["shareWith"] for entry in entries]


def test_sharees_exact_id_without_status(server: Emulator) -> None:
    """Searching a user id finds an exact match whose status is [] without a status row."""
    found = sharees(server, "alice", "bob")
    assert found["exact"]["users"] == [
        {
            "label": "Bob Test",
            "subline": "",
            "icon": "icon-user",
            "value": {"shareType": 0, "shareWith": "bob"},
            "shareWithDisplayNameUnique": "bob",
            "status": [],
        }
    ]
    assert found["users"] == []
    assert found["lookupEnabled"] is False
    assert set(found["exact"]) == {"users", "groups", "remotes", "remote_groups", "emails", "circles", "rooms"}


def test_sharees_partial_display_name(server: Emulator) -> None:
    """A display-name substring gives wide matches sorted by name, without the caller."""
    found = sharees(server, "alice", "Test")
    assert found["exact"]["users"] == []
    assert ids(found["users"]) == ["bob", "carol", "dave"]
    assert found["users"][1]["shareWithDisplayNameUnique"] == "carol@example.org"


def test_sharees_carry_status(server: Emulator) -> None:
    """A user with a status row carries status, message, icon and clearAt; subline repeats the message."""
    state = server.state
    clear_at = state.now() + 3600
    state.set_status("bob", "dnd")
    state.set_custom_message("bob", "🎧", "Focus time", clear_at)

    for term in ("bob", "Bob Test"):
        entry = sharees(server, "alice", term)["exact"]["users"][0]
        assert entry["status"] == {"status": "dnd", "message": "Focus time", "icon": "🎧", "clearAt": clear_at}
        assert entry["subline"] == "Focus time"


def test_sharees_invisible_reads_offline(server: Emulator) -> None:
    """An invisible user shows as offline, but the message stays visible."""
    server.state.set_status("dave", "invisible")
    server.state.set_custom_message("dave", "🥷", "hidden", None)
    entry = sharees(server, "alice", "dave")["exact"]["users"][0]
    assert entry["status"]["status"] == "offline"
    assert entry["status"]["message"] == "hidden"


def test_sharees_enumeration_none(server: Emulator) -> None:
    """With enumeration off only exact matches (id or full display name) are returned."""
    server.state.settings.user_enumeration = "none"
    assert sharees(server, "alice", "Test")["users"] == []
    assert ids(sharees(server, "alice", "bob")["exact"]["users"]) == ["bob"]
    assert ids(sharees(server, "alice", "Carol Test")["exact"]["users"]) == ["carol"]
    assert sharees(server, "alice", "team")["groups"] == []


def test_sharees_enumeration_group(server: Emulator) -> None:
    """Restricted to groups, wide matches share a group with the caller; an exact id still matches."""
    server.state.settings.user_enumeration = "group"
    assert ids(sharees(server, "alice", "Test")["users"]) == ["bob", "carol"]
    assert ids(sharees(server, "alice", "dave")["exact"]["users"]) == ["dave"]


def test_sharees_groups(server: Emulator) -> None:
    """Groups are matched by id: a substring is wide, the full id exact."""
    assert sharees(server, "alice", "team")["groups"] == [
        {"label": "team-a", "value": {"shareType": 1, "shareWith": "team-a"}}
    ]
    assert ids(sharees(server, "alice", "team-a")["exact"]["groups"]) == ["team-a"]
    assert sharees(server, "alice", "team", shareType="0")["groups"] == []


def test_sharees_invalid_paging(server: Emulator) -> None:
    """perPage and page below 1 are rejected with 400."""
    response = call(server, "alice", SHAREES, search="bob", perPage="0")
    assert response.status_code == 400
    assert response.json()["ocs"]["meta"]["message"] == "Invalid perPage argument"
    response = call(server, "alice", SHAREES, search="bob", page="0")
    assert response.status_code == 400
    assert response.json()["ocs"]["meta"]["message"] == "Invalid page"


def test_sharees_recommended_empty(server: Emulator) -> None:
    """Recommended sharees are empty because no shares exist."""
    response = call(server, "alice", SHAREES + "_recommended", itemType="file")
    assert response.status_code == 200
    empty = {"users": [], "groups": [], "remotes": [], "remote_groups": [], "emails": []}
    assert data(response) == {"exact": empty, **empty}


def test_autocomplete_carries_status(server: Emulator) -> None:
    """core/autocomplete/get lists matches with status ('' without a row), caller excluded."""
    server.state.set_status("dave", "online")
    server.state.set_custom_message("dave", "🥷", "hidden but with a message", None)
    params = {"search": "a", "itemType": " ", "itemId": " ", "shareTypes[]": "0", "limit": "10"}
    response = call(server, "bob", "/ocs/v2.php/core/autocomplete/get", **params)
    assert response.status_code == 200
    entries = data(response)
    assert [entry["id"] for entry in entries] == ["admin", "alice", "carol", "dave"]
    assert entries[0]["status"] == ""
    assert entries[3]["status"] == {"status": "online", "message": "hidden but with a message", "icon": "🥷", "clearAt": None}
    assert entries[3]["subline"] == "hidden but with a message"
    assert entries[3]["source"] == "users"


def test_group_members_as_admin(server: Emulator) -> None:
    """An admin lists a group's members; a missing group is 404."""
    response = call(server, "admin", "/ocs/v2.php/cloud/groups/team-a/users")
    assert response.status_code == 200
    assert data(response) == {"users": ["alice", "bob", "carol"]}
    missing = call(server, "admin", "/ocs/v2.php/cloud/groups/no-such-group/users")
    assert missing.status_code == 404
    assert missing.json()["ocs"]["meta"]["message"] == "The requested group could not be found"


def test_group_members_as_plain_user(server: Emulator) -> None:
    """A user who is neither admin nor subadmin gets 403, even for a missing group."""
    for group in ("team-a", "no-such-group"):
        response = call(server, "alice", f"/ocs/v2.php/cloud/groups/{group}/users")
        assert response.status_code == 403
        assert response.json()["ocs"]["meta"]["message"] == "Logged in account must be at least a sub admin"


def test_group_members_as_subadmin(server: Emulator) -> None:
    """A subadmin lists their group, but gets 403 for another group."""
    control = server.http.put(server.base_url + "/_emulator/groups/team-a/subadmins/dave")
    assert control.status_code == 200
    assert data(call(server, "dave", "/ocs/v2.php/cloud/groups/team-a/users")) == {"users": ["alice", "bob", "carol"]}
    other = call(server, "dave", "/ocs/v2.php/cloud/groups/admin/users")
    assert other.status_code == 403
    assert other.json()["ocs"]["meta"]["message"] == ""
    assert data(call(server, "admin", "/ocs/v2.php/cloud/users/dave"))["subadmin"] == ["team-a"]


def test_user_groups(server: Emulator) -> None:
    """A user's groups are visible to the user and to admins; others get 404 (998)."""
    assert data(call(server, "admin", "/ocs/v2.php/cloud/users/alice/groups")) == {"groups": ["team-a"]}
    assert data(call(server, "alice", "/ocs/v2.php/cloud/users/alice/groups")) == {"groups": ["team-a"]}
    denied = call(server, "bob", "/ocs/v2.php/cloud/users/alice/groups")
    assert denied.status_code == 404
    assert denied.json()["ocs"]["meta"]["statuscode"] == 998


def test_user_details_of_another(server: Emulator) -> None:
    """A plain user gets 404 (998) for another user's details; an admin gets them."""
    denied = call(server, "alice", "/ocs/v2.php/cloud/users/bob")
    assert denied.status_code == 404
    assert denied.json()["ocs"]["meta"] == {"status": "failure", "statuscode": 998, "message": ""}

    details = data(call(server, "admin", "/ocs/v2.php/cloud/users/bob"))
    assert details["id"] == "bob"
    assert details["displayname"] == "Bob Test"
    assert details["display-name"] == "Bob Test"
    assert details["email"] is None
    assert details["groups"] == ["team-a"]
    assert details["language"] == "en"
    assert details["storageLocation"].endswith("/bob")
    assert "emailScope" not in details

    missing = call(server, "admin", "/ocs/v2.php/cloud/users/nobody")
    assert missing.status_code == 404
    assert missing.json()["ocs"]["meta"]["message"] == "User does not exist"


def test_own_details(server: Emulator) -> None:
    """GET /cloud/user returns the caller's details with language, locale and scopes."""
    details = data(call(server, "alice", "/ocs/v2.php/cloud/user"))
    assert details["id"] == "alice"
    assert details["displayname"] == "Alice Test"
    assert details["language"] == "de"
    assert details["locale"] == "de_DE"
    assert details["groups"] == ["team-a"]
    assert details["displaynameScope"] == "v2-federated"
    assert "storageLocation" not in details
