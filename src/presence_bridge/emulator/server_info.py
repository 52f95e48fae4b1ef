"""Server-wide endpoints: capabilities and ``status.php`` (app passwords are in ``app_passwords``).

The capabilities carry what Nextcloud 31.0.6 with its default apps reports.  A
request without credentials gets only the public part (``bruteforce``, ``app_api``
version, ``theming``), so ``user_status`` is missing there.  Absolute URLs use the
scheme, host and port the request was sent to.

``ocm.publicKey`` is a key pair made on first use for each emulator state.

NOTE: ``bruteforce.delay`` is always 0 because this emulator does not throttle
failed logins.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from presence_bridge.emulator.app_passwords import app_password_routes
from presence_bridge.emulator.ocs import OcsContext, ocs_routes
from presence_bridge.emulator.state import EmulatorState

VERSION = {"major": 31, "minor": 0, "micro": 6, "string": "31.0.6", "edition": "", "extendedSupport": False}
INTERNAL_VERSION = "31.0.6.2"

STATUS_PHP = {
    "installed": True,
    "maintenance": False,
    "needsDbUpgrade": False,
    "version": INTERNAL_VERSION,
    "versionstring": VERSION["string"],
    "edition": "",
    "productname": "Nextcloud",
    "extendedSupport": False,
}

USER_STATUS_CAPABILITY = {"enabled": True, "restore": True, "supports_emoji": True}
"""``supports_busy`` arrived in Nextcloud 32, so 31.0.6 does not send it."""

OCM_KEY = "server_info.ocm_public_key"


def ocm_public_key(state: EmulatorState) -> str:
    """Return the PEM public key the instance signs OCM requests with (made once per state)."""
    with state.lock:
        pem = state.extras.get(OCM_KEY)
        if pem is None:
            private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = private_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode("ascii")
            state.extras[OCM_KEY] = pem
        return str(pem)


def base_url(request: Request) -> str:
    """Return ``scheme://host[:port]`` as the client addressed this server."""
    return f"{request.url.scheme}://{request.url.netloc}"


def _theming(base: str) -> dict[str, Any]:
    logo = f"{base}/core/img/logo/logo.svg?v=0"
    return {
        "name": "Nextcloud",
        "url": "https://nextcloud.com",
        "slogan": "a safe home for all your data",
        "color": "#00679e",
        "color-text": "#ffffff",
        "color-element": "#00679e",
        "color-element-bright": "#00679e",
        "color-element-dark": "#00679e",
        "logo": logo,
        "background": f"{base}/apps/theming/img/background/jenna-kim-the-globe.webp",
        "background-text": "#ffffff",
        "background-plain": False,
        "background-default": True,
        "logoheader": logo,
        "favicon": logo,
    }


def _files(base: str) -> dict[str, Any]:
    return {
        "$comment": '"blacklisted_files" is deprecated as of Nextcloud 30, use "forbidden_filenames" instead',
        "blacklisted_files": [".htaccess"],
        "forbidden_filenames": [".htaccess"],
        "forbidden_filename_basenames": [],
        "forbidden_filename_characters": ["\\", "/"],
        "forbidden_filename_extensions": [".filepart", ".part"],
        "bigfilechunking": True,
        "chunked_upload": {"max_size": 104857600, "max_parallel_count": 5},
        "file_conversions": [],
        "directEditing": {
            "url": f"{base}/ocs/v2.php/apps/files/api/v1/directEditing",
            "etag": "5b2f367cfe076ab42b79601036409c2e",
            "supportsFileId": True,
        },
        "comments": True,
        "undelete": True,
        "delete_from_trash": True,
        "versioning": True,
        "version_labeling": True,
        "version_deletion": True,
    }


def _files_sharing() -> dict[str, Any]:
    enabled = {"enabled": True}
    disabled = {"enabled": False}
    return {
        "api_enabled": True,
        "public": {
            "enabled": True,
            "password": {"enforced": False, "askForOptionalPassword": False},
            "expire_date": disabled,
            "multiple_links": True,
            "expire_date_internal": disabled,
            "expire_date_remote": disabled,
            "send_mail": False,
            "upload": True,
            "upload_files_drop": True,
            "custom_tokens": False,
        },
        "resharing": True,
        "user": {"send_mail": False, "expire_date": enabled},
        "group_sharing": True,
        "group": {"enabled": True, "expire_date": enabled},
        "default_permissions": 31,
        "federation": {
            "outgoing": True,
            "incoming": True,
            "expire_date": enabled,
            "expire_date_supported": enabled,
        },
        "sharee": {"query_lookup_default": False, "always_show_unique": True},
        "sharebymail": {
            "enabled": True,
            "send_password_by_mail": True,
            "upload_files_drop": enabled,
            "password": {"enabled": True, "enforced": False},
            "expire_date": {"enabled": True, "enforced": False},
        },
    }


def _password_policy(base: str) -> dict[str, Any]:
    rules = {
        "minLength": 10,
        "enforceNonCommonPassword": True,
        "enforceNumericCharacters": False,
        "enforceSpecialCharacters": False,
        "enforceUpperLowerCase": False,
    }
    return {
        "api": {
            "generate": f"{base}/ocs/v2.php/apps/password_policy/api/v1/generate",
            "validate": f"{base}/ocs/v2.php/apps/password_policy/api/v1/validate",
        },
        "policies": {"account": {"minLength": 10, "enforceHaveIBeenPwned": False, **rules}},
        **rules,
    }


