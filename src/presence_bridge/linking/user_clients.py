"""Nextcloud clients that act as linked users, built from the store's encrypted credentials.

:class:`UserClients` hands out one :class:`NextcloudClient` per stored
credential, all over one shared ``httpx.AsyncClient``.  Callers send every
request as a user through :meth:`UserClients.call`, which handles a 401 in one
place: the link is marked unhealthy in the store (with an audit entry), and no
further request is sent with that credential until the user links again.  A
second failed login would only feed Nextcloud's brute-force protection, which
then slows down every request from the bridge's address.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx

from ..core.ids import ChatIdentity
from ..errors import CredentialRejectedError, NextcloudUnauthorized, NoCredentialsError, NotLinkedError
from ..nextcloud import Credential, NextcloudClient, RetryPolicy
from ..nextcloud.transport import DEFAULT_USER_AGENT
from ..storage import Health, Link, Store

logger = logging.getLogger(__name__)

T = TypeVar("T")

CREDENTIAL_REJECTED_REASON = "Nextcloud rejected the app password (HTTP 401)"
"""The health reason stored on a link whose app password got a 401."""

AUDIT_ACTOR = "bridge"
AUDIT_ACTION_UNHEALTHY = "credentials-rejected"


def describe_identity(identity: ChatIdentity) -> str:
    """Name a chat identity in messages, e.g. ``slack user 'U1' in 'T1'``."""
    return f"{identity.platform.value} user {identity.user_id!r} in {identity.workspace!r}"


def relink_hint(identity: ChatIdentity | None) -> str:
    """Return the sentence that explains to a user (or the operator) how to grant access again."""
    if identity is None:
        return "Send the bridge the `link` command, or run `presence-bridge link`."
    return (
        "Send the bridge the `link` command, or run `presence-bridge link --platform "
        f"{identity.platform.value} --chat-user {identity.user_id} --workspace {identity.workspace} ...`."
    )


def credential_fingerprint(login_name: str, app_password: str) -> str:
    """Return a hash that distinguishes credentials without keeping or logging them."""
    return hashlib.sha256(f"{login_name}\0{app_password}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class _Entry:
    link: Link
    fingerprint: str
    client: NextcloudClient


class UserClients:
    """A pool of per-user Nextcloud clients over one shared HTTP client.

    ``who`` in every method is a chat identity (its own link's credentials) or a
    Nextcloud user id (the credentials of any healthy link of that user).  The
    credentials are read from the store on every lookup, so new credentials
    stored by another process take effect at once.  The pool does not own
    ``http`` and never closes it.
    """

    def __init__(
        self,
        store: Store,
        http: httpx.AsyncClient,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._http = http
        self._user_agent = user_agent
        self._retry = retry
        self._sleep = sleep
        self._clients: dict[int, _Entry] = {}
        self._rejected: set[str] = set()
        """Fingerprints of credentials that got a 401, kept even if marking the store failed."""

    async def client_for(self, who: ChatIdentity | str) -> NextcloudClient:
        """Return the client that acts as ``who``.

        Raises :class:`NotLinkedError`, :class:`NoCredentialsError` or
        :class:`CredentialRejectedError` (for an unhealthy link), each with a
        message that asks the user to link again.  No request is sent here.
        """
        link = await self._usable_link(who)
        return (await self._entry_of(link)).client

    async def call(self, who: ChatIdentity | str, operation: Callable[[NextcloudClient], Awaitable[T]]) -> T:
        """Run ``operation`` with the client of ``who``; a 401 marks the link unhealthy.

        Example: ``await clients.call(identity, lambda c: c.set_status("dnd"))``.
        A 401 is raised as :class:`CredentialRejectedError` (its cause is the
        :class:`NextcloudUnauthorized`); every other error passes through unchanged.
        """
        link = await self._usable_link(who)
        entry = await self._entry_of(link)
        try:
            return await operation(entry.client)
        except NextcloudUnauthorized as error:
            await self._reject(entry)
            raise CredentialRejectedError(
                f"Nextcloud rejected the app password of {describe_identity(link.identity)} "
                f"(Nextcloud user {link.nextcloud_user_id!r}); the bridge will not use it again. "
                + relink_hint(link.identity)
            ) from error

    async def report_rejected(self, client: NextcloudClient) -> None:
        """Mark the links of a client from :meth:`client_for` unhealthy after it got a 401.

        :meth:`call` does this itself.  A client this pool did not build is ignored.
        """
        for entry in list(self._clients.values()):
            if entry.client is client:
                await self._reject(entry)
                return
        logger.warning("A client the user-client pool did not build got a 401; no link was marked unhealthy")

    async def _reject(self, entry: _Entry) -> None:
        """Mark every link that stores the rejected credential unhealthy, with one audit entry each."""
        link = entry.link
        fingerprint = entry.fingerprint
        self._rejected.add(fingerprint)
        for other in await self._store.list_links(nextcloud_user_id=link.nextcloud_user_id):
            if other.id != link.id and not await self._stores_fingerprint(other, fingerprint):
                continue
            self._clients.pop(other.id, None)
            if other.health is Health.UNHEALTHY:
                continue
            await self._store.mark_unhealthy(other, CREDENTIAL_REJECTED_REASON)
            await self._store.add_audit(
                actor=AUDIT_ACTOR,
                source="nextcloud",
                action=AUDIT_ACTION_UNHEALTHY,
                nextcloud_user_id=other.nextcloud_user_id,
                platform=other.identity.platform.value,
                workspace=other.identity.workspace,
                chat_user_id=other.identity.user_id,
                old_value=Health.HEALTHY.value,
                new_value=CREDENTIAL_REJECTED_REASON,
            )

    def forget(self, identity: ChatIdentity | None = None) -> None:
        """Drop cached clients: all of them, or those of one chat identity."""
        if identity is None:
            self._clients.clear()
            return
        for link_id in [key for key, entry in self._clients.items() if entry.link.identity == identity]:
            del self._clients[link_id]

    async def _usable_link(self, who: ChatIdentity | str) -> Link:
        if isinstance(who, ChatIdentity):
            link = await self._store.get_link(who)
            if link is None:
                raise NotLinkedError(
                    f"{describe_identity(who)} is not linked to a Nextcloud user. " + relink_hint(who)
                )
            return self._check_usable(link)
        links = await self._store.list_links(nextcloud_user_id=who)
        if not links:
            raise NotLinkedError(f"Nextcloud user {who!r} has no linked chat account. " + relink_hint(None))
        with_credentials = [link for link in links if link.has_credentials]
        healthy = [link for link in with_credentials if link.health is Health.HEALTHY]
        return self._check_usable(healthy[0] if healthy else (with_credentials or links)[0])

    def _check_usable(self, link: Link) -> Link:
        if not link.has_credentials:
            raise NoCredentialsError(
                f"{describe_identity(link.identity)} is linked to Nextcloud user {link.nextcloud_user_id!r} "
                "without an app password, so the bridge can mirror Nextcloud to chat but cannot change "
                "the Nextcloud status. " + relink_hint(link.identity)
            )
        if link.health is Health.UNHEALTHY:
            raise CredentialRejectedError(
                f"the link of {describe_identity(link.identity)} to Nextcloud user {link.nextcloud_user_id!r} "
                f"is unhealthy ({link.health_reason or 'no reason recorded'}), so the bridge sends no "
                "request with its app password. " + relink_hint(link.identity)
            )
        return link

    async def _entry_of(self, link: Link) -> _Entry:
        credentials = await self._store.get_credentials(link.identity)
        if credentials is None:
            # Deleted between reading the link and reading its credentials.
            raise NoCredentialsError(
                f"{describe_identity(link.identity)} has no Nextcloud app password any more. "
                + relink_hint(link.identity)
            )
        password = credentials.app_password.reveal()
        fingerprint = credential_fingerprint(credentials.login_name, password)
        if fingerprint in self._rejected:
            raise CredentialRejectedError(
                f"Nextcloud already rejected the app password of {describe_identity(link.identity)}; "
                "the bridge sends no request with it. " + relink_hint(link.identity)
            )
        entry = self._clients.get(link.id)
        if entry is None or entry.fingerprint != fingerprint:
            client = NextcloudClient(
                self._http,
                Credential(credentials.login_name, password),
                retry=self._retry,
                sleep=self._sleep,
                user_agent=self._user_agent,
            )
            entry = _Entry(link, fingerprint, client)
            self._clients[link.id] = entry
        return entry

    async def _stores_fingerprint(self, link: Link, fingerprint: str) -> bool:
        if not link.has_credentials:
            return False
        credentials = await self._store.get_credentials(link.identity)
        if credentials is None:
            return False
        return credential_fingerprint(credentials.login_name, credentials.app_password.reveal()) == fingerprint

