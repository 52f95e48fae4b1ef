"""Purging links of people who are gone: deleted Nextcloud users and deactivated chat accounts.

A Nextcloud user counts as deleted only when ``GET /ocs/v2.php/cloud/users/{id}``
returns OCS status 404 ("User does not exist").  Nextcloud 31 returns HTTP 404
with OCS status 998 when the reading account may not see that user, and a
user the bridge cannot see is not purged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ..core.ids import ChatIdentity
from ..errors import NextcloudError, NextcloudNotFound, NextcloudUnauthorized, NextcloudUnavailable
from ..nextcloud import ApiRequest, NextcloudClient
from ..nextcloud.validation import validate_path_segment
from ..storage import ForgottenLink, Store

logger = logging.getLogger(__name__)

OCS_USER_DOES_NOT_EXIST = 404
NEXTCLOUD_USER_GONE = "the Nextcloud user no longer exists"
CHAT_ACCOUNT_DEACTIVATED = "the chat account was deactivated"


Revoke = Callable[[ForgottenLink | None], Awaitable[Any]]


@dataclass(slots=True)
class PurgeReport:
    """The outcome of one purge run, as (who, text) pairs.

    ``purged`` pairs each purged user with the reason, ``unchecked`` each
    Nextcloud user whose existence could not be read with the problem, and
    ``revoke_problems`` each deactivated chat account whose app password was
    not revoked with the cause.
    """

    purged: list[tuple[str, str]] = field(default_factory=list)
    unchecked: list[tuple[str, str]] = field(default_factory=list)
    revoke_problems: list[tuple[str, str]] = field(default_factory=list)


def user_lookup_request(user_id: str) -> ApiRequest[Any]:
    """Build ``GET /cloud/users/{id}``, whose 404 with OCS status 404 means the user does not exist."""
    checked = validate_path_segment(user_id, "the user id")
    return ApiRequest(
        "GET",
        f"/ocs/v2.php/cloud/users/{quote(checked, safe='')}",
        action=f"read the account of {checked}",
        parse=lambda data: data,
    )


async def nextcloud_user_exists(reader: NextcloudClient, user_id: str) -> bool:
    """Return whether ``user_id`` exists; raise the lookup's error when the result is unclear.

    Only a 404 with OCS status 404 returns False.  A 404 with OCS status 998
    (not allowed to read the user, or an unknown route) is raised.
    """
    try:
        await reader.execute(user_lookup_request(user_id))
    except NextcloudNotFound as error:
        if error.ocs_status == OCS_USER_DOES_NOT_EXIST:
            return False
        raise
    return True


async def purge_gone_users(
    store: Store,
    reader: NextcloudClient,
    *,
    deactivated: Iterable[ChatIdentity] = (),
    revoke: Revoke,
) -> PurgeReport:
    """Purge every deactivated chat identity, then every linked Nextcloud user that no longer exists.

    Each purge keeps one audit entry with its reason.  ``revoke`` revokes the
    app password of a deactivated chat account's link (the Nextcloud account
    still exists).  A 401 or an unreachable server stops the run and is raised,
    so a wrong read credential is not tried once per user.
    """
    report = PurgeReport()
    for identity in deactivated:
        forgotten = await store.purge_gone_user(identity, CHAT_ACCOUNT_DEACTIVATED)
        report.purged.append((str(identity), CHAT_ACCOUNT_DEACTIVATED))
        for link in forgotten:
            result = await revoke(link)
            problem = getattr(result, "revoke_problem", None)
            if problem:
                report.revoke_problems.append((str(identity), problem))

    user_ids = sorted({link.nextcloud_user_id for link in await store.list_links()})
    for user_id in user_ids:
        try:
            exists = await nextcloud_user_exists(reader, user_id)
        except (NextcloudUnauthorized, NextcloudUnavailable):
            raise
        except NextcloudError as error:
            logger.warning("Cannot tell whether Nextcloud user %s still exists: %s", user_id, error)
            report.unchecked.append((user_id, _unchecked_reason(error)))
            continue
        if not exists:
            # The account and its app passwords are gone, so there is nothing to revoke.
            await store.purge_gone_user(user_id, NEXTCLOUD_USER_GONE)
            report.purged.append((user_id, NEXTCLOUD_USER_GONE))
    if report.purged:
        logger.info("Purged %d users who are gone", len(report.purged))
    return report


def _unchecked_reason(error: NextcloudError) -> str:
    if isinstance(error, NextcloudNotFound):
        return (
            f"{error}. The bridge's account may not read this user: make it an admin, "
            "or a subadmin of the user's groups"
        )
    return str(error)
