"""Implicit Matrix links: mirror every Nextcloud user to a Matrix user id made from a template.

With ``matrix_user_template = "@{nextcloud_user}:example.org"`` in ``[linking]``,
Nextcloud user ``alice`` is mirrored to ``@alice:example.org`` without anyone
linking by hand.  ``{nextcloud_user_lower}`` inserts the id in lower case, as
homeservers that create accounts from the same directory usually do.

Matrix user ids allow only ``a-z 0-9 . _ = - / +`` in the localpart and at most
255 bytes in total (appendix "User Identifiers" of the Matrix specification).  A
Nextcloud id that does not fit, e.g. one with an upper-case letter, a space or
an ``@``, is skipped with a logged reason, never escaped.  Escaping would
produce ids that the homeserver's own accounts do not use, and the appservice
would then mirror to users who do not exist.  Such a user can still link by hand.

An implicit link has no credentials, so it mirrors Nextcloud -> Matrix only.
Explicit links win: a Nextcloud user with any explicit Matrix link, or a Matrix
id explicitly linked to someone else, gets no implicit link.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..core.ids import ChatIdentity, NextcloudUserId, Platform
from ..storage import Link, Store, SyncDirection

logger = logging.getLogger(__name__)

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


_reported: set[tuple[str, str]] = set()


def implicit_matrix_identity(rule: MatrixUserRule | None, nextcloud_user_id: str) -> ChatIdentity | None:
    """Return the Matrix identity ``rule`` makes for a Nextcloud user, or None when there is none.

    None when there is no rule, or when the result is not a valid Matrix user
    id.  The reason for a skipped id is logged once per process.
    """
    if rule is None:
        return None
    user_id = rule.render(nextcloud_user_id)
    problem = matrix_user_id_problem(user_id)
    if problem is not None:
        if (rule.template, nextcloud_user_id) not in _reported:
            _reported.add((rule.template, nextcloud_user_id))
            logger.info(
                "Nextcloud user %s is not mirrored to Matrix implicitly: %r is not a valid Matrix user id (%s); "
                "the user can still link by hand",
                nextcloud_user_id,
                user_id,
                problem,
            )
        return None
    return ChatIdentity(Platform.MATRIX, matrix_server_name(user_id), user_id)


@dataclass(frozen=True, slots=True)
class MirrorTarget:
    """A chat identity to mirror a Nextcloud user to: an explicit link, or an implicit Matrix one.

    ``link`` is the stored link (None for an implicit target).  An implicit
    target mirrors Nextcloud -> chat only.
    """

    identity: ChatIdentity
    nextcloud_user_id: NextcloudUserId
    sync_direction: SyncDirection
    link: Link | None

    @property
    def implicit(self) -> bool:
        return self.link is None


async def mirror_targets(
    store: Store,
    rule: MatrixUserRule | None,
    nextcloud_user_ids: Iterable[str],
    *,
    platform: Platform | None = None,
) -> list[MirrorTarget]:
    """Return every stored link (of ``platform``, if given), then the implicit Matrix targets.

    ``nextcloud_user_ids`` are the Nextcloud users to consider for implicit
    links, e.g. those of the last status listing.  Ids that start with ``_``
    are Nextcloud's backup rows and are skipped.
    """
    links = await store.list_links(platform=platform)
    targets = [MirrorTarget(link.identity, link.nextcloud_user_id, link.sync_direction, link) for link in links]
    if rule is None or platform not in (None, Platform.MATRIX):
        return targets
    matrix_links = [link for link in links if link.identity.platform is Platform.MATRIX]
    if platform is None:
        matrix_links = await store.list_links(platform=Platform.MATRIX)
    explicit_users = {link.nextcloud_user_id for link in matrix_links}
    linked_identities = {link.identity for link in matrix_links}
    for user_id in dict.fromkeys(nextcloud_user_ids):
        if user_id.startswith("_") or user_id in explicit_users:
            continue
        identity = implicit_matrix_identity(rule, user_id)
        if identity is None or identity in linked_identities:
            continue
        targets.append(MirrorTarget(identity, NextcloudUserId(user_id), SyncDirection.TO_CHAT, None))
    return targets
