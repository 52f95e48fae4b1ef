"""Operator commands for identity links: ``link``, ``unlink``, ``links`` and ``import``.

:func:`register` adds them to the ``presence-bridge`` parser.  Each reads the
configuration, opens the store, and prints what it did.  An app password is
read from a file or from standard input, never from an argument, because
arguments show up in ``ps`` output and shell history.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from presence_bridge import config
from presence_bridge.cli_options import add_config_option
from presence_bridge.core.ids import ChatIdentity, Platform
from presence_bridge.errors import BridgeError
from presence_bridge.logs import setup_logging

EXIT_OK = 0
EXIT_FAILURE = 1
PLATFORM_CHOICES = tuple(platform.value for platform in (Platform.SLACK, Platform.MATRIX, Platform.RECORDING))


def _add_identity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--platform", required=True, choices=PLATFORM_CHOICES, help="the chat platform")
    parser.add_argument(
        "--chat-user",
        required=True,
        help="the chat user id: a Slack member id (U...), a Matrix id (@name:server) or a recording platform user id",
    )
    parser.add_argument(
        "--workspace",
        help=(
            "the Slack team id (T...) or the recording platform's workspace, required for both; "
            "for Matrix it defaults to the homeserver of --chat-user"
        ),
    )


def register(commands: Any) -> None:
    """Add ``link``, ``unlink``, ``links`` and ``import`` to the sub-command set ``commands``."""
    link = commands.add_parser(
        "link",
        help="link a chat user to a Nextcloud user, optionally with an app password",
        description=(
            "Link a chat user to a Nextcloud user. Give the bridge an app password of its own "
            "(Nextcloud: Settings > Security > Create new app password), not one another client uses: "
            "unlink revokes the app password the bridge holds."
        ),
    )
    _add_identity(link)
    link.add_argument("--nextcloud-user", required=True, help="the Nextcloud user id")
    password = link.add_mutually_exclusive_group()
    password.add_argument(
        "--app-password-file",
        type=Path,
        help="read the app password created for the bridge from this file (unlink revokes it)",
    )
    password.add_argument(
        "--app-password-stdin",
        action="store_true",
        help="read the app password created for the bridge from standard input (unlink revokes it)",
    )
    link.add_argument(
        "--login-name", help="the Nextcloud login name for the app password (default: the Nextcloud user id)"
    )
    add_config_option(link)
    link.set_defaults(handler=async_command(_link))

    unlink = commands.add_parser(
        "unlink", help="forget a chat user: delete the link and its data, revoke the Nextcloud app password"
    )
    _add_identity(unlink)
    add_config_option(unlink)
    unlink.set_defaults(handler=async_command(_unlink))

    links = commands.add_parser("links", help="list the links with their credentials, directions and health")
    links.add_argument("--platform", choices=PLATFORM_CHOICES, help="list only this platform")
    add_config_option(links)
    links.set_defaults(handler=async_command(_links))

    csv_import = commands.add_parser(
        "import", help="link the pairs of a CSV file: platform, chat user id, Nextcloud user id[, workspace]"
    )
    csv_import.add_argument("csv", help="path of the CSV file, or - for standard input")
    csv_import.add_argument("--workspace", help="the Slack team id for rows without a 4th column")
    add_config_option(csv_import)
    csv_import.set_defaults(handler=async_command(_import))


def async_command(handler: Callable[[argparse.Namespace, config.Settings], Awaitable[int]]) -> Callable[..., int]:
    """Wrap an async command: load the settings, set up logging, run it, and print a BridgeError as the reason."""

    def run(args: argparse.Namespace) -> int:
        settings = config.load(args.config)
        setup_logging(settings)
        try:
            return asyncio.run(handler(args, settings))
        except BridgeError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_FAILURE

    return run


def count_phrase(number: int, singular: str, plural: str | None = None) -> str:
    """Return ``number`` with the singular or plural phrase, e.g. ``1 new link`` or ``2 new links``."""
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def _identity(args: argparse.Namespace) -> ChatIdentity:
    from presence_bridge.linking.csv_import import RowError, matrix_identity, slack_identity

    try:
        if args.platform == Platform.SLACK.value:
            if not args.workspace:
                raise BridgeError(
                    "--workspace is missing: a Slack user needs the Slack team id (e.g. T012AB3CD) of its workspace"
                )
            return slack_identity(args.chat_user, args.workspace)
        if args.platform == Platform.RECORDING.value:
            return _recording_identity(args.chat_user, args.workspace)
        return matrix_identity(args.chat_user, args.workspace)
    except RowError as error:
        raise BridgeError(f"{error}") from None


def _recording_identity(chat_user: str, workspace: str | None) -> ChatIdentity:
    """Build an identity on the recording platform, whose ids are free text."""
    if not workspace:
        raise BridgeError("--workspace is missing: a recording platform user needs the workspace its writes are recorded under")
    if not chat_user.strip():
        raise BridgeError("--chat-user is empty: give the recording platform user id")
    return ChatIdentity(Platform.RECORDING, workspace, chat_user)


def _read_app_password(args: argparse.Namespace) -> Any:
    from presence_bridge.secret import Secret

    if args.app_password_file is not None:
        path: Path = args.app_password_file
        try:
            value = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            raise BridgeError(f"cannot read the app password file {str(path)!r}: {error}") from None
        source = f"file {path}"
    elif args.app_password_stdin:
        value = sys.stdin.read().strip()
        source = "standard input"
    else:
        return None
    if not value:
        raise BridgeError(f"the app password from {source} is empty; put the app password alone in it")
    return Secret(value, source=source)


async def open_configured_store(settings: config.Settings) -> Any:
    """Open the store of ``[storage]``, upgrading its schema first."""
    from presence_bridge.storage import open_store

    return await open_store(settings.storage.url, encryption_keys=settings.storage.encryption_keys)


def nextcloud_http(settings: config.Settings) -> Any:
    """Build the HTTP client for ``[nextcloud]``: base URL, TLS, timeouts, proxy and User-Agent."""
    from presence_bridge.nextcloud import make_http_client

    nextcloud = settings.nextcloud
    return make_http_client(
        base_url=nextcloud.url,
        verify=nextcloud.tls_verify,
        timeout_connect=nextcloud.timeout_connect,
        timeout_read=nextcloud.timeout_read,
        proxy=nextcloud.proxy,
        user_agent=nextcloud.user_agent,
    )


def read_account(settings: config.Settings, http: Any) -> Any:
    """Build a Nextcloud client for the bridge's own read account (``[nextcloud] login``)."""
    from presence_bridge.nextcloud import Credential, NextcloudClient, RetryPolicy

    nextcloud = settings.nextcloud
    credential = Credential(nextcloud.login, nextcloud.app_password.reveal())
    return NextcloudClient(http, credential, retry=RetryPolicy(), user_agent=nextcloud.user_agent)


