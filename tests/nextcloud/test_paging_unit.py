"""Paging of /statuses over httpx.MockTransport, with a table that changes between pages."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from presence_bridge.nextcloud import iter_status_pages, list_statuses
from tests.nextcloud.fakes import API, Recorder, make_client, ocs, public_status


class StatusTable:
    """Rows in database order, served with limit/offset like Nextcloud; ``on_page`` may change them."""

    def __init__(self, user_ids: list[str], *, hidden: bool = False) -> None:
        self.rows = [public_status(user_id) for user_id in user_ids]
        self.hidden = hidden
        self.on_page: Callable[[int], None] | None = None
        self.pages_served = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == f"{API}/statuses":
            limit = int(request.url.params["limit"])
            offset = int(request.url.params["offset"])
            page = [] if self.hidden else self.rows[offset : offset + limit]
            self.pages_served += 1
            if self.on_page:
                self.on_page(self.pages_served)
            return ocs(page)
        if path == "/ocs/v2.php/cloud/user":
            return ocs({"id": "reader", "display-name": "Reader", "email": None, "language": "en", "locale": ""})
        if path.startswith(f"{API}/statuses/"):
            user_id = path.rsplit("/", 1)[1]
            for row in self.rows:
                if row["userId"] == user_id:
                    return ocs(row)
            return ocs([], status=404, message="No status for the requested userId")
        raise AssertionError(f"unexpected request {request.method} {path}")


async def test_sweep_stops_at_short_page() -> None:
    table = StatusTable([f"u{index}" for index in range(5)])
    client = make_client(Recorder(table))

    listing = await list_statuses(client, limit=2)

    assert list(listing.users) == ["u0", "u1", "u2", "u3", "u4"]
    assert listing.pages == 3
    assert listing.requests == 3
    assert not listing.hidden


async def test_full_last_page_needs_one_more_request() -> None:
    """Without a total count, an exactly full last page is followed by an empty one."""
    client = make_client(Recorder(StatusTable(["a", "b", "c", "d"])))

    listing = await list_statuses(client, limit=2)

    assert listing.pages == 3
    assert len(listing.users) == 4


async def test_backups_kept_apart() -> None:
    table = StatusTable(["carol", "_bob", "dave", "bob"])
    client = make_client(Recorder(table))

    listing = await list_statuses(client, limit=10)

    assert set(listing.users) == {"carol", "dave", "bob"}
    assert set(listing.backups) == {"bob"}
    assert listing.backups["bob"].user_id == "_bob"


async def test_moved_row_deduplicated_newest_wins() -> None:
    """A user whose row moves to the end during the sweep is counted once, with the later row."""
    table = StatusTable(["a", "b", "c", "d", "e"])

    def move_a_after_first_page(pages_served: int) -> None:
        if pages_served == 1:
            old = table.rows.pop(0)
            table.rows.insert(0, public_status("_a", old["status"]))
            table.rows.append(public_status("a", "dnd", message="In a call"))

    table.on_page = move_a_after_first_page
    client = make_client(Recorder(table))

    listing = await list_statuses(client, limit=2)

    assert sorted(listing.users) == ["a", "b", "c", "d", "e"]
    assert listing.users["a"].status == "dnd"
    assert listing.duplicates == 1


async def test_page_iterator_marks_repeats() -> None:
    table = StatusTable(["a", "b", "c"])

    def duplicate_b(pages_served: int) -> None:
        if pages_served == 1:
            table.rows.insert(2, public_status("b", "away"))

    table.on_page = duplicate_b
    client = make_client(Recorder(table))

    pages = [page async for page in iter_status_pages(client, limit=2)]

    assert [page.offset for page in pages] == [0, 2, 4]
    assert pages[1].repeated == frozenset({"b"})


async def test_offset_ignored_stops_sweep() -> None:
    """A server that ignores offset would loop forever; the sweep stops with a warning."""
    def same_page(request: httpx.Request) -> httpx.Response:
        return ocs([public_status("a"), public_status("b")])

    recorder = Recorder(same_page)
    client = make_client(recorder)

    listing = await list_statuses(client, limit=2)

    assert len(recorder.requests) == 2
    assert set(listing.users) == {"a", "b"}


async def test_hidden_confirmed_by_own_row() -> None:
    """An empty list while the reading account has a row means enumeration is restricted."""
    table = StatusTable(["alice", "reader"], hidden=True)
    recorder = Recorder(table)
    client = make_client(recorder)

    listing = await list_statuses(client, limit=100)

    assert listing.hidden
    assert listing.hidden_confirmed
    assert listing.users == {}
    assert [request.url.path for request in recorder.requests][-1] == f"{API}/statuses/reader"
    assert listing.requests == 3


async def test_hidden_unconfirmed_without_own_row() -> None:
    """Without an own row, an empty list is still reported hidden, but not confirmed."""
    table = StatusTable([], hidden=False)
    client = make_client(Recorder(table))

    listing = await list_statuses(client, limit=100, own_user_id="reader")

    assert listing.hidden
    assert not listing.hidden_confirmed
    assert listing.requests == 2


@pytest.mark.parametrize("limit", [0, -1])
async def test_invalid_limit_rejected(limit: int) -> None:
    from presence_bridge.errors import NextcloudValidationError

    recorder = Recorder(StatusTable(["a"]))
    client = make_client(recorder)
    with pytest.raises(NextcloudValidationError):
        await list_statuses(client, limit=limit)
    assert recorder.requests == []
