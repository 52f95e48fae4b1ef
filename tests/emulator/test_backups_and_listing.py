"""Automated statuses with backups, revert, and the ``/statuses`` listing."""

from __future__ import annotations

from tests.emulator.conftest import NextcloudCalls


def _ids(nc: NextcloudCalls, **params: str) -> list[str]:
    return [item["userId"] for item in nc.data(nc.status("GET", "/statuses", params=params))]


def _start_call(nc: NextcloudCalls, user: str) -> None:
    nc.control("POST", "/automations", {"user": user, "message_id": "call", "status": "busy"})


def test_backup_keeps_position(nc: NextcloudCalls) -> None:
    """An automation renames the row to _uid in place and appends the new row."""
    for user in ("carol", "alice", "bob"):
        nc.status("PUT", "/heartbeat", data={"status": "online"}, user=user)

    _start_call(nc, "alice")

    assert _ids(nc) == ["carol", "_alice", "bob", "alice"]
    backup = nc.data(nc.status("GET", "/statuses/_alice", user="bob"))
    assert backup["status"] == "online"


def test_manual_revert_restores_position(nc: NextcloudCalls) -> None:
    """Reverting deletes the automated row and renames the backup back."""
    for user in ("carol", "alice", "bob"):
        nc.status("PUT", "/heartbeat", data={"status": "online"}, user=user)
    _start_call(nc, "alice")

    reverted = nc.data(nc.status("DELETE", "/user_status/revert/call"))

    assert reverted["status"] == "online"
    assert _ids(nc) == ["carol", "alice", "bob"]
    assert nc.status("GET", "/statuses/_alice").status_code == 404


def test_revert_wrong_id_empty(nc: NextcloudCalls) -> None:
    nc.status("PUT", "/heartbeat", data={"status": "online"})
    _start_call(nc, "alice")

    response = nc.status("DELETE", "/user_status/revert/meeting")

    assert response.status_code == 200
    assert nc.data(response) == []
    assert nc.status("GET", "/statuses/_alice").status_code == 200


def test_manual_revert_offline_becomes_online(nc: NextcloudCalls) -> None:
    """A manual revert of an offline backup restores online; an automatic one keeps offline."""
    nc.control("PUT", "/rows/alice", {"status": "offline"})
    nc.control("PUT", "/rows/bob", {"status": "offline"})
    _start_call(nc, "alice")
    _start_call(nc, "bob")

    manual = nc.data(nc.status("DELETE", "/user_status/revert/call"))
    automatic = nc.control("DELETE", "/automations/bob/call")

    assert manual["status"] == "online"
    assert automatic["row"]["status"] == "offline"


def test_manual_write_deletes_backup(nc: NextcloudCalls) -> None:
    """After a manual PUT the revert finds no backup and the call message stays."""
    nc.status("PUT", "/heartbeat", data={"status": "online"})
    _start_call(nc, "alice")

    nc.status("PUT", "/user_status/status", data={"statusType": "dnd"})

    assert nc.data(nc.status("DELETE", "/user_status/revert/call")) == []
    own = nc.data(nc.status("GET", "/user_status"))
    assert (own["status"], own["messageId"], own["message"]) == ("dnd", "call", "In a call")


def test_heartbeat_during_automation_204(nc: NextcloudCalls) -> None:
    nc.status("PUT", "/heartbeat", data={"status": "online"})
    _start_call(nc, "alice")

    assert nc.status("PUT", "/heartbeat", data={"status": "online"}).status_code == 204


def test_one_automation_at_a_time(nc: NextcloudCalls) -> None:
    """A second automation while a backup exists changes nothing."""
    nc.status("PUT", "/heartbeat", data={"status": "online"})
    _start_call(nc, "alice")

    second = nc.control("POST", "/automations", {"user": "alice", "message_id": "out-of-office", "status": "dnd"})

    assert second["applied"] is False
    assert nc.data(nc.status("GET", "/user_status"))["messageId"] == "call"


def test_call_replaces_meeting_in_place(nc: NextcloudCalls) -> None:
    """A call during a calendar meeting overwrites the meeting row without a new backup."""
    nc.status("PUT", "/heartbeat", data={"status": "online"})
    nc.control("POST", "/automations", {"user": "alice", "message_id": "meeting", "status": "away"})

    _start_call(nc, "alice")

    assert _ids(nc) == ["_alice", "alice"]
    assert nc.data(nc.status("GET", "/user_status"))["messageId"] == "call"


def test_statuses_paging(nc: NextcloudCalls) -> None:
    """limit/offset slice the table; limit -1 is everything, "abc" is 0, "2.5" is 2."""
    users = ["admin", "alice", "bob", "carol", "dave"]
    for user in users:
        nc.status("PUT", "/heartbeat", data={"status": "online"}, user=user)

    assert _ids(nc, limit="2", offset="1") == ["alice", "bob"]
    assert _ids(nc, offset="3") == ["carol", "dave"]
    assert _ids(nc, limit="-1") == users
    assert _ids(nc, limit="abc") == []
    assert _ids(nc, limit="2.5") == ["admin", "alice"]
    assert nc.status("GET", "/statuses", params={"offset": "-1"}).status_code == 500


def test_enumeration_gate(nc: NextcloudCalls) -> None:
    """/statuses is empty unless enumeration is open to all; /statuses/{id} still works."""
    nc.status("PUT", "/heartbeat", data={"status": "online"})

    for mode in ("none", "group"):
        nc.control("PUT", "/settings", {"user_enumeration": mode})
        assert _ids(nc) == []
        assert nc.status("GET", "/statuses/alice").status_code == 200

    nc.control("PUT", "/settings", {"user_enumeration": "all"})
    assert _ids(nc) == ["alice"]
