"""Bulk import of identity links from CSV: ``platform, chat user id, Nextcloud user id[, workspace]``.

Every row is checked on its own.  A rejected row is reported with its line
number and reason, and the other rows are imported all the same.  Blank lines
and lines that start with ``#`` are skipped, and so is a first row whose first
cell is ``platform`` (a header).  Imported links have no credentials, so they
mirror Nextcloud -> chat until the user links with an app password.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..core.ids import ChatIdentity, Platform
from ..errors import BridgeError, LinkConflictError
from ..storage import Store
from .matrix_template import matrix_server_name, matrix_user_id_problem

logger = logging.getLogger(__name__)

SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]+")
SLACK_TEAM_ID = re.compile(r"[TE][A-Z0-9]+")
NEXTCLOUD_USER_ID = re.compile(r"[A-Za-z0-9 _.@\-']+")
"""The characters Nextcloud allows in a user id: letters, digits, spaces and ``_.@-'``."""
NEXTCLOUD_USER_ID_MAX = 64
"""The length of the ``uid`` column of Nextcloud's users table."""

AUDIT_ACTION_IMPORT = "import-link"


class RowError(BridgeError):
    """A CSV row is invalid; the message is the reason shown to the operator."""


@dataclass(frozen=True, slots=True)
class ImportRow:
    """A valid row: ``line`` is its line number in the file (from 1)."""

    line: int
    identity: ChatIdentity
    nextcloud_user_id: str


@dataclass(frozen=True, slots=True)
class RejectedRow:
    line: int
    reason: str


@dataclass(slots=True)
class ImportReport:
    """Rows linked now, rows already linked the same way, and rejected rows, each in file order."""

    linked: list[ImportRow] = field(default_factory=list)
    unchanged: list[ImportRow] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)


def parse_row(cells: list[str], *, default_workspace: str | None) -> tuple[ChatIdentity, str]:
    """Return the identity and Nextcloud user id of one row; raise :class:`RowError` saying what is wrong."""
    cells = [cell.strip() for cell in cells]
    if len(cells) not in (3, 4):
        hint = ". The file must be comma-separated, but this row uses semicolons" if _semicolon_separated(cells) else ""
        raise RowError(
            f"expected 3 or 4 columns (platform, chat user id, Nextcloud user id[, workspace]), got {len(cells)}{hint}"
        )
    platform_name, chat_user_id, nextcloud_user_id = cells[:3]
    workspace = (cells[3] if len(cells) == 4 else "") or default_workspace
    try:
        platform = Platform(platform_name.lower())
    except ValueError:
        platform = None
    if platform not in (Platform.SLACK, Platform.MATRIX):
        raise RowError(f"invalid platform {platform_name!r}; expected slack or matrix")
    check_nextcloud_user_id(nextcloud_user_id)
    if platform is Platform.SLACK:
        identity = slack_identity(chat_user_id, workspace)
    else:
        identity = matrix_identity(chat_user_id, workspace)
    return identity, nextcloud_user_id


def _semicolon_separated(cells: list[str]) -> bool:
    """Return whether the row splits into 3 or 4 columns at semicolons, the separator of many spreadsheet exports."""
    return len(";".join(cells).split(";")) in (3, 4)


def check_nextcloud_user_id(user_id: str) -> None:
    """Raise :class:`RowError` unless ``user_id`` is a user id Nextcloud could have created."""
    if not user_id:
        raise RowError("the Nextcloud user id is missing")
    if len(user_id) > NEXTCLOUD_USER_ID_MAX or not NEXTCLOUD_USER_ID.fullmatch(user_id):
        raise RowError(
            f"invalid Nextcloud user id {user_id!r}; expected at most {NEXTCLOUD_USER_ID_MAX} letters, "
            "digits, spaces or _.@-'"
        )


def slack_identity(user_id: str, workspace: str | None) -> ChatIdentity:
    if not SLACK_USER_ID.fullmatch(user_id):
        raise RowError(f"invalid Slack user id {user_id!r}; expected an id such as U012AB3CD")
    if not workspace:
        raise RowError("the workspace (the Slack team id, e.g. T012AB3CD) is missing; add a 4th column or --workspace")
    if not SLACK_TEAM_ID.fullmatch(workspace):
        raise RowError(f"invalid Slack team id {workspace!r}; expected an id such as T012AB3CD")
    return ChatIdentity(Platform.SLACK, workspace, user_id)


def matrix_identity(user_id: str, workspace: str | None) -> ChatIdentity:
    problem = matrix_user_id_problem(user_id)
    if problem is not None:
        raise RowError(f"invalid Matrix user id {user_id!r}: {problem}")
    server_name = matrix_server_name(user_id)
    if workspace and workspace != server_name:
        raise RowError(
            f"the workspace {workspace!r} differs from the homeserver {server_name!r} of {user_id}; "
            "leave the column empty for Matrix"
        )
    return ChatIdentity(Platform.MATRIX, server_name, user_id)


def parse_csv(lines: Iterable[str], *, default_workspace: str | None = None) -> tuple[list[ImportRow], list[RejectedRow]]:
    """Parse CSV text into valid rows and rejected rows, including duplicates within the file."""
    rows: list[ImportRow] = []
    rejected: list[RejectedRow] = []
    seen_identities: dict[ChatIdentity, int] = {}
    seen_users: dict[tuple[Platform, str, str], int] = {}
    reader = csv.reader(lines)
    first = True
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells) or cells[0].lstrip().startswith("#"):
            continue
        if first and cells[0].strip().lower() == "platform":
            first = False
            continue
        first = False
        try:
            identity, user_id = parse_row(cells, default_workspace=default_workspace)
        except RowError as error:
            rejected.append(RejectedRow(line, str(error)))
            continue
        user_key = (identity.platform, identity.workspace, user_id)
        if identity in seen_identities:
            rejected.append(RejectedRow(line, f"{identity.user_id} is already linked on line {seen_identities[identity]}"))
            continue
        if user_key in seen_users:
            rejected.append(RejectedRow(line, f"Nextcloud user {user_id!r} is already linked on line {seen_users[user_key]}"))
            continue
        seen_identities[identity] = line
        seen_users[user_key] = line
        rows.append(ImportRow(line, identity, user_id))
    return rows, rejected


async def import_links(
    store: Store, lines: Iterable[str], *, default_workspace: str | None = None, actor: str = "operator"
) -> ImportReport:
    """Link every valid row; rows that conflict with stored links are rejected with the store's message."""
    rows, rejected = parse_csv(lines, default_workspace=default_workspace)
    report = ImportReport(rejected=rejected)
    for row in rows:
        existing = await store.get_link(row.identity)
        try:
            await store.link(row.identity, row.nextcloud_user_id)
        except (LinkConflictError, ValueError) as error:
            report.rejected.append(RejectedRow(row.line, str(error)))
            continue
        if existing is not None:
            report.unchanged.append(row)
            continue
        report.linked.append(row)
        await store.add_audit(
            actor=actor,
            source="csv-import",
            action=AUDIT_ACTION_IMPORT,
            nextcloud_user_id=row.nextcloud_user_id,
            platform=row.identity.platform.value,
            workspace=row.identity.workspace,
            chat_user_id=row.identity.user_id,
        )
    report.rejected.sort(key=lambda rejected_row: rejected_row.line)
    logger.info(
        "Imported links: %d new, %d unchanged, %d rejected",
        len(report.linked), len(report.unchanged), len(report.rejected),
    )
    return report
