"""Database maintenance commands: ``db rotate-keys`` and ``db purge``.

:func:`register` adds them to the ``db`` sub-command set, next to ``db upgrade``.
Both are safe while ``run`` is running: rotation rewrites a value only if it did
not change since it was read, and every replica decrypts with both keys.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from presence_bridge import config
from presence_bridge.cli_options import add_config_option
from presence_bridge.cli_links import (
    EXIT_FAILURE,
    EXIT_OK,
    async_command,
    count_phrase,
    nextcloud_http,
    open_configured_store,
    read_account,
)


def register(db_commands: Any) -> None:
    """Add ``rotate-keys`` and ``purge`` to the ``db`` sub-command set ``db_commands``."""
    rotate = db_commands.add_parser(
        "rotate-keys",
        help="re-encrypt every stored secret with [storage] encryption_key, so previous_encryption_key can be removed",
    )
    add_config_option(rotate)
    rotate.set_defaults(handler=async_command(_rotate_keys))

    purge = db_commands.add_parser(
        "purge",
        help="run the daily maintenance once: delete audit entries older than [storage] audit_retention_days "
        "and purge linked Nextcloud users that no longer exist",
    )
    add_config_option(purge)
    purge.set_defaults(handler=async_command(_purge))


async def _rotate_keys(args: argparse.Namespace, settings: config.Settings) -> int:
    async with await open_configured_store(settings) as store:
        changed = await store.rotate_keys()
    print(f"Re-encrypted {count_phrase(changed, 'stored value')} with [storage] encryption_key.")
    if settings.storage.previous_encryption_key is not None:
        print(
            "Every stored secret now uses encryption_key: remove previous_encryption_key from the "
            "configuration of every replica and restart them."
        )
    return EXIT_OK


async def _purge(args: argparse.Namespace, settings: config.Settings) -> int:
    from presence_bridge.linking.service import LinkingService
    from presence_bridge.sync.maintenance import run_maintenance

    retention = settings.storage.audit_retention_days
    async with await open_configured_store(settings) as store, nextcloud_http(settings) as http:
        linking = LinkingService(store, http, user_agent=settings.nextcloud.user_agent)
        report = await run_maintenance(store, linking, read_account(settings, http), audit_retention_days=retention)
    if retention:
        deleted = count_phrase(report.audit_entries_deleted, "audit entry", "audit entries")
        print(f"Deleted {deleted} older than {count_phrase(retention, 'day')}.")
    else:
        print("Kept every audit entry, because [storage] audit_retention_days is 0.")
    if report.purge is None:
        print(f"error: checking whether the linked Nextcloud users exist failed: {report.purge_problem}", file=sys.stderr)
        return EXIT_FAILURE
    for user_id, reason in report.purge.purged:
        print(f"Purged {user_id}: {reason}.")
    for user_id, problem in report.purge.unchecked:
        print(f"warning: could not check Nextcloud user {user_id}: {problem}", file=sys.stderr)
    purged = count_phrase(len(report.purge.purged), "user who is", "users who are")
    unchecked = count_phrase(len(report.purge.unchecked), "linked user was", "linked users were")
    print(f"Purged {purged} gone. {unchecked} not checked.")
    return EXIT_OK