async def _check_user_exists(settings: config.Settings, user_id: str) -> str | None:
    """Raise BridgeError when Nextcloud reports that ``user_id`` does not exist.

    Returns None when the user exists, or a warning saying why the read account
    could not tell.  Only OCS status 404 means "no such user".  Nextcloud 31
    returns OCS status 998 to an account that may not read other users.
    """
    from presence_bridge.errors import NextcloudError, NextcloudNotFound
    from presence_bridge.linking.purge import nextcloud_user_exists

    login = settings.nextcloud.login
    async with nextcloud_http(settings) as http:
        try:
            exists = await nextcloud_user_exists(read_account(settings, http), user_id)
        except NextcloudNotFound:
            return (
                f"linked without checking that Nextcloud user {user_id!r} exists, because the read account "
                f"{login!r} may not read other users. Make it an admin, or a subadmin of the user's groups, "
                "to have this checked"
            )
        except NextcloudError as error:
            return f"linked without checking that Nextcloud user {user_id!r} exists, because the check failed: {error}"
    if not exists:
        raise BridgeError(
            f"Nextcloud user {user_id!r} does not exist (checked with the read account {login!r}); "
            "pass the user id shown in Nextcloud under Administration > Accounts"
        )
    return None


async def _link(args: argparse.Namespace, settings: config.Settings) -> int:
    from presence_bridge.linking.csv_import import RowError, check_nextcloud_user_id
    from presence_bridge.linking.service import LinkingService

    identity = _identity(args)
    try:
        check_nextcloud_user_id(args.nextcloud_user)
    except RowError as error:
        raise BridgeError(str(error)) from None
    app_password = _read_app_password(args)
    async with await open_configured_store(settings) as store:
        if app_password is None:
            existing = await store.get_link(identity)
            if existing is not None and existing.nextcloud_user_id == args.nextcloud_user:
                print(f"{identity} is already linked to Nextcloud user {args.nextcloud_user}; nothing changed.")
                return EXIT_OK
            unchecked = await _check_user_exists(settings, args.nextcloud_user)
            await store.link(identity, args.nextcloud_user)
            await store.add_audit(
                actor="operator", source="cli", action="link", nextcloud_user_id=args.nextcloud_user,
                platform=identity.platform.value, workspace=identity.workspace, chat_user_id=identity.user_id,
                new_value="no app password",
            )
            print(
                f"Linked {identity} to Nextcloud user {args.nextcloud_user} without an app password: "
                "Nextcloud -> chat works. For chat -> Nextcloud the user sends `link`, or you run this "
                "again with --app-password-file or --app-password-stdin."
            )
            if unchecked:
                print(f"warning: {unchecked}", file=sys.stderr)
            return EXIT_OK
        async with nextcloud_http(settings) as http:
            service = LinkingService(store, http, user_agent=settings.nextcloud.user_agent)
            await service.link_with_app_password(
                identity, args.login_name or args.nextcloud_user, app_password, nextcloud_user_id=args.nextcloud_user
            )
    print(f"Linked {identity} to Nextcloud user {args.nextcloud_user} with a checked app password: both directions work.")
    return EXIT_OK


