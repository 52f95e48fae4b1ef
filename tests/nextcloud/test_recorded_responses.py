"""Every response recorded from a real Nextcloud 31.0.6 goes through the client's parsers.

Each exchange is matched to the request builder of its route.  The expected
outcome is derived here, independently of the parser's own mapping, from the
HTTP status and the OCS ``statuscode`` in the recorded body: a success must
parse into the typed result, a failure must raise the typed error.  Routes the
client never calls are parsed with a generic OCS request, so their failures
still go through the error mapping.  OCS v1 exchanges run through the same
parsers: v1 reports failures inside HTTP 200, and the parser must see them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from presence_bridge import errors
from presence_bridge.nextcloud import endpoints, login_flow
from presence_bridge.nextcloud.account_models import (
    LoginFlowCredentials,
    LoginFlowStart,
    Sharee,
    UserDetails,
)
from presence_bridge.nextcloud.models import Capabilities, PredefinedStatus, PrivateStatus, PublicStatus
from presence_bridge.nextcloud.ocs import ApiRequest, parse_response
from tests.recordings import load_exchanges

API = r"/ocs/v[12]\.php/apps/user_status/api/v1"
START = LoginFlowStart(login_url="http://x/flow", poll_endpoint="http://x/index.php/login/v2/poll", poll_token="t")


def _generic(ocs: bool = True) -> ApiRequest[Any]:
    return ApiRequest("GET", "/", action="call a route the client never calls", parse=lambda data: data, ocs=ocs)


def _is_tuple_of(kind: type) -> Callable[[Any], bool]:
    return lambda result: isinstance(result, tuple) and all(isinstance(item, kind) for item in result)


def _is(kind: type) -> Callable[[Any], bool]:
    return lambda result: isinstance(result, kind)


def _is_none_or(kind: type) -> Callable[[Any], bool]:
    return lambda result: result is None or isinstance(result, kind)


def _anything(result: Any) -> bool:
    return True


# (method, path pattern, request used for parsing, check of a successful result)
ROUTES: list[tuple[str, str, ApiRequest[Any], Callable[[Any], bool]]] = [
    ("GET", rf"{API}/user_status", endpoints.get_own_status(), _is(PrivateStatus)),
    ("PUT", rf"{API}/user_status/status", endpoints.set_status("online", busy_allowed=True), _is(PrivateStatus)),
    (
        "PUT",
        rf"{API}/user_status/message/predefined",
        endpoints.set_predefined_message("meeting", None, now=0, known_ids={"meeting"}),
        _is(PrivateStatus),
    ),
    (
        "PUT",
        rf"{API}/user_status/message/custom",
        endpoints.set_custom_message("x", None, None, now=0, supports_emoji=True),
        _is(PrivateStatus),
    ),
    ("DELETE", rf"{API}/user_status/message", endpoints.clear_message(), lambda result: result is None),
    ("DELETE", rf"{API}/user_status/revert/[^/]+", endpoints.revert_status("call"), _is_none_or(PrivateStatus)),
    ("GET", rf"{API}/predefined_statuses/?", endpoints.get_predefined_statuses(), _is_tuple_of(PredefinedStatus)),
    ("GET", rf"{API}/statuses", endpoints.get_statuses_page(1, 0), _is_tuple_of(PublicStatus)),
    ("GET", rf"{API}/statuses/_[^/]+", endpoints.get_backup_status("alice"), _is(PublicStatus)),
    ("GET", rf"{API}/statuses/[^/_][^/]*", endpoints.get_user_status("alice"), _is(PublicStatus)),
    ("PUT", rf"{API}/heartbeat", endpoints.heartbeat("online"), _is_none_or(PrivateStatus)),
    ("GET", r"/ocs/v[12]\.php/cloud/capabilities", endpoints.get_capabilities(), _is(Capabilities)),
    ("GET", r"/ocs/v2\.php/apps/files_sharing/api/v1/sharees", endpoints.search_sharees("b"), _is_tuple_of(Sharee)),
    ("GET", r"/ocs/v2\.php/cloud/groups/[^/]+/users", endpoints.get_group_members("g"), _is_tuple_of(str)),
    ("GET", r"/ocs/v2\.php/cloud/user", endpoints.get_user(), _is(UserDetails)),
    ("POST", r"(/index\.php)?/login/v2", login_flow.start_request(), _is(LoginFlowStart)),
    ("POST", r"/index\.php/login/v2/poll", login_flow.poll_request(START), _is(LoginFlowCredentials)),
    # Non-OCS routes the client never calls; every other unknown route is read as OCS (see _route).
    ("GET", r"/index\.php/login/v2", _generic(ocs=False), _anything),
    ("GET", r"/status\.php", _generic(ocs=False), _anything),
]

EXCLUDED_PREFIXES = {
    # CalDAV requests only triggered the calendar automation; WebDAV responses carry
    # no JSON or OCS envelope, and the client never speaks WebDAV.
    "/remote.php/dav/": "CalDAV is not part of the client",
}

# What a failure stands for, as Nextcloud 31 documents its OCS codes.
ERROR_BY_STATUS: dict[int, type[errors.NextcloudError]] = {
    400: errors.NextcloudValidationError,
    401: errors.NextcloudUnauthorized,
    403: errors.NextcloudForbidden,
    404: errors.NextcloudNotFound,
    405: errors.NextcloudProtocolError,
    412: errors.NextcloudCsrfError,
    500: errors.NextcloudServerError,
}
OCS_CODE_AS_HTTP = {997: 401, 998: 404, 996: 500, 999: 500}


def _route(exchange: dict[str, Any]) -> tuple[ApiRequest[Any], Callable[[Any], bool]]:
    """Return the request that parses this exchange; routes the client never calls get a generic one.

    A generic request still goes through the envelope and error mapping, so the
    failures of those routes (and of exchanges added to the recordings later)
    are checked too.
    """
    request = exchange["request"]
    for method, pattern, api_request, check in ROUTES:
        if request["method"] == method and re.fullmatch(pattern, request["path"]):
            return api_request, check
    return _generic(ocs=request["path"].startswith("/ocs/")), _anything


def _content(response: dict[str, Any]) -> tuple[str, bytes]:
    headers = {name.lower(): value for name, value in response["headers"].items()}
    body = response["body"]
    if response["body_kind"] == "json":
        content = json.dumps(body, ensure_ascii=False).encode()
    elif response["body_kind"] == "empty":
        content = b""
    else:
        content = str(body).encode()
    return headers.get("content-type", ""), content


def _recorded_ocs_code(response: dict[str, Any]) -> int | None:
    body = response["body"]
    if response["body_kind"] == "json" and isinstance(body, dict) and "ocs" in body:
        return int(body["ocs"]["meta"]["statuscode"])
    if response["body_kind"] == "text":
        match = re.search(r"<statuscode>(\d+)</statuscode>", str(body))
        return int(match.group(1)) if match else None
    return None


def _expected_error(exchange: dict[str, Any]) -> type[errors.NextcloudError] | None:
    """Return the error class the recorded response calls for, or None for a success."""
    response = exchange["response"]
    status = response["status"]
    code = _recorded_ocs_code(response)
    if 200 <= status < 300:
        is_xml_success = response["body_kind"] == "text" and code in (100, 200)
        if is_xml_success:
            # The client always asks for JSON; a success in XML cannot be read.
            return errors.NextcloudProtocolError
        if code is None or code in (100, 200) or code == 204:
            return None
        status = OCS_CODE_AS_HTTP.get(code, code)
    if status in ERROR_BY_STATUS:
        return ERROR_BY_STATUS[status]
    if 300 <= status < 400:
        return errors.NextcloudProtocolError
    return errors.NextcloudServerError if status >= 500 else errors.NextcloudError


def _cases() -> list[Any]:
    cases = []
    for exchange in load_exchanges():
        path = exchange["request"]["path"]
        reason = next((why for prefix, why in EXCLUDED_PREFIXES.items() if path.startswith(prefix)), None)
        marks = [pytest.mark.skip(reason=reason)] if reason else []
        cases.append(pytest.param(exchange, id=f"{exchange['seq']}-{exchange['name'][:40]}", marks=marks))
    return cases


@pytest.mark.parametrize("exchange", _cases())
def test_recorded_response_parses(exchange: dict[str, Any]) -> None:
    """The recorded response parses into its typed result, or raises the error its status calls for."""
    api_request, check = _route(exchange)
    content_type, content = _content(exchange["response"])
    expected_error = _expected_error(exchange)

    if expected_error is None:
        result = parse_response(api_request, exchange["response"]["status"], content_type, content)
        assert check(result), f"unexpected result {result!r}"
        return
    with pytest.raises(expected_error) as raised:
        parse_response(api_request, exchange["response"]["status"], content_type, content)
    assert type(raised.value) is expected_error
    code = _recorded_ocs_code(exchange["response"])
    if code is not None and exchange["response"]["body_kind"] == "json":
        assert raised.value.ocs_status == code


def test_recordings_cover_every_client_route() -> None:
    """Each route the client calls has at least one recorded success."""
    successes: dict[str, int] = {}
    for exchange in load_exchanges():
        if _expected_error(exchange) is None and exchange["request"]["path"].startswith(("/ocs/v2.php", "/index.php")):
            api_request, _ = _route(exchange)
            successes[api_request.action] = successes.get(api_request.action, 0) + 1
    client_actions = {api_request.action for _, _, api_request, check in ROUTES if check is not _anything}
    assert client_actions <= set(successes), client_actions - set(successes)
