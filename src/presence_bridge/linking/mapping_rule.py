"""Implicit Matrix links: mirror every Nextcloud user to a Matrix user id made from a template.

With ``matrix_user_template = "@{nextcloud_user}:example.org"`` in ``[linking]``,
Nextcloud user ``alice`` is mirrored to ``@alice:example.org`` without anyone
linking by hand.  ``{nextcloud_user_lower}`` inserts the id in lower case, as
homeservers that create accounts from the same directory usually do.

A Nextcloud id that does not fit, e.g. one with an upper-case letter, a space or
an ``@``, is skipped with a logged reason, never escaped.  Escaping would
produce ids that the homeserver's own accounts do not use, and the appservice
would then mirror to users who do not exist.  Such a user can still link by hand.

An implicit link has no credentials, so it mirrors Nextcloud -> Matrix only.
Explicit links win: a Nextcloud user with any explicit Matrix link, or a Matrix
id explicitly linked to someone else, gets no implicit link.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from ..core.ids import ChatIdentity, NextcloudUserId, Platform
from ..storage import Link, Store, SyncDirection
from .matrix_template import (
    PLACEHOLDER,
    PLACEHOLDER_LOWER,
    MatrixUserRule,
    matrix_server_name,
    matrix_user_id_problem,
)

logger = logging.getLogger(__name__)

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


def implicit_targets(
    rule: MatrixUserRule | None, matrix_links: Iterable[Link], nextcloud_user_ids: Iterable[str]
) -> list[MirrorTarget]:
    """Return the implicit Matrix targets the rule makes for ``nextcloud_user_ids``, without reading the store.

    ``matrix_links`` must include every explicit Matrix link of these users and
    the link of every Matrix id the rule makes for them, because those links
    decide who gets no implicit target.  Other links in it are ignored.  Ids
    that start with ``_`` are Nextcloud's backup rows and are skipped.
    """
    if rule is None:
        return []
    matrix = [link for link in matrix_links if link.identity.platform is Platform.MATRIX]
    explicit_users = {link.nextcloud_user_id for link in matrix}
    linked_identities = {link.identity for link in matrix}
    targets = []
    for user_id in dict.fromkeys(nextcloud_user_ids):
        if user_id.startswith("_") or user_id in explicit_users:
            continue
        identity = implicit_matrix_identity(rule, user_id)
        if identity is None or identity in linked_identities:
            continue
        targets.append(MirrorTarget(identity, NextcloudUserId(user_id), SyncDirection.TO_CHAT, None))
    return targets


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
    return targets + implicit_targets(rule, links, nextcloud_user_ids)
