"""Capabilities, status.php and getapppassword of the emulator, over real HTTP."""

from __future__ import annotations

import httpx
import pytest

from presence_bridge.emulator.accounts import User
from tests.emulator.conftest import Emulator, OCS_HEADERS


@pytest.fixture(autouse=True)
def accounts(server: Emulator) -> None:
    server.state.reset()
    server.state.add_users(
        [
            User("alice", "Alice Test", groups=["team-a"], password="alice-login", app_passwords={"alice-app"}),
            User("carol", "Carol Test", groups=["team-a"], password="carol-login", app_passwords={"carol-app"}),
        ]
    )


def get(server: Emulator, path: str, auth: tuple[str, str] | None = None, **kwargs: object) -> httpx.Response:
    headers = kwargs.pop("headers", OCS_HEADERS)
    return server.http.get(server.base_url + path, auth=auth, headers=headers, **kwargs)  # type: ignore[arg-type]


def test_capabilities_for_user(server: Emulator) -> None:
    """A logged-in user sees the user_status capability and the 31.0.6 version (v1 envelope)."""
    response = get(server, "/ocs/v1.php/cloud/capabilities", ("alice", "alice-app"))
    assert response.status_code == 200
    body = response.json()["ocs"]
    assert body["meta"]["statuscode"] == 100
    assert body["data"]["version"]["string"] == "31.0.6"
    caps = body["data"]["capabilities"]
    assert caps["user_status"] == {"enabled": True, "restore": True, "supports_emoji": True}
    assert caps["bruteforce"] == {"delay": 0, "allow-listed": False}
    assert caps["ocm"]["publicKey"]["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert caps["files"]["directEditing"]["url"].startswith(server.base_url + "/ocs/v2.php/")


def test_capabilities_anonymous(server: Emulator) -> None:
    """Without credentials only the public capabilities are sent, without user_status."""
    response = get(server, "/ocs/v2.php/cloud/capabilities")
    assert response.status_code == 200
    caps = response.json()["ocs"]["data"]["capabilities"]
    assert set(caps) == {"bruteforce", "app_api", "theming"}
    assert caps["theming"]["logo"] == server.base_url + "/core/img/logo/logo.svg?v=0"


def test_capabilities_wrong_password(server: Emulator) -> None:
    """Wrong Basic credentials get 401 XML even when JSON was asked for."""
    response = get(server, "/ocs/v2.php/cloud/capabilities", ("alice", "wrong"))
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/xml")


def test_capabilities_without_ocs_header(server: Emulator) -> None:
    """The OCS-APIRequest header is required here too (412)."""
    response = get(server, "/ocs/v2.php/cloud/capabilities", ("alice", "alice-app"), headers={"Accept": "application/json"})
    assert response.status_code == 412
    assert response.json() == {"message": "CSRF check failed"}


def test_status_php(server: Emulator) -> None:
    """status.php reports an installed 31.0.6.2 server."""
    response = get(server, "/status.php", headers={})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["version"] == "31.0.6.2"
    assert body["versionstring"] == "31.0.6"
    assert body["installed"] is True
    assert body["maintenance"] is False


def test_getapppassword_with_login_password(server: Emulator) -> None:
    """A login password is exchanged for a 72-character app password that then works."""
    response = get(server, "/ocs/v2.php/core/getapppassword", ("carol", "carol-login"))
    assert response.status_code == 200
    token = response.json()["ocs"]["data"]["apppassword"]
    assert len(token) == 72
    assert token.isalnum()

    whoami = get(server, "/ocs/v2.php/cloud/user", ("carol", token))
    assert whoami.status_code == 200
    assert whoami.json()["ocs"]["data"]["id"] == "carol"

    again = get(server, "/ocs/v2.php/core/getapppassword", ("carol", token))
    assert again.status_code == 403


def test_getapppassword_with_app_password(server: Emulator) -> None:
    """An app password cannot be exchanged for another one (403)."""
    response = get(server, "/ocs/v2.php/core/getapppassword", ("carol", "carol-app"))
    assert response.status_code == 403
    meta = response.json()["ocs"]["meta"]
    assert meta["message"] == "You cannot request an new apppassword with an apppassword"


def test_getapppassword_unauthenticated(server: Emulator) -> None:
    """Without credentials getapppassword returns 401 with OCS code 997."""
    response = get(server, "/ocs/v2.php/core/getapppassword")
    assert response.status_code == 401
    assert response.json()["ocs"]["meta"]["statuscode"] == 997


def test_rotate_app_password(server: Emulator) -> None:
    """Rotating returns a new app password that works, and the old one stops working."""
    response = server.http.post(
        server.base_url + "/ocs/v2.php/core/apppassword/rotate", auth=("alice", "alice-app"), headers=OCS_HEADERS
    )
    assert response.status_code == 200
    token = response.json()["ocs"]["data"]["apppassword"]
    assert len(token) == 72
    assert get(server, "/ocs/v2.php/cloud/user", ("alice", token)).status_code == 200
    assert get(server, "/ocs/v2.php/cloud/user", ("alice", "alice-app")).status_code == 401


def test_revoke_app_password(server: Emulator) -> None:
    """DELETE /core/apppassword revokes the app password in use."""
    response = server.http.delete(
        server.base_url + "/ocs/v2.php/core/apppassword", auth=("alice", "alice-app"), headers=OCS_HEADERS
    )
    assert response.status_code == 200
    assert response.json()["ocs"]["data"] == []
    assert get(server, "/ocs/v2.php/cloud/user", ("alice", "alice-app")).status_code == 401


def test_revoke_with_login_password(server: Emulator) -> None:
    """Revoking needs an app password in use: a login-password caller gets 403."""
    response = server.http.delete(
        server.base_url + "/ocs/v2.php/core/apppassword", auth=("alice", "alice-login"), headers=OCS_HEADERS
    )
    assert response.status_code == 403
    assert response.json()["ocs"]["meta"]["message"] == "no app password in use"
