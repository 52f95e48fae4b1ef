"""Writes a mirrored Nextcloud status to a Matrix user's presence and status message.

:meth:`MatrixPresenceWriter.apply` is the write half of the Matrix chat platform:
it turns a :class:`~presence_bridge.sync.platform.ChatWrite` into presence through
the appservice route and reports the outcome as an apply result.

Nextcloud ``dnd`` and ``busy`` go out as MSC3026 busy where allowed (``msc3026`` is
``on``, or ``auto`` and ``/versions`` advertises it), otherwise as ``unavailable``.
Before each write the writer reads the user's current presence: when it is busy and
the new state is not, busy is cleared on every device, because a plain write leaves
a user busy whose client synced while busy.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from presence_bridge.core.mapping_common import MappingOptions, PredefinedLookup
from presence_bridge.core.mapping_matrix import nextcloud_to_matrix
from presence_bridge.core.status import MatrixPresence
from presence_bridge.errors import MatrixError
from presence_bridge.matrix.appservice_client import AppserviceClient, failure_for, presence_state
from presence_bridge.matrix.echo import EchoFilter
from presence_bridge.matrix.presence_events import BUSY_STATE
from presence_bridge.sync.platform import Applied, ApplyResult, ChatWrite

logger = logging.getLogger(__name__)


class MatrixPresenceWriter:
    """Sets mirrored presence for Matrix users through one :class:`AppserviceClient`.

    ``msc3026`` is ``auto`` (read ``/versions`` once and keep the result), ``on``
    or ``off``.  With ``on`` on a homeserver without MSC3026, busy writes fail with
    a permanent 400.  Each successful write is recorded in ``echo_filter``, when
    given, so the update the homeserver pushes back is recognised.
    """

    def __init__(
        self,
        client: AppserviceClient,
        *,
        msc3026: str = "auto",
        options: MappingOptions | None = None,
        predefined: PredefinedLookup | None = None,
        clock: Callable[[], float] = time.time,
        echo_filter: EchoFilter | None = None,
    ) -> None:
        if msc3026 not in ("auto", "on", "off"):
            raise ValueError(f"invalid msc3026 mode {msc3026!r}: use auto, on or off")
        self._client = client
        self._busy_supported: bool | None = {"on": True, "off": False}.get(msc3026)
        self._options = options or MappingOptions()
        self._predefined = predefined or {}
        self._clock = clock
        self._echo_filter = echo_filter

    async def busy_supported(self) -> bool:
        """Return whether busy may be sent; in ``auto`` mode the first call reads ``/versions``."""
        if self._busy_supported is None:
            self._busy_supported = await self._client.supports_busy()
            logger.info("The homeserver %s MSC3026 busy presence", "supports" if self._busy_supported else "lacks")
        return self._busy_supported

    async def write(self, user_id: str, desired: MatrixPresence) -> None:
        """Make ``user_id`` show ``desired``; raises :class:`MatrixError` when the homeserver fails."""
        state = presence_state(desired, busy_supported=await self.busy_supported())
        current = await self._client.get_presence(user_id)
        # Recorded before sending: the homeserver may push the change back before the PUT returns.
        if self._echo_filter is not None:
            sent = MatrixPresence(desired.presence, desired.status_msg, busy=state == BUSY_STATE)
            self._echo_filter.record_write(user_id, sent)
        if current.state == BUSY_STATE and state != BUSY_STATE:
            await self._client.clear_busy(user_id, state, desired.status_msg)
        else:
            await self._client.set_presence(user_id, state, desired.status_msg)

    async def apply(self, write: ChatWrite) -> ApplyResult:
        """Write ``write.desired`` to the Matrix user ``write.chat_user_id``; a failure is a result."""
        try:
            options = dataclasses.replace(self._options, msc3026_busy=await self.busy_supported())
            desired = nextcloud_to_matrix(
                write.desired, now=int(self._clock()), predefined=self._predefined, options=options
            )
            await self.write(write.chat_user_id, desired)
        except MatrixError as exc:
            logger.warning("Matrix presence write for %s failed: %s", write.chat_user_id, exc)
            return failure_for(exc)
        return Applied()
