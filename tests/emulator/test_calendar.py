"""The CalDAV store and the calendar-driven "In a meeting" status, over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from presence_bridge.emulator.accounts import User
from presence_bridge.emulator.ical import ICalendarError, parse_events
from tests.emulator.conftest import Emulator, OCS_HEADERS

NOW = 1796411766
"""2026-12-04 19:16:06 UTC, the emulator's frozen clock in these tests."""

USER_STATUS = "/ocs/v2.php/apps/user_status/api/v1"


@pytest.fixture(autouse=True)
def accounts(server: Emulator) -> None:
    state = server.state
    state.reset()
    state.add_users([User(uid, f"{uid.title()} Test", app_passwords={f"{uid}-app"}) for uid in ("carol", "dave")])
    state.clock.set(NOW)
    state.clock.freeze()


def ics(start: int, end: int | None = None, extra: str = "TRANSP:OPAQUE") -> str:
    def stamp(unix: int) -> str:
        return datetime.fromtimestamp(unix, UTC).strftime("%Y%m%dT%H%M%SZ")

    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", "BEGIN:VEVENT", "UID:test-event"]
    lines += [f"DTSTAMP:{stamp(NOW)}", f"DTSTART:{stamp(start)}"]
    if end is not None:
        lines.append(f"DTEND:{stamp(end)}")
    lines += ["SUMMARY:Meeting", extra, "END:VEVENT", "END:VCALENDAR", ""]
    return "\r\n".join(lines)


