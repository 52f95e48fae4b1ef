"""The :class:`Store` facade and :func:`open_store`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from types import TracebackType

from ..secret import Secret
from ._base import Clock, utc_now
from .audit import AuditMethods
from .credentials import CredentialMethods
from .crypto import SecretBox
from .engine import check_schema_current, create_engine, upgrade_engine
from .forget import ForgetMethods
from .kv import KeyValueMethods
from .links import LinkMethods
from .outbox import OutboxMethods
from .rotation import RotationMethods
from .slack import DEFAULT_STATE_LIFETIME, EncryptedInstallationStore, HashedOAuthStateStore
from .sync_state import SyncStateMethods

logger = logging.getLogger(__name__)


class Store(
    LinkMethods,
    CredentialMethods,
    SyncStateMethods,
    OutboxMethods,
    AuditMethods,
    KeyValueMethods,
    ForgetMethods,
    RotationMethods,
):
    """Everything the bridge keeps: links, credentials, sync state, outbox, audit log, leases.

    Get one from :func:`open_store`.  All methods are coroutines safe to call
    concurrently; each runs in its own transaction.  Use as ``async with`` or
    call :meth:`close` when done.
    """

    def __repr__(self) -> str:
        # The URL may contain a database password.
        return f"<Store {self.dialect} {self._engine.url.render_as_string(hide_password=True)}>"

    def slack_installation_store(self, client_id: str) -> EncryptedInstallationStore:
        """Return Bolt's installation store for the Slack app ``client_id`` over this store."""
        return EncryptedInstallationStore(self._engine, self._box, client_id, clock=self._clock)

    def slack_oauth_state_store(self, lifetime: timedelta = DEFAULT_STATE_LIFETIME) -> HashedOAuthStateStore:
        """Return Bolt's OAuth state store; a state is valid once, for ``lifetime``."""
        return HashedOAuthStateStore(self._engine, self._box, lifetime=lifetime, clock=self._clock)

    async def close(self) -> None:
        """Close every database connection."""
        await self._engine.dispose()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


async def open_store(
    url: str,
    *,
    encryption_keys: Sequence[str | Secret],
    upgrade: bool = True,
    echo: bool | str = False,
    clock: Clock = utc_now,
) -> Store:
    """Open the store at ``url``, upgrading its schema to the newest migration first.

    ``url`` is ``sqlite+aiosqlite:///path/bridge.db`` or
    ``postgresql+asyncpg://user:password@host/db``.  ``encryption_keys`` are Fernet
    keys, newest first.  Raises :class:`SecretKeyError` when the list is empty, a
    key is malformed, or no key decrypts the data already stored, and
    :class:`StorageError` when the database cannot be reached or upgraded.
    With ``upgrade=False`` the schema must already be current.
    """
    box = SecretBox(encryption_keys)
    engine = create_engine(url, echo=echo)
    store = Store(engine, box, clock=clock)
    try:
        if upgrade:
            await upgrade_engine(engine)
        else:
            await check_schema_current(engine)
        await store.check_keys()
    except BaseException:
        await engine.dispose()
        raise
    logger.debug("Opened the %s store (encryption keys: %d)", store.dialect, box.key_count)
    return store
