"""Identifier types, so a Slack user id can never be passed where a Nextcloud user id is expected.

``NewType`` makes the mix-up a type error for mypy at no run-time cost.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NewType

NextcloudUserId = NewType("NextcloudUserId", str)
"""A Nextcloud user id (case-sensitive, as in ``/statuses/{userId}``)."""

SlackUserId = NewType("SlackUserId", str)
"""A Slack user id such as ``U012AB3CD``."""

SlackTeamId = NewType("SlackTeamId", str)
"""A Slack workspace (team) id such as ``T012AB3CD``."""

MatrixUserId = NewType("MatrixUserId", str)
"""A fully qualified Matrix user id such as ``@alice:example.org``."""


class Platform(enum.StrEnum):
    """A chat platform the bridge mirrors Nextcloud status to."""

    SLACK = "slack"
    MATRIX = "matrix"
    RECORDING = "recording"


@dataclass(frozen=True, slots=True)
class ChatIdentity:
    """One person on one chat platform.

    ``workspace`` is the Slack team id or the Matrix homeserver name, so that the
    same user id on two workspaces is two identities.
    """

    platform: Platform
    workspace: str
    user_id: str

    def __str__(self) -> str:
        return f"{self.platform.value}:{self.workspace}:{self.user_id}"
