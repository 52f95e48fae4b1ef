"""A synchronous client for a running emulator's ``/_emulator`` control API."""

from __future__ import annotations

from typing import Any

import httpx

from presence_bridge.emulator.server import EmulatorServer


class EmulatorControl:
    """A running emulator plus a synchronous client for its ``/_emulator`` control API."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.base_url = server.base_url
        self.control = httpx.Client(base_url=server.base_url, timeout=10)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.control.request(method, f"/_emulator{path}", json=body)
        assert response.status_code == 200, response.text
        return response.json()
