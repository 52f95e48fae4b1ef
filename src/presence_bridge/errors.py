"""Every exception the bridge raises on purpose.

All of them derive from :class:`BridgeError`, so a caller that wants to catch
"anything the bridge reported" needs one ``except`` clause::

    BridgeError
    ├── ConfigError                  invalid or missing configuration (names the key)
    ├── StorageError                 the store failed or holds unreadable data
    │   ├── SecretKeyError           the encryption key is missing or wrong
    │   ├── LinkConflictError        the chat or Nextcloud user is already linked
    │   └── LinkNotFoundError        no link exists for the given chat identity
    ├── LinkingError                 the bridge cannot act as a user in Nextcloud (says to link)
    │   ├── NotLinkedError           the chat identity or Nextcloud user has no link
    │   ├── NoCredentialsError       the link has no app password, so chat -> Nextcloud is off
    │   ├── CredentialRejectedError  Nextcloud rejected the stored app password (401)
    │   └── LinkExpiredError         the login flow ended without a grant
    ├── CommandError                 a user's command was invalid (carries the reply)
    │   └── TimeExpressionError      an expiry such as "until 25:00" was invalid
    └── UpstreamError                a remote system failed (carries ``retryable``)
        ├── NextcloudError
        │   ├── NextcloudUnavailable         transport error or timeout, no answer
        │   ├── NextcloudValidationError     rejected locally before sending, or a 400
        │   ├── NextcloudNotFound            404: no status, user or group
        │   ├── NextcloudUnauthorized        401: wrong or revoked credential
        │   ├── NextcloudForbidden           403: the account may not do this
        │   ├── NextcloudCsrfError           412: the OCS-APIRequest header was missing
        │   ├── NextcloudServerError         500, 502-504 and other 5xx
        │   ├── NextcloudProtocolError       a response the client could not parse
        │   └── LoginFlowError               Login Flow v2 failed
        │       └── LoginFlowPending         the user has not granted access yet
        ├── SlackError
        └── MatrixError
            ├── MatrixUnavailable            transport error, timeout or 5xx
            ├── MatrixRateLimited            429 M_LIMIT_EXCEEDED (carries ``retry_after``)
            ├── MatrixUnauthorized           401: the access or appservice token is unknown
            ├── MatrixForbidden              403: not allowed for this user or token
            ├── MatrixRequestRejected        another 4xx, e.g. 400 for an invalid presence
            └── MatrixProtocolError          a response the client could not parse

``retryable`` on an :class:`UpstreamError` tells callers whether sending the
same request again may succeed (a transport error or a 503) or cannot (a 400).
"""

from __future__ import annotations


class BridgeError(Exception):
    """Base class of every exception the bridge raises on purpose."""


class ConfigError(BridgeError):
    """The configuration is invalid; the message names the key and the problem."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class StorageError(BridgeError):
    """The store failed or contains data the bridge cannot read."""


class SecretKeyError(StorageError):
    """The key that encrypts secrets at rest is missing or does not decrypt them."""


class LinkConflictError(StorageError):
    """A link was requested for a chat identity or Nextcloud user that is already linked.

    The message names the existing link, so the user can unlink it first.
    """


class LinkNotFoundError(StorageError):
    """An operation needs a link for a chat identity that has none."""


class LinkingError(BridgeError):
    """The bridge cannot act as a user in Nextcloud; the message asks the user to run ``link``."""


class NotLinkedError(LinkingError):
    """A chat identity or Nextcloud user has no link."""


class NoCredentialsError(LinkingError):
    """A link has no Nextcloud app password, so only Nextcloud -> chat works for it."""


class CredentialRejectedError(LinkingError):
    """Nextcloud rejected a link's app password (401); no request is sent with it until a new link."""


class LinkExpiredError(LinkingError):
    """A Login Flow v2 ended without a grant: its 20-minute lifetime passed or it was replaced."""


