"""Run the emulator over real HTTP with uvicorn, in a background thread or in the foreground.

``start_emulator()`` is what tests use::

    with start_emulator() as server:
        httpx.get(server.base_url + "/status.php")
        server.state.clock.set(1_800_000_000)

``run_emulator()`` serves until Ctrl-C; the ``presence-bridge nextcloud-emulator``
command calls it.  Both bind to 127.0.0.1 unless another host is given.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from presence_bridge.emulator.app import create_app
from presence_bridge.emulator.control import user_from_json
from presence_bridge.emulator.state import EmulatorState

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 10.0

DEMO_SEED: dict[str, Any] = {
    "users": [
        {"id": "admin", "display_name": "admin", "groups": ["admin"], "password": "admin-password"},
        {"id": "alice", "display_name": "Alice Test", "groups": ["team-a"], "password": "alice-password"},
        {"id": "bob", "display_name": "Bob Test", "groups": ["team-a"], "password": "bob-password"},
        {"id": "carol", "display_name": "Carol Test", "groups": ["team-a"], "password": "carol-password"},
        {"id": "dave", "display_name": "Dave Test", "password": "dave-password"},
    ]
}
"""The accounts of the recorded server, with made-up login passwords."""


class EmulatorServer:
    """A running emulator: ``base_url`` (no trailing slash), ``state`` and ``stop()``."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, state: EmulatorState, base_url: str) -> None:
        self._server = server
        self._thread = thread
        self.state = state
        self.base_url = base_url

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for its thread."""
        self._server.should_exit = True
        self._thread.join(timeout=STARTUP_TIMEOUT_S)

    def __enter__(self) -> EmulatorServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def start_emulator(
    *, host: str = "127.0.0.1", port: int = 0, control: bool = True, state: EmulatorState | None = None
) -> EmulatorServer:
    """Start uvicorn in a daemon thread and return once it accepts connections.

    ``port=0`` picks a free port; the real one is in ``base_url``.
    """
    state = state or EmulatorState()
    app = create_app(state, control=control)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"nextcloud-emulator-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the Nextcloud emulator did not start on {host}:{port}")
        time.sleep(0.01)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    base_url = f"http://{host}:{bound_port}"
    logger.info("Nextcloud emulator listening on %s (control API %s)", base_url, "on" if control else "off")
    return EmulatorServer(server, thread, state, base_url)


def load_seed(state: EmulatorState, seed: str | Path | dict[str, Any]) -> None:
    """Load users, rows and settings into ``state``.

    ``seed`` is ``"demo"`` (the recorded accounts with made-up passwords), a dict,
    or the path of a JSON file shaped like ``{"users": [...], "rows": [...],
    "settings": {...}}`` using the control API's field names.
    """
    if seed == "demo":
        data: dict[str, Any] = DEMO_SEED
    elif isinstance(seed, dict):
        data = seed
    else:
        data = json.loads(Path(seed).read_text(encoding="utf-8"))
    state.add_users(user_from_json(item) for item in data.get("users", []))
    for row in data.get("rows", []):
        values = dict(row)
        state.update_row(values.pop("user_id"), values)
    mode = data.get("settings", {}).get("user_enumeration")
    if mode is not None:
        state.settings.user_enumeration = mode


def run_emulator(
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    control: bool = False,
    seed: str | Path | dict[str, Any] | None = None,
) -> None:
    """Serve the emulator in the foreground until interrupted (Ctrl-C).

    ``seed`` is passed to :func:`load_seed` before the server starts.
    """
    state = EmulatorState()
    if seed is not None:
        load_seed(state, seed)
    warning = control_exposure_warning(host, control)
    if warning is not None:
        logger.warning("%s", warning)
    app = create_app(state, control=control)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info", lifespan="off"))
    asyncio.run(_serve_and_log_address(server, host, control))


def control_exposure_warning(host: str, control: bool) -> str | None:
    """Return a warning when the unauthenticated control API would listen beyond loopback."""
    if not control:
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        if host == "localhost":
            return None
    return (
        f"The control API under /_emulator/ has no authentication and listens on {host}, "
        "so anyone who reaches that address can change users and statuses. "
        "Listen on 127.0.0.1, or pass --no-control."
    )


async def _serve_and_log_address(server: uvicorn.Server, host: str, control: bool) -> None:
    """Serve until uvicorn stops, logging the bound address once it listens (``port=0`` picks one)."""
    serving = asyncio.create_task(server.serve())
    while not server.started and not serving.done():
        await asyncio.sleep(0.01)
    if server.started:
        bound_port = server.servers[0].sockets[0].getsockname()[1]
        logger.info(
            "Nextcloud emulator listening on http://%s:%d (control API %s)", host, bound_port, "on" if control else "off"
        )
    await serving
