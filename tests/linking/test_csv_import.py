"""CSV import of identity links: good rows are linked, every bad row is reported with its line."""

from __future__ import annotations

from presence_bridge.core.ids import ChatIdentity, Platform
from presence_bridge.linking.csv_import import import_links, parse_csv
from presence_bridge.storage import Store

GOOD_AND_BAD = """platform,chat user id,nextcloud user id,workspace
slack,U0ALICE,alice,T1
matrix,@bob:example.org,bob

# a comment
irc,nick,carol
slack,U0CAROL,carol
slack,alice,alice,T1
matrix,@Dave:example.org,dave
matrix,@dave:example.org,dave,other.org
slack,U0ALICE,alice2,T1
slack,U0ALICE2,alice,T1
slack,U0EVE,eve/x,T1
slack,U0FRANK
"""


def test_parse_reports_each_bad_row() -> None:
    rows, rejected = parse_csv(GOOD_AND_BAD.splitlines(keepends=True))

    assert [(row.line, row.identity.user_id, row.nextcloud_user_id) for row in rows] == [
        (2, "U0ALICE", "alice"),
        (3, "@bob:example.org", "bob"),
    ]
    assert rows[1].identity == ChatIdentity(Platform.MATRIX, "example.org", "@bob:example.org")
    reasons = {row.line: row.reason for row in rejected}
    assert sorted(reasons) == [6, 7, 8, 9, 10, 11, 12, 13, 14]
    assert "invalid platform 'irc'" in reasons[6]
    assert "workspace (the Slack team id" in reasons[7]
    assert "invalid Slack user id 'alice'" in reasons[8]
    assert "localpart may contain only" in reasons[9]
    assert "differs from the homeserver" in reasons[10]
    assert "already linked on line 2" in reasons[11]
    assert "Nextcloud user 'alice' is already linked on line 2" in reasons[12]
    assert "invalid Nextcloud user id 'eve/x'" in reasons[13]
    assert "expected 3 or 4 columns" in reasons[14]


def test_default_workspace_fills_slack_rows() -> None:
    rows, rejected = parse_csv(["slack,U0CAROL,carol\n"], default_workspace="T9")
    assert rejected == []
    assert rows[0].identity == ChatIdentity(Platform.SLACK, "T9", "U0CAROL")


async def test_import_links_and_rejects_conflicts(store: Store) -> None:
    await store.link(ChatIdentity(Platform.SLACK, "T1", "U0OTHER"), "bob")
    await store.link(ChatIdentity(Platform.SLACK, "T1", "U0ALICE"), "alice")
    text = "slack,U0ALICE,alice,T1\nslack,U0BOB,bob,T1\nmatrix,@bob:example.org,bob\nslack,bad,x,T1\n"

    report = await import_links(store, text.splitlines(keepends=True))

    assert [row.line for row in report.linked] == [3]
    assert [row.line for row in report.unchanged] == [1]
    assert [row.line for row in report.rejected] == [2, 4]
    assert "already linked to slack user 'U0OTHER'" in report.rejected[0].reason
    link = await store.get_link(ChatIdentity(Platform.MATRIX, "example.org", "@bob:example.org"))
    assert link is not None
    assert link.nextcloud_user_id == "bob"
    assert not link.has_credentials
    audit = await store.list_audit(nextcloud_user_id="bob")
    assert [entry.action for entry in audit] == ["import-link"]
