"""Matrix user ids and the template that makes one from a Nextcloud user id.

This module imports nothing heavy, so configuration loading can check a
template.  Matrix user ids allow only ``a-z 0-9 . _ = - / +`` in the localpart
and at most 255 bytes in total (appendix "User Identifiers" of the Matrix
specification).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..core.ids import NextcloudUserId

PLACEHOLDER = "{nextcloud_user}"
PLACEHOLDER_LOWER = "{nextcloud_user_lower}"
MAX_USER_ID_BYTES = 255

_LOCALPART = re.compile(r"[a-z0-9._=\-/+]+")
_SERVER_NAME = re.compile(
    r"(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9](?:[A-Za-z0-9\-.]{0,253}[A-Za-z0-9])?)(?::[0-9]{1,5})?"
)


def matrix_user_id_problem(user_id: str) -> str | None:
    """Return why ``user_id`` is not a valid Matrix user id, or None when it is."""
    if len(user_id.encode()) > MAX_USER_ID_BYTES:
        return f"it is longer than {MAX_USER_ID_BYTES} bytes"
    if not user_id.startswith("@") or ":" not in user_id:
        return "it must look like @localpart:server.name"
    localpart, server_name = user_id[1:].split(":", 1)
    if not _LOCALPART.fullmatch(localpart):
        return "its localpart may contain only a-z, 0-9 and . _ = - / +"
    if not _SERVER_NAME.fullmatch(server_name):
        return f"{server_name!r} is not a valid server name"
    return None


def matrix_server_name(user_id: str) -> str:
    """Return the server name of a valid Matrix user id (the part after the first ``:``)."""
    return user_id.split(":", 1)[1]


@dataclass(frozen=True, slots=True)
class MatrixUserRule:
    """A template that turns a Nextcloud user id into a Matrix user id; build it with :meth:`parse`."""

    template: str

    @classmethod
    def parse(cls, template: str) -> MatrixUserRule:
        """Check ``template`` and return the rule; raise ValueError saying what is wrong."""
        count = template.count(PLACEHOLDER) + template.count(PLACEHOLDER_LOWER)
        if count != 1:
            raise ValueError(
                f"the template {template!r} must contain {PLACEHOLDER} or {PLACEHOLDER_LOWER} exactly once"
            )
        placeholder = PLACEHOLDER if PLACEHOLDER in template else PLACEHOLDER_LOWER
        prefix, suffix = template.split(placeholder)
        if "{" in prefix + suffix or "}" in prefix + suffix:
            raise ValueError(
                f"the template {template!r} contains an unknown placeholder; "
                f"only {PLACEHOLDER} and {PLACEHOLDER_LOWER} are allowed"
            )
        if not prefix.startswith("@") or ":" in prefix or ":" not in suffix:
            raise ValueError(
                f"the template {template!r} must have the form @...{placeholder}...:server.name, "
                "with the placeholder in the localpart"
            )
        problem = matrix_user_id_problem(prefix + "user" + suffix)
        if problem is not None:
            raise ValueError(f"the template {template!r} does not make a valid Matrix user id: {problem}")
        return cls(template)

    @property
    def server_name(self) -> str:
        """The homeserver name of every implicit identity (the workspace of its ChatIdentity)."""
        return self.template.split(":", 1)[1]

    def render(self, nextcloud_user_id: str) -> str:
        """Return the template filled in with ``nextcloud_user_id`` (not yet validated)."""
        return self.template.replace(PLACEHOLDER, nextcloud_user_id).replace(
            PLACEHOLDER_LOWER, nextcloud_user_id.lower()
        )

    def nextcloud_user_for(self, matrix_user_id: str) -> NextcloudUserId | None:
        """Return the Nextcloud user id whose implicit identity is ``matrix_user_id``, if the template allows it.

        A ``{nextcloud_user_lower}`` template cannot be reversed (``Alice`` and
        ``alice`` map to the same id), so it always returns None.
        """
        if PLACEHOLDER not in self.template:
            return None
        prefix, suffix = self.template.split(PLACEHOLDER)
        if not (matrix_user_id.startswith(prefix) and matrix_user_id.endswith(suffix)):
            return None
        middle = matrix_user_id[len(prefix) : len(matrix_user_id) - len(suffix)]
        return NextcloudUserId(middle) if middle and self.render(middle) == matrix_user_id else None
