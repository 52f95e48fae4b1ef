"""Reading the whole ``/statuses`` list in pages, the way a sync worker can rely on.

What Nextcloud 31 does, and how this module handles it:

* The list has no ORDER BY.  It follows the database's row order, and a user
  whose row is replaced (an automation saves a backup) moves to the end, so
  limit/offset paging can return a user twice or, when a row is deleted,
  skip one.  Repeated users are de-duplicated, the later row winning because
  it is the newer one.  A skipped user is only seen on the next sweep.
* Backup rows (user id ``_alice``) are part of the list.  They are returned
  apart from the users and never as a user.
* There is no total count: paging stops at the first page shorter than the limit.
* When the admin restricts user enumeration, Nextcloud returns an empty list for
  every page (HTTP 200) although ``/statuses/{userId}`` still works.

Telling "hidden" from "no rows": an unrestricted list contains every row, so
it cannot be empty while the reading account itself has a status row.  On an
empty list, :func:`list_statuses` therefore reads ``/statuses/{own user id}``.
A 200 proves the list is hidden (``hidden_confirmed``).  A 404 means the account
has no row, so the two cases look the same; the listing is then still reported
as ``hidden``, because falling back to per-user reads gives the right result in
both cases and is only slower.  Give the reading account a status row (a
heartbeat or a status change creates one, and a user-set ``invisible`` never
expires) to make the result exact.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from presence_bridge.errors import NextcloudNotFound
from presence_bridge.nextcloud.client import NextcloudClient
from presence_bridge.nextcloud.models import PublicStatus

logger = logging.getLogger(__name__)

DEFAULT_PAGE_LIMIT = 5000
"""Rows per request.  Each request costs a fixed server-side start-up, so large pages are much
faster than small ones.  Measured with Nextcloud 31, SQLite and the PHP built-in server on a 2-core
machine: about 16 ms per request, and 100,000 rows took 1.4 s at 5000 per page but 20 s at 100.
Nextcloud sets no maximum."""


@dataclass(frozen=True, slots=True)
class StatusPage:
    """One page of ``/statuses`` split into users and backup rows, in server order.

    ``repeated`` lists the user ids (and backup ids, with their ``_``) that an
    earlier page of the same sweep already returned.
    """

    offset: int
    limit: int
    users: tuple[PublicStatus, ...]
    backups: tuple[PublicStatus, ...]
    repeated: frozenset[str]

    @property
    def size(self) -> int:
        return len(self.users) + len(self.backups)


@dataclass(frozen=True, slots=True)
class StatusListing:
    """The de-duplicated result of a full sweep.

    ``backups`` is keyed by the owner's user id (``alice`` for the row ``_alice``).
    When ``hidden`` is true the list was empty and the caller should read the
    users it cares about one by one (``/statuses/{userId}``).  ``requests``
    counts every HTTP request the sweep sent, retries and the probe included.
    """

    users: Mapping[str, PublicStatus]
    backups: Mapping[str, PublicStatus]
    hidden: bool
    hidden_confirmed: bool
    pages: int
    requests: int
    duplicates: int


async def iter_status_pages(client: NextcloudClient, *, limit: int = DEFAULT_PAGE_LIMIT) -> AsyncIterator[StatusPage]:
    """Yield the pages of ``/statuses`` from offset 0 until a page is shorter than ``limit``.

    A user may appear on two pages (see the module docstring); the later row is
    the newer one.  A full page made only of rows already seen means the server
    ignores ``offset``, and the sweep stops there with a warning instead of
    looping forever.
    """
    seen: set[str] = set()
    offset = 0
    while True:
        rows = await client.get_statuses_page(limit, offset)
        repeated = frozenset(row.user_id for row in rows if row.user_id in seen)
        seen.update(row.user_id for row in rows)
        yield StatusPage(
            offset=offset,
            limit=limit,
            users=tuple(row for row in rows if not row.is_backup),
            backups=tuple(row for row in rows if row.is_backup),
            repeated=repeated,
        )
        if len(rows) < limit:
            return
        if len(repeated) == len(rows):
            logger.warning(
                "stopping the /statuses sweep at offset %d: the full page repeated only rows already seen, "
                "so the server seems to ignore the offset",
                offset,
            )
            return
        offset += limit


async def _own_row_exists(client: NextcloudClient, own_user_id: str | None) -> bool:
    user_id = own_user_id or (await client.get_user()).id
    try:
        await client.get_user_status(user_id)
    except NextcloudNotFound:
        return False
    return True


async def list_statuses(
    client: NextcloudClient, *, limit: int = DEFAULT_PAGE_LIMIT, own_user_id: str | None = None
) -> StatusListing:
    """Read every status row and tell whether Nextcloud hid the list (see the module docstring).

    ``own_user_id`` is the reading account's user id.  When it is None and the
    list is empty, the client reads it from ``/cloud/user`` with one extra request.
    """
    requests_before = client.requests_sent
    users: dict[str, PublicStatus] = {}
    backups: dict[str, PublicStatus] = {}
    pages = 0
    duplicates = 0
    async for page in iter_status_pages(client, limit=limit):
        pages += 1
        duplicates += len(page.repeated)
        for row in page.users:
            users[row.user_id] = row
        for row in page.backups:
            backups[row.user_id[1:]] = row

    hidden = False
    hidden_confirmed = False
    if not users and not backups:
        hidden = True
        hidden_confirmed = await _own_row_exists(client, own_user_id)
        logger.info(
            "the /statuses list is empty; %s, so statuses must be read per user",
            "user enumeration is restricted"
            if hidden_confirmed
            else "either no user has a status or user enumeration is restricted (the reading account has no row)",
        )
    return StatusListing(
        users=users,
        backups=backups,
        hidden=hidden,
        hidden_confirmed=hidden_confirmed,
        pages=pages,
        requests=client.requests_sent - requests_before,
        duplicates=duplicates,
    )
