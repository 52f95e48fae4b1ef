"""PHP sessions of the emulated Nextcloud and the cookies that carry them.

Nextcloud 31.0.6 starts a PHP session on every OCS request, even an
unauthenticated one.  Its response then sets the session id under the instance
id (``oc2l9j0gf34p`` on the recorded server) and ``oc_sessionPassphrase`` (the
key of the encrypted session data).  It also sets ``nc_sameSiteCookielax`` and
``nc_sameSiteCookiestrict`` when the request lacks them.  A client that sends
the session cookies back reuses the session, so the server makes no new login
and no new session file per request.

How the emulator decides (see :func:`apply_session`):

* A session is valid when both cookies are present and the passphrase matches.
* A request acting as user U through Basic or Bearer credentials reuses a valid
  session of U.  Any other valid session in its cookies is ended and a fresh
  session for U is created, because the credentials win: Nextcloud logs the
  session's user out and logs U in.  A session of user A therefore never
  makes a request with B's credentials act as A.
* A request without credentials keeps its valid session (a user's session
  authenticates it as that user, see ``auth.authenticate``), or gets a new
  anonymous session that is bound to no user.

NOTE: only OCS routes (``ocs.wrap_ocs``) start sessions here.  The real server
also sets these cookies on the 404 and 405 of OCS paths, on login-flow pages
and on CalDAV responses; the emulator sends none there.
"""

from __future__ import annotations

import secrets
import string
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

if TYPE_CHECKING:
    from presence_bridge.emulator.auth import Principal

SESSION_COOKIE = "oc2l9j0gf34p"
"""Nextcloud names the session cookie after its instance id; this is the recorded server's."""

PASSPHRASE_COOKIE = "oc_sessionPassphrase"
SAME_SITE_COOKIES = {"nc_sameSiteCookielax": "lax", "nc_sameSiteCookiestrict": "strict"}
"""Cookie name to its SameSite value; Nextcloud checks them to tell same-site requests apart."""

SAME_SITE_EXPIRES = datetime(2100, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
"""Nextcloud sets the same-site cookies to expire at the end of 2100."""

_SESSION_ID_ALPHABET = string.ascii_lowercase + string.digits
SESSION_ID_LENGTH = 26
"""Length of a session id, as PHP's production ``php.ini`` sets it."""

_PASSPHRASE_ALPHABET = string.ascii_letters + string.digits
PASSPHRASE_LENGTH = 128
"""Length of a session passphrase, as long as Nextcloud's (which also contain ``+`` and ``/``)."""


@dataclass(slots=True)
class Session:
    """One PHP session: its user (None while anonymous), how and with which secret the user logged in."""

    user_id: str | None
    login_kind: str | None
    secret: str = field(repr=False)
    passphrase: str = field(repr=False)


class SessionStore:
    """Sessions by id, plus how many were created per user.

    Not thread-safe on its own: callers hold the state lock.
    """

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self.created: Counter[str] = Counter()
        self.anonymous_created = 0

    def find(self, cookies: Mapping[str, str]) -> tuple[str, Session] | None:
        """Return the session the request's cookies name, or None if missing or the passphrase is wrong."""
        session_id = cookies.get(SESSION_COOKIE)
        if session_id is None:
            return None
        session = self._sessions.get(session_id)
        passphrase = cookies.get(PASSPHRASE_COOKIE, "")
        if session is None or not secrets.compare_digest(session.passphrase, passphrase):
            return None
        return session_id, session

    def create(self, principal: Principal | None) -> tuple[str, Session]:
        """Start a session logged in as ``principal`` (None: anonymous) and count it."""
        session_id = "".join(secrets.choice(_SESSION_ID_ALPHABET) for _ in range(SESSION_ID_LENGTH))
        passphrase = "".join(secrets.choice(_PASSPHRASE_ALPHABET) for _ in range(PASSPHRASE_LENGTH))
        if principal is None:
            session = Session(None, None, "", passphrase)
            self.anonymous_created += 1
        else:
            session = Session(principal.user.id, principal.kind, principal.secret, passphrase)
            self.created[principal.user.id] += 1
        self._sessions[session_id] = session
        return session_id, session

    def end(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def summary(self) -> dict[str, Any]:
        """Return ``created`` per user and the counts of live user and anonymous sessions."""
        user_sessions = sum(1 for session in self._sessions.values() if session.user_id is not None)
        return {
            "created": dict(self.created),
            "active": user_sessions,
            "anonymous_created": self.anonymous_created,
            "anonymous_active": len(self._sessions) - user_sessions,
        }


def _set_session_cookies(response: Response, session_id: str, session: Session) -> None:
    response.set_cookie(SESSION_COOKIE, session_id, path="/", httponly=True, samesite="lax")
    response.set_cookie(PASSPHRASE_COOKIE, session.passphrase, path="/", httponly=True, samesite="lax")


def _set_same_site_cookies(response: Response, cookies: Mapping[str, str]) -> None:
    for name, same_site in SAME_SITE_COOKIES.items():
        if name not in cookies:
            response.set_cookie(
                name, "true", path="/", httponly=True, samesite=same_site, expires=SAME_SITE_EXPIRES  # type: ignore[arg-type]
            )


def apply_session(store: SessionStore, cookies: Mapping[str, str], response: Response, principal: Principal | None) -> None:
    """Reuse or start the request's session and add the cookies of a new one to ``response``.

    ``principal`` is whom the request acted as (None: anonymous).  The caller
    holds the state lock.
    """
    _set_same_site_cookies(response, cookies)
    found = store.find(cookies)
    if found is not None:
        session_id, session = found
        if principal is None or principal.from_session:
            return
        if session.user_id == principal.user.id:
            return
        # The credentials name another user than the session (or the session
        # is anonymous): that session ends and a fresh one for the credentials'
        # user starts, so the old session's user never acts through this request.
        store.end(session_id)
    new_id, new_session = store.create(principal)
    _set_session_cookies(response, new_id, new_session)
