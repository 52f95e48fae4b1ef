"""Log set-up: formats, redaction and counting of repeated messages."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet

from presence_bridge import config, logs
from presence_bridge.config import LoggingSettings
from presence_bridge.emulator.server import load_seed, start_emulator
from presence_bridge.emulator.state import EmulatorState
from presence_bridge.service.check import make_reader
from presence_bridge.secret import Secret


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Install bridge logging into a string buffer and remove it afterwards."""
    buffer = io.StringIO()
    root = logging.getLogger()
    old_level = root.level
    yield buffer
    for handler in [h for h in root.handlers if isinstance(h, logs.BridgeLogHandler)]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(old_level)


def lines(buffer: io.StringIO) -> list[str]:
    return buffer.getvalue().splitlines()


def make_repeat_handler(window: float) -> tuple[logging.Logger, io.StringIO, FakeClock, logs.RepeatFilter]:
    """Build a logger with a private handler whose repeat filter runs on a fake clock."""
    buffer = io.StringIO()
    clock = FakeClock()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    repeat_filter = logs.RepeatFilter(window, handler.handle, clock=clock)
    handler.addFilter(repeat_filter)
    logger = logging.getLogger(f"presence_bridge.tests.repeat{id(buffer)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.handlers = [handler]
    return logger, buffer, clock, repeat_filter


def test_component_logger_names() -> None:
    assert logs.NEXTCLOUD == "presence_bridge.nextcloud"
    assert logs.EMULATOR == "presence_bridge.emulator"
    assert logs.SYNC == "presence_bridge.sync"
    assert logs.STORAGE == "presence_bridge.storage"
    assert logs.SLACK == "presence_bridge.slack"
    assert logs.MATRIX == "presence_bridge.matrix"
    assert logs.CLI == "presence_bridge.cli"


def test_repeats_counted_then_reported() -> None:
    logger, buffer, clock, _ = make_repeat_handler(window=60)

    for _ in range(5):
        logger.warning("Nextcloud unavailable at %s", "http://127.0.0.1:1")
    assert lines(buffer) == [f"WARNING {logger.name} Nextcloud unavailable at http://127.0.0.1:1"]

    clock.now += 61
    logger.warning("Nextcloud unavailable at %s", "http://127.0.0.1:1")

    output = lines(buffer)
    assert len(output) == 3
    assert output[1].startswith(f"WARNING {logger.name} Nextcloud unavailable at http://127.0.0.1:1 (repeated 4 more times")
    assert output[2] == f"WARNING {logger.name} Nextcloud unavailable at http://127.0.0.1:1"


def test_repeats_reported_when_other_message_arrives_later() -> None:
    logger, buffer, clock, _ = make_repeat_handler(window=10)

    logger.error("sweep failed")
    logger.error("sweep failed")
    logger.error("sweep failed")
    clock.now += 11
    logger.info("sweep recovered")

    output = lines(buffer)
    assert output[0] == f"ERROR {logger.name} sweep failed"
    assert "sweep failed (repeated 2 more times" in output[1]
    assert output[2] == f"INFO {logger.name} sweep recovered"


def test_different_messages_not_folded() -> None:
    logger, buffer, _, _ = make_repeat_handler(window=60)

    logger.info("user %s changed", "alice")
    logger.info("user %s changed", "bob")
    logger.warning("user %s changed", "alice")

    assert len(lines(buffer)) == 3


def test_single_message_gets_no_report() -> None:
    logger, buffer, clock, repeat_filter = make_repeat_handler(window=5)

    logger.info("started")
    clock.now += 100
    logger.info("still running")
    repeat_filter.flush()

    assert lines(buffer) == [f"INFO {logger.name} started", f"INFO {logger.name} still running"]


def test_flush_reports_pending_repeats() -> None:
    logger, buffer, _, repeat_filter = make_repeat_handler(window=600)

    logger.info("poll failed")
    logger.info("poll failed")
    repeat_filter.flush()

    output = lines(buffer)
    assert len(output) == 2
    assert "poll failed (repeated 1 more times" in output[1]


def test_tracked_messages_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "MAX_TRACKED_MESSAGES", 3)
    logger, buffer, _, _ = make_repeat_handler(window=600)

    logger.info("first")
    logger.info("first")
    for index in range(3):
        logger.info("other %d", index)

    output = lines(buffer)
    assert any("first (repeated 1 more times" in line for line in output)


