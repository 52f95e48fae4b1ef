"""``presence-bridge matrix registration``, run in process."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from presence_bridge import cli
from tests.matrix.synapse_harness import SynapseServer

CONFIG = f"""
[nextcloud]
url = "http://127.0.0.1:8080"
login = "alice"
app_password = "pw"

[storage]
encryption_key = "{Fernet.generate_key().decode()}"

[server]
host = "127.0.0.1"
port = 8091

[matrix]
homeserver_url = "http://127.0.0.1:8008"
server_name = "localhost"
bot_localpart = "status-bot"
"""

LOAD_WITH_SYNAPSE = """
import sys, yaml
from synapse.config.appservice import _load_appservice
service = _load_appservice("localhost", yaml.safe_load(open(sys.argv[1])), sys.argv[1])
print(service.id, service.url, service.sender.to_string(), service.is_rate_limited(), service.supports_ephemeral)
print(service.is_interested_in_user("@alice:localhost"), service.is_exclusive_user("@alice:localhost"))
"""


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG + extra, encoding="utf-8")
    return path


def test_registration_from_config_tokens(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_path = write_config(tmp_path, 'as_token = "as-from-config"\nhs_token = "hs-from-config"\n')
    output = tmp_path / "registration.yaml"

    status = cli.main(["matrix", "registration", "--config", str(config_path), "--output", str(output)])

    text = output.read_text(encoding="utf-8")
    assert status == 0
    assert 'as_token: "as-from-config"' in text
    assert 'hs_token: "hs-from-config"' in text
    assert 'url: "http://127.0.0.1:8091"' in text
    assert 'sender_localpart: "status-bot"' in text
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    assert "new ones were generated" not in capsys.readouterr().err


def test_registration_generates_token_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_path = write_config(tmp_path)
    token_dir = tmp_path / "tokens"

    status = cli.main(
        ["matrix", "registration", "--config", str(config_path), "--token-dir", str(token_dir), "--url", "http://bridge:9"]
    )

    captured = capsys.readouterr()
    as_token = (token_dir / "matrix-as-token").read_text(encoding="utf-8").strip()
    assert status == 0
    assert f'as_token: "{as_token}"' in captured.out
    assert 'url: "http://bridge:9"' in captured.out
    assert f'as_token_file = "{token_dir / "matrix-as-token"}"' in captured.err
    assert as_token not in captured.err
    assert stat.S_IMODE((token_dir / "matrix-hs-token").stat().st_mode) == 0o600


def test_registration_without_matrix_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.split("[matrix]")[0], encoding="utf-8")

    status = cli.main(["matrix", "registration", "--config", str(path)])

    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith(f"{path} has no [matrix] section, so there is nothing to register. Add [matrix]")
    assert "is invalid" not in err


def test_registration_refuses_port_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_path = write_config(tmp_path)
    config_path.write_text(config_path.read_text(encoding="utf-8").replace("port = 8091", "port = 0"), encoding="utf-8")
    output = tmp_path / "registration.yaml"

    status = cli.main(["matrix", "registration", "--config", str(config_path), "--output", str(output)])

    err = capsys.readouterr().err
    assert status == 1
    assert not output.exists()
    assert err.startswith("Cannot write the registration: [server] port = 0 picks a new port at each start")
    assert "Set matrix.appservice_url, pass --url, or set server.port to a fixed port." in err


def test_registration_port_zero_with_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_path = write_config(tmp_path)
    config_path.write_text(config_path.read_text(encoding="utf-8").replace("port = 8091", "port = 0"), encoding="utf-8")

    status = cli.main(["matrix", "registration", "--config", str(config_path), "--url", "http://bridge:9"])

    assert status == 0
    assert 'url: "http://bridge:9"' in capsys.readouterr().out


def test_registration_loaded_by_synapse(tmp_path: Path, synapse: SynapseServer) -> None:
    config_path = write_config(tmp_path)
    output = tmp_path / "registration.yaml"
    assert cli.main(["matrix", "registration", "--config", str(config_path), "--output", str(output)]) == 0

    loaded = subprocess.run(
        [str(synapse.python), "-c", LOAD_WITH_SYNAPSE, str(output)], capture_output=True, text=True, timeout=60, check=False
    )

    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.splitlines() == [
        "presence-bridge http://127.0.0.1:8091 @status-bot:localhost False True",
        "True False",
    ]
