"""The renewal policy for bridge-set Matrix presence, as tables."""

from __future__ import annotations

import pytest

from presence_bridge.core.status import MatrixPresence, MatrixPresenceState
from presence_bridge.matrix.presence_policy import MirroredUser, RenewalSettings, plan_renewals, renewal_due_at

ONLINE = MatrixPresence(MatrixPresenceState.ONLINE, "💻 Working")
AWAY = MatrixPresence(MatrixPresenceState.UNAVAILABLE, "🍽️ Lunch")
OFFLINE = MatrixPresence(MatrixPresenceState.OFFLINE, "🌴 On vacation")
DND = MatrixPresence(MatrixPresenceState.UNAVAILABLE, "⛔ Do not disturb", busy=True)
SETTINGS = RenewalSettings(renew_interval=20, busy_renew_after=3000, max_per_round=2)


@pytest.mark.parametrize(
    ("written", "busy_sent", "own_client_present", "expected"),
    [
        (ONLINE, False, False, 1020.0),
        (AWAY, False, False, 1020.0),
        (ONLINE, False, True, None),
        (AWAY, False, True, None),
        (OFFLINE, False, False, None),
        (OFFLINE, False, True, None),
        (DND, True, False, 4000.0),
        (DND, True, True, 4000.0),
        # Busy sent as unavailable where the server lacks MSC3026 decays like unavailable.
        (DND, False, False, 1020.0),
        (DND, False, True, None),
    ],
)
def test_renewal_due_at_table(
    written: MatrixPresence, busy_sent: bool, own_client_present: bool, expected: float | None
) -> None:
    user = MirroredUser("@a:x", written, written_at=1000.0, busy_sent=busy_sent, own_client_present=own_client_present)

    assert renewal_due_at(user, SETTINGS) == expected


def test_plan_renewals_most_overdue_first() -> None:
    users = [
        MirroredUser("@late:x", AWAY, written_at=900.0),
        MirroredUser("@later:x", ONLINE, written_at=800.0),
        MirroredUser("@not-due:x", ONLINE, written_at=990.0),
        MirroredUser("@offline:x", OFFLINE, written_at=0.0),
        MirroredUser("@latest:x", ONLINE, written_at=700.0),
    ]

    assert plan_renewals(users, now=1000.0, settings=SETTINGS) == ["@latest:x", "@later:x"]


def test_plan_renewals_due_exactly_now() -> None:
    users = [MirroredUser("@a:x", ONLINE, written_at=980.0)]

    assert plan_renewals(users, now=1000.0, settings=SETTINGS) == ["@a:x"]


@pytest.mark.parametrize(
    ("interval", "max_per_round"),
    [(5.0, 10), (20.0, 0)],
)
def test_settings_rejected(interval: float, max_per_round: int) -> None:
    with pytest.raises(ValueError):
        RenewalSettings(renew_interval=interval, max_per_round=max_per_round)
