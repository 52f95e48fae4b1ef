"""PHP session cookies of the emulated Nextcloud, over HTTP.

The ``nc`` client keeps no cookies, so each test sends the session cookies it
wants in an explicit ``Cookie`` header.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

import httpx

from presence_bridge.emulator.server import start_emulator
from presence_bridge.emulator.sessions import PASSPHRASE_COOKIE, PASSPHRASE_LENGTH, SESSION_COOKIE
from tests.emulator.conftest import OCS_HEADERS, NextcloudCalls

CURRENT_USER = "/cloud/user"
SAME_SITE_NAMES = {"nc_sameSiteCookielax", "nc_sameSiteCookiestrict"}
RECORDED_NAMES = {SESSION_COOKIE, PASSPHRASE_COOKIE} | SAME_SITE_NAMES
"""The cookies Nextcloud 31.0.6 set on every recorded OCS response."""


def set_cookies(response: httpx.Response) -> dict[str, Any]:
    """Return the response's Set-Cookie headers parsed, by cookie name."""
    parsed: dict[str, Any] = {}
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        parsed.update(cookie)
    return parsed


def session_header(response: httpx.Response) -> str:
    """Return a Cookie header that sends back every cookie ``response`` set."""
    return "; ".join(f"{name}={morsel.value}" for name, morsel in set_cookies(response).items())


def with_cookie(cookie: str) -> dict[str, str]:
    return {**OCS_HEADERS, "Cookie": cookie}


