"""Compare an emulator response with a response recorded from Nextcloud 31.0.6.

Only what is random or local to the recording is normalised:

* ``<redacted>`` secrets match any non-empty value;
* the instance signing key (``publicKey``) is compared by shape only;
* absence ids of the out-of-office API are compared by JSON type only;
* the recorded server URL (``http://127.0.0.1:8080``) stands for the emulator's;
* Login Flow v2 tokens are mapped from the recorded to the emulator's values
  (see :class:`TokenMap`);
* timing and header order are never compared.

XML bodies are compared as parsed trees, HTML bodies by status and content type
only.  User-details data (``/cloud/users/...``, ``/cloud/user``) is compared only
in id, display name, email, language, locale and groups, because the rest
(quota, login times, storage path, scopes) describes the recording host.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from typing import Any

import httpx

RECORDED_BASE_URL = "http://127.0.0.1:8080"
REDACTED = "<redacted>"
USER_DETAIL_KEYS = frozenset({"id", "displayname", "display-name", "email", "language", "locale", "groups"})


@dataclass
class TokenMap:
    """Recorded random tokens and the emulator's values standing in for them."""

    values: dict[str, str] = field(default_factory=dict)

    def learn_login_flow(self, recorded: Any, actual: Any) -> None:
        """Map the poll and login tokens of a Login Flow v2 start response."""
        if not (isinstance(recorded, dict) and isinstance(actual, dict)):
            return
        recorded_poll, actual_poll = recorded.get("poll"), actual.get("poll")
        if isinstance(recorded_poll, dict) and isinstance(actual_poll, dict) and "token" in actual_poll:
            self.values[recorded_poll["token"]] = actual_poll["token"]
        recorded_login, actual_login = recorded.get("login"), actual.get("login")
        if isinstance(recorded_login, str) and isinstance(actual_login, str):
            self.values[recorded_login.rsplit("/", 1)[-1]] = actual_login.rsplit("/", 1)[-1]

    def apply(self, value: Any, base_url: str) -> Any:
        """Return ``value`` with recorded tokens and the recorded base URL replaced."""
        if isinstance(value, str):
            for recorded, actual in self.values.items():
                value = value.replace(recorded, actual)
            return value.replace(RECORDED_BASE_URL, base_url)
        if isinstance(value, dict):
            return {key: self.apply(item, base_url) for key, item in value.items()}
        if isinstance(value, list):
            return [self.apply(item, base_url) for item in value]
        return value


def header(headers: dict[str, str] | httpx.Headers, name: str) -> str | None:
    """Case-insensitive header lookup in a recorded dict or in httpx headers."""
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def media_type(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


def diff_values(expected: Any, actual: Any, path: str = "") -> list[str]:
    """List the differences between two parsed JSON values."""
    if expected == REDACTED:
        # The recorder redacted every value under a secret-looking key, objects included.
        return [] if actual not in (None, "", [], {}) else [f"{path or '/'}: expected a secret, got {actual!r}"]
    if path.endswith("/publicKey"):
        return _diff_public_key(expected, actual, path)
    if isinstance(expected, dict) and isinstance(actual, dict):
        problems = []
        for key in expected.keys() | actual.keys():
            if key not in actual:
                problems.append(f"{path}/{key}: missing")
            elif key not in expected:
                problems.append(f"{path}/{key}: unexpected {actual[key]!r}")
            else:
                problems.extend(diff_values(expected[key], actual[key], f"{path}/{key}"))
        return problems
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path or '/'}: expected {len(expected)} items, got {len(actual)}: {actual!r}"]
        problems = []
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            problems.extend(diff_values(left, right, f"{path}[{index}]"))
        return problems
    if type(expected) is not type(actual) or expected != actual:
        return [f"{path or '/'}: expected {expected!r}, got {actual!r}"]
    return []


