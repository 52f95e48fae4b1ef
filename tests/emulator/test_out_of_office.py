"""Out-of-office periods and the user-status automation job of the emulator, over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from presence_bridge.emulator.accounts import User
from tests.emulator.conftest import Emulator, OCS_HEADERS

NOW = 1796411760
"""2026-12-04 19:16:00 UTC, the emulator's frozen clock in these tests."""

OOO = "/ocs/v2.php/apps/dav/api/v1/outOfOffice"
VACATION = {"firstDay": "2026-12-04", "lastDay": "2026-12-05", "status": "On vacation", "message": "Back next week"}


@pytest.fixture(autouse=True)
def accounts(server: Emulator) -> None:
    state = server.state
    state.reset()
    state.add_users([User(uid, f"{uid.title()} Test", app_passwords={f"{uid}-app"}) for uid in ("alice", "bob")])
    state.clock.set(NOW)
    state.clock.freeze()


def ocs(server: Emulator, method: str, path: str, user: str = "bob", **kwargs: Any) -> httpx.Response:
    return server.http.request(method, server.base_url + path, auth=(user, f"{user}-app"), headers=OCS_HEADERS, **kwargs)


def set_absence(server: Emulator, body: dict[str, Any] | None = None) -> httpx.Response:
    return ocs(server, "POST", f"{OOO}/bob", json=body or VACATION)


def run_job(server: Emulator, user: str | None = None) -> dict[str, str]:
    body = {"user": user} if user else None
    response = server.http.post(server.base_url + "/_emulator/jobs/user-status-automation", json=body)
    assert response.status_code == 200, response.text
    ran: dict[str, str] = response.json()["ran"]
    return ran


def own_status(server: Emulator, user: str = "bob") -> dict[str, Any]:
    response = ocs(server, "GET", "/ocs/v2.php/apps/user_status/api/v1/user_status", user)
    assert response.status_code == 200, response.text
    status: dict[str, Any] = response.json()["ocs"]["data"]
    return status


def set_deep_work(server: Emulator) -> None:
    server.state.set_status("bob", "dnd")
    server.state.set_custom_message("bob", "🔕", "Deep work", None)


def test_post_and_get_shapes(server: Emulator) -> None:
    """POST and GET return the stored absence with an integer id; /now uses Unix times and a string id."""
    created = set_absence(server)
    assert created.status_code == 200
    stored = created.json()["ocs"]["data"]
    assert stored == {
        "id": 1,
        "userId": "bob",
        **VACATION,
        "replacementUserId": None,
        "replacementUserDisplayName": None,
    }
    assert ocs(server, "GET", f"{OOO}/bob", "alice").json()["ocs"]["data"] == stored

    now = ocs(server, "GET", f"{OOO}/bob/now").json()["ocs"]["data"]
    assert now == {
        "id": "1",
        "userId": "bob",
        "startDate": 1796342400,
        "endDate": 1796515140,
        "shortMessage": "On vacation",
        "message": "Back next week",
        "replacementUserId": "",
        "replacementUserDisplayName": "",
    }


def test_post_updates_in_place(server: Emulator) -> None:
    """A second POST replaces the absence and keeps its id."""
    set_absence(server)
    updated = set_absence(server, {**VACATION, "status": "Away"}).json()["ocs"]["data"]
    assert updated["id"] == 1
    assert updated["status"] == "Away"


def test_post_changes_nothing_until_job(server: Emulator) -> None:
    """Setting an absence leaves the status alone; the job then sets dnd + out-of-office with a backup."""
    set_deep_work(server)
    set_absence(server)
    assert own_status(server)["message"] == "Deep work"

    assert run_job(server, "bob") == {"bob": "set"}
    status = own_status(server)
    assert status["status"] == "dnd"
    assert status["messageId"] == "out-of-office"
    assert status["message"] == "On vacation"
    assert status["icon"] == "🛑"
    assert status["clearAt"] is None
    backup = ocs(server, "GET", "/ocs/v2.php/apps/user_status/api/v1/statuses/_bob", "alice").json()["ocs"]["data"]
    assert backup["message"] == "Deep work"

    heartbeat = ocs(server, "PUT", "/ocs/v2.php/apps/user_status/api/v1/heartbeat", data={"status": "online"})
    assert heartbeat.status_code == 204


def test_delete_reverts_at_once(server: Emulator) -> None:
    """Clearing the absence restores the previous status without a job run."""
    set_deep_work(server)
    set_absence(server)
    run_job(server)
    cleared = ocs(server, "DELETE", f"{OOO}/bob")
    assert cleared.status_code == 200
    assert cleared.json()["ocs"]["data"] is None
    status = own_status(server)
    assert status["message"] == "Deep work"
    assert status["messageId"] is None
    assert ocs(server, "GET", f"{OOO}/bob").status_code == 404


def test_job_reverts_after_absence_ends(server: Emulator) -> None:
    """Once the last day is over, the next job run restores the previous status."""
    set_deep_work(server)
    set_absence(server)
    run_job(server)
    server.state.clock.set(1796515140 + 60)
    assert run_job(server) == {"bob": "reverted"}
    assert own_status(server)["message"] == "Deep work"


def test_future_absence(server: Emulator) -> None:
    """An absence that has not started is stored, but /now is 404 and the job sets nothing."""
    set_absence(server, {**VACATION, "firstDay": "2026-12-10", "lastDay": "2026-12-11"})
    now = ocs(server, "GET", f"{OOO}/bob/now")
    assert now.status_code == 404
    assert now.json()["ocs"]["data"] is None
    assert run_job(server) == {"bob": "none"}
    server.state.clock.set(1796342400 + 6 * 86400 + 60)
    assert run_job(server) == {"bob": "set"}


def test_absence_replaces_call(server: Emulator) -> None:
    """An absence replaces a call status; clearing it restores the user's own status."""
    set_deep_work(server)
    server.state.set_automated_status("bob", "call", "busy")
    set_absence(server)
    run_job(server)
    assert own_status(server)["messageId"] == "out-of-office"
    ocs(server, "DELETE", f"{OOO}/bob")
    assert own_status(server)["message"] == "Deep work"


def test_invalid_days(server: Emulator) -> None:
    """lastDay before firstDay is 400 {"error": "firstDay"}; a missing field is 500."""
    wrong_order = set_absence(server, {**VACATION, "firstDay": "2026-12-06"})
    assert wrong_order.status_code == 400
    assert wrong_order.json()["ocs"]["data"] == {"error": "firstDay"}
    missing = set_absence(server, {"firstDay": "2026-12-04", "lastDay": "2026-12-05"})
    assert missing.status_code == 500


def test_status_too_long(server: Emulator) -> None:
    """A short message over 100 characters is rejected with 400 statusLength."""
    response = set_absence(server, {**VACATION, "status": "x" * 101})
    assert response.status_code == 400
    assert response.json()["ocs"]["data"] == {"error": "statusLength"}


def test_now_for_unknown_user(server: Emulator) -> None:
    """/now for a user who does not exist returns 404."""
    assert ocs(server, "GET", f"{OOO}/nobody/now").status_code == 404
