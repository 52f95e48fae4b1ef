"""Sans-I/O core of the Nextcloud client: request descriptions and response parsing.

An :class:`ApiRequest` describes what to send and how to read the response;
:func:`parse_response` turns a status code, content type and body into the typed
result or raises the typed error.  Nothing here touches the network, so the same
code parses live responses and recorded ones.

What Nextcloud 31 sends, and how it is read:

* OCS v2 puts the result in the HTTP status (200, 204, 400, 401, 403, 404) and in
  ``ocs.meta.statuscode``.  OCS v1 returns HTTP 200 for OCS failures, so a
  failing ``statuscode`` inside a 2xx response is treated like that HTTP status.
* Several errors ignore ``Accept: application/json`` and come back as XML: a
  wrong password (401), every 500 and an unknown route (404, OCS 998).
* A missing ``OCS-APIRequest`` header gets 412 with a bare ``{"message": ...}``.
* OCS codes 997, 998, 996 and 999 stand for 401, 404 and 500.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from presence_bridge.errors import (
    NextcloudCsrfError,
    NextcloudError,
    NextcloudForbidden,
    NextcloudNotFound,
    NextcloudProtocolError,
    NextcloudServerError,
    NextcloudUnauthorized,
    NextcloudValidationError,
)

T = TypeVar("T")

OCS_SUCCESS_CODES = frozenset({100, 200})
"""``meta.statuscode`` of a successful response: 100 in OCS v1, 200 in v2."""

OCS_SPECIAL_CODES = {997: 401, 998: 404, 996: 500, 999: 500}
"""OCS codes that stand for an HTTP status (not logged in, unknown route, server error)."""

RETRYABLE_HTTP_STATUSES = frozenset({502, 503, 504})

_XML_SIZE_MAX = 64 * 1024
"""Nextcloud's XML responses are short error envelopes, so a larger body is not parsed."""

_HINTS = {
    301: "the base URL redirects elsewhere: use the final URL (https, with any subpath)",
    302: "the base URL redirects elsewhere, often to a login page: use the Nextcloud URL itself",
    307: "the base URL redirects elsewhere: use the final URL (https, with any subpath)",
    308: "the base URL redirects elsewhere: use the final URL (https, with any subpath)",
    401: "check the login name and app password, or grant access again with the login flow",
    412: "the OCS-APIRequest header was missing, which the client always sends: check proxies between",
}

_ERROR_CLASSES: dict[int, type[NextcloudError]] = {
    400: NextcloudValidationError,
    401: NextcloudUnauthorized,
    403: NextcloudForbidden,
    404: NextcloudNotFound,
    405: NextcloudProtocolError,
    412: NextcloudCsrfError,
}


@dataclass(frozen=True, slots=True)
class ApiRequest(Generic[T]):
    """One call: what to send, and how to turn the response data into ``T``.

    ``path`` starts with ``/`` and is resolved against the server's base URL, or
    is an absolute URL that Nextcloud handed out (the login-flow poll endpoint).
    ``action`` completes "Nextcloud rejected the request to ..." (4xx) or "Nextcloud
    was unavailable for the request to ..." (5xx) in errors and logs.
    ``messages`` replaces the generic error text for an HTTP status; ``{server}``
    in it is the server's own message.  ``ocs`` is false for the plain-JSON login
    flow.  ``accepts_empty`` lets an empty 2xx response (the heartbeat's 204)
    be parsed as None; otherwise an empty response is a protocol error.
    """

    method: str
    path: str
    action: str
    parse: Callable[[Any], T]
    params: tuple[tuple[str, str], ...] = ()
    json: Any = None
    form: Mapping[str, str] | None = None
    idempotent: bool = True
    authenticated: bool = True
    ocs: bool = True
    accepts_empty: bool = False
    messages: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DecodedBody:
    """A response body split into its OCS parts; ``data`` is the whole JSON value when there is no envelope."""

    kind: str  # "json", "xml", "empty" or "other"
    data: Any = None
    ocs_status: int | None = None
    server_message: str | None = None
    has_envelope: bool = False


def _decode_json(content: bytes) -> DecodedBody | None:
    try:
        value = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None
    ocs = value.get("ocs") if isinstance(value, dict) else None
    meta = ocs.get("meta") if isinstance(ocs, dict) else None
    if not isinstance(ocs, dict) or not isinstance(meta, dict):
        message = value.get("message") if isinstance(value, dict) else None
        return DecodedBody("json", data=value, server_message=message if isinstance(message, str) else None)
    code = meta.get("statuscode")
    message = meta.get("message")
    return DecodedBody(
        "json",
        data=ocs.get("data"),
        ocs_status=code if isinstance(code, int) and not isinstance(code, bool) else None,
        server_message=message if isinstance(message, str) else None,
        has_envelope=True,
    )


