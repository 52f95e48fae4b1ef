"""The ``[mapping]`` configuration section as the engine and the gateway use it."""

from __future__ import annotations

import dataclasses

from cryptography.fernet import Fernet

from presence_bridge import config
from presence_bridge.core.ids import Platform
from presence_bridge.core.mapping_common import MappingOptions
from presence_bridge.sync.settings import EngineSettings

from .conftest import Bridge

MINIMAL_CONFIG = """
[nextcloud]
url = "https://cloud.example.org"
login = "bridge"
app_password = "secret"
[storage]
encryption_key = "{key}"
"""

MAPPING_SECTION = """
[mapping]
dnd_max_seconds = 3600
custom_emoji_fallback = "🎉"
matrix_dnd_message = "Focus time"
matrix_busy_message = ""
"""


def engine_settings(extra: str = "") -> EngineSettings:
    source = MINIMAL_CONFIG.format(key=Fernet.generate_key().decode()) + extra
    settings = config.loads(source, environ={})
    return EngineSettings.from_config(settings, frozenset({Platform.RECORDING}))


def test_engine_mapping_defaults_without_section() -> None:
    assert engine_settings().mapping == MappingOptions()


def test_engine_mapping_from_section() -> None:
    mapping = engine_settings(MAPPING_SECTION).mapping

    assert mapping.dnd_max_seconds == 3600
    assert mapping.custom_emoji_fallback == "🎉"
    assert mapping.matrix_dnd_message == "Focus time"
    assert mapping.matrix_busy_message is None
    assert mapping.msc3026_busy is False


async def test_configured_fallback_reaches_nextcloud(bridge: Bridge) -> None:
    configured = engine_settings(MAPPING_SECTION)
    bridge.gateway.settings = dataclasses.replace(bridge.settings, mapping=configured.mapping)
    await bridge.link("alice")

    reply = await bridge.command("alice", ":partyparrot: Party")
    await bridge.drain()

    assert reply.ok, reply.text
    own = bridge.nextcloud.own_status("alice")
    assert own["icon"] == "🎉"
    assert own["message"] == "Party"
    mirrored = bridge.writes("alice")[-1]["desired"]
    assert mirrored["icon"] == "🎉"
    assert mirrored["message"] == "Party"