def _circles() -> dict[str, Any]:
    flags = [
        "Single", "Personal", "System", "Visible", "Open", "Invite", "Join request", "Friends",
        "Password protected", "No Owner", "Hidden", "Backend", "Local", "Root", "Team invite",
        "Federated", "Mount point",
    ]  # fmt: skip
    return {
        "version": "31.0.0",
        "status": {"globalScale": False},
        "settings": {"frontendEnabled": True, "allowedCircles": 262143, "allowedUserTypes": 31, "membersLimit": -1},
        "circle": {
            "constants": {
                "flags": {str(1 << bit): name for bit, name in enumerate(flags)},
                "source": {
                    "core": {
                        "1": "Nextcloud Account",
                        "2": "Nextcloud Group",
                        "4": "Email address",
                        "8": "Contact",
                        "16": "Circle",
                        "10000": "Nextcloud App",
                    },
                    "extra": {"10001": "Circles App", "10002": "Admin Command Line"},
                },
            },
            "config": {"coreFlags": [1, 2, 4], "systemFlags": [512, 1024, 2048]},
        },
        "member": {
            "constants": {"level": {"1": "Member", "4": "Moderator", "8": "Admin", "9": "Owner"}},
            "type": {"0": "single", "1": "user", "2": "group", "4": "mail", "8": "contact", "16": "circle", "10000": "app"},
        },
        "teamResourceProviders": ["files"],
    }


def _user_capabilities(base: str, public_key: str) -> dict[str, Any]:
    """Capabilities Nextcloud adds for a logged-in user, in the order 31.0.6 sends them."""
    return {
        "core": {
            "pollinterval": 60,
            "webdav-root": "remote.php/webdav",
            "reference-api": True,
            "reference-regex": (
                r"(\s|\n|^)(https?:\/\/)([-A-Z0-9+_.]+(?::[0-9]+)?"
                r"(?:\/[-A-Z0-9+&@#%?=~_|!:,.;()]*)*)(\s|\n|$)"
            ),
            "mod-rewrite-working": False,
        },
        "bruteforce": {"delay": 0, "allow-listed": False},
        "files": _files(base),
        "activity": {"apiv2": ["filters", "filters-api", "previews", "rich-strings"]},
        "app_api": {
            "loglevel": 1,
            "version": "5.0.2",
            "text_processing": {"task_types": ["free_prompt", "headline", "summary", "topics"]},
        },
        "circles": _circles(),
        "ocm": {
            "enabled": True,
            "apiVersion": "1.0-proposal1",
            "version": "1.1",
            "endPoint": f"{base}/index.php/ocm",
            # Nextcloud 31 names the key with https even when served over http.
            "publicKey": {"keyId": f"https://{base.split('://', 1)[-1]}/ocm#signature", "publicKeyPem": public_key},
            "resourceTypes": [
                {"name": "file", "shareTypes": ["user", "group"], "protocols": {"webdav": "/public.php/webdav/"}}
            ],
        },
        "dav": {"chunking": "1.0", "bulkupload": "1.0", "absence-supported": True, "absence-replacement": True},
        "downloadlimit": {"enabled": True, "default-limit": -1},
        "files_sharing": _files_sharing(),
        "notifications": {
            "ocs-endpoints": [
                "list", "get", "delete", "delete-all", "icons", "rich-strings", "action-web",
                "user-status", "exists", "test-push",
            ],
            "push": ["devices", "object-data", "delete"],
            "admin-notifications": ["ocs", "cli"],
        },  # fmt: skip
        "password_policy": _password_policy(base),
        "provisioning_api": {
            "version": "1.21.0",
            "AccountPropertyScopesVersion": 2,
            "AccountPropertyScopesFederatedEnabled": True,
            "AccountPropertyScopesPublishedEnabled": False,
        },
        "recommendations": {"enabled": True},
        "systemtags": {"enabled": True},
        "theming": _theming(base),
        "user_status": dict(USER_STATUS_CAPABILITY),
        "weather_status": {"enabled": True},
    }


def capabilities(state: EmulatorState, base: str, *, logged_in: bool) -> dict[str, Any]:
    """Return the ``data`` of ``GET /cloud/capabilities``."""
    if logged_in:
        caps = _user_capabilities(base, ocm_public_key(state))
    else:
        caps = {
            "bruteforce": {"delay": 0, "allow-listed": False},
            "app_api": {"version": "5.0.2"},
            "theming": _theming(base),
        }
    return {"version": dict(VERSION), "capabilities": caps}


async def get_capabilities(ctx: OcsContext) -> Response:
    return ctx.respond(capabilities(ctx.state, base_url(ctx.request), logged_in=ctx.user is not None))


async def status_php(request: Request) -> Response:
    response = JSONResponse(STATUS_PHP, media_type="application/json")
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def routes() -> list[BaseRoute]:
    return [
        *ocs_routes("/cloud/capabilities", get_capabilities, ["GET"], needs_user=False),
        *app_password_routes(),
        Route("/status.php", status_php, methods=["GET"]),
    ]
