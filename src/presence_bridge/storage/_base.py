"""The engine, clock and key ring that every part of :class:`Store` uses."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..errors import StorageError
from .crypto import SecretBox

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Return the current time as a timezone-aware UTC datetime."""
    return datetime.now(UTC)


class StoreBase:
    """Shared state of the store's parts; each part adds methods for its tables."""

    def __init__(self, engine: AsyncEngine, box: SecretBox, *, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._box = box
        self._clock = clock

    @property
    def engine(self) -> AsyncEngine:
        """The SQLAlchemy engine; its logs never contain bound parameters."""
        return self._engine

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    def now(self) -> datetime:
        """Return the store's current time (a test may replace the clock)."""
        value = self._clock()
        if value.tzinfo is None:
            raise ValueError("the store's clock must return timezone-aware datetimes")
        return value

    @asynccontextmanager
    async def _transaction(self, operation: str) -> AsyncIterator[AsyncConnection]:
        """Run the block in one transaction; database errors become :class:`StorageError`.

        ``operation`` names what failed in the error message, e.g. "claiming outbox rows".
        """
        try:
            async with self._engine.begin() as connection:
                yield connection
        except StorageError:
            raise
        except SQLAlchemyError as exc:
            # The engine hides bound parameters, so the message contains no secret.
            raise StorageError(f"{operation} failed: {_describe(exc)}") from exc
        except OSError as exc:
            raise StorageError(f"{operation} failed: {exc}") from exc


def _describe(exc: SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None)
    if original is not None:
        return f"{type(original).__name__}: {original}".strip()
    return f"{type(exc).__name__}: {exc}"
