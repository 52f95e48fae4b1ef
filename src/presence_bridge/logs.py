"""Logging set-up: text or JSON lines, secret redaction and repeat counting.

Modules log through ``logging.getLogger(__name__)``, so their loggers sit below
the component names defined here (``presence_bridge.nextcloud.client`` is a
child of :data:`NEXTCLOUD`).  Structured context goes in ``extra=``; both
formats print it (``key=value`` in text, object members in JSON).

:func:`setup_logging` installs one handler on the root logger with two filters:

* :class:`RedactionFilter` masks Authorization, Cookie and Set-Cookie header
  values, Basic credentials (base64 of ``user:password``), long Bearer tokens,
  Slack tokens, passwords inside URLs and the value of every live
  :class:`~presence_bridge.secret.Secret`.  A Nextcloud session cookie logs the
  client in like its app password, so cookie values count as credentials.
* :class:`RepeatFilter` lets the first of several identical messages through,
  drops the copies that follow within a time window, and then logs one line
  ``<message> (repeated N more times in S s)``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO

from presence_bridge.config import LoggingSettings, Settings
from presence_bridge.secret import MASK, live_secret_values, registration_count

ROOT = "presence_bridge"
NEXTCLOUD = "presence_bridge.nextcloud"
EMULATOR = "presence_bridge.emulator"
SYNC = "presence_bridge.sync"
STORAGE = "presence_bridge.storage"
SLACK = "presence_bridge.slack"
MATRIX = "presence_bridge.matrix"
CLI = "presence_bridge.cli"
COMPONENT_LOGGERS = (NEXTCLOUD, EMULATOR, SYNC, STORAGE, SLACK, MATRIX, CLI)

CHATTY_LIBRARY_LOGGERS = ("httpx", "httpcore", "uvicorn.access", "uvicorn.error", "asyncio", "aiosqlite", "alembic")
"""Libraries that log every request, query or migration step at INFO/DEBUG; held at WARNING unless level is DEBUG."""

HEADER_DUMP_LOGGERS = ("httpcore",)
"""Libraries whose DEBUG lines dump every header: held at INFO even when level is DEBUG."""

MAX_TRACKED_MESSAGES = 512
"""How many distinct messages the repeat filter tracks before it reports and drops the oldest."""


def _mask_basic_credentials(match: re.Match[str]) -> str:
    """Mask ``Basic <base64>`` when the base64 decodes to ``user:password``, so "Basic training" stays."""
    try:
        decoded = base64.b64decode(match.group(2), validate=True)
    except binascii.Error:
        return match.group(0)
    return f"{match.group(1)}{MASK}" if b":" in decoded else match.group(0)


_PATTERNS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    # Whatever follows an Authorization header name, in header dumps and dict reprs.
    (
        re.compile(r"""\b(authorization["']?\s*[:=]\s*["']?(?:basic|bearer)\s+)[^\s"',;}]+""", re.IGNORECASE),
        rf"\1{MASK}",
    ),
    (re.compile(r"\b(basic\s+)([A-Za-z0-9+/]{4,}={0,2})(?![A-Za-z0-9+/=])", re.IGNORECASE), _mask_basic_credentials),
    (re.compile(r"\b(bearer\s+)[A-Za-z0-9._~+/-]{16,}=*", re.IGNORECASE), rf"\1{MASK}"),
    # Cookie and Set-Cookie values, in header dumps ("(b'set-cookie', b'...')") and "Cookie: ..." lines.
    (
        re.compile(r"""\b((?:set-)?cookie["']?\s*[:=,]\s*b?["']?)[^"'\r\n]+""", re.IGNORECASE),
        rf"\1{MASK}",
    ),
    # Slack bot, user, app-config and refresh tokens, and Socket Mode app tokens.
    (re.compile(r"\b(xox[abposr]-|xapp-)[A-Za-z0-9-]+"), rf"\1{MASK}"),
    # https://user:password@host keeps the user and hides the password.
    (re.compile(r"\b([a-z][a-z0-9+.-]*://[^\s/:@]+):[^\s/@]+@", re.IGNORECASE), rf"\1:{MASK}@"),
)

_secret_pattern: re.Pattern[str] | None = None
_secret_pattern_version = -1
_secret_lock = threading.Lock()

_STANDARD_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    # Uvicorn adds its message again with terminal colour codes.
    "color_message",
}


def _live_secret_pattern() -> re.Pattern[str] | None:
    """Return one regex matching every live secret value, rebuilt when secrets were added."""
    global _secret_pattern, _secret_pattern_version
    with _secret_lock:
        version = registration_count()
        if version != _secret_pattern_version:
            values = sorted(set(live_secret_values()), key=len, reverse=True)
            _secret_pattern = re.compile("|".join(map(re.escape, values))) if values else None
            _secret_pattern_version = version
        return _secret_pattern


def redact(text: str) -> str:
    """Mask credentials and the values of live Secrets in ``text``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    secrets = _live_secret_pattern()
    if secrets is not None:
        text = secrets.sub(MASK, text)
    return text


def record_extras(record: logging.LogRecord) -> dict[str, object]:
    """Return the ``extra=`` fields of a record (attributes a plain LogRecord lacks)."""
    return {
        name: value
        for name, value in record.__dict__.items()
        if name not in _STANDARD_RECORD_ATTRIBUTES and not name.startswith("_")
    }


class RedactionFilter(logging.Filter):
    """Render each record's message and mask credentials in it, its extras and its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # A broken format string: leave it for the handler, which reports it through handleError.
            return True
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in record_extras(record).items():
            if isinstance(value, str):
                setattr(record, name, redact(value))
        return True


@dataclass
class _Repeats:
    first: logging.LogRecord
    last: logging.LogRecord
    window_start: float
    suppressed: int = 0


class RepeatFilter(logging.Filter):
    """Drop identical messages repeated within ``window`` seconds and report how many were dropped.

    Two records are identical when logger name, level and rendered message match.
    The report for a message is logged when the same message comes back after
    its window, when any later record arrives after the window, or by
    :meth:`flush` (called when the handler closes).  ``emit`` is the owning
    handler's ``handle``, which the filter calls to log those reports.
    """

    def __init__(
        self,
        window: float,
        emit: Callable[[logging.LogRecord], object],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.window = window
        self._emit = emit
        self._clock = clock
        self._tracked: OrderedDict[tuple[str, int, str], _Repeats] = OrderedDict()
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_repeat_report", False):
            return True
        key = (record.name, record.levelno, record.getMessage())
        now = self._clock()
        with self._lock:
            reports = self._expire(now)
            entry = self._tracked.get(key)
            passes = entry is None
            if entry is not None:
                entry.suppressed += 1
                entry.last = record
            else:
                self._tracked[key] = _Repeats(first=record, last=record, window_start=now)
                while len(self._tracked) > MAX_TRACKED_MESSAGES:
                    reports.append(self._tracked.popitem(last=False)[1])
        self._report(reports)
        return passes

    def flush(self) -> None:
        """Log the pending repeat counts of every tracked message and forget them."""
        with self._lock:
            pending = list(self._tracked.values())
            self._tracked.clear()
        self._report(pending)

    def _expire(self, now: float) -> list[_Repeats]:
        """Remove entries whose window has ended; the oldest are first in the dict."""
        expired = []
        while self._tracked:
            key, entry = next(iter(self._tracked.items()))
            if now - entry.window_start < self.window:
                break
            del self._tracked[key]
            expired.append(entry)
        return expired

    def _report(self, entries: list[_Repeats]) -> None:
        for entry in entries:
            if entry.suppressed == 0:
                continue
            report = logging.makeLogRecord(entry.last.__dict__)
            elapsed = entry.last.created - entry.first.created
            report.msg = "%s (repeated %d more times in %.0f s)"
            report.args = (entry.last.getMessage(), entry.suppressed, elapsed)
            report.exc_info = None
            report.exc_text = None
            report.repeated = entry.suppressed
            report._repeat_report = True
            self._emit(report)


def _utc_timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _key_value(name: str, value: object) -> str:
    """Format one extra as ``name=value``, quoting strings that contain spaces or quotes."""
    if isinstance(value, str) and (not value or any(char in value for char in " \"'=")):
        return f"{name}={json.dumps(value, ensure_ascii=False)}"
    return f"{name}={value}"


class TextFormatter(logging.Formatter):
    """``<UTC time> <LEVEL> <logger>: <message> key=value ...`` plus the traceback, if any."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_utc_timestamp(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        extras = " ".join(_key_value(name, value) for name, value in record_extras(record).items())
        if extras:
            line = f"{line} {extras}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line = f"{line}\n{record.exc_text}"
        if record.stack_info:
            line = f"{line}\n{self.formatStack(record.stack_info)}"
        return redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message``, the extras, ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, object] = {
            "time": _utc_timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in record_extras(record).items():
            document.setdefault(name, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            document["exception"] = record.exc_text
        if record.stack_info:
            document["stack"] = record.stack_info
        return redact(json.dumps(document, default=str, ensure_ascii=False))


class BridgeLogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The stream handler :func:`setup_logging` installs; closing it reports pending repeat counts."""

    repeat_filter: RepeatFilter | None = None

    def close(self) -> None:
        if self.repeat_filter is not None:
            self.repeat_filter.flush()
        super().close()


def flush_repeats() -> None:
    """Log the pending repeat counts now, e.g. before a process's last line."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, BridgeLogHandler) and handler.repeat_filter is not None:
            handler.repeat_filter.flush()


def setup_logging(settings: Settings | LoggingSettings, *, stream: IO[str] | None = None) -> BridgeLogHandler:
    """Send all log records to ``stream`` (default stderr) in the configured format and level.

    Calling it again replaces the handler of the previous call, so tests and the
    CLI may call it more than once.  Returns the installed handler.
    """
    options = settings.logging if isinstance(settings, Settings) else settings
    root = logging.getLogger()
    for old in [handler for handler in root.handlers if isinstance(handler, BridgeLogHandler)]:
        root.removeHandler(old)
        old.close()

    handler = BridgeLogHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if options.format == "json" else TextFormatter())
    handler.addFilter(RedactionFilter())
    if options.repeat_window_seconds > 0:
        handler.repeat_filter = RepeatFilter(options.repeat_window_seconds, handler.handle)
        handler.addFilter(handler.repeat_filter)

    root.addHandler(handler)
    level = logging.getLevelName(options.level)
    root.setLevel(level)
    library_level = logging.DEBUG if level == logging.DEBUG else logging.WARNING
    for name in CHATTY_LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(library_level)
    for name in HEADER_DUMP_LOGGERS:
        logging.getLogger(name).setLevel(max(library_level, logging.INFO))
    logging.captureWarnings(True)
    return handler
