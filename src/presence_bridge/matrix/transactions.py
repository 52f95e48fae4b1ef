"""The appservice endpoints the homeserver calls: transactions, ping and queries.

:class:`TransactionEndpoint` serves them on the bridge's ASGI server: it has the
``http_prefix`` and ``http_routes`` that the ``run`` process's app mounts, and
:func:`appservice_routes` returns the same routes for an app of their own.
The homeserver proves itself with the registration's ``hs_token``, sent as
``Authorization: Bearer`` (Synapse 1.163) or, from homeservers configured with
``use_appservice_legacy_authorization``, as the ``access_token`` query parameter.
A missing token gets 401 ``M_UNAUTHORIZED``, a wrong one 403 ``M_FORBIDDEN``.

A homeserver sends a transaction again, with the same ``txnId``, until it gets a
200.  So the endpoint records each handled ``txnId`` in a :class:`TransactionLog`
and returns 200 for a repeat without handing its events on again.  When the
presence handler (or the room event handler, ``on_events``, which receives the
transaction's ``events`` before the presence) raises, the endpoint returns 500 and records nothing, and the
homeserver retries later.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from presence_bridge.matrix.presence_events import BacklogRule, PresenceUpdate, parse_presence_updates

logger = logging.getLogger(__name__)

APPSERVICE_PREFIX = "/_matrix/app/v1"
DEFAULT_REMEMBERED_TRANSACTIONS = 10_000

PresenceHandler = Callable[[Sequence[PresenceUpdate]], Awaitable[None]]
"""Receives the presence updates of one transaction; raising makes the homeserver retry it."""
EventHandler = Callable[[Sequence[object]], Awaitable[None]]
"""Receives the room events (``events``) of one transaction; raising makes the homeserver retry it."""


class TransactionLog(Protocol):
    """The ``txnId`` values already handled; a store can keep them across restarts."""

    async def contains(self, txn_id: str) -> bool: ...

    async def add(self, txn_id: str) -> None: ...


class MemoryTransactionLog:
    """A :class:`TransactionLog` in memory that keeps the most recent ``limit`` ids."""

    def __init__(self, limit: int = DEFAULT_REMEMBERED_TRANSACTIONS) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._limit = limit

    async def contains(self, txn_id: str) -> bool:
        return txn_id in self._ids

    async def add(self, txn_id: str) -> None:
        self._ids[txn_id] = None
        while len(self._ids) > self._limit:
            self._ids.popitem(last=False)


def _error(status: int, errcode: str, message: str) -> JSONResponse:
    return JSONResponse({"errcode": errcode, "error": message}, status_code=status)


def _token_error(request: Request, hs_token: str) -> JSONResponse | None:
    """Return the error response for a missing or wrong hs_token, or None when it matches."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        token = header[len("bearer ") :].strip()
    else:
        token = request.query_params.get("access_token", "")
    if not token:
        return _error(401, "M_UNAUTHORIZED", "Missing hs_token: send Authorization: Bearer <hs_token>.")
    if not hmac.compare_digest(token.encode(), hs_token.encode()):
        return _error(403, "M_FORBIDDEN", "Invalid hs_token: it does not match the bridge's registration.")
    return None


class TransactionEndpoint:
    """Handles ``PUT /_matrix/app/v1/transactions/{txnId}`` for one registration."""

    def __init__(
        self,
        *,
        hs_token: str,
        on_presence: PresenceHandler,
        log: TransactionLog | None = None,
        clock: Callable[[], float] = time.time,
        backlog_rule: BacklogRule | None = None,
        on_events: EventHandler | None = None,
    ) -> None:
        if not hs_token:
            raise ValueError("hs_token is empty: pass the hs_token of the bridge's appservice registration")
        self._hs_token = hs_token
        self._on_presence = on_presence
        self._on_events = on_events
        self._log = log if log is not None else MemoryTransactionLog()
        self._clock = clock
        self.backlog_rule = backlog_rule or BacklogRule(started_at=clock())
        self._seen_users: set[str] = set()
        # One transaction at a time, so a retry that overlaps its original is seen as a repeat.
        self._lock = asyncio.Lock()

    async def put_transaction(self, request: Request) -> JSONResponse:
        rejected = _token_error(request, self._hs_token)
        if rejected is not None:
            logger.warning("Rejected an appservice transaction from %s: %s", _client(request), rejected.status_code)
            return rejected
        txn_id = request.path_params["txn_id"]
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "M_NOT_JSON", f"Transaction {txn_id} is not valid JSON.")
        if not isinstance(body, dict):
            return _error(400, "M_BAD_JSON", f"Transaction {txn_id} is not a JSON object.")

        async with self._lock:
            if await self._log.contains(txn_id):
                logger.debug("Transaction %s was already handled; returning 200 again", txn_id)
                return JSONResponse({})
            seen_users = set(self._seen_users)
            updates = parse_presence_updates(
                body,
                txn_id=txn_id,
                received_at=self._clock(),
                backlog_rule=self.backlog_rule,
                seen_users=seen_users,
            )
            events = body.get("events")
            room_events = events if isinstance(events, list) and self._on_events is not None else []
            if updates or room_events:
                try:
                    if room_events and self._on_events is not None:
                        await self._on_events(room_events)
                    if updates:
                        await self._on_presence(updates)
                except Exception:
                    logger.exception("The presence handler failed on transaction %s; the homeserver will retry", txn_id)
                    return _error(500, "M_UNKNOWN", f"Transaction {txn_id} could not be handled; retry later.")
            await self._log.add(txn_id)
            self._seen_users = seen_users
        return JSONResponse({})

    async def ping(self, request: Request) -> JSONResponse:
        rejected = _token_error(request, self._hs_token)
        return rejected if rejected is not None else JSONResponse({})

    async def query_not_found(self, request: Request) -> JSONResponse:
        """Return 404 for user and alias queries: the bridge creates no users or rooms on demand."""
        rejected = _token_error(request, self._hs_token)
        if rejected is not None:
            return rejected
        return _error(404, "M_NOT_FOUND", "presence-bridge provides no users or rooms of its own.")

    @property
    def http_prefix(self) -> str:
        """The path the homeserver calls under, for the ``run`` process's HTTP server."""
        return APPSERVICE_PREFIX

    def http_routes(self) -> list[BaseRoute]:
        """Return the routes relative to :attr:`http_prefix`."""
        return [
            Route("/transactions/{txn_id}", self.put_transaction, methods=["PUT"]),
            Route("/ping", self.ping, methods=["POST"]),
            Route("/users/{user_id}", self.query_not_found, methods=["GET"]),
            Route("/rooms/{alias}", self.query_not_found, methods=["GET"]),
        ]

    def routes(self) -> list[BaseRoute]:
        """Return the routes mounted at :attr:`http_prefix`, for an app of their own."""
        return [Mount(APPSERVICE_PREFIX, routes=self.http_routes())]

def appservice_routes(
    *,
    hs_token: str,
    on_presence: PresenceHandler,
    log: TransactionLog | None = None,
    clock: Callable[[], float] = time.time,
    backlog_rule: BacklogRule | None = None,
) -> list[BaseRoute]:
    """Return the appservice routes, to mount at the root of the bridge's ASGI server."""
    endpoint = TransactionEndpoint(
        hs_token=hs_token, on_presence=on_presence, log=log, clock=clock, backlog_rule=backlog_rule
    )
    return endpoint.routes()


def _client(request: Request) -> str:
    return request.client.host if request.client else "an unknown address"