def _diff_public_key(expected: Any, actual: Any, path: str) -> list[str]:
    """Compare the instance signing key by shape only: its id names the host and the key is per installation."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or actual.keys() != expected.keys():
            return [f"{path}: expected an object with keys {sorted(expected)}, got {actual!r}"]
        return [f"{path}/{key}: expected a non-empty string" for key, value in actual.items() if not (isinstance(value, str) and value)]
    return [] if isinstance(actual, str) and actual else [f"{path}: expected a public key, got {actual!r}"]


def _xml_tree(element: ElementTree.Element) -> Any:
    children = [(child.tag, _xml_tree(child)) for child in element]
    return children if children else (element.text or "")


def _diff_user_details(expected: Any, actual: Any) -> list[str]:
    data_expected = expected.get("ocs", {}).get("data") if isinstance(expected, dict) else None
    data_actual = actual.get("ocs", {}).get("data") if isinstance(actual, dict) else None
    if not (isinstance(data_expected, dict) and isinstance(data_actual, dict)):
        return diff_values(expected, actual)
    problems = diff_values(expected["ocs"]["meta"], actual["ocs"].get("meta"), "/ocs/meta")
    for key in USER_DETAIL_KEYS & data_expected.keys():
        if key not in data_actual:
            problems.append(f"/ocs/data/{key}: missing")
        else:
            problems.extend(diff_values(data_expected[key], data_actual[key], f"/ocs/data/{key}"))
    return problems


def _absence_id_from_actual(expected: Any, actual: Any) -> Any:
    """Take the absence ``id`` from ``actual`` when both have the same JSON type.

    Absence ids come from the recording host's auto-increment counter, which
    earlier, deleted absences had advanced, so only their type is compared.
    """
    try:
        expected_data, actual_data = expected["ocs"]["data"], actual["ocs"]["data"]
    except (KeyError, TypeError):
        return expected
    if not (isinstance(expected_data, dict) and isinstance(actual_data, dict) and "id" in expected_data):
        return expected
    if type(expected_data["id"]) is not type(actual_data.get("id")):
        return expected
    return {**expected, "ocs": {**expected["ocs"], "data": {**expected_data, "id": actual_data["id"]}}}


def is_user_details(path: str) -> bool:
    return "/cloud/users/" in path or path.endswith("/cloud/user")


def compare_response(
    exchange: dict[str, Any], response: httpx.Response, tokens: TokenMap, base_url: str
) -> list[str]:
    """Return every difference between the recorded response and ``response``."""
    recorded = exchange["response"]
    problems: list[str] = []
    if response.status_code != recorded["status"]:
        problems.append(f"HTTP status: expected {recorded['status']}, got {response.status_code}")
    expected_type = media_type(header(recorded["headers"], "content-type"))
    actual_type = media_type(response.headers.get("content-type"))
    if expected_type and expected_type != actual_type:
        problems.append(f"Content-Type: expected {expected_type!r}, got {actual_type!r}")
    expected_auth = header(recorded["headers"], "www-authenticate")
    if expected_auth is not None and response.headers.get("www-authenticate") != expected_auth:
        problems.append(f"WWW-Authenticate: expected {expected_auth!r}, got {response.headers.get('www-authenticate')!r}")
    problems.extend(_compare_body(exchange, recorded, expected_type, response, tokens, base_url))
    return problems


def _compare_body(
    exchange: dict[str, Any],
    recorded: dict[str, Any],
    expected_type: str,
    response: httpx.Response,
    tokens: TokenMap,
    base_url: str,
) -> list[str]:
    kind = recorded["body_kind"]
    if kind == "empty":
        return [] if not response.content else [f"body: expected empty, got {response.text[:200]!r}"]
    if "html" in expected_type:
        return []
    if kind == "json":
        try:
            actual = response.json()
        except ValueError:
            return [f"body: expected JSON, got {response.text[:200]!r}"]
        tokens.learn_login_flow(recorded["body"], actual)
        expected = tokens.apply(recorded["body"], base_url)
        if "/outOfOffice/" in exchange["request"]["path"]:
            expected = _absence_id_from_actual(expected, actual)
        if is_user_details(exchange["request"]["path"]):
            return _diff_user_details(expected, actual)
        return diff_values(expected, actual)
    if "xml" in expected_type:
        try:
            actual_tree = _xml_tree(ElementTree.fromstring(response.content))
        except ElementTree.ParseError as error:
            return [f"body: expected XML, got {response.text[:200]!r} ({error})"]
        expected_tree = _xml_tree(ElementTree.fromstring(recorded["body"].encode("utf-8")))
        if expected_tree != actual_tree:
            return [f"XML body: expected {json.dumps(expected_tree)}, got {json.dumps(actual_tree)}"]
        return []
    return [] if response.text == recorded["body"] else [f"body: expected {recorded['body']!r}, got {response.text!r}"]
