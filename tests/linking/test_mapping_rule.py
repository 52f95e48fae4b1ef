"""The Matrix template rule: which Nextcloud users get an implicit Matrix identity, and explicit links winning."""

from __future__ import annotations

import logging

import pytest

from presence_bridge.core.ids import ChatIdentity, Platform
from presence_bridge.linking.mapping_rule import (
    MatrixUserRule,
    implicit_matrix_identity,
    matrix_user_id_problem,
    mirror_targets,
)
from presence_bridge.storage import Store, SyncDirection

RULE = MatrixUserRule.parse("@{nextcloud_user}:example.org")


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("@{user}:example.org", "exactly once"),
        ("@{nextcloud_user}{nextcloud_user}:example.org", "exactly once"),
        ("@{nextcloud_user}_{other}:example.org", "unknown placeholder"),
        ("{nextcloud_user}:example.org", "must have the form"),
        ("@{nextcloud_user}", "must have the form"),
        ("@bridge:{nextcloud_user}", "must have the form"),
        ("@NC_{nextcloud_user}:example.org", "localpart may contain only"),
        ("@{nextcloud_user}:exa mple.org", "not a valid server name"),
    ],
)
def test_invalid_templates_rejected(template: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MatrixUserRule.parse(template)


@pytest.mark.parametrize(
    ("template", "server_name"),
    [
        ("@{nextcloud_user}:example.org", "example.org"),
        ("@nc_{nextcloud_user_lower}:matrix.example.org:8448", "matrix.example.org:8448"),
        ("@{nextcloud_user}:[::1]:8448", "[::1]:8448"),
    ],
)
def test_valid_templates_server_name(template: str, server_name: str) -> None:
    assert MatrixUserRule.parse(template).server_name == server_name


def test_implicit_identity_for_valid_id() -> None:
    identity = implicit_matrix_identity(RULE, "alice.smith-2")
    assert identity == ChatIdentity(Platform.MATRIX, "example.org", "@alice.smith-2:example.org")


@pytest.mark.parametrize("nextcloud_user", ["Alice", "bob smith", "carol@example.com", "d'arcy", "x" * 250])
def test_invalid_ids_skipped_with_reason(nextcloud_user: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="presence_bridge.linking.mapping_rule")
    assert implicit_matrix_identity(RULE, nextcloud_user) is None
    assert implicit_matrix_identity(RULE, nextcloud_user) is None
    reasons = [record for record in caplog.records if "not mirrored to Matrix implicitly" in record.getMessage()]
    assert len(reasons) == 1


def test_lower_case_placeholder() -> None:
    rule = MatrixUserRule.parse("@{nextcloud_user_lower}:example.org")
    identity = implicit_matrix_identity(rule, "Alice")
    assert identity is not None
    assert identity.user_id == "@alice:example.org"
    assert rule.nextcloud_user_for("@alice:example.org") is None


def test_no_rule_means_no_identity() -> None:
    assert implicit_matrix_identity(None, "alice") is None


def test_nextcloud_user_for_reverses_template() -> None:
    assert RULE.nextcloud_user_for("@alice:example.org") == "alice"
    assert RULE.nextcloud_user_for("@alice:other.org") is None
    assert RULE.nextcloud_user_for("@:example.org") is None


def test_matrix_user_id_problem() -> None:
    assert matrix_user_id_problem("@a.b_c=d-e/f+g:example.org") is None
    assert matrix_user_id_problem("alice:example.org") is not None
    assert matrix_user_id_problem("@Alice:example.org") is not None


async def test_explicit_links_win(store: Store) -> None:
    explicit_alice = ChatIdentity(Platform.MATRIX, "other.org", "@alice:other.org")
    bob_elsewhere = ChatIdentity(Platform.MATRIX, "example.org", "@carol:example.org")
    slack_dave = ChatIdentity(Platform.SLACK, "T1", "U-dave")
    await store.link(explicit_alice, "alice")
    await store.link(bob_elsewhere, "bob")
    await store.link(slack_dave, "dave")

    targets = await mirror_targets(store, RULE, ["alice", "bob", "carol", "dave", "_dave", "Eve", "dave"])

    by_identity = {target.identity.user_id: target for target in targets}
    assert set(by_identity) == {"@alice:other.org", "@carol:example.org", "U-dave", "@dave:example.org"}
    assert by_identity["@carol:example.org"].nextcloud_user_id == "bob"
    assert not by_identity["@carol:example.org"].implicit
    implicit_dave = by_identity["@dave:example.org"]
    assert implicit_dave.implicit
    assert implicit_dave.nextcloud_user_id == "dave"
    assert implicit_dave.sync_direction is SyncDirection.TO_CHAT


async def test_mirror_targets_by_platform(store: Store) -> None:
    await store.link(ChatIdentity(Platform.SLACK, "T1", "U-dave"), "dave")

    slack = await mirror_targets(store, RULE, ["alice"], platform=Platform.SLACK)
    matrix = await mirror_targets(store, RULE, ["alice"], platform=Platform.MATRIX)
    without_rule = await mirror_targets(store, None, ["alice"])

    assert [target.identity.user_id for target in slack] == ["U-dave"]
    assert [target.identity.user_id for target in matrix] == ["@alice:example.org"]
    assert [target.identity.user_id for target in without_rule] == ["U-dave"]
