"""A Login Flow v2 in progress: the login URL to show, and the background task that polls.

The task polls every ``interval`` seconds until Nextcloud returns the login name
and app password, or until the flow's 20-minute lifetime ends.  Nextcloud
returns the credentials only once, so a lost poll response cannot be repeated:
the user then has to start again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from ..core.ids import ChatIdentity
from ..errors import LinkExpiredError, LoginFlowPending, NextcloudUnavailable
from ..nextcloud import LoginFlow, LoginFlowCredentials, LoginFlowStart
from ..nextcloud.login_flow import LOGIN_FLOW_LIFETIME
from ..storage import Link
from .user_clients import describe_identity

logger = logging.getLogger(__name__)

MIN_POLL_INTERVAL = 1.0
"""Seconds.  Faster polling only adds load on Nextcloud: a person needs far longer to log in."""

DEFAULT_POLL_INTERVAL = 5.0


@dataclass(slots=True)
class FlowState:
    """Mutable state of one flow: why the service ended it early, if it did.

    ``ended_because`` completes "the link request of ... was ...", e.g.
    "replaced by a newer one".
    """

    ended_because: str | None = None


@dataclass(frozen=True, slots=True)
class PendingLink:
    """A started link: show ``login_url`` to the user privately, then await :meth:`wait`.

    ``login_url`` contains the flow's login token, so it appears in no repr and no log.
    """

    identity: ChatIdentity
    login_url: str = field(repr=False)
    expires_at: datetime
    task: asyncio.Task[Link] = field(repr=False, compare=False)
    state: FlowState = field(default_factory=FlowState, repr=False, compare=False)

    async def wait(self) -> Link:
        """Wait for the flow to finish and return the stored link.

        Raises :class:`LinkExpiredError` when the lifetime ended or a newer
        ``start`` replaced this one, and the error of a failed poll or store
        otherwise.  Cancelling the caller does not cancel the flow.
        """
        try:
            return await asyncio.shield(self.task)
        except asyncio.CancelledError:
            if not (self.task.cancelled() and self.state.ended_because):
                raise
        raise LinkExpiredError(f"the link request of {describe_identity(self.identity)} was {self.state.ended_because}")

    @property
    def done(self) -> bool:
        return self.task.done()


def check_poll_interval(interval: float) -> float:
    """Return ``interval`` if it is at least :data:`MIN_POLL_INTERVAL` seconds, else raise ValueError."""
    if not interval >= MIN_POLL_INTERVAL:
        raise ValueError(
            f"login flow poll interval {interval!r} s is too short; use at least {MIN_POLL_INTERVAL:g} s"
        )
    return interval


async def poll_until_granted(
    flow: LoginFlow,
    start: LoginFlowStart,
    identity: ChatIdentity,
    *,
    interval: float,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]],
    started_at: float,
) -> LoginFlowCredentials:
    """Poll ``start`` until granted; raise :class:`LinkExpiredError` once the lifetime has passed.

    ``clock`` returns seconds on the same scale as ``started_at``.  A transport
    error is logged and polling goes on, because Nextcloud may simply be
    restarting.  If it had already sent the credentials, the flow ends as expired.
    """
    deadline = started_at + LOGIN_FLOW_LIFETIME
    polls = 0
    while True:
        polls += 1
        try:
            return await flow.poll(start)
        except LoginFlowPending:
            pass
        except NextcloudUnavailable as error:
            logger.warning("Polling the login flow of %s failed, trying again in %g s: %s", identity, interval, error)
        if clock() >= deadline:
            logger.info("The login flow of %s expired after %d polls", identity, polls)
            raise LinkExpiredError(
                f"the link request of {describe_identity(identity)} expired: nobody granted access within "
                f"{LOGIN_FLOW_LIFETIME / 60:.0f} minutes. Run `link` again to get a new login URL."
            )
        await sleep(min(interval, max(deadline - clock(), 0.0)))
