"""Field parsers and the generic section builder behind :mod:`presence_bridge.config`.

A settings section is a frozen dataclass whose fields carry a :class:`FieldSpec`
in their metadata (made with :func:`setting` or :func:`secret_setting`).
:func:`build_section` reads one TOML table into such a dataclass: it parses each
key, rejects unknown keys, and raises :class:`ConfigError` naming the dotted key
(``nextcloud.timeout_read``), the problem and what is expected.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import urllib.parse
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from presence_bridge.errors import ConfigError
from presence_bridge.secret import Secret

SPEC_KEY = "presence_bridge.config"
SECRET_SUFFIXES = ("", "_env", "_file")
"""A secret ``name`` may be given as ``name``, ``name_env`` or ``name_file``."""

T = TypeVar("T")


@dataclass(frozen=True)
class LoadContext:
    """Parser inputs other than the raw value: the environment and the config file's folder."""

    environ: Mapping[str, str]
    base_dir: Path


Parser = Callable[[object, str, LoadContext], Any]


@dataclass(frozen=True)
class FieldSpec:
    """How to read one key: its parser, a description of valid values, and whether it is required."""

    parse: Parser
    expected: str
    required: bool = False
    secret: bool = False


def invalid(key: str, problem: str, expected: str) -> ConfigError:
    """Build the ConfigError for an invalid value at ``key``."""
    return ConfigError(f"{key}: {problem}. Expected {expected}.", key=key)


def setting(parse: Parser, expected: str, *, default: Any = dataclasses.MISSING) -> Any:
    """Declare a dataclass field read from the TOML key of the same name.

    Without a default the key is required.
    """
    spec = FieldSpec(parse=parse, expected=expected, required=default is dataclasses.MISSING)
    return dataclasses.field(default=default, metadata={SPEC_KEY: spec})


def secret_setting(expected: str, *, required: bool = True, parse: Parser | None = None) -> Any:
    """Declare a :class:`Secret` field that may come inline, from ``*_env`` or from ``*_file``.

    ``parse`` checks the secret's text and returns the value to keep. It must not
    put the value into its error messages.
    """
    spec = FieldSpec(
        parse=parse or _keep_secret_text,
        expected=expected,
        required=required,
        secret=True,
    )
    if required:
        return dataclasses.field(metadata={SPEC_KEY: spec})
    return dataclasses.field(default=None, metadata={SPEC_KEY: spec})


# --- parsers -----------------------------------------------------------------


def _type_name(value: object) -> str:
    return type(value).__name__


def text(value: object, key: str, ctx: LoadContext) -> str:
    """Parse a non-empty string; surrounding whitespace is removed."""
    if not isinstance(value, str) or not value.strip():
        raise invalid(key, f"invalid value {value!r}", "a non-empty string")
    return value.strip()


def boolean(value: object, key: str, ctx: LoadContext) -> bool:
    """Parse a TOML boolean; quoted strings such as ``"false"`` are rejected."""
    if not isinstance(value, bool):
        raise invalid(key, f"invalid value {value!r} ({_type_name(value)})", "true or false, unquoted")
    return value


def int_range(low: int, high: int) -> Parser:
    """Make a parser for an integer in ``[low, high]``."""

    def parse(value: object, key: str, ctx: LoadContext) -> int:
        expected = f"a whole number from {low} to {high}"
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid(key, f"invalid value {value!r} ({_type_name(value)})", expected)
        if not low <= value <= high:
            raise invalid(key, f"value {value} is out of range", expected)
        return value

    return parse


def seconds(*, maximum: float, minimum: float = 0.0, include_minimum: bool = False) -> Parser:
    """Make a parser for a duration in seconds (integer or decimal) up to ``maximum``."""
    if include_minimum:
        expected = f"a number of seconds from {minimum:g} to {maximum:g}"
    else:
        expected = f"a number of seconds greater than {minimum:g} and at most {maximum:g}"

    def parse(value: object, key: str, ctx: LoadContext) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid(key, f"invalid value {value!r} ({_type_name(value)})", expected)
        number = float(value)
        above_minimum = number >= minimum if include_minimum else number > minimum
        if not math.isfinite(number) or not above_minimum or number > maximum:
            raise invalid(key, f"value {value} is out of range", expected)
        return number

    return parse


