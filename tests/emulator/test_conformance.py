"""Replay every recorded Nextcloud 31.0.6 exchange against the emulator over HTTP.

The replay is stateful: one module-scoped run sends all exchanges in ``seq``
order, with the emulator clock frozen at each exchange's ``unix_time_sent``,
and applies each out-of-band setup step right before the first exchange whose
``seq`` is at least its ``before_seq``.  Each exchange then gets its own test
that reports the differences found for it.

Not compared: response timing, so the brute-force delays (successive failed
logins slowed down to 25 s) are not checked, because the emulator does not
throttle and Nextcloud sends no header about it.  What else is normalised is
listed in ``tests/emulator/compare.py``.
"""

from __future__ import annotations

import http.cookiejar
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from presence_bridge.emulator.server import EmulatorServer, start_emulator
from presence_bridge.nextcloud.transport import RejectAllCookies
from tests.emulator.compare import TokenMap, compare_response
from tests.recordings import load_exchanges, load_setup_steps

EXCHANGES = load_exchanges()
SETUP_STEPS = load_setup_steps()

LOGIN_PASSWORD = "{}-login-password"
APP_PASSWORD = "{}-app-password-used-for-the-replay"
WRONG_PASSWORD = "not-the-password"
USERS = [
    {"id": "admin", "display_name": "admin", "groups": ["admin"]},
    {"id": "alice", "display_name": "Alice Test", "groups": ["team-a"]},
    {"id": "bob", "display_name": "Bob Test", "groups": ["team-a"]},
    {"id": "carol", "display_name": "Carol Test", "groups": ["team-a"]},
    {"id": "dave", "display_name": "Dave Test", "groups": []},
]
"""The recorded server's accounts; its passwords are not in the recordings."""


@dataclass
class Replay:
    """One replay run: the server, an HTTP client and what the run has learned."""

    server: EmulatorServer
    client: httpx.Client
    tokens: TokenMap = field(default_factory=TokenMap)
    mismatches: dict[int, list[str]] = field(default_factory=dict)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self.client.request(method, "/_emulator" + path, json=body)
        assert response.status_code < 400, f"control call {method} {path} failed: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def as_user(self, user: str, method: str, path: str, data: dict[str, Any]) -> None:
        headers = {"OCS-APIRequest": "true", "Accept": "application/json"}
        response = self.client.request(method, path, auth=(user, APP_PASSWORD.format(user)), headers=headers, data=data)
        assert response.status_code == 200, f"setup call {method} {path} as {user} failed: {response.text}"


# Setup steps ---------------------------------------------------------------

StepAction = Callable[[Replay, dict[str, Any], re.Match[str]], None]

_SET_USER_STATUS = r"setUserStatus\('(\w+)', '([\w-]+)', '(\w+)', createBackup=true\)"
_UPDATE_ROW = r"UPDATE oc_user_status SET (.+) WHERE user_id='(\w+)'"


def _parse_sql_value(text: str) -> Any:
    text = text.strip()
    if text.upper() == "NULL":
        return None
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1]
    return int(text)


def _update_row(replay: Replay, step: dict[str, Any], match: re.Match[str]) -> None:
    values: dict[str, Any] = {}
    for assignment in match.group(1).split(", "):
        column, _, raw = assignment.partition("=")
        value = _parse_sql_value(raw)
        values[column] = bool(value) if column == "is_user_defined" else value
    replay.control("PUT", f"/rows/{match.group(2)}", values)


def _automation(replay: Replay, step: dict[str, Any], match: re.Match[str]) -> None:
    user, message_id, status = match.groups()
    replay.control("POST", "/automations", {"user": user, "message_id": message_id, "status": status})


def _user_status_job(replay: Replay, step: dict[str, Any], match: re.Match[str]) -> None:
    replay.control("POST", "/jobs/user-status-automation", {"user": match.group(1)})


def _grant_login_flow(replay: Replay, step: dict[str, Any], match: re.Match[str]) -> None:
    # The grant completes the first flow the replay started (its login token was
    # mapped from the recorded start response).
    login_token = _first_login_token(replay)
    replay.control("POST", f"/login-flow/{login_token}/grant", {"user": match.group(1)})


def _first_login_token(replay: Replay) -> str:
    start = next(exchange for exchange in EXCHANGES if exchange["name"].startswith("POST /index.php/login/v2"))
    recorded_token = start["response"]["body"]["login"].rsplit("/", 1)[-1]
    return replay.tokens.values[recorded_token]


def _status_through_api(replay: Replay, step: dict[str, Any], match: re.Match[str]) -> None:
    user, icon, message, clear_at = match.groups()
    api = "/ocs/v2.php/apps/user_status/api/v1/user_status"
    replay.as_user(user, "PUT", f"{api}/status", {"statusType": "dnd"})
    replay.as_user(user, "PUT", f"{api}/message/custom", {"statusIcon": icon, "message": message, "clearAt": clear_at})


def _enumeration(mode: str) -> StepAction:
    def apply(replay: Replay, step: dict[str, Any], match: re.Match[str]) -> None:
        replay.control("PUT", "/settings", {"user_enumeration": mode})

    return apply


def _nothing(replay: Replay, step: dict[str, Any], match: re.Match[str]) -> None:
    """The step changes nothing the emulator models (brute-force counters, or state
    that the ``POST /_emulator/reset`` at the start of the replay already cleared)."""


