"""A pytest plugin that logs everything at DEBUG to a file and records every secret the tests use.

Load it with ``-p tests.secret_scan_plugin`` and set two environment variables:
``SECRET_SCAN_LOG`` (the file that receives every log record) and
``SECRET_SCAN_SECRETS`` (the file that receives the secret values, one JSON
string per line, written when the run ends).  ``tests/test_secrets_in_logs.py``
runs the storage and linking suites with it and searches the log for the secrets.

The log handler has no redaction filter, so a secret that reaches any logger
is found even where the bridge's own handler would have masked it.

Secrets are recorded where they are made or stored: every
:class:`~presence_bridge.secret.Secret` and Nextcloud ``Credential``, every value
the store encrypts, every Fernet key, every password and app password of an
emulator account, every login-flow token the emulator issues, and the password
of the PostgreSQL test server.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

LOG_VARIABLE = "SECRET_SCAN_LOG"
SECRETS_VARIABLE = "SECRET_SCAN_SECRETS"

_secrets: set[str] = set()
_handler: logging.Handler | None = None
_patches: list[tuple[Any, str, Any]] = []


def record(value: object) -> None:
    """Remember ``value`` (a str, bytes or Secret) as a secret."""
    from presence_bridge.secret import Secret

    if isinstance(value, Secret):
        value = value.reveal()
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str) and value:
        _secrets.add(value)


class _ScanFormatter(logging.Formatter):
    """Format a record with its arguments, its ``extra=`` fields and its traceback."""

    def format(self, record: logging.LogRecord) -> str:
        from presence_bridge.logs import record_extras

        text = super().format(record)
        extras = record_extras(record)
        return f"{text} {extras!r}" if extras else text


def _patch(owner: Any, name: str, wrapper_factory: Any) -> None:
    """Replace ``owner.name`` with ``wrapper_factory(original)``; the raw attribute is restored at the end."""
    raw = vars(owner).get(name, getattr(owner, name))
    _patches.append((owner, name, raw))
    setattr(owner, name, wrapper_factory(getattr(owner, name)))


def _install_recorders() -> None:
    from cryptography.fernet import Fernet

    from presence_bridge import cli, cli_links, cli_run, logs
    from presence_bridge.emulator import accounts, login_flow
    from presence_bridge.nextcloud.account_models import Credential
    from presence_bridge.secret import Secret
    from presence_bridge.storage.crypto import SecretBox

    def secret_init(original: Any) -> Any:
        def init(self: Secret, value: str, *, source: str = "code") -> None:
            record(value)
            original(self, value, source=source)

        return init

    def box_init(original: Any) -> Any:
        def init(self: SecretBox, keys: Any) -> None:
            for key in keys:
                record(key)
            original(self, keys)

        return init

    def box_encrypt(original: Any) -> Any:
        def encrypt(self: SecretBox, plaintext: str) -> str:
            record(plaintext)
            return original(self, plaintext)

        return encrypt

    def generate_key(original: Any) -> Any:
        def generate() -> bytes:
            key = original()
            record(key)
            return key

        return staticmethod(generate)

    def accounts_add(original: Any) -> Any:
        def add(self: accounts.Accounts, users: Any) -> Any:
            users = list(users)
            for user in users:
                record(user.password)
                for token in user.app_passwords:
                    record(token)
            return original(self, users)

        return add

    def returns_secret(original: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            value = original(*args, **kwargs)
            record(value)
            return value

        return call

    def start_flow(original: Any) -> Any:
        def start(*args: Any, **kwargs: Any) -> Any:
            flow = original(*args, **kwargs)
            for name in ("login_token", "poll_token", "token"):
                record(getattr(flow, name, None))
            return flow

        return start

    def setup_logging(original: Any) -> Any:
        def setup(*args: Any, **kwargs: Any) -> Any:
            handler = original(*args, **kwargs)
            _keep_output_levels(handler)
            _force_debug()
            return handler

        return setup

    def credential_check(original: Any) -> Any:
        def check(self: Credential) -> None:
            record(self.app_password)
            original(self)

        return check

    _patch(Secret, "__init__", secret_init)
    _patch(Credential, "__post_init__", credential_check)
    _patch(SecretBox, "__init__", box_init)
    _patch(SecretBox, "encrypt", box_encrypt)
    _patch(Fernet, "generate_key", generate_key)
    _patch(accounts.Accounts, "add", accounts_add)
    _patch(accounts.Accounts, "create_app_password", returns_secret)
    _patch(login_flow, "_new_token", returns_secret)
    _patch(login_flow, "start_flow", start_flow)
    for module in (logs, cli, cli_links, cli_run):
        _patch(module, "setup_logging", setup_logging)


def _keep_output_levels(handler: logging.Handler) -> None:
    """Keep the bridge's own output at the levels it configured, though every logger is set to DEBUG."""
    configured = {
        name: logging.getLogger(name).level for name in logging.Logger.manager.loggerDict if logging.getLogger(name).level
    }
    root_level = logging.getLogger().level

    def configured_level(name: str) -> int:
        while name:
            if name in configured:
                return configured[name]
            name = name.rpartition(".")[0]
        return root_level

    handler.addFilter(lambda record: record.levelno >= configured_level(record.name))


def _force_debug() -> None:
    """Set the root logger and every named logger to DEBUG, so no record is dropped before the handler."""
    logging.getLogger().setLevel(logging.DEBUG)
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            logger.setLevel(logging.DEBUG)


def pytest_configure(config: pytest.Config) -> None:
    global _handler
    log_path = os.environ.get(LOG_VARIABLE)
    if not log_path or os.environ.get(SECRETS_VARIABLE) is None:
        raise pytest.UsageError(f"tests.secret_scan_plugin needs {LOG_VARIABLE} and {SECRETS_VARIABLE} set")
    _handler = logging.FileHandler(log_path, encoding="utf-8")
    _handler.setLevel(logging.DEBUG)
    _handler.setFormatter(_ScanFormatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(_handler)
    _install_recorders()
    _record_database_password()
    _force_debug()


def _record_database_password() -> None:
    """Record the password of the PostgreSQL test server's URL, when one is configured."""
    from urllib.parse import urlsplit

    url = os.environ.get("PRESENCE_BRIDGE_TEST_POSTGRES_URL")
    if url:
        record(urlsplit(url).password)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    _force_debug()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    _force_debug()
    _reattach()
    yield


def _reattach() -> None:
    """Put the file handler back on the root logger, in case a test removed the handlers."""
    root = logging.getLogger()
    if _handler is not None and _handler not in root.handlers:
        root.addHandler(_handler)


def pytest_unconfigure(config: pytest.Config) -> None:
    for owner, name, original in reversed(_patches):
        setattr(owner, name, original)
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler.close()
    path = Path(os.environ[SECRETS_VARIABLE])
    path.write_text("".join(json.dumps(value) + "\n" for value in sorted(_secrets)), encoding="utf-8")