def dav(
    server: Emulator, method: str, user: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    url = f"{server.base_url}/remote.php/dav/calendars/{path}"
    sent = {"Content-Type": "text/calendar; charset=utf-8", **(headers or {})}
    return server.http.request(method, url, auth=(user, f"{user}-app"), content=body, headers=sent)


def put_event(server: Emulator, user: str, body: str, name: str = "meeting.ics") -> None:
    response = dav(server, "PUT", user, f"{user}/personal/{name}", body)
    assert response.status_code in (201, 204), response.text


def own_status(server: Emulator, user: str) -> dict[str, Any]:
    response = server.http.get(server.base_url + USER_STATUS + "/user_status", auth=(user, f"{user}-app"), headers=OCS_HEADERS)
    assert response.status_code == 200, response.text
    status: dict[str, Any] = response.json()["ocs"]["data"]
    return status


def heartbeat(server: Emulator, user: str) -> httpx.Response:
    url = server.base_url + USER_STATUS + "/heartbeat"
    return server.http.put(url, auth=(user, f"{user}-app"), headers=OCS_HEADERS, data={"status": "online"})


def test_put_and_delete_codes(server: Emulator) -> None:
    """PUT returns 201 for a new object and 204 for a replacement, DELETE 204 and then 404."""
    body = ics(NOW - 600, NOW + 3000)
    created = dav(server, "PUT", "carol", "carol/personal/a.ics", body)
    assert created.status_code == 201
    assert created.headers["etag"].startswith('"')
    assert dav(server, "PUT", "carol", "carol/personal/a.ics", body).status_code == 204
    assert dav(server, "GET", "carol", "carol/personal/a.ics").text == body
    assert dav(server, "DELETE", "carol", "carol/personal/a.ics").status_code == 204
    assert dav(server, "DELETE", "carol", "carol/personal/a.ics").status_code == 404


def test_put_if_none_match(server: Emulator) -> None:
    """If-None-Match: * refuses to overwrite an existing object (412)."""
    put_event(server, "carol", ics(NOW, NOW + 60), "a.ics")
    response = dav(server, "PUT", "carol", "carol/personal/a.ics", ics(NOW, NOW + 60), headers={"If-None-Match": "*"})
    assert response.status_code == 412


def test_dav_access_rules(server: Emulator) -> None:
    """No credentials: 401; another user's calendar: 404; a missing calendar: 409 on PUT."""
    body = ics(NOW, NOW + 60)
    anonymous = server.http.put(f"{server.base_url}/remote.php/dav/calendars/carol/personal/a.ics", content=body)
    assert anonymous.status_code == 401
    assert "Basic" in anonymous.headers["www-authenticate"]
    assert dav(server, "PUT", "dave", "carol/personal/a.ics", body).status_code == 404
    assert dav(server, "PUT", "carol", "carol/nonexistent/a.ics", body).status_code == 409


def test_put_invalid_icalendar(server: Emulator) -> None:
    """A body that is not an iCalendar object with a VEVENT is rejected with 415."""
    assert dav(server, "PUT", "carol", "carol/personal/a.ics", "hello").status_code == 415
    no_event = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
    assert dav(server, "PUT", "carol", "carol/personal/a.ics", no_event).status_code == 415


def test_meeting_on_own_read_then_revert(server: Emulator) -> None:
    """An opaque event covering now makes a heartbeat user away + meeting; deleting it reverts."""
    assert heartbeat(server, "carol").status_code == 200
    put_event(server, "carol", ics(NOW - 600, NOW + 3000))

    status = own_status(server, "carol")
    assert status["status"] == "away"
    assert status["messageId"] == "meeting"
    assert status["message"] == "In a meeting"
    assert status["icon"] == "📅"
    assert status["statusIsUserDefined"] is True
    assert server.state.get_row("_carol") is not None

    assert dav(server, "DELETE", "carol", "carol/personal/meeting.ics").status_code == 204
    restored = own_status(server, "carol")
    assert restored["status"] == "online"
    assert restored["messageId"] is None
    assert restored["statusIsUserDefined"] is False
    assert server.state.get_row("_carol") is None


def test_heartbeat_during_meeting(server: Emulator) -> None:
    """A heartbeat during the event applies the meeting status and then returns 204."""
    heartbeat(server, "carol")
    put_event(server, "carol", ics(NOW - 600, NOW + 3000))
    assert heartbeat(server, "carol").status_code == 204
    row = server.state.get_row("carol")
    assert row is not None
    assert row.message_id == "meeting"


def test_others_reading_do_not_trigger(server: Emulator) -> None:
    """Another user reading the status does not run the calendar automation."""
    heartbeat(server, "carol")
    put_event(server, "carol", ics(NOW - 600, NOW + 3000))
    url = server.base_url + USER_STATUS + "/statuses/carol"
    response = server.http.get(url, auth=("dave", "dave-app"), headers=OCS_HEADERS)
    assert response.json()["ocs"]["data"]["status"] == "online"


def test_status_set_after_event_start_wins(server: Emulator) -> None:
    """A user who set a status after the event began keeps it."""
    server.state.set_status("dave", "online")
    put_event(server, "dave", ics(NOW - 600, NOW + 3000))
    status = own_status(server, "dave")
    assert status["status"] == "online"
    assert status["messageId"] is None


@pytest.mark.parametrize("status_type", ["dnd", "invisible"])
def test_dnd_and_invisible_are_kept(server: Emulator, status_type: str) -> None:
    """dnd and invisible users are skipped even for an event that began after their change."""
    server.state.clock.set(NOW - 3600)
    server.state.set_status("dave", status_type)
    server.state.clock.set(NOW)
    put_event(server, "dave", ics(NOW - 600, NOW + 3000))
    assert own_status(server, "dave")["status"] == status_type


def test_call_is_kept(server: Emulator) -> None:
    """A user in a call keeps the call status."""
    heartbeat(server, "carol")
    server.state.set_automated_status("carol", "call", "busy")
    put_event(server, "carol", ics(NOW - 600, NOW + 3000))
    assert own_status(server, "carol")["messageId"] == "call"


def test_transparent_event_ignored(server: Emulator) -> None:
    """A transparent event does not change the status."""
    heartbeat(server, "carol")
    put_event(server, "carol", ics(NOW - 600, NOW + 3000, extra="TRANSP:TRANSPARENT"))
    assert own_status(server, "carol")["messageId"] is None


def test_transparent_calendar_ignored(server: Emulator) -> None:
    """Events of a calendar marked transparent do not count."""
    heartbeat(server, "carol")
    response = server.http.put(f"{server.base_url}/_emulator/calendars/carol/holidays", json={"transparent": True})
    assert response.status_code == 200
    assert dav(server, "PUT", "carol", "carol/holidays/a.ics", ics(NOW - 600, NOW + 3000)).status_code == 201
    assert own_status(server, "carol")["messageId"] is None


@pytest.mark.parametrize(("offset", "busy"), [(3 * 60, True), (10 * 60, False), (-3600, False)])
def test_lookahead_window(server: Emulator, offset: int, busy: bool) -> None:
    """An event counts when it overlaps the next five minutes."""
    heartbeat(server, "carol")
    put_event(server, "carol", ics(NOW + offset, NOW + offset + 1800 if offset > 0 else NOW - 60))
    assert (own_status(server, "carol")["messageId"] == "meeting") is busy


def test_event_with_tzid(server: Emulator) -> None:
    """A local time with a TZID is converted with that zone (20:10 Berlin is 19:10 UTC)."""
    heartbeat(server, "carol")
    body = ics(NOW, NOW).replace("DTSTART:20261204T191606Z", "DTSTART;TZID=Europe/Berlin:20261204T201000")
    body = body.replace("DTEND:20261204T191606Z", "DTEND;TZID=Europe/Berlin:20261204T210000")
    put_event(server, "carol", body)
    assert own_status(server, "carol")["messageId"] == "meeting"


def test_parse_all_day_and_duration() -> None:
    """A DATE start lasts one day; DURATION sets the end; X-NEXTCLOUD-OUT-OF-OFFICE is read."""
    text = (
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20261205\nX-NEXTCLOUD-OUT-OF-OFFICE:1\nEND:VEVENT\n"
        "BEGIN:VEVENT\nDTSTART:20261205T100000Z\nDURATION:PT1H30M\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    whole_day, timed = parse_events(text)
    assert whole_day.end - whole_day.start == datetime(2026, 12, 6, tzinfo=UTC) - datetime(2026, 12, 5, tzinfo=UTC)
    assert whole_day.out_of_office is True
    assert timed.end == datetime(2026, 12, 5, 11, 30, tzinfo=UTC)


def test_parse_rejects_bad_dates() -> None:
    """An unreadable DTSTART raises ICalendarError naming the value."""
    with pytest.raises(ICalendarError, match="2026-12-05"):
        parse_events("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:2026-12-05\nEND:VEVENT\nEND:VCALENDAR\n")
