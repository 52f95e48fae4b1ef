"""The outbox dispatcher against a real SQLite store and a fake chat platform."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Sequence
from datetime import timedelta

import pytest

from presence_bridge.core.ids import NextcloudUserId, Platform
from presence_bridge.core.status import NextcloudStatus, NextcloudStatusType
from presence_bridge.storage import OutboxState, Store
from presence_bridge.sync.dispatcher import Dispatcher, DispatcherOptions
from presence_bridge.sync.platform import (
    Applied,
    ApplyResult,
    ChatWrite,
    PermanentFailure,
    PlatformRegistry,
    Reply,
    TransientFailure,
    WriteKind,
    idempotency_key,
)
from presence_bridge.service.metrics import ServiceMetrics
from tests.storage.conftest import FakeClock


class FakePlatform:
    """A recording platform in memory that returns planned results."""

    def __init__(self, *results: ApplyResult) -> None:
        self.results: deque[ApplyResult] = deque(results)
        self.applied: list[ChatWrite] = []
        self.notified: list[tuple[str, str, Reply]] = []

    @property
    def platform(self) -> Platform:
        return Platform.RECORDING

    async def apply(self, write: ChatWrite) -> ApplyResult:
        self.applied.append(write)
        return self.results.popleft() if self.results else Applied()

    async def notify(self, workspace: str, chat_user_id: str, reply: Reply) -> None:
        self.notified.append((workspace, chat_user_id, reply))

    async def channel_members(self, workspace: str, channel_id: str) -> Sequence[str]:
        return ()


async def enqueue(store: Store, user: str, status: str = "online", message: str | None = None) -> int:
    desired = NextcloudStatus(NextcloudStatusType(status), message=message)
    fingerprint = f"{status}:{message}"
    write = ChatWrite(
        platform=Platform.RECORDING,
        workspace="team",
        chat_user_id=f"chat-{user}",
        nextcloud_user_id=NextcloudUserId(user),
        desired=desired,
        fingerprint=fingerprint,
        idempotency_key=idempotency_key(user, Platform.RECORDING, "team", f"chat-{user}", fingerprint),
    )
    return await store.enqueue(
        "recording",
        "team",
        write.chat_user_id,
        write.to_payload(),
        idempotency_key=write.idempotency_key,
        nextcloud_user_id=user,
    )


def make_dispatcher(store: Store, platform: FakePlatform, metrics: ServiceMetrics | None = None) -> Dispatcher:
    options = DispatcherOptions(batch_size=10, lease=30.0, send_timeout=5.0, retry_base=2.0, retry_max=60.0, max_attempts=4)
    return Dispatcher(store, PlatformRegistry([platform]), worker_id="replica-a", options=options, metrics=metrics)


async def test_applied_write_is_acknowledged(store: Store) -> None:
    platform = FakePlatform()
    await enqueue(store, "alice", "dnd", "Focus")
    dispatcher = make_dispatcher(store, platform)

    settled = await dispatcher.dispatch_once()

    assert settled == 1
    assert [write.desired.message for write in platform.applied] == ["Focus"]
    assert await store.list_outbox() == []


async def test_transient_failure_backs_off(store: Store, clock: FakeClock) -> None:
    platform = FakePlatform(TransientFailure("HTTP 503"), TransientFailure("HTTP 503"))
    await enqueue(store, "alice")
    dispatcher = make_dispatcher(store, platform)
    start = clock.now

    await dispatcher.dispatch_once()
    [row] = await store.list_outbox()
    assert row.attempts == 1
    assert row.claimed_by is None
    assert row.last_error == "HTTP 503"
    assert row.next_attempt_at == start + timedelta(seconds=2)

    # Not due yet: nothing is claimed.
    assert await dispatcher.dispatch_once() == 0
    clock.advance(timedelta(seconds=2))
    await dispatcher.dispatch_once()
    [row] = await store.list_outbox()
    assert row.attempts == 2
    assert row.next_attempt_at == clock.now + timedelta(seconds=4)

    clock.advance(timedelta(seconds=4))
    await dispatcher.dispatch_once()
    assert await store.list_outbox() == []
    assert len(platform.applied) == 3


async def test_retry_after_sets_the_next_try(store: Store, clock: FakeClock) -> None:
    metrics = ServiceMetrics()
    platform = FakePlatform(TransientFailure("rate limited", retry_after=17.0))
    await enqueue(store, "bob")
    dispatcher = make_dispatcher(store, platform, metrics)

    await dispatcher.dispatch_once()

    [row] = await store.list_outbox()
    assert row.next_attempt_at == clock.now + timedelta(seconds=17)
    page = metrics.render().decode()
    assert 'presence_bridge_rate_limit_waits_total{platform="recording"} 1.0' in page
    assert 'presence_bridge_rate_limit_wait_seconds_total{platform="recording"} 17.0' in page
    assert 'presence_bridge_writes_total{platform="recording",result="transient"} 1.0' in page


async def test_repeated_transient_failures_give_up(store: Store, clock: FakeClock) -> None:
    platform = FakePlatform(*[TransientFailure("HTTP 503")] * 4)
    await enqueue(store, "carol")
    dispatcher = make_dispatcher(store, platform)

    for _ in range(4):
        clock.advance(timedelta(minutes=5))
        await dispatcher.dispatch_once()

    [row] = await store.list_outbox()
    assert row.state == OutboxState.DEAD
    assert row.last_error is not None
    assert "gave up after 4 attempts" in row.last_error
    [entry] = await store.list_audit()
    assert entry.action == "write_failed"


async def test_permanent_failure_is_audited_and_reported_once(store: Store) -> None:
    message = "The bridge can no longer change your status: reconnect your account with `link`."
    platform = FakePlatform(
        PermanentFailure("token revoked", user_message=message),
        PermanentFailure("token revoked", user_message=message),
    )
    dispatcher = make_dispatcher(store, platform)
    await enqueue(store, "dave", "away")
    await dispatcher.dispatch_once()
    await enqueue(store, "dave", "dnd")
    await dispatcher.dispatch_once()

    rows = await store.list_outbox()
    assert [row.state for row in rows] == [OutboxState.DEAD, OutboxState.DEAD]
    audit = await store.list_audit(nextcloud_user_id="dave")
    assert len(audit) == 2
    assert {entry.chat_user_id for entry in audit} == {"chat-dave"}
    assert json.loads(audit[0].new_value or "{}")["error"] == "token revoked"
    assert platform.notified == [("team", "chat-dave", Reply(text=message, ok=False))]


async def test_permanent_failure_without_message_is_not_reported(store: Store) -> None:
    platform = FakePlatform(PermanentFailure("unknown user"))
    await enqueue(store, "erin")

    await make_dispatcher(store, platform).dispatch_once()

    assert platform.notified == []
    assert len(await store.list_audit()) == 1


async def test_unreadable_row_is_given_up(store: Store) -> None:
    platform = FakePlatform()
    await store.enqueue("recording", "team", "chat-x", {"version": 99}, idempotency_key="bad", nextcloud_user_id="x")

    await make_dispatcher(store, platform).dispatch_once()

    [row] = await store.list_outbox()
    assert row.state == OutboxState.DEAD
    assert platform.applied == []


async def test_row_with_short_lease_is_given_back(store: Store) -> None:
    platform = FakePlatform()
    await enqueue(store, "frank")
    options = DispatcherOptions(lease=6.0, send_timeout=5.0)
    dispatcher = Dispatcher(store, PlatformRegistry([platform]), worker_id="replica-a", options=options)
    [item] = await store.claim_outbox("replica-a", lease=timedelta(seconds=4))

    await dispatcher._deliver(item)

    assert platform.applied == []
    [row] = await store.list_outbox()
    assert row.claimed_by is None


async def test_adapter_exception_counts_as_transient(store: Store) -> None:
    class BrokenPlatform(FakePlatform):
        async def apply(self, write: ChatWrite) -> ApplyResult:
            raise RuntimeError("adapter bug")

    await enqueue(store, "gina")
    await make_dispatcher(store, BrokenPlatform()).dispatch_once()

    [row] = await store.list_outbox()
    assert row.state == OutboxState.PENDING
    assert row.attempts == 1
    assert "RuntimeError: adapter bug" in (row.last_error or "")


async def test_stop_gives_the_rest_of_the_batch_back(store: Store) -> None:
    platform = FakePlatform()
    for user in ("u1", "u2", "u3"):
        await enqueue(store, user)
    dispatcher = make_dispatcher(store, platform)

    original_apply = platform.apply

    async def apply_then_stop(write: ChatWrite) -> ApplyResult:
        dispatcher.stop()
        return await original_apply(write)

    platform.apply = apply_then_stop  # type: ignore[method-assign]
    await dispatcher.dispatch_once()

    rows = await store.list_outbox()
    assert len(platform.applied) == 1
    assert len(rows) == 2
    assert all(row.claimed_by is None for row in rows)


async def test_newer_write_supersedes_older(store: Store) -> None:
    metrics = ServiceMetrics()
    platform = FakePlatform()
    await enqueue(store, "hana", "away")
    await enqueue(store, "hana", "dnd")

    await make_dispatcher(store, platform, metrics).dispatch_once()

    assert [write.desired.status.value for write in platform.applied] == ["dnd"]
    assert await store.list_outbox() == []
    page = metrics.render().decode()
    assert 'presence_bridge_writes_total{platform="recording",result="superseded"} 1.0' in page


async def test_row_waits_for_older_row_held_elsewhere(store: Store, clock: FakeClock) -> None:
    platform = FakePlatform()
    await enqueue(store, "ivan", "away")
    [held] = await store.claim_outbox("replica-dead", limit=1, lease=timedelta(seconds=30))
    await enqueue(store, "ivan", "dnd")
    dispatcher = make_dispatcher(store, platform)

    settled = await dispatcher.dispatch_once()

    assert settled == 0
    assert platform.applied == []
    rows = await store.list_outbox()
    assert [row.claimed_by for row in rows] == ["replica-dead", None]

    # The dead replica's claim expires: its row is dropped, the newer one is sent.
    clock.advance(timedelta(seconds=31))
    await dispatcher.dispatch_once()

    assert [write.desired.status.value for write in platform.applied] == ["dnd"]
    assert await store.list_outbox() == []
    assert held.id not in {row.id for row in await store.list_outbox()}


async def test_keepalive_does_not_supersede_status(store: Store) -> None:
    platform = FakePlatform()
    await enqueue(store, "jo", "dnd")
    write = ChatWrite(
        platform=Platform.RECORDING,
        workspace="team",
        chat_user_id="chat-jo",
        nextcloud_user_id=NextcloudUserId("jo"),
        desired=NextcloudStatus(NextcloudStatusType.DND),
        fingerprint="keepalive",
        idempotency_key="keepalive-jo",
        kind=WriteKind.KEEPALIVE,
    )
    await store.enqueue("recording", "team", "chat-jo", write.to_payload(), idempotency_key="keepalive-jo", nextcloud_user_id="jo")

    await make_dispatcher(store, platform).dispatch_once()

    assert [write.kind for write in platform.applied] == [WriteKind.STATUS, WriteKind.KEEPALIVE]


async def test_newer_write_drops_older_retrying_row(store: Store, clock: FakeClock) -> None:
    platform = FakePlatform(TransientFailure("HTTP 503"))
    dispatcher = make_dispatcher(store, platform)
    await enqueue(store, "kim", "away")
    await dispatcher.dispatch_once()
    [retrying] = await store.list_outbox()
    assert retrying.next_attempt_at > clock.now

    await enqueue(store, "kim", "dnd")
    await dispatcher.dispatch_once()

    assert [write.desired.status.value for write in platform.applied] == ["away", "dnd"]
    assert await store.list_outbox() == []