def choice(options: Iterable[str], *, case_sensitive: bool = False) -> Parser:
    """Make a parser for one of ``options``; the result is spelled as in ``options``."""
    allowed = tuple(options)
    expected = "one of " + ", ".join(allowed)

    def parse(value: object, key: str, ctx: LoadContext) -> str:
        if not isinstance(value, str):
            raise invalid(key, f"invalid value {value!r} ({_type_name(value)})", expected)
        for option in allowed:
            if value == option or (not case_sensitive and value.lower() == option.lower()):
                return option
        raise invalid(key, f"invalid value {value!r}", expected)

    return parse


def http_url(value: object, key: str, ctx: LoadContext) -> str:
    """Parse an absolute http(s) URL with a host and no ``user:password@``; a trailing slash is removed.

    Credentials have keys of their own that can be read from the environment or
    a file, and ``config check`` prints URLs, so a URL with them is rejected
    (without echoing it).
    """
    expected = "an http:// or https:// URL with a host name, such as https://cloud.example.org"
    if isinstance(value, str) and "@" in urllib.parse.urlsplit(value.strip()).netloc:
        raise invalid(
            key,
            "the URL contains a user name or password (user:password@), which would sit in plain text in this file",
            expected + ", without user:password@. The bridge logs in with the credential keys of its section",
        )
    return _http_url(value, key, expected)


def proxy_url(value: object, key: str, ctx: LoadContext) -> str:
    """Parse an http(s) proxy URL, which may carry ``user:password@`` for proxy authentication."""
    return _http_url(value, key, "an http:// or https:// proxy URL with a host name, such as http://proxy.example.org:3128")


def _http_url(value: object, key: str, expected: str) -> str:
    if not isinstance(value, str):
        raise invalid(key, f"invalid value {value!r} ({_type_name(value)})", expected)
    parts = urllib.parse.urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid(key, f"invalid URL {value!r}", expected)
    if parts.query or parts.fragment:
        raise invalid(key, f"URL {value!r} has a query or fragment", expected + " and no ?query or #fragment")
    try:
        parts.port
    except ValueError:
        raise invalid(key, f"URL {value!r} has an invalid port", expected) from None
    return value.strip().rstrip("/")


def existing_file(value: object, key: str, ctx: LoadContext) -> Path:
    """Parse a path to a readable file; a relative path is taken from the config file's folder."""
    expected = "the path of a readable file (relative paths start at the config file's folder)"
    if not isinstance(value, str) or not value.strip():
        raise invalid(key, f"invalid value {value!r}", expected)
    path = resolve_path(value.strip(), ctx)
    if not path.is_file():
        raise invalid(key, f"file {str(path)!r} does not exist", expected)
    if not os.access(path, os.R_OK):
        raise invalid(key, f"file {str(path)!r} is not readable by this user", expected)
    return path


def iana_timezone(value: object, key: str, ctx: LoadContext) -> zoneinfo.ZoneInfo:
    """Parse an IANA time zone name such as ``Europe/Berlin``."""
    expected = "an IANA time zone name such as UTC or Europe/Berlin"
    if not isinstance(value, str) or not value.strip():
        raise invalid(key, f"invalid value {value!r}", expected)
    try:
        return zoneinfo.ZoneInfo(value.strip())
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise invalid(key, f"unknown time zone {value!r}", expected) from None