def _decode_xml(content: bytes) -> DecodedBody | None:
    if len(content) > _XML_SIZE_MAX:
        return None
    try:
        root = ElementTree.fromstring(content)
    except ElementTree.ParseError:
        return None
    code_text = root.findtext("meta/statuscode")
    message = root.findtext("meta/message")
    if root.tag != "ocs" or code_text is None or not code_text.strip().isdigit():
        return None
    return DecodedBody(
        "xml",
        ocs_status=int(code_text),
        server_message=message.strip() if message is not None else None,
        has_envelope=True,
    )


def decode_body(content_type: str, content: bytes) -> DecodedBody:
    """Split a body into OCS status, message and data, whatever format Nextcloud chose."""
    stripped = content.strip()
    if not stripped:
        return DecodedBody("empty")
    if "json" in content_type.lower() or stripped[:1] in (b"{", b"["):
        decoded = _decode_json(stripped)
        if decoded is not None:
            return decoded
    if stripped.startswith((b"<?xml", b"<ocs")):
        decoded = _decode_xml(stripped)
        if decoded is not None:
            return decoded
    return DecodedBody("other")


def effective_status(http_status: int, ocs_status: int | None) -> int:
    """Return the HTTP status a response stands for, reading OCS failures inside a 2xx."""
    if not 200 <= http_status < 300 or ocs_status is None or ocs_status in OCS_SUCCESS_CODES:
        return http_status
    if ocs_status in OCS_SPECIAL_CODES:
        return OCS_SPECIAL_CODES[ocs_status]
    return ocs_status if 100 <= ocs_status < 600 else 500


def build_error(request: ApiRequest[Any], http_status: int, body: DecodedBody) -> NextcloudError:
    """Build the typed error for a failed response (``http_status`` already made effective)."""
    server_message = (body.server_message or "").strip() or None
    template = request.messages.get(http_status)
    if template is not None:
        message = template.format(server=server_message or "no reason given")
    else:
        reason = server_message or "no reason given"
        ocs = f", OCS {body.ocs_status}" if body.ocs_status is not None else ""
        # A 5xx means the server could not handle the request, not that it refused it.
        outcome = "was unavailable for" if http_status >= 500 else "rejected"
        message = f"Nextcloud {outcome} the request to {request.action} (HTTP {http_status}{ocs}): {reason}"
        if http_status in _HINTS:
            message = f"{message}; {_HINTS[http_status]}"
    if http_status in _ERROR_CLASSES:
        error_class = _ERROR_CLASSES[http_status]
    elif 300 <= http_status < 400:
        error_class = NextcloudProtocolError
    elif http_status >= 500:
        error_class = NextcloudServerError
    else:
        error_class = NextcloudError
    return error_class(
        message,
        retryable=http_status in RETRYABLE_HTTP_STATUSES or http_status == 429,
        http_status=http_status,
        ocs_status=body.ocs_status,
        server_message=server_message,
    )


def _protocol_error(request: ApiRequest[Any], http_status: int, what: str) -> NextcloudProtocolError:
    return NextcloudProtocolError(
        f"Nextcloud sent {what} to the request to {request.action} (HTTP {http_status}); "
        "check that the base URL points at a Nextcloud server",
        http_status=http_status,
    )


def parse_response(request: ApiRequest[T], http_status: int, content_type: str, content: bytes) -> T:
    """Parse a response into the typed result, or raise the typed error it stands for."""
    body = decode_body(content_type, content)
    status = effective_status(http_status, body.ocs_status if body.has_envelope else None)
    if not 200 <= status < 300:
        raise build_error(request, status, body)

    # OCS v1 reports "no content" as HTTP 200 with statuscode 204 and an empty data list.
    if body.kind == "empty" or status == 204:
        if request.accepts_empty:
            return request.parse(None)
        raise _protocol_error(request, http_status, "an empty body")
    if body.kind != "json":
        raise _protocol_error(request, http_status, f"a body that is not JSON ({content_type or 'no type'})")
    if request.ocs and not body.has_envelope:
        raise _protocol_error(request, http_status, "JSON without an OCS envelope")
    try:
        return request.parse(body.data)
    except NextcloudProtocolError as error:
        raise NextcloudProtocolError(
            f"Nextcloud's response to the request to {request.action} has an unexpected shape: {error}",
            http_status=http_status,
        ) from error
