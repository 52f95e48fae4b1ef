"""Loading and validating the TOML configuration."""

from __future__ import annotations

import dataclasses
import re
import textwrap
import zoneinfo
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from presence_bridge import config
from presence_bridge.config_fields import accepted_keys
from presence_bridge.core.mapping_common import MappingOptions
from presence_bridge.errors import ConfigError
from presence_bridge.secret import Secret

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = REPO_ROOT / "config.example.toml"
ENCRYPTION_KEY = Fernet.generate_key().decode()
PREVIOUS_KEY = Fernet.generate_key().decode()
EXAMPLE_ENV = {
    "PRESENCE_BRIDGE_NEXTCLOUD_APP_PASSWORD": "alice-app-password",
    "PRESENCE_BRIDGE_ENCRYPTION_KEY": ENCRYPTION_KEY,
}

MINIMAL = f"""
[nextcloud]
url = "https://cloud.example.org/"
login = "bridge"
app_password = "inline-app-password"

[storage]
encryption_key = "{ENCRYPTION_KEY}"
"""


def load_with(extra: str, *, section: str | None = None, environ: dict[str, str] | None = None,
              base_dir: Path | None = None) -> config.Settings:
    """Load MINIMAL with ``extra`` lines appended, or put under a new ``[section]`` header."""
    document = MINIMAL
    if section == "nextcloud":
        document = document.replace("[storage]", textwrap.dedent(extra) + "\n[storage]")
    elif section:
        document += f"\n[{section}]\n" + textwrap.dedent(extra)
    else:
        document += textwrap.dedent(extra)
    return config.loads(document, environ=environ or {}, base_dir=base_dir)


def test_example_file_loads() -> None:
    settings = config.load(EXAMPLE, environ=EXAMPLE_ENV)

    assert settings.nextcloud.url == "http://127.0.0.1:8080"
    assert settings.nextcloud.app_password.reveal() == "alice-app-password"
    assert settings.storage.encryption_key.reveal() == ENCRYPTION_KEY
    assert settings.nextcloud.statuses_page_limit == 5000
    assert settings.sync.week_start == 0


def test_example_file_documents_every_key() -> None:
    """Every key of every section is in the example, commented out or not."""
    text = EXAMPLE.read_text(encoding="utf-8")
    for field in dataclasses.fields(config.Settings):
        header = re.search(rf"^(# )?\[{field.name}\]\n", text, re.MULTILINE)
        assert header, f"section [{field.name}] is not in the example"
        block = re.split(r"^(?:# )?\[", text[header.end() :], flags=re.MULTILINE)[0]
        for key in accepted_keys(field.metadata["section_class"]):
            pattern = rf"^(# )?{re.escape(key)} = "
            assert re.search(pattern, block, re.MULTILINE), f"{field.name}.{key} is not in the example"


def test_example_matrix_section_works_uncommented() -> None:
    """Removing "# " from [matrix] and its key lines gives a section that loads with the documented variables."""
    text = EXAMPLE.read_text(encoding="utf-8")
    block = text[text.index("\n# [matrix]\n") :]
    wanted = ("# [matrix]", "# homeserver_url = ", "# server_name = ", "# bot_access_token_env = ")
    lines = [line.removeprefix("# ") if line.startswith(wanted) else line for line in block.splitlines()]
    environ = {**EXAMPLE_ENV, "PRESENCE_BRIDGE_MATRIX_BOT_TOKEN": "bot-token"}

    settings = config.loads(text + "\n".join(lines) + "\n", environ=environ, base_dir=EXAMPLE.parent)

    assert settings.matrix is not None
    assert settings.matrix.bot_access_token is not None
    assert settings.matrix.bot_access_token.reveal() == "bot-token"


def test_example_file_holds_no_inline_secret() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert not re.search(r"^\s*(app_password|encryption_key)\s*=", text, re.MULTILINE)


