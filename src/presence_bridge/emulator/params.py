"""Request parameters and the PHP type casts Nextcloud's controllers apply.

Nextcloud merges query string, body and path parameters (path wins over the
body, the body over the query string).  A body counts when its Content-Type is
``application/json`` (a JSON object) or ``application/x-www-form-urlencoded``.
Keys ending in ``[]`` collect lists and ``key[sub]`` builds a mapping, as PHP does.

Controller parameters typed ``int`` are cast like PHP's ``settype``: "abc" → 0,
"2.5" → 2, "" → 0, 2.5 → 2.  Parameters typed ``string`` accept only strings:
a missing required one or a JSON number raises :class:`ParameterError`, which
the OCS layer turns into a 500 (OCS 996), as Nextcloud's ``TypeError`` does.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request


class ParameterError(Exception):
    """A controller parameter is missing or has a type PHP would reject."""


_BRACKET_KEY = re.compile(r"^([^\[\]]+)\[([^\[\]]*)\]$")
_LEADING_NUMBER = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def parse_php_query(text: str) -> dict[str, Any]:
    """Parse ``a=1&b[]=2&b[]=3&c[x]=4`` into ``{"a": "1", "b": ["2", "3"], "c": {"x": "4"}}``."""
    result: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        match = _BRACKET_KEY.match(key)
        if match is None:
            result[key] = value
            continue
        name, sub = match.groups()
        if sub == "":
            current = result.get(name)
            if not isinstance(current, list):
                current = result[name] = []
            current.append(value)
        else:
            current = result.get(name)
            if not isinstance(current, dict):
                current = result[name] = {}
            current[sub] = value
    return result


async def request_params(request: Request) -> dict[str, Any]:
    """Merge query, body and path parameters of ``request`` (later sources win)."""
    params = parse_php_query(request.url.query)
    content_type = request.headers.get("content-type", "").lower()
    if "application/json" in content_type:
        body = await request.body()
        try:
            decoded = json.loads(body) if body.strip() else None
        except (ValueError, UnicodeDecodeError):
            decoded = None
        if isinstance(decoded, dict):
            params.update(decoded)
    elif "application/x-www-form-urlencoded" in content_type:
        body = await request.body()
        params.update(parse_php_query(body.decode("utf-8", errors="replace")))
    params.update(request.path_params)
    return params


def php_int(value: Any) -> int:
    """Cast a value to int as PHP's ``settype($value, 'int')`` does."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return 0 if math.isnan(value) or math.isinf(value) else int(value)
    if isinstance(value, str):
        match = _LEADING_NUMBER.match(value)
        if match is None:
            return 0
        number = match.group(0).strip()
        if any(char in number for char in ".eE"):
            return php_int(float(number))
        return int(number)
    if isinstance(value, (list, dict)):
        return 1 if value else 0
    return 0


def param_int(params: dict[str, Any], name: str) -> int | None:
    """Return a nullable ``int`` parameter: None when missing or null, else the PHP cast."""
    value = params.get(name)
    return None if value is None else php_int(value)


def param_str(params: dict[str, Any], name: str, *, nullable: bool = False) -> str | None:
    """Return a ``string`` parameter; raise ParameterError when PHP would raise a TypeError."""
    value = params.get(name)
    if value is None:
        if nullable:
            return None
        raise ParameterError(f"parameter {name!r} is missing")
    if not isinstance(value, str):
        raise ParameterError(f"parameter {name!r} must be a string, got {type(value).__name__}")
    return value


def required_str(params: dict[str, Any], name: str) -> str:
    """Return a non-nullable ``string`` parameter."""
    value = param_str(params, name)
    assert value is not None
    return value
