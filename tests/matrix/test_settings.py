"""The [matrix] settings section."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from presence_bridge import config
from presence_bridge.errors import ConfigError

BASE = f"""
[nextcloud]
url = "http://127.0.0.1:8080"
login = "alice"
app_password = "pw"

[storage]
encryption_key = "{Fernet.generate_key().decode()}"
"""

MATRIX = """
[matrix]
homeserver_url = "https://matrix.example.org/"
server_name = "example.org"
"""


def load(extra: str, environ: dict[str, str] | None = None) -> config.Settings:
    return config.loads(BASE + extra, environ=environ or {}, base_dir=Path("/"), matrix_token=False)


def test_matrix_absent_is_none() -> None:
    assert load("").matrix is None


def test_matrix_defaults() -> None:
    matrix = load(MATRIX).matrix

    assert matrix is not None
    assert matrix.homeserver_url == "https://matrix.example.org"
    assert matrix.uses_appservice is False
    assert matrix.bot_user_id == "@presence-bridge:example.org"
    assert matrix.namespace_regex == r"@.*:example\.org"
    assert matrix.msc3026 == "auto"


def test_tokens_from_environment() -> None:
    extra = MATRIX + 'as_token_env = "AS"\nhs_token_env = "HS"\n'

    matrix = load(extra, {"AS": "as-secret", "HS": "hs-secret"}).matrix

    assert matrix is not None
    assert matrix.uses_appservice is True
    assert matrix.as_token is not None and matrix.as_token.reveal() == "as-secret"
    assert "as-secret" not in repr(matrix)


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ('as_token = "a"\n', "matrix.hs_token"),
        ('hs_token = "h"\n', "matrix.as_token"),
        ('as_token = "same"\nhs_token = "same"\n', "matrix.hs_token"),
        ('server_name = "bad name"\n', "matrix.server_name"),
        ('bot_localpart = "Bot"\n', "matrix.bot_localpart"),
        ('user_regex = "@(.*"\n', "matrix.user_regex"),
        ('admins = ["alice"]\n', "matrix.admins"),
        ('allowed_servers = "example.org"\n', "matrix.allowed_servers"),
        ('msc3026 = "maybe"\n', "matrix.msc3026"),
    ],
)
def test_invalid_values_rejected(extra: str, key: str) -> None:
    document = MATRIX.replace('server_name = "example.org"\n', "") if extra.startswith("server_name") else MATRIX

    with pytest.raises(ConfigError) as caught:
        load(document + extra)

    assert caught.value.key == key


def test_missing_server_name_rejected() -> None:
    with pytest.raises(ConfigError) as caught:
        load('[matrix]\nhomeserver_url = "https://matrix.example.org"\n')

    assert caught.value.key == "matrix.server_name"


@pytest.mark.parametrize(
    ("extra", "user_id", "allowed"),
    [
        ("", "@alice:example.org", True),
        ("", "@eve:evil.example", False),
        ('allowed_servers = ["*"]\n', "@eve:evil.example", True),
        ('allowed_servers = ["example.org", "partner.example"]\n', "@bob:partner.example", True),
        ('allowed_users = ["@alice:example.org"]\n', "@alice:example.org", True),
        ('allowed_users = ["@alice:example.org"]\n', "@bob:example.org", False),
        ('admins = ["@ops:other.example"]\n', "@ops:other.example", True),
    ],
)
def test_is_allowed_table(extra: str, user_id: str, allowed: bool) -> None:
    matrix = load(MATRIX + extra).matrix

    assert matrix is not None
    assert matrix.is_allowed(user_id) is allowed


def test_example_section_parses_uncommented() -> None:
    example = (Path(__file__).resolve().parents[2] / "config.example.toml").read_text(encoding="utf-8")
    section = example[example.index("\n# [matrix]\n") :]
    lines = [
        line.removeprefix("# ") if (" = " in line and "_token" not in line) or line == "# [matrix]" else line
        for line in section.splitlines()
    ]
    uncommented = "\n".join(lines) + '\nas_token = "a"\nhs_token = "h"\n'

    matrix = load(uncommented).matrix

    assert matrix is not None
    assert matrix.uses_appservice is True
    assert matrix.admins == ("@ops:example.org",)
    assert matrix.namespace_regex == r"@.*:example\.org"


@pytest.mark.parametrize(
    "url", ["https://matrix.example.org/_matrix/client/v3", "https://matrix.example.org/_matrix/", "https://example.org/synapse/_matrix"]
)
def test_homeserver_url_with_api_path_rejected(url: str) -> None:
    extra = MATRIX.replace('"https://matrix.example.org/"', f'"{url}"')

    with pytest.raises(ConfigError) as caught:
        load(extra)

    assert caught.value.key == "matrix.homeserver_url"
    assert "/_matrix/" in str(caught.value)
    assert "base URL" in str(caught.value)


def test_homeserver_url_with_subpath_accepted() -> None:
    matrix = load(MATRIX.replace('"https://matrix.example.org/"', '"https://example.org/synapse/"')).matrix

    assert matrix is not None
    assert matrix.homeserver_url == "https://example.org/synapse"