class CommandError(BridgeError):
    """A user's command was invalid.

    ``reply`` is the text to send back to the user, ``usage`` the usage line of
    the command they tried, if one applies.  It is answered, never logged as an
    error.
    """

    def __init__(self, reply: str, *, usage: str | None = None) -> None:
        super().__init__(reply)
        self.reply = reply
        self.usage = usage

    def __str__(self) -> str:
        if self.usage:
            return f"{self.reply}\nUsage: {self.usage}"
        return self.reply


class TimeExpressionError(CommandError):
    """A time expression (a duration or an until-time) was invalid."""


class UpstreamError(BridgeError):
    """A remote system (Nextcloud, Slack or Matrix) failed or rejected a request."""

    platform: str = "upstream"

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class NextcloudError(UpstreamError):
    """Nextcloud failed or rejected a request.

    ``http_status`` and ``ocs_status`` hold what the server sent, when it sent
    anything; ``server_message`` is the OCS ``meta.message`` text.
    """

    platform = "nextcloud"

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        http_status: int | None = None,
        ocs_status: int | None = None,
        server_message: str | None = None,
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.http_status = http_status
        self.ocs_status = ocs_status
        self.server_message = server_message


class NextcloudUnavailable(NextcloudError):
    """Nextcloud could not be reached, or did not respond in time."""


class NextcloudValidationError(NextcloudError):
    """A value Nextcloud rejects: caught locally before sending, or a 400 from the server."""


class NextcloudNotFound(NextcloudError):
    """404: the user has no status, or the user, group or route does not exist."""


class NextcloudUnauthorized(NextcloudError):
    """401: the login name or app password is wrong, revoked or missing."""


class NextcloudForbidden(NextcloudError):
    """403: the account is authenticated but may not make this request."""


class NextcloudCsrfError(NextcloudError):
    """412: the request lacked the ``OCS-APIRequest`` header."""


class NextcloudServerError(NextcloudError):
    """A 5xx answer. Only 502, 503 and 504 on idempotent calls are retried."""


class NextcloudProtocolError(NextcloudError):
    """A response the client could not parse into the expected shape."""


class LoginFlowError(NextcloudError):
    """Nextcloud Login Flow v2 failed or its token expired."""


class LoginFlowPending(LoginFlowError):
    """The login flow has not been granted yet; poll again later."""


class SlackError(UpstreamError):
    """Slack failed or rejected a request."""

    platform = "slack"


class MatrixError(UpstreamError):
    """The Matrix homeserver failed or rejected a request.

    ``http_status`` and ``errcode`` hold what the homeserver sent, when it sent
    anything; ``server_message`` is the ``error`` text of its JSON body.
    """

    platform = "matrix"

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        http_status: int | None = None,
        errcode: str | None = None,
        server_message: str | None = None,
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.http_status = http_status
        self.errcode = errcode
        self.server_message = server_message


class MatrixUnavailable(MatrixError):
    """The homeserver could not be reached, did not respond in time, or returned a 5xx."""


class MatrixRateLimited(MatrixError):
    """429 ``M_LIMIT_EXCEEDED``: the homeserver dropped the request.

    ``retry_after`` is the wait in seconds the homeserver asked for, or None when it
    sent none.  Synapse drops a rate-limited presence change; it does not queue it.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None,
        http_status: int | None = 429,
        errcode: str | None = "M_LIMIT_EXCEEDED",
        server_message: str | None = None,
    ) -> None:
        super().__init__(
            message, retryable=True, http_status=http_status, errcode=errcode, server_message=server_message
        )
        self.retry_after = retry_after


class MatrixUnauthorized(MatrixError):
    """401: the access token or appservice ``as_token`` is unknown to the homeserver."""


class MatrixForbidden(MatrixError):
    """403: the token may not act for this user, e.g. a user outside the appservice namespace."""


class MatrixRequestRejected(MatrixError):
    """A 4xx other than 401, 403 and 429, e.g. 400 for a presence state the server does not accept."""


class MatrixProtocolError(MatrixError):
    """A response the client could not parse into the expected shape."""
