"""A chat platform that appends every write it is asked to make to a JSON-lines file.

It replaces Slack and Matrix in the engine's tests and in the demo: a test
reads the file to see exactly which writes reached "chat", how often, and in which
order.  Each line is one JSON object:

- ``{"type": "write", "at", "platform", "workspace", "chat_user_id",
  "nextcloud_user_id", "kind", "desired", "fingerprint", "idempotency_key", "reason",
  "pid"}`` for :meth:`RecordingPlatform.apply` (``desired`` as
  :func:`~presence_bridge.sync.platform.status_to_json` writes it);
- ``{"type": "notify", "at", "workspace", "chat_user_id", "text", "pid"}`` for
  :meth:`RecordingPlatform.notify`.

Each line is written with a single ``write(2)`` on a file opened with ``O_APPEND``,
so several processes can share one file without interleaving lines.  The line is
in the operating system's page cache once :meth:`apply` returns, so it survives a
SIGKILL of the process (not a power loss: nothing is fsynced).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from presence_bridge.core.ids import Platform
from presence_bridge.sync.platform import (
    Applied,
    ApplyResult,
    ChatWrite,
    Reply,
    status_to_json,
)

logger = logging.getLogger(__name__)


class RecordingPlatform:
    """The recording chat platform over the file at ``path`` (created on first write).

    ``members`` maps ``(workspace, channel_id)`` to the chat user ids in that channel,
    for ``who``.  :meth:`fail_next` makes the next writes return a given result
    instead of being recorded, to test the dispatcher's retries.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        members: Mapping[tuple[str, str], Sequence[str]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self._members = {key: tuple(value) for key, value in (members or {}).items()}
        self._clock = clock
        self._planned_results: deque[ApplyResult] = deque()

    @property
    def platform(self) -> Platform:
        return Platform.RECORDING

    def set_members(self, workspace: str, channel_id: str, chat_user_ids: Sequence[str]) -> None:
        """Declare who is in a channel, as a chat platform would report it."""
        self._members[(workspace, channel_id)] = tuple(chat_user_ids)

    def fail_next(self, *results: ApplyResult) -> None:
        """Return ``results`` (in order) from the next calls to :meth:`apply` instead of recording."""
        self._planned_results.extend(results)

    async def apply(self, write: ChatWrite) -> ApplyResult:
        """Append the write as one line, or return the next result planned with :meth:`fail_next`."""
        if self._planned_results:
            result = self._planned_results.popleft()
            logger.info("Recording platform returns %s for outbox key %s", result, write.idempotency_key)
            return result
        line = {
            "type": "write",
            "at": self._clock(),
            "platform": write.platform.value,
            "workspace": write.workspace,
            "chat_user_id": write.chat_user_id,
            "nextcloud_user_id": write.nextcloud_user_id,
            "kind": write.kind.value,
            "desired": status_to_json(write.desired),
            "fingerprint": write.fingerprint,
            "idempotency_key": write.idempotency_key,
            "reason": write.reason,
            "pid": os.getpid(),
        }
        await asyncio.to_thread(self._append, line)
        return Applied()

    async def notify(self, workspace: str, chat_user_id: str, reply: Reply) -> None:
        """Append the message as one ``notify`` line."""
        line = {
            "type": "notify",
            "at": self._clock(),
            "workspace": workspace,
            "chat_user_id": chat_user_id,
            "text": reply.text,
            "pid": os.getpid(),
        }
        await asyncio.to_thread(self._append, line)

    async def channel_members(self, workspace: str, channel_id: str) -> Sequence[str]:
        """Return the members declared with :meth:`set_members` (none for an unknown channel)."""
        return self._members.get((workspace, channel_id), ())

    def _append(self, line: dict[str, Any]) -> None:
        data = (json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            written = os.write(descriptor, data)
        finally:
            os.close(descriptor)
        if written != len(data):
            # A regular file takes a short write only when the disk is full.
            raise OSError(f"wrote {written} of {len(data)} bytes to the recording file {self.path}")


def read_recording(path: Path | str, *, kind: str | None = "write") -> list[dict[str, Any]]:
    """Return the lines of a recording file as dicts, only those of ``type`` ``kind`` unless it is None.

    A missing file reads as empty.  A last line cut short (a process killed while
    writing it) is skipped.
    """
    path = Path(path)
    if not path.exists():
        return []
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            line = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if kind is None or line.get("type") == kind:
            lines.append(line)
    return lines
