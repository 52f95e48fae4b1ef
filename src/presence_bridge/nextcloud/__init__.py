"""Async client for Nextcloud's user status API (OCS v2), Login Flow v2 and user lookups.

Typical use: one shared HTTP client per server, one :class:`NextcloudClient` per credential::

    http = make_http_client(base_url="https://cloud.example.org")
    alice = NextcloudClient(http, Credential("alice", app_password))
    listing = await list_statuses(alice)

Request building and response parsing (:mod:`.endpoints`, :mod:`.ocs`) do no I/O.
"""

from presence_bridge.nextcloud.account_models import (
    Credential,
    LoginFlowCredentials,
    LoginFlowStart,
    Sharee,
    UserDetails,
)
from presence_bridge.nextcloud.client import NextcloudClient, RetryPolicy
from presence_bridge.nextcloud.login_flow import LoginFlow
from presence_bridge.nextcloud.models import (
    Capabilities,
    ClearAtKind,
    ClearAtRule,
    PredefinedStatus,
    PrivateStatus,
    PublicStatus,
    ServerVersion,
)
from presence_bridge.nextcloud.ocs import ApiRequest, parse_response
from presence_bridge.nextcloud.paging import (
    DEFAULT_PAGE_LIMIT,
    StatusListing,
    StatusPage,
    iter_status_pages,
    list_statuses,
)
from presence_bridge.nextcloud.transport import DEFAULT_USER_AGENT, make_http_client
from presence_bridge.nextcloud.validation import is_single_emoji

__all__ = [
    "DEFAULT_PAGE_LIMIT",
    "DEFAULT_USER_AGENT",
    "ApiRequest",
    "Capabilities",
    "ClearAtKind",
    "ClearAtRule",
    "Credential",
    "LoginFlow",
    "LoginFlowCredentials",
    "LoginFlowStart",
    "NextcloudClient",
    "PredefinedStatus",
    "PrivateStatus",
    "PublicStatus",
    "RetryPolicy",
    "ServerVersion",
    "Sharee",
    "StatusListing",
    "StatusPage",
    "UserDetails",
    "is_single_emoji",
    "iter_status_pages",
    "list_statuses",
    "make_http_client",
    "parse_response",
]