def test_minimal_file_uses_defaults() -> None:
    settings = config.loads(MINIMAL, environ={})

    assert settings.nextcloud.url == "https://cloud.example.org"
    assert settings.nextcloud.verify_tls is True
    assert settings.nextcloud.tls_verify is True
    assert settings.nextcloud.timeout_connect == 5.0
    assert settings.nextcloud.timeout_read == 30.0
    assert settings.nextcloud.proxy is None
    assert settings.nextcloud.statuses_page_limit == 5000
    assert settings.nextcloud.user_agent.startswith("presence-bridge/")
    assert settings.logging.level == "INFO"
    assert settings.logging.format == "text"
    assert settings.sync.sweep_interval_seconds == 60.0
    assert settings.sync.default_timezone == zoneinfo.ZoneInfo("UTC")
    assert settings.sync.week_start == 0
    assert settings.storage.url == config.DEFAULT_STORAGE_URL
    assert settings.emulator.host == "127.0.0.1"
    assert settings.emulator.port == 8080


def test_settings_are_frozen() -> None:
    settings = config.loads(MINIMAL, environ={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.nextcloud.url = "https://other.example.org"  # type: ignore[misc]


def test_valid_values_are_normalised(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    settings = load_with(
        """
        ca_bundle = "ca.pem"
        timeout_read = 2.5
        proxy = "http://proxy.example.org:3128"
        """,
        section="nextcloud",
        base_dir=tmp_path,
    )
    assert settings.nextcloud.ca_bundle == bundle
    assert settings.nextcloud.tls_verify == str(bundle)
    assert settings.nextcloud.timeout_read == 2.5
    assert settings.nextcloud.proxy == "http://proxy.example.org:3128"

    settings = load_with('level = "debug"\nformat = "JSON"\n', section="logging")
    assert settings.logging.level == "DEBUG"
    assert settings.logging.format == "json"

    settings = load_with('week_start = "Sunday"\ndefault_timezone = "Europe/Berlin"\n', section="sync")
    assert settings.sync.week_start == 6
    assert settings.sync.default_timezone.key == "Europe/Berlin"


INVALID_FIELDS = [
    ("nextcloud", 'url = "ftp://cloud.example.org"', "nextcloud.url", "http"),
    ("nextcloud", 'url = "cloud.example.org"', "nextcloud.url", "http"),
    ("nextcloud", 'url = "https://cloud.example.org/?x=1"', "nextcloud.url", "query"),
    ("nextcloud", 'url = "https://cloud.example.org:99999"', "nextcloud.url", "port"),
    ("nextcloud", "url = 5", "nextcloud.url", "int"),
    ("nextcloud", 'url = "https://alice:hunter2@cloud.example.org"', "nextcloud.url", "user:password@"),
    ("nextcloud", 'url = "https://alice@cloud.example.org"', "nextcloud.url", "user:password@"),
    ("nextcloud", 'login = ""', "nextcloud.login", "non-empty"),
    ("nextcloud", 'app_password = ""', "nextcloud.app_password", "empty"),
    ("nextcloud", "app_password = 12", "nextcloud.app_password", "string"),
    ("nextcloud", 'verify_tls = "false"', "nextcloud.verify_tls", "true or false"),
    ("nextcloud", 'ca_bundle = "/nonexistent/ca.pem"', "nextcloud.ca_bundle", "does not exist"),
    ("nextcloud", "timeout_connect = 0", "nextcloud.timeout_connect", "greater than 0"),
    ("nextcloud", "timeout_read = -1", "nextcloud.timeout_read", "seconds"),
    ("nextcloud", 'timeout_read = "30"', "nextcloud.timeout_read", "seconds"),
    ("nextcloud", "timeout_read = nan", "nextcloud.timeout_read", "seconds"),
    ("nextcloud", "timeout_read = true", "nextcloud.timeout_read", "seconds"),
    ("nextcloud", 'proxy = "socks5://proxy:1080"', "nextcloud.proxy", "http"),
    ("nextcloud", "statuses_page_limit = 0", "nextcloud.statuses_page_limit", "whole number"),
    ("nextcloud", "statuses_page_limit = 10.5", "nextcloud.statuses_page_limit", "whole number"),
    ("nextcloud", "statuses_page_limit = true", "nextcloud.statuses_page_limit", "whole number"),
    ("nextcloud", 'user_agent = "  "', "nextcloud.user_agent", "non-empty"),
    ("logging", 'level = "verbose"', "logging.level", "DEBUG, INFO"),
    ("logging", 'format = "xml"', "logging.format", "text, json"),
    ("logging", "repeat_window_seconds = -5", "logging.repeat_window_seconds", "from 0"),
    ("sync", "sweep_interval_seconds = 0.5", "sync.sweep_interval_seconds", "from 1"),
    ("sync", "settle_seconds = -1", "sync.settle_seconds", "from 0"),
    ("sync", "debounce_seconds = 7200", "sync.debounce_seconds", "3600"),
    ("sync", 'default_timezone = "Mars/Olympus"', "sync.default_timezone", "IANA"),
    ("sync", 'default_timezone = "../../etc/passwd"', "sync.default_timezone", "IANA"),
    ("sync", 'week_start = "funday"', "sync.week_start", "monday"),
    ("storage", 'url = "mysql://db/bridge"', "storage.url", "sqlite+aiosqlite"),
    ("storage", 'url = "postgresql+asyncpg://bridge:hunter2@db/bridge"', "storage.url", "PGPASSWORD"),
    ("emulator", "port = 70000", "emulator.port", "0 to 65535"),
    ("emulator", 'host = ""', "emulator.host", "non-empty"),
    ("mapping", "dnd_max_seconds = 59", "mapping.dnd_max_seconds", "from 60 to 2592000"),
    ("mapping", "dnd_max_seconds = 86400000", "mapping.dnd_max_seconds", "from 60 to 2592000"),
    ("mapping", "dnd_max_seconds = 3600.5", "mapping.dnd_max_seconds", "whole number"),
    ("mapping", 'dnd_max_seconds = "3600"', "mapping.dnd_max_seconds", "whole number"),
    ("mapping", 'custom_emoji_fallback = ":partyparrot:"', "mapping.custom_emoji_fallback", "one Unicode emoji"),
    ("mapping", 'custom_emoji_fallback = ":tada:"', "mapping.custom_emoji_fallback", "not a :shortcode:"),
    ("mapping", 'custom_emoji_fallback = "🎉🎉"', "mapping.custom_emoji_fallback", "exactly one emoji"),
    ("mapping", 'custom_emoji_fallback = "ä"', "mapping.custom_emoji_fallback", "one Unicode emoji"),
    ("mapping", 'custom_emoji_fallback = "🎉 Party"', "mapping.custom_emoji_fallback", "one Unicode emoji"),
    ("mapping", 'custom_emoji_fallback = "\U0001F1E6"', "mapping.custom_emoji_fallback", "emoji table"),
    ("mapping", "custom_emoji_fallback = 1", "mapping.custom_emoji_fallback", "one Unicode emoji"),
    ("mapping", "matrix_dnd_message = false", "mapping.matrix_dnd_message", "a string"),
    ("mapping", "matrix_busy_message = 3", "mapping.matrix_busy_message", "a string"),
    ("who", 'team_leads = { "" = ["carol"] }', "who.team_leads", "a group id is empty"),
    ("who", 'team_leads = { " " = ["carol"] }', "who.team_leads", "a group id is empty"),
    ("keepalive", "interval_seconds = 600\nactive_seconds = 300", "keepalive.active_seconds", "before the next heartbeat"),
]


@pytest.mark.parametrize(("section", "line", "key", "expected_text"), INVALID_FIELDS)
def test_invalid_field_names_key(section: str, line: str, key: str, expected_text: str) -> None:
    if section in ("nextcloud", "storage"):
        document = _replace_key(MINIMAL, section, line)
    else:
        document = MINIMAL + f"\n[{section}]\n{line}\n"

    with pytest.raises(ConfigError) as caught:
        config.loads(document, environ={})

    assert caught.value.key == key
    assert str(caught.value).startswith(f"{key}: ")
    assert "Expected" in str(caught.value)
    assert expected_text in str(caught.value)


def test_url_password_not_echoed() -> None:
    document = _replace_key(MINIMAL, "nextcloud", 'url = "https://alice:hunter2@cloud.example.org"')

    with pytest.raises(ConfigError) as caught:
        config.loads(document, environ={})

    assert "hunter2" not in str(caught.value)


def test_proxy_may_carry_credentials() -> None:
    document = _replace_key(MINIMAL, "nextcloud", 'proxy = "http://bridge:s3cret@proxy.example.org:3128"')

    settings = config.loads(document, environ={})

    assert settings.nextcloud.proxy == "http://bridge:s3cret@proxy.example.org:3128"


def _replace_key(document: str, section: str, line: str) -> str:
    """Set ``line`` in ``[section]`` of ``document``, replacing that key if it is there."""
    name = line.split("=")[0].strip()
    lines = document.splitlines()
    start = lines.index(f"[{section}]")
    for index in range(start + 1, len(lines)):
        if lines[index].startswith(f"{name} ="):
            lines[index] = line
            return "\n".join(lines)
    lines.insert(start + 1, line)
    return "\n".join(lines)


def test_ca_bundle_without_verification_rejected(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_with('ca_bundle = "ca.pem"\nverify_tls = false\n', section="nextcloud", base_dir=tmp_path)
    assert caught.value.key == "nextcloud.ca_bundle"


def test_verify_tls_false_disables_checks() -> None:
    settings = load_with("verify_tls = false\n", section="nextcloud")
    assert settings.nextcloud.tls_verify is False


def test_unknown_key_rejected_with_suggestion() -> None:
    with pytest.raises(ConfigError) as caught:
        load_with("timeout_raed = 10\n", section="nextcloud")
    assert caught.value.key == "nextcloud.timeout_raed"
    assert "unknown key" in str(caught.value)
    assert "timeout_read" in str(caught.value)


def test_unknown_section_rejected() -> None:
    with pytest.raises(ConfigError) as caught:
        config.loads(MINIMAL + "\n[nextclod]\nurl = 'x'\n", environ={})
    assert caught.value.key == "nextclod"
    assert "unknown section" in str(caught.value)


def test_key_outside_section_rejected() -> None:
    with pytest.raises(ConfigError) as caught:
        config.loads("level = 'INFO'\n" + MINIMAL, environ={})
    assert caught.value.key == "level"


def test_missing_required_section() -> None:
    with pytest.raises(ConfigError) as caught:
        config.loads(MINIMAL.split("[storage]")[0], environ={})
    assert caught.value.key == "storage"


def test_missing_required_key() -> None:
    document = MINIMAL.replace('login = "bridge"\n', "")
    with pytest.raises(ConfigError) as caught:
        config.loads(document, environ={})
    assert caught.value.key == "nextcloud.login"
    assert "missing" in str(caught.value)


def test_section_must_be_table() -> None:
    with pytest.raises(ConfigError) as caught:
        config.loads(MINIMAL + "\n[[sync]]\nsettle_seconds = 1\n", environ={})
    assert caught.value.key == "sync"


def test_invalid_toml_syntax(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[nextcloud\nurl = ", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert "invalid TOML" in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(tmp_path / "absent.toml")
    assert "does not exist" in str(caught.value)


def test_secret_from_environment() -> None:
    document = MINIMAL.replace('app_password = "inline-app-password"', 'app_password_env = "NC_PASSWORD"')
    settings = config.loads(document, environ={"NC_PASSWORD": "from-the-environment"})

    assert settings.nextcloud.app_password.reveal() == "from-the-environment"
    assert settings.nextcloud.app_password.source == "environment variable NC_PASSWORD"


def test_secret_environment_variable_missing() -> None:
    document = MINIMAL.replace('app_password = "inline-app-password"', 'app_password_env = "NC_PASSWORD"')
    with pytest.raises(ConfigError) as caught:
        config.loads(document, environ={})
    assert caught.value.key == "nextcloud.app_password_env"
    assert "NC_PASSWORD is not set" in str(caught.value)


def test_secret_from_file_strips_newline(tmp_path: Path) -> None:
    (tmp_path / "password").write_text("from-a-file\n", encoding="utf-8")
    (tmp_path / "key").write_text(ENCRYPTION_KEY + "\r\n", encoding="utf-8")
    document = (
        MINIMAL.replace('app_password = "inline-app-password"', 'app_password_file = "password"')
        .replace(f'encryption_key = "{ENCRYPTION_KEY}"', f'encryption_key_file = "{tmp_path / "key"}"')
    )
    settings = config.loads(document, environ={}, base_dir=tmp_path)

    assert settings.nextcloud.app_password.reveal() == "from-a-file"
    assert settings.nextcloud.app_password.source == f"file {tmp_path / 'password'}"
    assert settings.storage.encryption_key.reveal() == ENCRYPTION_KEY


def test_secret_file_keeps_inner_whitespace(tmp_path: Path) -> None:
    (tmp_path / "password").write_text("two words \n\n", encoding="utf-8")
    document = MINIMAL.replace('app_password = "inline-app-password"', 'app_password_file = "password"')
    settings = config.loads(document, environ={}, base_dir=tmp_path)
    assert settings.nextcloud.app_password.reveal() == "two words \n"


def test_secret_file_unreadable(tmp_path: Path) -> None:
    document = MINIMAL.replace('app_password = "inline-app-password"', 'app_password_file = "absent"')
    with pytest.raises(ConfigError) as caught:
        config.loads(document, environ={}, base_dir=tmp_path)
    assert caught.value.key == "nextcloud.app_password_file"
    assert str(tmp_path / "absent") in str(caught.value)


def test_secret_file_empty(tmp_path: Path) -> None:
    (tmp_path / "password").write_text("\n", encoding="utf-8")
    document = MINIMAL.replace('app_password = "inline-app-password"', 'app_password_file = "password"')
    with pytest.raises(ConfigError) as caught:
        config.loads(document, environ={}, base_dir=tmp_path)
    assert caught.value.key == "nextcloud.app_password"
    assert "empty" in str(caught.value)


def test_secret_given_twice_rejected() -> None:
    document = MINIMAL.replace(
        'app_password = "inline-app-password"',
        'app_password = "inline-app-password"\napp_password_env = "NC_PASSWORD"',
    )
    with pytest.raises(ConfigError) as caught:
        config.loads(document, environ={"NC_PASSWORD": "x" * 10})
    assert caught.value.key == "nextcloud.app_password"
    assert "more than once" in str(caught.value)


def test_secret_missing_lists_forms() -> None:
    document = MINIMAL.replace('app_password = "inline-app-password"', "")
    with pytest.raises(ConfigError) as caught:
        config.loads(document, environ={})
    assert caught.value.key == "nextcloud.app_password"
    assert "app_password_env" in str(caught.value)
    assert "app_password_file" in str(caught.value)


@pytest.mark.parametrize("bad_key", ["short-key", "k" * 44, ENCRYPTION_KEY[:-2], "é" * 44])
def test_invalid_encryption_key_rejected(bad_key: str) -> None:
    document = MINIMAL.replace(ENCRYPTION_KEY, bad_key)
    with pytest.raises(ConfigError) as caught:
        config.loads(document, environ={})
    assert caught.value.key == "storage.encryption_key"
    assert "Fernet key" in str(caught.value)
    assert bad_key not in str(caught.value)


def test_previous_encryption_key_comes_second() -> None:
    document = MINIMAL + f'previous_encryption_key_env = "OLD_KEY"\n'
    settings = config.loads(document, environ={"OLD_KEY": PREVIOUS_KEY})

    keys = [key.reveal() for key in settings.storage.encryption_keys]
    assert keys == [ENCRYPTION_KEY, PREVIOUS_KEY]
    assert settings.storage.previous_encryption_key is not None


def test_previous_encryption_key_optional() -> None:
    settings = config.loads(MINIMAL, environ={})
    assert settings.storage.previous_encryption_key is None
    assert [key.reveal() for key in settings.storage.encryption_keys] == [ENCRYPTION_KEY]


def test_secret_repr_hides_value() -> None:
    settings = config.loads(MINIMAL, environ={})

    assert "inline-app-password" not in repr(settings)
    assert "inline-app-password" not in str(settings.nextcloud)
    assert ENCRYPTION_KEY not in repr(settings)
    assert str(settings.nextcloud.app_password) == "***"
    assert f"{settings.nextcloud.app_password}" == "***"
    assert "***" in repr(settings.nextcloud.app_password)


def test_secret_equality_and_pickling() -> None:
    import pickle

    assert Secret("abcdefgh") == Secret("abcdefgh")
    assert Secret("abcdefgh") != Secret("other-value")
    with pytest.raises(TypeError):
        pickle.dumps(Secret("abcdefgh"))


def test_mapping_section_absent_uses_defaults() -> None:
    settings = config.loads(MINIMAL, environ={})

    assert settings.mapping.dnd_max_seconds == 86400
    assert settings.mapping.custom_emoji_fallback is None
    assert settings.mapping.matrix_dnd_message == "Do not disturb"
    assert settings.mapping.matrix_busy_message == "Busy"
    assert settings.mapping.options() == MappingOptions()


def test_mapping_section_sets_options() -> None:
    settings = load_with(
        """
        dnd_max_seconds = 7200
        custom_emoji_fallback = " 🎉 "
        matrix_dnd_message = "Focus time"
        matrix_busy_message = "In a meeting"
        """,
        section="mapping",
    )

    options = settings.mapping.options()
    assert options.dnd_max_seconds == 7200
    assert options.custom_emoji_fallback == "🎉"
    assert options.matrix_dnd_message == "Focus time"
    assert options.matrix_busy_message == "In a meeting"
    assert options.msc3026_busy is False


def test_mapping_empty_strings_mean_none() -> None:
    settings = load_with(
        'custom_emoji_fallback = ""\nmatrix_dnd_message = ""\nmatrix_busy_message = "  "\n',
        section="mapping",
    )

    assert settings.mapping.custom_emoji_fallback is None
    assert settings.mapping.matrix_dnd_message is None
    assert settings.mapping.matrix_busy_message is None


@pytest.mark.parametrize("glyph", ["💬", "👍🏽", "🇩🇪", "👨‍💻", "☕"])
def test_mapping_fallback_accepts_emoji(glyph: str) -> None:
    settings = load_with(f'custom_emoji_fallback = "{glyph}"\n', section="mapping")

    assert settings.mapping.custom_emoji_fallback == glyph


def test_mapping_unknown_key_rejected() -> None:
    with pytest.raises(ConfigError) as caught:
        load_with("msc3026_busy = true\n", section="mapping")

    assert caught.value.key == "mapping.msc3026_busy"


MATRIX_WITHOUT_TOKEN = """
[matrix]
homeserver_url = "http://127.0.0.1:8008"
server_name = "localhost"
"""


def test_matrix_without_token_rejected() -> None:
    with pytest.raises(ConfigError) as caught:
        config.loads(MINIMAL + MATRIX_WITHOUT_TOKEN, environ={})

    assert caught.value.key == "matrix.as_token"
    assert str(caught.value).startswith("matrix.as_token: no token is set, so the bridge cannot log in")
    assert "or bot_access_token (a plain bot user)" in str(caught.value)


def test_matrix_without_token_allowed_for_registration() -> None:
    settings = config.loads(MINIMAL + MATRIX_WITHOUT_TOKEN, environ={}, matrix_token=False)

    assert settings.matrix is not None
    assert settings.matrix.as_token is None


@pytest.mark.parametrize("host", ["not a host!", "-leading.example", "a..b"])
def test_server_host_must_be_address_or_name(host: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_with(f'host = "{host}"\n', section="server")

    assert caught.value.key == "server.host"
    assert f"invalid host {host!r}" in str(caught.value)


@pytest.mark.parametrize(("host", "warned"), [("127.0.0.1", False), ("::1", False), ("localhost", False),
                                              ("0.0.0.0", True), ("bridge.example.org", True)])
def test_server_host_warns_unless_loopback(host: str, warned: bool, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="presence_bridge.config"):
        settings = load_with(f'host = "{host}"\n', section="server")

    assert settings.server.host == host
    assert any("is not a loopback address" in record.getMessage() for record in caplog.records) is warned
