"""Injected failures: the next N requests under a path prefix fail in a chosen way.

A fault either responds with a fixed HTTP status (empty body), delays the request
before handling it normally, or drops the connection without any response.
Control requests under ``/_emulator/`` are never affected.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from presence_bridge.emulator.state import EmulatorState

logger = logging.getLogger(__name__)

CONTROL_PREFIX = "/_emulator/"


@dataclass(slots=True)
class Fault:
    """One rule; exactly one of ``status``, ``delay_s`` and ``drop`` is set."""

    match: str
    count: int = 1
    status: int | None = None
    delay_s: float | None = None
    drop: bool = False


def take_fault(state: EmulatorState, path: str) -> Fault | None:
    """Consume one use of the first fault whose prefix matches ``path``."""
    if path.startswith(CONTROL_PREFIX):
        return None
    with state.lock:
        for fault in state.faults:
            if fault.count > 0 and path.startswith(fault.match):
                fault.count -= 1
                if fault.count == 0:
                    state.faults.remove(fault)
                return fault
    return None


async def _drop_connection(receive: Receive, send: Send) -> None:
    # Uvicorn's ``send`` is a bound method of its request cycle, which owns the
    # transport, and aborting it closes the socket without writing a response.
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionAbortedError("fault injection: connection dropped")
    transport.abort()
    try:
        async with asyncio.timeout(1.0):
            while (await receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        logger.warning("fault injection: no disconnect event after dropping the connection")


class FaultMiddleware:
    """ASGI middleware applying :class:`Fault` rules from the emulator state."""

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        fault = take_fault(self.state, scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
            return
        logger.info("fault injection on %s: %s", scope["path"], fault)
        if fault.drop:
            await _drop_connection(receive, send)
            return
        if fault.status is not None:
            await send({"type": "http.response.start", "status": fault.status, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        await self.app(scope, receive, send)
