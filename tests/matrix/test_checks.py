"""The Matrix lines of ``presence-bridge check`` against a real Synapse."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from presence_bridge import config
from presence_bridge.matrix.checks import check_matrix
from presence_bridge import cli
from presence_bridge.service.check import platform_checks
from tests.matrix.synapse_harness import SynapseServer, free_port


def settings_for(homeserver_url: str, matrix_lines: str) -> config.Settings:
    document = f"""
[nextcloud]
url = "http://127.0.0.1:8080"
login = "alice"
app_password = "pw"

[storage]
encryption_key = "{Fernet.generate_key().decode()}"

[matrix]
homeserver_url = "{homeserver_url}"
server_name = "localhost"
{matrix_lines}
"""
    return config.loads(document, environ={}, base_dir=Path("/"))


async def test_all_pass_with_registration(synapse: SynapseServer) -> None:
    tokens = f'as_token = "{synapse.bridge.as_token}"\nhs_token = "{synapse.bridge.hs_token}"\nmsc3026 = "on"'

    results = await check_matrix(settings_for(synapse.base_url, tokens))

    assert [result.ok for result in results] == [True, True, True]
    assert "the bot is @presence-bridge:localhost" in results[1].detail
    assert "busy" in results[2].detail


async def test_wrong_token_fails(synapse: SynapseServer) -> None:
    results = await check_matrix(settings_for(synapse.base_url, 'as_token = "wrong"\nhs_token = "other"'))

    assert [result.ok for result in results] == [True, False, True]
    assert "app_service_config_files" in results[1].detail


async def test_wrong_bot_localpart_fails(synapse: SynapseServer) -> None:
    tokens = f'as_token = "{synapse.bridge.as_token}"\nhs_token = "{synapse.bridge.hs_token}"\nbot_localpart = "other"'

    results = await check_matrix(settings_for(synapse.base_url, tokens))

    assert results[1].ok is False
    assert "expected @other:localhost" in results[1].detail


async def test_without_tokens_plain_bot(synapse: SynapseServer) -> None:
    results = await check_matrix(settings_for(synapse.base_url, 'bot_access_token = "unused-by-the-check"'))

    assert [result.ok for result in results] == [True, True, True]
    assert "plain bot" in results[1].detail


async def test_unreachable_homeserver_fails() -> None:
    results = await check_matrix(settings_for(f"http://127.0.0.1:{free_port()}", 'bot_access_token = "t"'))

    assert len(results) == 1
    assert results[0].ok is False
    assert "matrix.homeserver_url" in results[0].detail


async def test_no_matrix_section_no_results() -> None:
    document = settings_for("http://127.0.0.1:1", 'bot_access_token = "t"')

    results = await check_matrix(config.Settings(nextcloud=document.nextcloud, storage=document.storage))

    assert results == []


def test_registered_as_platform_check() -> None:
    with_matrix = settings_for("http://127.0.0.1:1", 'bot_access_token = "t"')
    without = config.Settings(nextcloud=with_matrix.nextcloud, storage=with_matrix.storage)

    assert check_matrix in platform_checks(with_matrix)
    assert check_matrix not in platform_checks(without)


def test_check_command_reports_unreachable_homeserver(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    homeserver = f"http://127.0.0.1:{free_port()}"
    path = tmp_path / "bridge.toml"
    path.write_text(
        f"""
[nextcloud]
url = "http://127.0.0.1:{free_port()}"
login = "alice"
app_password = "pw"

[storage]
url = "sqlite+aiosqlite:///{tmp_path / 'bridge.db'}"
encryption_key = "{Fernet.generate_key().decode()}"

[matrix]
homeserver_url = "{homeserver}"
server_name = "localhost"
as_token = "as-token"
hs_token = "hs-token"
""",
        encoding="utf-8",
    )

    status = cli.main(["check", "--config", str(path)])

    lines = capsys.readouterr().out.splitlines()
    matrix_lines = [line for line in lines if ": " in line and line.split(": ", 1)[0].split()[-1] == "Matrix"]
    assert status == 1
    assert len(matrix_lines) == 1
    assert matrix_lines[0].startswith(f"FAIL  Matrix: {homeserver} is not usable")
    assert "Check matrix.homeserver_url." in matrix_lines[0]