def resolve_path(value: str, ctx: LoadContext) -> Path:
    """Expand ``~`` and make ``value`` absolute relative to the config file's folder."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else ctx.base_dir / path


def _keep_secret_text(value: object, key: str, ctx: LoadContext) -> str:
    return str(value)


# --- secrets -----------------------------------------------------------------


def read_secret(
    table: Mapping[str, object], name: str, section: str, spec: FieldSpec, ctx: LoadContext
) -> Secret | None:
    """Read the secret ``name`` from exactly one of ``name``, ``name_env`` and ``name_file``."""
    forms = [name + suffix for suffix in SECRET_SUFFIXES]
    present = [form for form in forms if form in table]
    key = f"{section}.{name}"
    accepted_forms = (
        f"exactly one of {section}.{forms[0]}, {section}.{forms[1]} (an environment variable name) "
        f"or {section}.{forms[2]} (a file path)"
    )
    if len(present) > 1:
        raise invalid(key, "the secret is given more than once (" + ", ".join(present) + ")", accepted_forms)
    if not present:
        if spec.required:
            raise invalid(key, "the secret is missing", accepted_forms)
        return None

    form = present[0]
    raw = table[form]
    form_key = f"{section}.{form}"
    if form.endswith("_env"):
        variable = text(raw, form_key, ctx)
        if variable not in ctx.environ:
            raise invalid(
                form_key, f"environment variable {variable} is not set", f"{variable} set in the service's environment"
            )
        value, source = ctx.environ[variable], f"environment variable {variable}"
    elif form.endswith("_file"):
        path = resolve_path(text(raw, form_key, ctx), ctx)
        try:
            value = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            expected = "a readable UTF-8 text file that contains only the secret"
            raise invalid(form_key, f"cannot read {str(path)!r}: {reason}", expected) from None
        value = value.removesuffix("\n").removesuffix("\r")
        source = f"file {path}"
    else:
        if not isinstance(raw, str):
            raise invalid(key, f"invalid value of type {_type_name(raw)}", "a string")
        value, source = raw, "config file"

    if not value.strip():
        raise invalid(key, f"the secret from {source} is empty", spec.expected)
    return Secret(spec.parse(value, key, ctx), source=source)


# --- sections ----------------------------------------------------------------


def field_spec(field: dataclasses.Field[Any]) -> FieldSpec:
    """Return the FieldSpec of a settings field."""
    spec = field.metadata.get(SPEC_KEY)
    if not isinstance(spec, FieldSpec):
        raise TypeError(f"settings field {field.name!r} was not declared with setting() or secret_setting()")
    return spec


def accepted_keys(cls: type[Any]) -> list[str]:
    """Return every TOML key a section dataclass accepts, in declaration order."""
    keys: list[str] = []
    for field in dataclasses.fields(cls):
        suffixes = SECRET_SUFFIXES if field_spec(field).secret else ("",)
        keys.extend(field.name + suffix for suffix in suffixes)
    return keys


def reject_unknown(table: Mapping[str, object], known: list[str], where: str, kind: str) -> None:
    """Raise a ConfigError for the first key of ``table`` not in ``known``, suggesting a close match."""
    for name in table:
        if name in known:
            continue
        key = f"{where}.{name}" if where else name
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{key}: unknown {kind}.{hint} Accepted: {', '.join(known)}.", key=key)


def build_section(cls: type[T], table: object, section: str, ctx: LoadContext) -> T:
    """Read the TOML table ``[section]`` into the frozen dataclass ``cls``."""
    if not isinstance(table, dict):
        raise invalid(section, f"expected a table [{section}], found a {_type_name(table)}", f"a [{section}] table")
    reject_unknown(table, accepted_keys(cls), section, "key")

    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        spec = field_spec(field)
        if spec.secret:
            values[field.name] = read_secret(table, field.name, section, spec, ctx)
        elif field.name in table:
            values[field.name] = spec.parse(table[field.name], f"{section}.{field.name}", ctx)
        elif spec.required:
            raise invalid(f"{section}.{field.name}", "the key is missing", spec.expected)
    return cls(**values)
