"""Render OCS envelopes as Nextcloud 31 does, in JSON or XML, for OCS v1 and v2.

v1 returns HTTP 200 for every OCS result except 997 (401), reports success as
``statuscode`` 100 and always adds ``totalitems``/``itemsperpage`` as "".
v2 puts the code in the HTTP status (997→401, 998→404, 996/999→500, codes
outside 200–600→400) and sends no body for 204.

JSON is encoded like PHP's ``json_encode`` with ``JSON_HEX_TAG``: non-ASCII as
``\\uXXXX``, ``/`` as ``\\/``, ``<``/``>`` as ``\\u003C``/``\\u003E``.  XML is
indented by one space; null and empty arrays become ``<x/>``, false ``<x></x>``,
true ``1``, list items ``<element>``.
"""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape

from starlette.responses import Response

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
XML_CONTENT_TYPE = "application/xml; charset=utf-8"


def php_json(value: Any) -> str:
    """Encode ``value`` as PHP's ``json_encode(..., JSON_HEX_TAG)`` would."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.replace("/", "\\/").replace("<", "\\u003C").replace(">", "\\u003E")


def _http_status(version: int, status: int) -> int:
    if status == 997:
        return 401
    if version == 1:
        return 200
    if status == 998:
        return 404
    if status in (996, 999):
        return 500
    if status < 200 or status > 600:
        return 400
    return status


def _meta(version: int, status: int, message: str | None) -> dict[str, Any]:
    if version == 1:
        code = 100 if status == 200 else status
        ok = code == 100
        return {
            "status": "ok" if ok else "failure",
            "statuscode": code,
            "message": "OK" if ok else (message or ""),
            "totalitems": "",
            "itemsperpage": "",
        }
    ok = 200 <= status < 300
    return {"status": "ok" if ok else "failure", "statuscode": status, "message": "OK" if ok else (message or "")}


def _xml_scalar(value: Any) -> str:
    if value is True:
        return "1"
    if value is False:
        return ""
    return escape(str(value))


def _xml_element(name: str, value: Any, depth: int, lines: list[str]) -> None:
    pad = " " * depth
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, (list, tuple)):
        items = [("element", item) for item in value]
    else:
        if value is None:
            lines.append(f"{pad}<{name}/>")
        else:
            lines.append(f"{pad}<{name}>{_xml_scalar(value)}</{name}>")
        return
    if not items:
        lines.append(f"{pad}<{name}/>")
        return
    lines.append(f"{pad}<{name}>")
    for key, item in items:
        _xml_element(str(key), item, depth + 1, lines)
    lines.append(f"{pad}</{name}>")


def php_xml(meta: dict[str, Any], data: Any) -> str:
    """Render an OCS document as Nextcloud's ``XMLWriter`` output."""
    lines = ['<?xml version="1.0"?>', "<ocs>"]
    _xml_element("meta", meta, 1, lines)
    _xml_element("data", data, 1, lines)
    lines.append("</ocs>")
    return "\n".join(lines) + "\n"


def render_ocs(
    version: int,
    fmt: str,
    status: int,
    message: str | None,
    data: Any,
    *,
    xml_content_type: str = XML_CONTENT_TYPE,
) -> Response:
    """Build the HTTP response of one OCS result (``status`` is the OCS status)."""
    http_status = _http_status(version, status)
    if http_status == 204:
        media_type = JSON_CONTENT_TYPE if fmt == "json" else xml_content_type
        return Response(b"", 204, media_type=media_type)
    meta = _meta(version, status, message)
    if fmt == "json":
        return Response(php_json({"ocs": {"meta": meta, "data": data}}), http_status, media_type=JSON_CONTENT_TYPE)
    return Response(php_xml(meta, data), http_status, media_type=xml_content_type)
