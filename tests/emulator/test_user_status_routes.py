"""The emulated user_status routes over HTTP, beyond the recorded exchanges."""

from __future__ import annotations

from tests.emulator.conftest import T0, NextcloudCalls


def test_heartbeat_creates_row(nc: NextcloudCalls) -> None:
    """A first heartbeat creates a row that is not user-defined."""
    response = nc.status("PUT", "/heartbeat", data={"status": "away"})

    assert response.status_code == 200
    assert nc.data(response)["status"] == "away"
    assert nc.data(response)["statusIsUserDefined"] is False


def test_heartbeat_sticky_status_204(nc: NextcloudCalls) -> None:
    """A user-defined dnd ignores heartbeats: v2 sends 204, v1 a 200 envelope with 204."""
    nc.status("PUT", "/user_status/status", data={"statusType": "dnd"})

    v2 = nc.status("PUT", "/heartbeat", data={"status": "online"})
    v1 = nc.status("PUT", "/heartbeat", data={"status": "online"}, version=1)

    assert v2.status_code == 204
    assert v2.content == b""
    assert v1.status_code == 200
    assert v1.json()["ocs"]["meta"]["statuscode"] == 204
    assert v1.json()["ocs"]["meta"]["status"] == "failure"


def test_heartbeat_refreshes_stale_status(nc: NextcloudCalls) -> None:
    """An away heartbeat replaces an online row only once that row is 15 minutes old."""
    nc.status("PUT", "/heartbeat", data={"status": "online"})
    nc.set_clock(T0 + 600)
    assert nc.data(nc.status("PUT", "/heartbeat", data={"status": "away"}))["status"] == "online"

    nc.set_clock(T0 + 901)
    assert nc.data(nc.status("PUT", "/heartbeat", data={"status": "away"}))["status"] == "away"


def test_decay_after_fifteen_minutes(nc: NextcloudCalls) -> None:
    """Heartbeat rows and user-defined online read as offline after 15 min; dnd stays."""
    nc.status("PUT", "/heartbeat", data={"status": "online"}, user="carol")
    nc.status("PUT", "/user_status/status", data={"statusType": "online"}, user="alice")
    nc.status("PUT", "/user_status/status", data={"statusType": "dnd"}, user="bob")
    nc.set_clock(T0 + 900)
    assert nc.data(nc.status("GET", "/statuses/carol"))["status"] == "online"

    nc.set_clock(T0 + 901)

    assert nc.data(nc.status("GET", "/statuses/carol"))["status"] == "offline"
    assert nc.data(nc.status("GET", "/statuses/alice"))["status"] == "offline"
    assert nc.data(nc.status("GET", "/statuses/bob"))["status"] == "dnd"
    own = nc.data(nc.status("GET", "/user_status", user="alice"))
    assert own["statusIsUserDefined"] is False


def test_clear_at_expiry(nc: NextcloudCalls) -> None:
    """After clearAt the message is gone and the status is reset to offline."""
    nc.status("PUT", "/user_status/status", data={"statusType": "dnd"})
    body = {"statusIcon": "🎧", "message": "Focus", "clearAt": T0 + 60}
    assert nc.status("PUT", "/user_status/message/custom", json=body).status_code == 200
    nc.set_clock(T0 + 60)
    assert nc.data(nc.status("GET", "/user_status"))["message"] == "Focus"

    nc.set_clock(T0 + 61)
    own = nc.data(nc.status("GET", "/user_status"))

    assert own["message"] is None
    assert own["icon"] is None
    assert own["clearAt"] is None
    assert own["status"] == "offline"
    assert own["statusIsUserDefined"] is False


def test_predefined_text_filled_on_read(nc: NextcloudCalls) -> None:
    """A predefined write returns null text; reads fill in text and icon."""
    written = nc.data(nc.status("PUT", "/user_status/message/predefined", data={"messageId": "call"}))
    read = nc.data(nc.status("GET", "/user_status"))
    public = nc.data(nc.status("GET", "/statuses/alice", user="bob"))

    assert (written["message"], written["icon"]) == (None, None)
    assert (read["message"], read["icon"], read["messageIsPredefined"]) == ("In a call", "💬", True)
    assert (public["message"], public["icon"]) == ("In a call", "💬")


def test_availability_has_no_text(nc: NextcloudCalls) -> None:
    """Hidden ids without a predefined entry stay without message and icon."""
    nc.status("PUT", "/user_status/message/predefined", data={"messageId": "availability"})

    read = nc.data(nc.status("GET", "/user_status"))

    assert read["messageId"] == "availability"
    assert (read["message"], read["icon"]) == (None, None)


def test_invisible_shown_offline(nc: NextcloudCalls) -> None:
    """Others see invisible as offline with message and icon; the owner sees invisible."""
    nc.status("PUT", "/user_status/status", data={"statusType": "invisible"}, user="dave")
    nc.status("PUT", "/user_status/message/custom", json={"statusIcon": "🥷", "message": "hidden"}, user="dave")

    public = nc.data(nc.status("GET", "/statuses/dave"))
    own = nc.data(nc.status("GET", "/user_status", user="dave"))

    assert (public["status"], public["message"], public["icon"]) == ("offline", "hidden", "🥷")
    assert own["status"] == "invisible"


def test_message_length_code_points(nc: NextcloudCalls) -> None:
    """The limit is 80 code points: 80 emoji pass, 81 letters fail."""
    ok = nc.status("PUT", "/user_status/message/custom", json={"message": "🌴" * 80})
    too_long = nc.status("PUT", "/user_status/message/custom", json={"message": "x" * 81})

    assert ok.status_code == 200
    assert too_long.status_code == 400
    assert too_long.json()["ocs"]["meta"]["message"] == "Message is longer than supported length of 80 characters"


def test_clear_at_casts(nc: NextcloudCalls) -> None:
    """clearAt is cast like PHP: a float string is truncated, a non-number becomes 0."""
    truncated = nc.status("PUT", "/user_status/message/predefined", data={"messageId": "meeting", "clearAt": f"{T0 + 10}.9"})
    word = nc.status("PUT", "/user_status/message/predefined", data={"messageId": "meeting", "clearAt": "soon"})

    assert nc.data(truncated)["clearAt"] == T0 + 10
    assert word.status_code == 400
    assert word.json()["ocs"]["meta"]["message"] == "ClearAt is in the past"


def test_wrong_json_type_500(nc: NextcloudCalls) -> None:
    """A JSON number where a string is expected fails with 500, OCS 996, as XML."""
    response = nc.status("PUT", "/user_status/status", json={"statusType": 3})

    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/xml")
    assert "<statuscode>996</statuscode>" in response.text


def test_custom_clear_without_row_404(nc: NextcloudCalls) -> None:
    """Clearing through an all-empty custom message needs a row."""
    response = nc.status("PUT", "/user_status/message/custom", data={"statusIcon": "", "message": ""})

    assert response.status_code == 404
    assert response.json()["ocs"]["meta"]["message"] == "No status for the current user"


def test_status_type_case_sensitive(nc: NextcloudCalls) -> None:
    response = nc.status("PUT", "/user_status/status", data={"statusType": "ONLINE"})

    assert response.status_code == 400
    assert response.json()["ocs"]["meta"]["message"] == 'Status-type "ONLINE" is not supported'
