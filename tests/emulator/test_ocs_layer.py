"""Envelopes, formats, authentication and routing of the emulated OCS API."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import pytest

from presence_bridge.emulator.params import php_int
from presence_bridge.emulator.predefined import is_valid_icon
from presence_bridge.emulator.render import php_json, php_xml
from tests.emulator.conftest import NextcloudCalls


def test_xml_without_accept(nc: NextcloudCalls) -> None:
    """Without Accept or format the response is XML; false is an empty element."""
    nc.status("PUT", "/heartbeat", data={"status": "online"})

    response = nc.status("GET", "/user_status", headers={"OCS-APIRequest": "true"})

    assert response.headers["content-type"] == "application/xml; charset=utf-8"
    data = ElementTree.fromstring(response.content).find("data")
    assert data is not None
    assert data.findtext("status") == "online"
    assert data.findtext("statusIsUserDefined") == ""
    assert "<message/>" in response.text


def test_format_parameter_wins(nc: NextcloudCalls) -> None:
    response = nc.status("GET", "/predefined_statuses", params={"format": "json"}, headers={"OCS-APIRequest": "true"})

    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert [item["id"] for item in nc.data(response)] == ["meeting", "commuting", "remote-work", "sick-leave", "vacationing"]


def test_v1_envelope(nc: NextcloudCalls) -> None:
    """v1 sends HTTP 200 and the OCS code in the body, plus empty paging fields."""
    response = nc.status("GET", "/user_status", version=1)

    assert response.status_code == 200
    assert response.json()["ocs"]["meta"] == {
        "status": "failure",
        "statuscode": 404,
        "message": "No status for the current user",
        "totalitems": "",
        "itemsperpage": "",
    }


def test_missing_ocs_header_412(nc: NextcloudCalls) -> None:
    response = nc.status("GET", "/user_status", headers={"Accept": "application/json"})

    assert response.status_code == 412
    assert response.json() == {"message": "CSRF check failed"}


def test_no_credentials_401_json(nc: NextcloudCalls) -> None:
    response = nc.status("GET", "/user_status", user=None)

    assert response.status_code == 401
    assert response.json()["ocs"]["meta"]["statuscode"] == 997


def test_wrong_password_401_xml(nc: NextcloudCalls) -> None:
    """Wrong credentials give XML even on unknown routes and with Accept: json."""
    for path in ("/apps/user_status/api/v1/user_status", "/apps/nope"):
        response = nc.client.get(f"/ocs/v2.php{path}", auth=("alice", "wrong"), headers={"OCS-APIRequest": "true", "Accept": "application/json"})
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("text/xml")
        assert response.headers["www-authenticate"] == 'Basic realm="Authorisation Required"'


@pytest.mark.parametrize("auth", [("alice", "alice-login"), ("ALICE", "alice-app")])
def test_login_password_and_case(nc: NextcloudCalls, auth: tuple[str, str]) -> None:
    """The login password works too, and login names match case-insensitively."""
    response = nc.client.get("/ocs/v2.php/apps/user_status/api/v1/predefined_statuses", auth=auth, headers={"OCS-APIRequest": "true"})

    assert response.status_code == 200


def test_bearer_app_password(nc: NextcloudCalls) -> None:
    """A Bearer app password logs in and needs no OCS-APIRequest header."""
    response = nc.client.get(
        "/ocs/v2.php/apps/user_status/api/v1/user_status",
        headers={"Authorization": "Bearer bob-app", "Accept": "application/json"},
    )

    assert response.status_code == 404
    assert response.json()["ocs"]["meta"]["message"] == "No status for the current user"


def test_unknown_route_and_verb(nc: NextcloudCalls) -> None:
    """Unknown OCS paths give 998 as XML, a wrong verb an empty 405."""
    unknown = nc.status("GET", "/statuses/")
    wrong_verb = nc.status("GET", "/heartbeat")

    assert unknown.status_code == 404
    assert "<statuscode>998</statuscode>" in unknown.text
    assert wrong_verb.status_code == 405
    assert wrong_verb.content == b""


@pytest.mark.parametrize(
    ("icon", "valid"),
    [
        ("🌴", True), ("🏖️", True), ("👨‍💻", True), ("👨‍👩‍👧‍👦", True), ("🏳️‍🌈", True), ("🇩🇪", True),
        ("🏴󠁧󠁢󠁥󠁮󠁧󠁿", True), ("👍🏽", True), ("1️⃣", True), ("#️⃣", True), ("©", True), ("©️", True),
        ("🇩", True), ("↔️", True), ("✔", True), ("🫨", True), ("☀", True),
        ("🌴🏖", False), ("A", False), ("1", False), (":palm_tree:", False), ("e\u0301", False),
        ("🌴 ", False), ("", False), ("中", False),
    ],
)
def test_icon_check(icon: str, valid: bool) -> None:
    assert is_valid_icon(icon) is valid


@pytest.mark.parametrize(("value", "expected"), [("abc", 0), ("2.5", 2), ("", 0), (" 12", 12), ("12abc", 12), ("1e3", 1000), (2.9, 2), (True, 1), ("-4", -4)])
def test_php_int_cast(value: object, expected: int) -> None:
    assert php_int(value) == expected


def test_php_json_escapes() -> None:
    """Slashes, tags and non-ASCII are escaped as PHP's json_encode with JSON_HEX_TAG does."""
    assert php_json({"m": "a/b <i> ä"}) == '{"m":"a\\/b \\u003Ci\\u003E \\u00e4"}'


def test_php_xml_shapes() -> None:
    text = php_xml({"status": "ok"}, {"list": ["x"], "none": None, "no": False, "yes": True, "empty": []})

    assert "<element>x</element>" in text
    assert "<none/>" in text
    assert "<no></no>" in text
    assert "<yes>1</yes>" in text
    assert "<empty/>" in text


def test_wrong_password_ignores_format(nc: NextcloudCalls) -> None:
    """?format=json does not turn the wrong-credentials error into JSON; a 998 it does."""
    wrong = nc.client.get(
        "/ocs/v2.php/apps/user_status/api/v1/user_status",
        params={"format": "json"},
        auth=("alice", "wrong"),
        headers={"OCS-APIRequest": "true", "X-Requested-With": "XMLHttpRequest"},
    )
    unknown = nc.ocs("GET", "/apps/nope", params={"format": "json"})

    assert wrong.headers["content-type"].startswith("text/xml")
    assert wrong.headers["www-authenticate"] == 'DummyBasic realm="Authorisation Required"'
    assert unknown.status_code == 404
    assert unknown.json()["ocs"]["meta"]["statuscode"] == 998