SETUP_TABLE: list[tuple[str, StepAction]] = [
    # (regular expression searched in the step's sql, command and description; action)
    (r"^DELETE FROM oc_user_status$", lambda replay, step, match: replay.control("DELETE", "/rows")),
    (r"^DELETE FROM oc_dav_absence$", _nothing),
    (r"occ security:bruteforce:(reset|attempts)", _nothing),
    (r"shareapi_allow_share_dialog_user_enumeration --value=no", _enumeration("none")),
    (r"shareapi_allow_share_dialog_user_enumeration --value=yes", _enumeration("all")),
    (r"shareapi_restrict_user_enumeration_to_group --value=yes", _enumeration("group")),
    (r"config:app:delete core shareapi_restrict_user_enumeration_to_group", _enumeration("all")),
    (r"internal status manager: " + _SET_USER_STATUS, _automation),
    (_UPDATE_ROW, _update_row),
    (r'OCA\\DAV\\BackgroundJob\\UserStatusAutomation\nArguments: +\{"userId":"(\w+)"\}', _user_status_job),
    (r"browser part of Login Flow v2 done for (\w+)", _grant_login_flow),
    (
        r"(\w+), through the API: PUT /user_status/status statusType=dnd, then PUT /user_status/message/custom"
        r" statusIcon=(\S+) message='([^']*)' clearAt=(\d+)",
        _status_through_api,
    ),
]


def apply_setup_step(replay: Replay, step: dict[str, Any]) -> None:
    """Apply one setup step through the table; fail naming a step no entry matches."""
    text = "\n".join(str(step.get(key, "")) for key in ("sql", "command", "output", "description"))
    for pattern, action in SETUP_TABLE:
        match = re.search(pattern, text, re.MULTILINE)
        if match is not None:
            replay.control("PUT", "/clock", {"now": step["unix_time"], "frozen": True})
            action(replay, step, match)
            return
    raise AssertionError(f"no entry of SETUP_TABLE matches setup step {step!r}; add one")


# Replay -----------------------------------------------------------------------


def _credentials(request: dict[str, Any]) -> tuple[str, str] | None:
    user, kind = request["acting_user"], request["auth"]
    if kind == "basic, app password":
        return user, APP_PASSWORD.format(user)
    if kind == "basic, login password":
        return user, LOGIN_PASSWORD.format(user)
    if kind == "basic, wrong password":
        return user, WRONG_PASSWORD
    assert kind == "none", f"unknown auth kind {kind!r}"
    return None


def send_exchange(replay: Replay, exchange: dict[str, Any]) -> httpx.Response:
    """Send the recorded request, with recorded random tokens replaced by the emulator's."""
    request = exchange["request"]
    base_url = replay.server.base_url
    body = replay.tokens.apply(request["body"], base_url)
    query = replay.tokens.apply(request["query"], base_url)
    kwargs: dict[str, Any] = {"headers": dict(request["headers"]), "params": query}
    if request["body_content_type"] == "application/json":
        kwargs["json"] = body
    elif request["body_content_type"] == "application/x-www-form-urlencoded":
        kwargs["data"] = body
    elif body is not None:
        kwargs["content"] = body if isinstance(body, str) else str(body)
    credentials = _credentials(request)
    if credentials is not None:
        kwargs["auth"] = credentials
    return replay.client.request(request["method"], request["path"], **kwargs)


def run_replay(server: EmulatorServer) -> dict[int, list[str]]:
    """Replay every exchange in order and return the differences per ``seq``."""
    # The recordings were made with a fresh session per request, so the
    # replay sends no cookies.
    no_cookies = http.cookiejar.CookieJar(policy=RejectAllCookies())
    with httpx.Client(base_url=server.base_url, timeout=30.0, cookies=no_cookies) as client:
        replay = Replay(server, client)
        replay.control("POST", "/reset")
        users = [
            {**user, "password": LOGIN_PASSWORD.format(user["id"]), "app_password": APP_PASSWORD.format(user["id"])}
            for user in USERS
        ]
        replay.control("POST", "/users", users)
        pending = list(SETUP_STEPS)
        for exchange in EXCHANGES:
            while pending and pending[0]["before_seq"] <= exchange["seq"]:
                apply_setup_step(replay, pending.pop(0))
            replay.control("PUT", "/clock", {"now": exchange["unix_time_sent"], "frozen": True})
            try:
                response = send_exchange(replay, exchange)
            except httpx.HTTPError as error:
                replay.mismatches[exchange["seq"]] = [f"request failed: {error!r}"]
                continue
            replay.mismatches[exchange["seq"]] = compare_response(exchange, response, replay.tokens, server.base_url)
        return replay.mismatches


@pytest.fixture(scope="module")
def replay_results() -> Iterator[dict[int, list[str]]]:
    with start_emulator(control=True) as server:
        yield run_replay(server)


def _exchange_id(exchange: dict[str, Any]) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", exchange["name"].lower()).strip("-")
    return f"{exchange['seq']:04d}-{slug[:60]}"


@pytest.mark.parametrize("exchange", EXCHANGES, ids=[_exchange_id(exchange) for exchange in EXCHANGES])
def test_recorded_exchange(exchange: dict[str, Any], replay_results: dict[int, list[str]]) -> None:
    """The emulator responds to this recorded request as Nextcloud 31.0.6 did."""
    problems = replay_results[exchange["seq"]]
    request = exchange["request"]
    summary = f"seq {exchange['seq']} {exchange['name']!r}: {request['method']} {request['path']}"
    assert not problems, summary + "\n  " + "\n  ".join(problems)


def test_every_setup_step_has_an_action() -> None:
    """Each recorded setup step matches an entry of SETUP_TABLE."""
    for step in SETUP_STEPS:
        text = "\n".join(str(step.get(key, "")) for key in ("sql", "command", "output", "description"))
        assert any(re.search(pattern, text, re.MULTILINE) for pattern, _ in SETUP_TABLE), step
