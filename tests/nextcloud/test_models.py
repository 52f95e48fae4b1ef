"""Parsing of the typed results: well-formed rows and every malformed field."""

from __future__ import annotations

from typing import Any

import pytest

from presence_bridge.core.status import NextcloudStatusType
from presence_bridge.errors import NextcloudProtocolError
from presence_bridge.nextcloud.account_models import Sharee
from presence_bridge.nextcloud.models import Capabilities, PrivateStatus, PublicStatus

ROW = {"userId": "bob", "message": "Deep work", "icon": "🔕", "clearAt": 1796418957, "status": "dnd"}


def test_public_status_fields() -> None:
    status = PublicStatus.from_ocs(ROW)

    assert status == PublicStatus("bob", NextcloudStatusType.DND, "Deep work", "🔕", 1796418957)
    assert not status.is_backup
    assert PublicStatus.from_ocs({**ROW, "userId": "_bob"}).is_backup


def test_public_status_optional_fields_missing() -> None:
    status = PublicStatus.from_ocs({"userId": "bob", "status": "offline"})
    assert (status.message, status.icon, status.clear_at) == (None, None, None)


@pytest.mark.parametrize(
    "change",
    [
        {"status": "bogus"},
        {"status": None},
        {"status": ["online"]},
        {"userId": None},
        {"clearAt": "1796418957"},
        {"clearAt": True},
        {"clearAt": 1.5},
        {"message": 42},
        {"icon": ["🔕"]},
    ],
)
def test_public_status_malformed(change: dict[str, Any]) -> None:
    """Every malformed field raises NextcloudProtocolError naming it, instead of a half-filled object."""
    with pytest.raises(NextcloudProtocolError):
        PublicStatus.from_ocs({**ROW, **change})


def test_public_status_not_an_object() -> None:
    with pytest.raises(NextcloudProtocolError, match="status object"):
        PublicStatus.from_ocs([])


def test_private_status_flags_required() -> None:
    row = {**ROW, "messageId": None, "messageIsPredefined": False, "statusIsUserDefined": True}
    assert PrivateStatus.from_ocs(row).status_is_user_defined
    with pytest.raises(NextcloudProtocolError, match="messageIsPredefined"):
        PrivateStatus.from_ocs({**row, "messageIsPredefined": "false"})


def test_sharee_without_status() -> None:
    """Nextcloud sends ``status: []`` for a user without a status row."""
    sharee = Sharee.from_ocs(
        {"label": "Bob Test", "subline": "", "value": {"shareType": 0, "shareWith": "bob"}, "status": []},
        exact=True,
    )
    assert sharee.status is None
    assert sharee.user_id == "bob"


def test_capabilities_without_user_status() -> None:
    """An anonymous read has no user_status section: everything reads as unsupported."""
    capabilities = Capabilities.from_ocs(
        {"version": {"major": 31, "minor": 0, "micro": 6, "string": "31.0.6"}, "capabilities": {}}
    )
    assert not capabilities.user_status_enabled
    assert not capabilities.supports_emoji
    assert capabilities.busy_allowed
