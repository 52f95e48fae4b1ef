"""An ASGI app served by uvicorn on 127.0.0.1 in a daemon thread, for tests that need a real HTTP peer."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn


class ThreadedServer:
    """Serve ``app`` on a free port of 127.0.0.1 from construction until :meth:`stop`.

    The constructor returns once uvicorn accepts connections, and raises
    ``RuntimeError`` naming ``description`` when it has not started within
    ``startup_timeout`` seconds (a guard against hanging, not a measurement).
    """

    def __init__(self, app: Any, description: str, *, startup_timeout: float = 60.0) -> None:
        self.startup_timeout = startup_timeout
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        thread_name = description.replace(" ", "-")
        self._thread = threading.Thread(target=self._server.run, name=thread_name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + startup_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._server.should_exit = True
                raise RuntimeError(f"the {description} did not start on 127.0.0.1")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        """Ask uvicorn to exit and wait up to ``startup_timeout`` seconds for the thread to end."""
        self._server.should_exit = True
        self._thread.join(timeout=self.startup_timeout)