def test_setup_logging_text_has_context(stream: io.StringIO) -> None:
    logs.setup_logging(LoggingSettings(level="INFO", format="text"), stream=stream)
    logging.getLogger("presence_bridge.nextcloud.client").info(
        "page fetched", extra={"offset": 5000, "user_id": "alice smith"}
    )
    logging.getLogger("presence_bridge.sync").debug("not shown at INFO")

    output = lines(stream)
    assert len(output) == 1
    assert " INFO " in output[0]
    assert "presence_bridge.nextcloud.client: page fetched" in output[0]
    assert "offset=5000" in output[0]
    assert 'user_id="alice smith"' in output[0]


def test_setup_logging_json_lines(stream: io.StringIO) -> None:
    logs.setup_logging(LoggingSettings(level="DEBUG", format="json"), stream=stream)
    logger = logging.getLogger("presence_bridge.sync")
    logger.debug("sweep done", extra={"pushed": 2, "cleared": 0})
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("sweep crashed")

    first, second = (json.loads(line) for line in lines(stream))
    assert first["level"] == "DEBUG"
    assert first["logger"] == "presence_bridge.sync"
    assert first["message"] == "sweep done"
    assert first["pushed"] == 2
    assert first["time"].endswith("Z")
    assert second["level"] == "ERROR"
    assert "RuntimeError: boom" in second["exception"]


def test_setup_logging_replaces_previous_handler(stream: io.StringIO) -> None:
    logs.setup_logging(LoggingSettings(), stream=stream)
    logs.setup_logging(LoggingSettings(), stream=stream)
    logging.getLogger("presence_bridge.cli").warning("once")

    assert len(lines(stream)) == 1
    bridge_handlers = [h for h in logging.getLogger().handlers if isinstance(h, logs.BridgeLogHandler)]
    assert len(bridge_handlers) == 1


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("Authorization: Basic YWxpY2U6YXBwLXBhc3N3b3Jk", "YWxpY2U6YXBwLXBhc3N3b3Jk"),
        ("{'authorization': 'basic YWxpY2U6YXBwLXBhc3N3b3Jk'}", "YWxpY2U6YXBwLXBhc3N3b3Jk"),
        ("Authorization: Bearer abcdef123456", "abcdef123456"),
        ("headers={'Authorization': 'Basic YWxpY2U6cHc='}", "YWxpY2U6cHc="),
        ("sent Basic YWxpY2U6cHc= to the server", "YWxpY2U6cHc="),
        ("bearer token Bearer 0123456789abcdef0123", "0123456789abcdef0123"),
        ("token xoxb-1234-5678-abcdefABCDEF", "1234-5678-abcdefABCDEF"),
        ("token xoxp-1-2-3", "1-2-3"),
        ("token xoxa-2-abc xoxo-9 xoxs-7 xoxr-8", "2-abc"),
        ("app token xapp-1-A0-123-abc", "1-A0-123-abc"),
        ("proxy http://user:p4ssw0rd@proxy:3128", "p4ssw0rd"),
    ],
)
def test_redact_patterns(text: str, hidden: str) -> None:
    redacted = logs.redact(text)
    assert hidden not in redacted
    assert "***" in redacted


def test_redact_keeps_ordinary_text() -> None:
    for text in (
        "alice set status to away: Basic training until 5",
        "Bearer of bad news",
        "see https://cloud.example.org/ocs/v2.php?format=json",
        "xoxo hugs",
    ):
        assert logs.redact(text) == text


def test_redact_live_secret_value() -> None:
    secret = Secret("correct-horse-battery-staple")
    assert logs.redact("password=correct-horse-battery-staple!") == "password=***!"
    assert secret.reveal() == "correct-horse-battery-staple"


