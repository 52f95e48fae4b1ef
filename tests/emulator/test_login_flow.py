"""Login Flow v2 of the emulator, with the control route standing in for the browser."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from presence_bridge.emulator.accounts import User
from tests.emulator.conftest import Emulator


@pytest.fixture(autouse=True)
def accounts(server: Emulator) -> None:
    server.state.reset()
    server.state.add_users([User("bob", "Bob Test", groups=["team-a"], password="bob-login")])


def start_flow(server: Emulator, path: str = "/index.php/login/v2") -> dict[str, Any]:
    response = server.http.post(server.base_url + path, headers={"Accept": "application/json", "User-Agent": "bridge-test"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def login_token(flow: dict[str, Any]) -> str:
    return str(flow["login"]).rsplit("/", 1)[-1]


def poll(server: Emulator, **kwargs: Any) -> httpx.Response:
    return server.http.post(server.base_url + "/index.php/login/v2/poll", **kwargs)


def grant(server: Emulator, token: str, user: str = "bob") -> httpx.Response:
    return server.http.post(f"{server.base_url}/_emulator/login-flow/{token}/grant", json={"user": user})


def test_start_shape(server: Emulator) -> None:
    """The start call returns a 128-character poll token, the poll endpoint and the login URL."""
    flow = start_flow(server)
    assert len(flow["poll"]["token"]) == 128
    assert flow["poll"]["endpoint"] == server.base_url + "/index.php/login/v2/poll"
    assert flow["login"].startswith(server.base_url + "/index.php/login/v2/flow/")
    assert len(login_token(flow)) == 128


def test_start_without_index_php(server: Emulator) -> None:
    """POST /login/v2 works as well as /index.php/login/v2."""
    flow = start_flow(server, "/login/v2")
    assert len(flow["poll"]["token"]) == 128


def test_start_wrong_verb(server: Emulator) -> None:
    """GET on the start route returns 405 with an empty body."""
    response = server.http.get(server.base_url + "/index.php/login/v2")
    assert response.status_code == 405
    assert response.content == b""


def test_poll_before_grant(server: Emulator) -> None:
    """Polling before the grant, or with a bogus token, returns 404 with body []."""
    flow = start_flow(server)
    for token in (flow["poll"]["token"], "bogus"):
        response = poll(server, data={"token": token})
        assert response.status_code == 404
        assert response.json() == []


def test_poll_without_token(server: Emulator) -> None:
    """Polling without a token parameter returns 500 with an HTML page."""
    response = poll(server)
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")


def test_grant_then_poll_once(server: Emulator) -> None:
    """After the grant one poll returns working credentials; the next poll is 404."""
    flow = start_flow(server)
    assert grant(server, login_token(flow)).status_code == 200

    response = poll(server, data={"token": flow["poll"]["token"]})
    assert response.status_code == 200
    body = response.json()
    assert body["server"] == server.base_url
    assert body["loginName"] == "bob"
    assert len(body["appPassword"]) == 72

    whoami = server.http.get(
        server.base_url + "/ocs/v2.php/cloud/user",
        auth=(body["loginName"], body["appPassword"]),
        headers={"OCS-APIRequest": "true", "Accept": "application/json"},
    )
    assert whoami.status_code == 200

    again = poll(server, data={"token": flow["poll"]["token"]})
    assert again.status_code == 404
    assert again.json() == []


def test_poll_with_json_body(server: Emulator) -> None:
    """The poll token may be sent as JSON."""
    flow = start_flow(server)
    grant(server, login_token(flow))
    response = poll(server, json={"token": flow["poll"]["token"]})
    assert response.status_code == 200


def test_flow_expires_after_20_minutes(server: Emulator) -> None:
    """A flow older than 20 minutes of emulator clock can be neither granted nor polled."""
    flow = start_flow(server)
    server.state.clock.advance(20 * 60 + 1)
    assert grant(server, login_token(flow)).status_code == 404
    assert poll(server, data={"token": flow["poll"]["token"]}).status_code == 404


def test_flow_valid_before_20_minutes(server: Emulator) -> None:
    """A flow is still usable just under 20 minutes after the start."""
    flow = start_flow(server)
    server.state.clock.advance(20 * 60 - 5)
    assert grant(server, login_token(flow)).status_code == 200
    assert poll(server, data={"token": flow["poll"]["token"]}).status_code == 200


def test_grant_unknown_user(server: Emulator) -> None:
    """Granting for a user who does not exist is rejected with 404 naming the user."""
    flow = start_flow(server)
    response = grant(server, login_token(flow), user="nobody")
    assert response.status_code == 404
    assert "nobody" in response.json()["error"]


def test_login_page(server: Emulator) -> None:
    """The login URL opens for a known flow and is refused for an unknown token."""
    flow = start_flow(server)
    assert server.http.get(flow["login"]).status_code == 200
    assert server.http.get(server.base_url + "/index.php/login/v2/flow/unknown").status_code == 403
