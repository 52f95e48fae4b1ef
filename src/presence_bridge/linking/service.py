"""The linking service: link a chat identity to Nextcloud, unlink it ("forget me"), purge users who are gone.

A chat user links with Login Flow v2: :meth:`LinkingService.start` returns the
login URL to show them privately, and a background task polls until Nextcloud
returns a login name and app password.  The Nextcloud user id comes from
``/cloud/user`` read with that new app password, never from the chat side, so
a link always names the account that actually logged in.  The operator links
with an app password they already have (:meth:`LinkingService.link_with_app_password`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

import httpx

from ..core.ids import ChatIdentity, Platform
from ..errors import (
    CredentialRejectedError,
    LinkConflictError,
    LinkExpiredError,
    LinkingError,
    NextcloudError,
    NextcloudUnauthorized,
)
from ..nextcloud import Credential, LoginFlow, LoginFlowStart, NextcloudClient, RetryPolicy
from ..nextcloud.login_flow import LOGIN_FLOW_LIFETIME
from ..nextcloud.transport import DEFAULT_USER_AGENT
from ..secret import Secret
from ..storage import ForgottenLink, Health, Link, Store
from . import purge
from .pending import DEFAULT_POLL_INTERVAL, PendingLink, check_poll_interval, poll_until_granted
from .user_clients import UserClients, credential_fingerprint, describe_identity

logger = logging.getLogger(__name__)

AUDIT_ACTION_LINK = "link"
LINKABLE_PLATFORMS = (Platform.SLACK, Platform.MATRIX, Platform.RECORDING)


@dataclass(frozen=True, slots=True)
class UnlinkResult:
    """The outcome of :meth:`LinkingService.unlink`: what was deleted, and whether Nextcloud revoked the app password.

    ``revoke_problem`` explains why the app password was not revoked (None when it
    was, or when there was none).  It reads on from "The app password was ",
    e.g. ``not revoked, because revoking it failed: …``.  ``forgotten.slack_user_token`` is for the
    Slack adapter to revoke with ``auth.revoke``.
    """

    forgotten: ForgottenLink | None
    app_password_revoked: bool
    revoke_problem: str | None = None


class LinkingService:
    """Links chat identities to Nextcloud users over one shared ``httpx.AsyncClient``.

    ``poll_interval`` is the pause between two login-flow polls in seconds (at
    least 1).  ``clock`` (seconds, monotonic) and ``sleep`` are for tests.
    ``user_clients``, when given, drops its cached client of an identity whose
    credentials change.  Call :meth:`close` to cancel the flows in progress.
    """

    def __init__(
        self,
        store: Store,
        http: httpx.AsyncClient,
        *,
        user_clients: UserClients | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        user_agent: str = DEFAULT_USER_AGENT,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._http = http
        self._user_clients = user_clients
        self._poll_interval = check_poll_interval(poll_interval)
        self._user_agent = user_agent
        self._clock = clock
        self._sleep = sleep
        self._flows: dict[ChatIdentity, PendingLink] = {}

    # --- Login Flow v2 -----------------------------------------------------

    async def start(self, identity: ChatIdentity) -> PendingLink:
        """Start Login Flow v2 for ``identity`` and poll for the grant in the background.

        Show ``login_url`` of the result to that user only.  A second start for
        the same identity ends the first one with :class:`LinkExpiredError`.
        """
        check_linkable(identity)
        self._end_flow(identity, "replaced by a newer one; use the login URL of the newest `link`")
        flow = LoginFlow(self._http, user_agent=self._user_agent, sleep=self._sleep)
        start = await flow.start()
        started_at = self._clock()
        task = asyncio.create_task(self._complete(identity, flow, start, started_at))
        pending = PendingLink(
            identity=identity,
            login_url=start.login_url,
            expires_at=self._store.now() + timedelta(seconds=LOGIN_FLOW_LIFETIME),
            task=task,
        )
        self._flows[identity] = pending
        task.add_done_callback(partial(self._finished, pending))
        logger.info("Started a login flow for %s; it expires at %s", identity, pending.expires_at.isoformat())
        return pending

    def pending(self, identity: ChatIdentity) -> PendingLink | None:
        """Return the login flow in progress for ``identity``, if any."""
        return self._flows.get(identity)

    async def _complete(
        self,
        identity: ChatIdentity,
        flow: LoginFlow,
        start: LoginFlowStart,
        started_at: float,
    ) -> Link:
        granted = await poll_until_granted(
            flow,
            start,
            identity,
            interval=self._poll_interval,
            clock=self._clock,
            sleep=self._sleep,
            started_at=started_at,
        )
        password = Secret(granted.app_password, source="login flow")
        client = self._client(granted.login_name, password)
        details = await client.get_user()
        try:
            return await self._store_link(identity, details.id, granted.login_name, password, actor=str(identity),
                                          source="login-flow")
        except LinkConflictError:
            # The bridge created this app password, and nobody will use it now.
            await self._revoke_quietly(client, identity)
            raise

    def _end_flow(self, identity: ChatIdentity, because: str) -> None:
        """Cancel the flow in progress for ``identity``; its :meth:`PendingLink.wait` raises ``because``."""
        pending = self._flows.pop(identity, None)
        if pending is not None and not pending.done:
            pending.state.ended_because = because
            pending.task.cancel()

    def _finished(self, pending: PendingLink, task: asyncio.Task[Link]) -> None:
        identity = pending.identity
        if self._flows.get(identity) is pending:
            del self._flows[identity]
        if task.cancelled():
            logger.info("The login flow of %s was %s", identity, pending.state.ended_because or "cancelled")
            return
        error = task.exception()
        if error is None:
            logger.info("Linked %s through the login flow", identity)
        elif isinstance(error, LinkExpiredError):
            logger.info("The login flow of %s ended without a link: %s", identity, error)
        else:
            logger.warning("The login flow of %s failed: %s", identity, error)

    async def close(self) -> None:
        """Cancel every login flow in progress and wait for their tasks to end."""
        tasks = [pending.task for pending in self._flows.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- links with a known app password ---------------------------------------

    async def link_with_app_password(
        self,
        identity: ChatIdentity,
        login_name: str,
        app_password: Secret,
        *,
        nextcloud_user_id: str | None = None,
        actor: str = "operator",
        source: str = "cli",
    ) -> Link:
        """Check an app password with Nextcloud, then link ``identity`` and store the credentials.

        One request (``/cloud/user``) checks the password and returns the user
        id.  Raises :class:`CredentialRejectedError` when Nextcloud rejects the
        password, :class:`LinkingError` when it belongs to another user than
        ``nextcloud_user_id``, and :class:`LinkConflictError` from the store.
        """
        check_linkable(identity)
        client = self._client(login_name, app_password)
        try:
            details = await client.get_user()
        except NextcloudUnauthorized as error:
            raise CredentialRejectedError(
                f"Nextcloud rejected the app password for login name {login_name!r} ({error.server_message or 'HTTP 401'}). "
                "Check that the whole app password was given and nothing else, or create a new one in Nextcloud under "
                "Settings > Security > Devices & sessions."
            ) from error
        if nextcloud_user_id is not None and details.id != nextcloud_user_id:
            raise LinkingError(
                f"the app password of login name {login_name!r} belongs to Nextcloud user {details.id!r}, "
                f"not {nextcloud_user_id!r}; pass --nextcloud-user {details.id} or another app password"
            )
        return await self._store_link(identity, details.id, login_name, app_password, actor=actor, source=source)

    async def _store_link(
        self, identity: ChatIdentity, nextcloud_user_id: str, login_name: str, password: Secret, *, actor: str, source: str
    ) -> Link:
        """Link, store the credentials, mark the link healthy and audit; revoke the replaced password."""
        before = await self._store.get_link(identity)
        replaced = None
        if before is not None and before.nextcloud_user_id == nextcloud_user_id and before.has_credentials:
            replaced = await self._store.get_credentials(identity)
        await self._store.link(identity, nextcloud_user_id)
        await self._store.set_credentials(identity, login_name, password)
        link = await self._store.mark_healthy(identity)
        await self._store.add_audit(
            actor=actor,
            source=source,
            action=AUDIT_ACTION_LINK,
            nextcloud_user_id=nextcloud_user_id,
            platform=identity.platform.value,
            workspace=identity.workspace,
            chat_user_id=identity.user_id,
            new_value="app password stored",
        )
        if self._user_clients is not None:
            self._user_clients.forget(identity)
        if replaced is not None and replaced.app_password != password and before is not None:
            if before.health is Health.HEALTHY and not await self._in_use(link, replaced.login_name, replaced.app_password):
                await self._revoke_quietly(self._client(replaced.login_name, replaced.app_password), identity)
        return link

    # --- unlinking -----------------------------------------------------------

    async def unlink(self, identity: ChatIdentity) -> UnlinkResult:
        """Forget ``identity`` ("forget me") and revoke its Nextcloud app password.

        The store deletes the link, the credentials, the sync state and the
        audit entries first.  A failed revoke is logged and reported in the
        result, because the data is gone either way.
        """
        self._end_flow(identity, "cancelled because the user unlinked")
        forgotten = await self._store.forget_user(identity)
        if self._user_clients is not None:
            self._user_clients.forget(identity)
        return await self.revoke_forgotten(forgotten)

    async def revoke_forgotten(self, forgotten: ForgottenLink | None) -> UnlinkResult:
        """Revoke the app password of a link the store just deleted, unless that cannot work."""
        if forgotten is None or forgotten.app_password is None or forgotten.login_name is None:
            return UnlinkResult(forgotten, app_password_revoked=False)
        link = forgotten.link
        if link.health is Health.UNHEALTHY:
            problem = f"not revoked, because the link was unhealthy ({link.health_reason}) and another failed login would count against the bridge"
            return UnlinkResult(forgotten, app_password_revoked=False, revoke_problem=problem)
        if await self._in_use(link, forgotten.login_name, forgotten.app_password):
            problem = "not revoked, because another link of the same Nextcloud user still uses it"
            return UnlinkResult(forgotten, app_password_revoked=False, revoke_problem=problem)
        client = self._client(forgotten.login_name, forgotten.app_password)
        problem = await self._revoke_quietly(client, link.identity)
        return UnlinkResult(forgotten, app_password_revoked=problem is None, revoke_problem=problem)

    async def _revoke_quietly(self, client: NextcloudClient, identity: ChatIdentity) -> str | None:
        """Revoke the client's app password; log and return the problem instead of raising."""
        try:
            await client.revoke_app_password()
        except NextcloudError as error:
            logger.warning("Revoking the Nextcloud app password of %s failed: %s", identity, error)
            return f"not revoked, because revoking it failed: {error}"
        logger.info("Revoked the Nextcloud app password of %s", identity)
        return None

    async def _in_use(self, link: Link, login_name: str, password: Secret) -> bool:
        """Tell whether another link of the same Nextcloud user stores this credential."""
        expected = credential_fingerprint(login_name, password.reveal())
        for other in await self._store.list_links(nextcloud_user_id=link.nextcloud_user_id):
            if other.identity == link.identity or not other.has_credentials:
                continue
            stored = await self._store.get_credentials(other.identity)
            if stored is not None and credential_fingerprint(stored.login_name, stored.app_password.reveal()) == expected:
                return True
        return False

    # --- users who are gone -------------------------------------------------------

    async def purge_gone_users(
        self, reader: NextcloudClient, *, deactivated: Iterable[ChatIdentity] = ()
    ) -> purge.PurgeReport:
        """Purge deactivated chat accounts and linked Nextcloud users that no longer exist.

        ``reader`` is the bridge's own Nextcloud account.  It must be an admin
        (or a subadmin of the users' groups), because otherwise Nextcloud does
        not distinguish a deleted user from one it may not read.  See :func:`presence_bridge.linking.purge.purge_gone_users`.
        """
        return await purge.purge_gone_users(self._store, reader, deactivated=deactivated, revoke=self.revoke_forgotten)

    def _client(self, login_name: str, password: Secret) -> NextcloudClient:
        return NextcloudClient(
            self._http,
            Credential(login_name, password.reveal()),
            retry=RetryPolicy(),
            sleep=self._sleep,
            user_agent=self._user_agent,
        )


def check_linkable(identity: ChatIdentity) -> None:
    """Raise ValueError unless ``identity`` is on a platform people link from."""
    if identity.platform not in LINKABLE_PLATFORMS:
        allowed = ", ".join(platform.value for platform in LINKABLE_PLATFORMS)
        raise ValueError(f"cannot link a {identity.platform.value} identity; the platform must be one of {allowed}")