async def _unlink(args: argparse.Namespace, settings: config.Settings) -> int:
    from presence_bridge.linking.service import LinkingService

    identity = _identity(args)
    async with await open_configured_store(settings) as store:
        async with nextcloud_http(settings) as http:
            result = await LinkingService(store, http, user_agent=settings.nextcloud.user_agent).unlink(identity)
    if result.forgotten is None:
        print(f"error: {identity} is not linked; nothing to unlink (its audit entries were deleted)", file=sys.stderr)
        return EXIT_FAILURE
    print(
        f"Unlinked {identity} from Nextcloud user {result.forgotten.link.nextcloud_user_id} and deleted its "
        "credentials, sync state and audit entries."
    )
    if result.app_password_revoked:
        print("Nextcloud revoked the app password.")
    elif result.revoke_problem:
        print(f"warning: the app password was {result.revoke_problem}; revoke it in Nextcloud under "
              "Settings > Security > Devices & sessions", file=sys.stderr)
    if result.forgotten.slack_user_token is not None:
        print("note: the Slack user token was deleted but not revoked; the user can remove the app in Slack.")
    return EXIT_OK


async def _links(args: argparse.Namespace, settings: config.Settings) -> int:
    from presence_bridge.linking.link_table import format_links

    platform = Platform(args.platform) if args.platform else None
    async with await open_configured_store(settings) as store:
        links = await store.list_links(platform=platform)
    for line in format_links(links):
        print(line)
    rule = settings.linking.matrix_user_template
    if rule is not None and platform in (None, Platform.MATRIX):
        print(
            f"Also mirrored without a link ([linking] matrix_user_template): every Nextcloud user without an "
            f"explicit Matrix link, to {rule.template}, Nextcloud -> Matrix only."
        )
    return EXIT_OK


async def _import(args: argparse.Namespace, settings: config.Settings) -> int:
    from presence_bridge.linking.csv_import import import_links

    try:
        if args.csv == "-":
            text = sys.stdin.read()
        else:
            text = Path(args.csv).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise BridgeError(f"cannot read the CSV file {args.csv!r}: {error}") from None
    async with await open_configured_store(settings) as store:
        report = await import_links(store, text.splitlines(keepends=True), default_workspace=args.workspace)
    for rejected in report.rejected:
        print(f"{args.csv}:{rejected.line}: rejected: {rejected.reason}", file=sys.stderr)
    unchanged = len(report.unchanged)
    rejected = len(report.rejected)
    print(
        f"Imported {count_phrase(len(report.linked), 'new link')}. "
        f"{count_phrase(unchanged, 'row was', 'rows were')} already linked the same way. "
        f"{count_phrase(rejected, 'row was', 'rows were')} rejected."
    )
    return EXIT_FAILURE if report.rejected else EXIT_OK
