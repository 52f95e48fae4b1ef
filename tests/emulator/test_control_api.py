"""The ``/_emulator/`` control API, fault injection and a 100,000-user table."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from presence_bridge.emulator.app import create_app
from presence_bridge.emulator.server import load_seed, start_emulator
from presence_bridge.emulator.state import EmulatorState, StatusRow
from tests.emulator.conftest import OCS_HEADERS, T0, NextcloudCalls


def test_clock_set_advance_freeze(nc: NextcloudCalls) -> None:
    assert nc.control("PUT", "/clock", {"advance": 30}) == {"now": T0 + 30, "frozen": True}

    running = nc.control("PUT", "/clock", {"frozen": False})

    assert running["frozen"] is False
    assert running["now"] >= T0 + 30


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"now": "soon"}', "'now' must be Unix seconds"),
        (b'{"now": 1800000000, "advance": NaN}', "'advance' must be a number of seconds"),
        (b'{"advance": Infinity}', "'advance' must be a number of seconds"),
        (b'{"frozen": "no"}', "'frozen' must be true or false"),
    ],
)
def test_invalid_clock_field_changes_nothing(nc: NextcloudCalls, body: bytes, field: str) -> None:
    response = nc.client.put("/_emulator/clock", content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert field in response.json()["error"]
    assert nc.control("GET", "/clock") == {"now": T0, "frozen": True}


def test_unknown_row_field_message_unquoted(nc: NextcloudCalls) -> None:
    response = nc.client.put("/_emulator/rows/alice", json={"statuss": "dnd"})

    assert response.status_code == 400
    assert response.json()["error"].startswith("unknown status row fields ['statuss']")


def test_users_single_and_list(nc: NextcloudCalls) -> None:
    single = nc.control("POST", "/users", {"id": "erin", "app_password": "erin-app"})
    many = nc.control("POST", "/users", [{"id": "f1"}, {"id": "f2", "groups": ["team-b"]}])

    assert single == {"created": 1, "replaced": 0}
    assert many == {"created": 2, "replaced": 0}
    assert nc.state.accounts.groups["team-b"] == ["f2"]
    assert nc.ocs("GET", "/apps/user_status/api/v1/predefined_statuses", user="erin").status_code == 200


def test_users_replaced_counted(nc: NextcloudCalls) -> None:
    nc.control("POST", "/users", {"id": "erin", "app_password": "erin-old"})

    answer = nc.control("POST", "/users", [{"id": "erin", "app_password": "erin-new"}, {"id": "frank"}])

    assert answer == {"created": 1, "replaced": 1}
    erin = nc.state.get_user("erin")
    assert erin is not None
    assert erin.app_passwords == {"erin-new"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "sleeping"}, "status"),
        ({"status": None}, "status"),
        ({"status_timestamp": "now"}, "status_timestamp"),
        ({"is_user_defined": 1}, "is_user_defined"),
        ({"clear_at": True}, "clear_at"),
        ({"custom_message": 5}, "custom_message"),
    ],
)
def test_invalid_row_value_400(nc: NextcloudCalls, body: dict[str, object], field: str) -> None:
    nc.control("PUT", "/rows/alice", {"status": "away", "is_user_defined": True})

    single = nc.client.put("/_emulator/rows/alice", json=body)
    bulk = nc.client.put("/_emulator/rows", json=[{"user_id": "bob", "status": "dnd"}, {"user_id": "alice", **body}])

    assert single.status_code == 400
    assert f"row field {field!r}" in single.json()["error"]
    assert bulk.status_code == 400
    assert f"row field {field!r}" in bulk.json()["error"]
    assert nc.control("GET", "/rows/alice")["status"] == "away"
    assert nc.client.get("/_emulator/rows/bob").status_code == 404


def test_invalid_control_body_400(nc: NextcloudCalls) -> None:
    response = nc.client.put("/_emulator/settings", json={"user_enumeration": "phone"})

    assert response.status_code == 400
    assert "user_enumeration" in response.json()["error"]


def test_rows_raw_and_bulk(nc: NextcloudCalls) -> None:
    """Raw row writes keep list order; DELETE removes one or all rows."""
    nc.control("PUT", "/rows", [{"user_id": "bob", "status": "dnd", "is_user_defined": True}, {"user_id": "alice"}])
    nc.control("PUT", "/rows/bob", {"custom_message": "Deep work"})

    listed = nc.data(nc.status("GET", "/statuses"))
    assert [(item["userId"], item["status"], item["message"]) for item in listed] == [
        ("bob", "dnd", "Deep work"),
        ("alice", "offline", None),
    ]

    nc.control("DELETE", "/rows/bob")
    assert nc.status("GET", "/statuses/bob").status_code == 404
    nc.control("DELETE", "/rows")
    assert nc.data(nc.status("GET", "/statuses")) == []


def test_fault_status_then_normal(nc: NextcloudCalls) -> None:
    """A status fault fails the next `count` matching requests, then is removed."""
    nc.control("POST", "/faults", {"match": "/ocs/v2.php/apps/user_status", "status": 503, "count": 2})

    codes = [nc.status("GET", "/predefined_statuses").status_code for _ in range(3)]

    assert codes == [503, 503, 200]
    assert nc.control("GET", "/faults") == []


def test_fault_drop_closes_connection(nc: NextcloudCalls) -> None:
    nc.control("POST", "/faults", {"match": "/ocs/", "drop": True})

    with pytest.raises(httpx.RemoteProtocolError):
        nc.status("GET", "/predefined_statuses")
    assert nc.status("GET", "/predefined_statuses").status_code == 200


def test_fault_delay_then_response(nc: NextcloudCalls) -> None:
    nc.control("POST", "/faults", {"match": "/ocs/", "delay_s": 0.05})

    assert nc.status("GET", "/predefined_statuses").status_code == 200


@pytest.mark.parametrize(
    ("fault", "field"),
    [
        ({"status": "abc"}, "'status' must be an HTTP status code"),
        ({"status": 42}, "'status' must be an HTTP status code"),
        ({"status": True}, "'status' must be an HTTP status code"),
        ({"delay_s": "slow"}, "'delay_s' must be a number of seconds"),
        ({"delay_s": -1}, "'delay_s' must be a number of seconds"),
        ({"status": 503, "count": "2"}, "'count' must be a whole number"),
        ({"status": 503, "count": 0}, "'count' must be a whole number"),
    ],
)
def test_invalid_fault_field_named(nc: NextcloudCalls, fault: dict[str, object], field: str) -> None:
    response = nc.client.post("/_emulator/faults", json={"match": "/ocs/", **fault})

    assert response.status_code == 400
    assert field in response.json()["error"]
    assert nc.control("GET", "/faults") == []


def test_control_off_by_default() -> None:
    """Without control=True the control API is not mounted."""
    with start_emulator(control=False) as server:
        response = httpx.post(server.base_url + "/_emulator/reset")

    assert response.status_code == 404


def test_list_cache_follows_changes() -> None:
    """The cached table view is rebuilt after inserts, deletes and renames."""
    state = EmulatorState()
    state.insert_rows(StatusRow(f"u{index}") for index in range(3))
    assert [row.user_id for row in state.all_rows()] == ["u0", "u1", "u2"]

    state.delete_row("u1")
    state.rename_row("u0", "_u0")
    state.insert_row(StatusRow("u0"))

    assert [row.user_id for row in state.all_rows()] == ["_u0", "u2", "u0"]


def test_hundred_thousand_users(nc: NextcloudCalls) -> None:
    """100k users and rows load through the bulk API and page like any other table."""
    count = 100_000
    users = [{"id": f"user{index:06d}", "app_password": "bulk"} for index in range(count)]
    rows = [{"user_id": f"user{index:06d}", "status": "online", "status_timestamp": T0} for index in range(count)]

    assert nc.control("POST", "/users", users) == {"created": count, "replaced": 0}
    assert nc.control("PUT", "/rows", rows) == {"updated": count}

    response = nc.client.get(
        "/ocs/v2.php/apps/user_status/api/v1/statuses",
        params={"limit": 1000, "offset": 99_500},
        auth=("user000001", "bulk"),
        headers=OCS_HEADERS,
    )
    page = nc.data(response)
    assert len(page) == 500
    assert page[0] == {"userId": "user099500", "message": None, "icon": None, "clearAt": None, "status": "online"}


def test_create_app_without_control_routes() -> None:
    app = create_app()

    paths = {getattr(route, "path", "") for route in app.routes}

    assert not any(path.startswith("/_emulator") for path in paths)


def test_load_seed_sources(tmp_path: Path) -> None:
    """A seed can be the demo preset, a dict or a JSON file."""
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(
        json.dumps({"users": [{"id": "zoe"}], "rows": [{"user_id": "zoe", "status": "dnd"}], "settings": {"user_enumeration": "none"}}),
        encoding="utf-8",
    )
    from_file, from_demo, from_dict = EmulatorState(), EmulatorState(), EmulatorState()

    load_seed(from_file, seed_file)
    load_seed(from_demo, "demo")
    load_seed(from_dict, {"users": [{"id": "yan", "groups": ["admin"]}]})

    row = from_file.get_row("zoe")
    assert row is not None
    assert row.status == "dnd"
    assert from_file.settings.user_enumeration == "none"
    assert sorted(from_demo.accounts.users) == ["admin", "alice", "bob", "carol", "dave"]
    user = from_dict.get_user("yan")
    assert user is not None
    assert user.is_admin