def test_redaction_in_message_args_extras_and_traceback(stream: io.StringIO) -> None:
    secret = Secret("app-password-9f8e7d6c")
    logs.setup_logging(LoggingSettings(level="DEBUG"), stream=stream)
    logger = logging.getLogger("presence_bridge.nextcloud")

    logger.info("login with %s", secret.reveal(), extra={"header": f"Basic {secret.reveal()}"})
    try:
        raise ValueError(f"bad password {secret.reveal()}")
    except ValueError:
        logger.exception("request failed with token %s", "xoxb-111-222-abc")

    output = stream.getvalue()
    assert "app-password-9f8e7d6c" not in output
    assert "xoxb-111-222-abc" not in output
    assert "login with ***" in output
    assert "ValueError: bad password ***" in output


def test_redaction_filter_on_record() -> None:
    secret = Secret("s3cr3t-value-xyz")
    record = logging.LogRecord("presence_bridge.slack", logging.INFO, __file__, 1, "token %s and %s",
                               ("xoxb-1-2-3", secret.reveal()), None)
    assert logs.RedactionFilter().filter(record)
    assert record.getMessage() == "token xoxb-*** and ***"


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("(b'Set-Cookie', b'oc2l9j0gf34p=qxw4ce2opwy1pvhfbh49edezp4; path=/; HttpOnly')", "qxw4ce2opwy1pvhfbh49edezp4"),
        ("[(b'set-cookie', b'nc_session_id=abc123secret; path=/')]", "abc123secret"),
        ("Cookie: oc_sessionPassphrase=s3cr3tpass; nc_sameSiteCookielax=true", "s3cr3tpass"),
        ("{'cookie': 'oc2l9j0gf34p=qxw4ce2opwy1'}", "qxw4ce2opwy1"),
    ],
)
def test_redact_cookie_values(text: str, hidden: str) -> None:
    redacted = logs.redact(text)

    assert hidden not in redacted
    assert "***" in redacted


def request_with_debug_logging(stream: io.StringIO, *, dump_headers: bool) -> list[str]:
    """Log in to a fresh emulator at DEBUG and return the session cookie values it set."""
    state = EmulatorState()
    load_seed(state, "demo")
    settings = config.loads(
        f"""
[nextcloud]
url = "http://127.0.0.1:1"
login = "alice"
app_password = "alice-password"

[storage]
encryption_key = "{Fernet.generate_key().decode()}"

[logging]
level = "DEBUG"
""",
        environ={},
    )
    logs.setup_logging(settings, stream=stream)
    if dump_headers:
        logging.getLogger("httpcore").setLevel(logging.DEBUG)

    async def fetch(base_url: str) -> None:
        nextcloud = dataclasses.replace(settings.nextcloud, url=base_url)
        http, client = make_reader(dataclasses.replace(settings, nextcloud=nextcloud))
        try:
            await client.get_user()
        finally:
            await http.aclose()

    with start_emulator(state=state) as emulator:
        asyncio.run(fetch(emulator.base_url))
    # The emulator sets a session id cookie and a passphrase cookie for each session it starts.
    sessions = state.sessions._sessions
    return [*sessions, *(session.passphrase for session in sessions.values())]


@pytest.mark.parametrize("dump_headers", [False, True])
def test_debug_log_hides_session_cookies(stream: io.StringIO, dump_headers: bool) -> None:
    cookie_values = request_with_debug_logging(stream, dump_headers=dump_headers)

    output = stream.getvalue()
    assert cookie_values
    assert "HTTP Request: GET" in output
    for value in cookie_values:
        assert value not in output
    assert ("set-cookie" in output.lower()) is dump_headers


def test_header_dumps_held_at_info_in_debug(stream: io.StringIO) -> None:
    logs.setup_logging(LoggingSettings(level="DEBUG"), stream=stream)

    assert logging.getLogger("httpcore").level == logging.INFO
    assert logging.getLogger("httpx").level == logging.DEBUG