def acting_user(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    user_id: str = response.json()["ocs"]["data"]["id"]
    return user_id


def sessions(nc: NextcloudCalls) -> dict[str, Any]:
    summary: dict[str, Any] = nc.control("GET", "/sessions")
    return summary


def test_authenticated_response_sets_cookies(nc: NextcloudCalls) -> None:
    response = nc.ocs("GET", CURRENT_USER, user="alice")

    cookies = set_cookies(response)
    assert acting_user(response) == "alice"
    assert set(cookies) == RECORDED_NAMES
    for name in (SESSION_COOKIE, PASSPHRASE_COOKIE, "nc_sameSiteCookielax"):
        assert cookies[name]["path"] == "/", name
        assert cookies[name]["httponly"] is True, name
        assert cookies[name]["samesite"].lower() == "lax", name
    assert cookies["nc_sameSiteCookiestrict"]["samesite"].lower() == "strict"
    assert len(cookies[PASSPHRASE_COOKIE].value) == PASSPHRASE_LENGTH
    assert sessions(nc)["created"] == {"alice": 1}
    assert sessions(nc)["active"] == 1


def test_passphrase_differs_per_session(nc: NextcloudCalls) -> None:
    first = set_cookies(nc.ocs("GET", CURRENT_USER, user="alice"))
    second = set_cookies(nc.ocs("GET", CURRENT_USER, user="alice"))

    assert first[PASSPHRASE_COOKIE].value != second[PASSPHRASE_COOKIE].value
    assert first[SESSION_COOKIE].value != second[SESSION_COOKIE].value
    assert sessions(nc)["created"] == {"alice": 2}


def test_unauthenticated_401_binds_no_user(nc: NextcloudCalls) -> None:
    """Nextcloud sets session cookies even on a 401, but that session is bound to no user."""
    response = nc.ocs("GET", CURRENT_USER, user=None)

    assert response.status_code == 401
    assert set(set_cookies(response)) == RECORDED_NAMES
    summary = sessions(nc)
    assert summary["created"] == {}
    assert summary["active"] == 0
    assert summary["anonymous_created"] == 1

    again = nc.ocs("GET", CURRENT_USER, user=None, headers=with_cookie(session_header(response)))
    assert again.status_code == 401
    assert set_cookies(again) == {}
    assert sessions(nc)["anonymous_created"] == 1


def test_wrong_password_with_session_is_401(nc: NextcloudCalls) -> None:
    cookie = session_header(nc.ocs("GET", CURRENT_USER, user="alice"))

    response = nc.client.get(
        "/ocs/v2.php" + CURRENT_USER, auth=("alice", "not-the-password"), headers=with_cookie(cookie)
    )

    assert response.status_code == 401
    assert sessions(nc)["created"] == {"alice": 1}


def test_cookie_with_same_user_reuses_session(nc: NextcloudCalls) -> None:
    cookie = session_header(nc.ocs("GET", CURRENT_USER, user="alice"))

    for _ in range(3):
        response = nc.ocs("GET", CURRENT_USER, user="alice", headers=with_cookie(cookie))
        assert acting_user(response) == "alice"
        assert set_cookies(response) == {}

    assert sessions(nc)["created"] == {"alice": 1}
    assert sessions(nc)["active"] == 1


def test_cookie_alone_acts_as_session_user(nc: NextcloudCalls) -> None:
    cookie = session_header(nc.ocs("GET", CURRENT_USER, user="alice"))

    response = nc.ocs("GET", CURRENT_USER, user=None, headers=with_cookie(cookie))

    assert acting_user(response) == "alice"
    assert sessions(nc)["created"] == {"alice": 1}


def test_cookie_alone_needs_ocs_header(nc: NextcloudCalls) -> None:
    cookie = session_header(nc.ocs("GET", CURRENT_USER, user="alice"))

    response = nc.ocs("GET", CURRENT_USER, user=None, headers={"Accept": "application/json", "Cookie": cookie})

    assert response.status_code == 412


def test_wrong_passphrase_is_no_session(nc: NextcloudCalls) -> None:
    cookies = set_cookies(nc.ocs("GET", CURRENT_USER, user="alice"))
    forged = f"{SESSION_COOKIE}={cookies[SESSION_COOKIE].value}; {PASSPHRASE_COOKIE}=wrong"

    alone = nc.ocs("GET", CURRENT_USER, user=None, headers=with_cookie(forged))
    with_basic = nc.ocs("GET", CURRENT_USER, user="alice", headers=with_cookie(forged))

    assert alone.status_code == 401
    assert acting_user(with_basic) == "alice"
    assert SESSION_COOKIE in set_cookies(with_basic)
    assert sessions(nc)["created"] == {"alice": 2}


def test_cross_user_cookie_acts_as_basic_user(nc: NextcloudCalls) -> None:
    """Alice's session cookie with Bob's credentials acts as Bob in a new session of Bob's."""
    alice_cookie = session_header(nc.ocs("GET", CURRENT_USER, user="alice"))

    response = nc.ocs("GET", CURRENT_USER, user="bob", headers=with_cookie(alice_cookie))

    assert acting_user(response) == "bob"
    bob_cookies = set_cookies(response)
    assert SESSION_COOKIE in bob_cookies
    assert PASSPHRASE_COOKIE in bob_cookies
    assert sessions(nc)["created"] == {"alice": 1, "bob": 1}

    bob_cookie = session_header(response)
    assert acting_user(nc.ocs("GET", CURRENT_USER, user=None, headers=with_cookie(bob_cookie))) == "bob"


def test_cross_user_ends_old_session(nc: NextcloudCalls) -> None:
    """Bob's login through Alice's session ends that session, so her old cookie no longer authenticates."""
    alice_cookie = session_header(nc.ocs("GET", CURRENT_USER, user="alice"))
    nc.ocs("GET", CURRENT_USER, user="bob", headers=with_cookie(alice_cookie))

    response = nc.ocs("GET", CURRENT_USER, user=None, headers=with_cookie(alice_cookie))

    assert response.status_code == 401
    assert sessions(nc)["active"] == 1


def test_revoked_app_password_ends_cookie_login(nc: NextcloudCalls) -> None:
    cookie = session_header(nc.ocs("GET", CURRENT_USER, user="alice"))
    with nc.state.lock:
        assert nc.state.accounts.revoke_app_password("alice-app")

    response = nc.ocs("GET", CURRENT_USER, user=None, headers=with_cookie(cookie))

    assert response.status_code == 401


def test_reset_clears_sessions(nc: NextcloudCalls) -> None:
    cookie = session_header(nc.ocs("GET", CURRENT_USER, user="alice"))
    nc.ocs("GET", CURRENT_USER, user=None)

    nc.control("POST", "/reset")

    assert sessions(nc) == {"created": {}, "active": 0, "anonymous_created": 0, "anonymous_active": 0}
    assert nc.ocs("GET", CURRENT_USER, user=None, headers=with_cookie(cookie)).status_code == 401


def test_sessions_route_needs_control() -> None:
    with start_emulator(control=False) as server:
        response = httpx.get(server.base_url + "/_emulator/sessions")

    assert response.status_code == 404
