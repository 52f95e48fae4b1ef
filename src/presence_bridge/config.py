"""The bridge's settings: one TOML file, validated once at start into frozen dataclasses.

:func:`load` reads the file and returns :class:`Settings`.  Every problem raises
:class:`~presence_bridge.errors.ConfigError` whose message starts with the dotted
key (``nextcloud.timeout_read: ...``) and states what is expected.  Unknown
sections and keys are errors, so a typo never falls back to a default silently.

Secrets (``nextcloud.app_password``, ``storage.encryption_key``,
``storage.previous_encryption_key``) may be written
inline, or read from an environment variable (``app_password_env = "NAME"``) or
from a file (``app_password_file = "/path"``), exactly one of the three.  A file's
trailing newline is stripped.  Relative file paths start at the config file's
folder.

To add a section: declare a frozen dataclass whose fields use
:func:`~presence_bridge.config_fields.setting` or
:func:`~presence_bridge.config_fields.secret_setting`, then add a field for it to
:class:`Settings` with :func:`section`.  ``config.example.toml`` documents every key.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
import re
import tomllib
import urllib.parse
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from presence_bridge import __version__
from presence_bridge.config_fields import (
    LoadContext,
    boolean,
    build_section,
    choice,
    existing_file,
    http_url,
    proxy_url,
    iana_timezone,
    int_range,
    invalid,
    reject_unknown,
    resolve_path,
    secret_setting,
    seconds,
    setting,
    text,
)
from presence_bridge.config_mapping import MappingSettings
from presence_bridge.errors import ConfigError
from presence_bridge.linking.matrix_template import MatrixUserRule
from presence_bridge.matrix.settings import MatrixSettings
from presence_bridge.secret import Secret

logger = logging.getLogger(__name__)

DEFAULT_CONFIG_PATH = Path("/etc/presence-bridge/config.toml")
DEFAULT_USER_AGENT = f"presence-bridge/{__version__}"
DEFAULT_STORAGE_URL = "sqlite+aiosqlite:///presence-bridge.sqlite3"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
STORAGE_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg")
FERNET_KEY_EXPECTED = (
    "a Fernet key (32 bytes in URL-safe base64, 44 characters). Make one with "
    "python3 -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)


def _fernet_key(value: object, key: str, ctx: LoadContext) -> str:
    # Fernet's error text could quote the key, so neither it nor the value goes into the message.
    try:
        Fernet(str(value).strip().encode("ascii"))
    except (ValueError, TypeError, UnicodeError):
        raise invalid(key, "the key is not a valid Fernet key", FERNET_KEY_EXPECTED) from None
    return str(value).strip()


def _weekday(value: object, key: str, ctx: LoadContext) -> int:
    return WEEKDAYS.index(choice(WEEKDAYS)(value, key, ctx))


def _storage_url(value: object, key: str, ctx: LoadContext) -> str:
    expected = (
        "a SQLAlchemy URL with an async driver: sqlite+aiosqlite:///relative/path.sqlite3, "
        "sqlite+aiosqlite:////absolute/path.sqlite3 or postgresql+asyncpg://user@host/database"
    )
    url = text(value, key, ctx)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in STORAGE_SCHEMES:
        raise invalid(key, f"unsupported database URL {url!r}", expected)
    if parts.password:
        raise invalid(
            key,
            "the URL contains a password, which would sit in plain text in this file",
            "a URL without a password. Set PGPASSWORD in the service's environment "
            "or use a ~/.pgpass file, which asyncpg reads",
        )
    return url


@dataclass(frozen=True)
class NextcloudSettings:
    """How to reach the Nextcloud server and which account lists the statuses."""

    url: str = setting(http_url, "the Nextcloud base URL")
    login: str = setting(text, "the login name of the account the bridge uses")
    app_password: Secret = secret_setting("the app password of that account")
    verify_tls: bool = setting(boolean, "true or false", default=True)
    ca_bundle: Path | None = setting(existing_file, "a CA bundle file", default=None)
    timeout_connect: float = setting(seconds(maximum=300), "seconds", default=5.0)
    timeout_read: float = setting(seconds(maximum=3600), "seconds", default=30.0)
    proxy: str | None = setting(proxy_url, "an http:// or https:// proxy URL", default=None)
    statuses_page_limit: int = setting(int_range(1, 1_000_000), "rows per page", default=5000)
    user_agent: str = setting(text, "a User-Agent string", default=DEFAULT_USER_AGENT)

    def __post_init__(self) -> None:
        if self.ca_bundle is not None and not self.verify_tls:
            raise invalid(
                "nextcloud.ca_bundle",
                "a CA bundle is set while verify_tls = false turns certificate checks off",
                "either verify_tls = true with ca_bundle, or no ca_bundle",
            )

    @property
    def tls_verify(self) -> bool | str:
        """The ``verify`` argument for httpx: False, True, or the CA bundle path."""
        if not self.verify_tls:
            return False
        return str(self.ca_bundle) if self.ca_bundle else True


@dataclass(frozen=True)
class LoggingSettings:
    """Log level and output format; see :mod:`presence_bridge.logs`."""

    level: str = setting(choice(LOG_LEVELS), "a log level", default="INFO")
    format: str = setting(choice(("text", "json")), "text or json", default="text")
    repeat_window_seconds: float = setting(
        seconds(maximum=86400, include_minimum=True), "seconds", default=60.0
    )


@dataclass(frozen=True)
class SyncSettings:
    """Timing of the sync worker and the calendar used to read time expressions."""

    sweep_interval_seconds: float = setting(seconds(minimum=1, maximum=86400, include_minimum=True), "seconds", default=60.0)
    settle_seconds: float = setting(seconds(maximum=3600, include_minimum=True), "seconds", default=45.0)
    debounce_seconds: float = setting(seconds(maximum=3600, include_minimum=True), "seconds", default=10.0)
    default_timezone: zoneinfo.ZoneInfo = setting(iana_timezone, "an IANA zone", default=zoneinfo.ZoneInfo("UTC"))
    week_start: int = setting(_weekday, "a weekday", default=0)
    """First day of the week, 0 = Monday as in :meth:`datetime.date.weekday`."""


@dataclass(frozen=True)
class StorageSettings:
    """Database location and the key that encrypts stored credentials."""

    encryption_key: Secret = secret_setting(FERNET_KEY_EXPECTED, parse=_fernet_key)
    url: str = setting(_storage_url, "a database URL", default=DEFAULT_STORAGE_URL)
    previous_encryption_key: Secret | None = secret_setting(FERNET_KEY_EXPECTED, parse=_fernet_key, required=False)
    """The key used before ``encryption_key``; values stored under it stay readable."""
    audit_retention_days: int = setting(int_range(0, 36500), "days, 0 to keep entries forever", default=90)
    """Age in days after which the daily maintenance deletes audit entries; 0 keeps them forever."""

    @property
    def encryption_keys(self) -> tuple[Secret, ...]:
        """The keys for the store, newest first."""
        if self.previous_encryption_key is None:
            return (self.encryption_key,)
        return (self.encryption_key, self.previous_encryption_key)


@dataclass(frozen=True)
class EmulatorSettings:
    """Listen address of the local Nextcloud emulator started by the demo and ``nextcloud-emulator``."""

    host: str = setting(text, "a host name or IP address to listen on", default="127.0.0.1")
    port: int = setting(int_range(0, 65535), "a TCP port, 0 for any free port", default=8080)


# Settings of the sync engine's chat side: the recording platform, keep-alives,
# per-user reads and the ``who`` command.


def _output_path(value: object, key: str, ctx: LoadContext) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise invalid(key, f"invalid value {value!r}", "a file path (relative paths start at the config file's folder)")
    return resolve_path(value.strip(), ctx)


def _fraction(value: object, key: str, ctx: LoadContext) -> float:
    expected = "a number from 0 to 1"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(key, f"invalid value {value!r}", expected)
    if not 0.0 <= float(value) <= 1.0:
        raise invalid(key, f"value {value} is out of range", expected)
    return float(value)


def _team_leads(value: object, key: str, ctx: LoadContext) -> tuple[tuple[str, tuple[str, ...]], ...]:
    expected = 'a table of Nextcloud group id = list of Nextcloud user ids, such as "team-a" = ["carol"]'
    if not isinstance(value, dict):
        raise invalid(key, f"invalid value {value!r}", expected)
    pairs = []
    for group, leads in value.items():
        if not str(group).strip():
            raise invalid(key, "a group id is empty", expected)
        if not isinstance(leads, list) or not all(isinstance(lead, str) and lead.strip() for lead in leads):
            raise invalid(f"{key}.{group}", f"invalid value {leads!r}", "a list of Nextcloud user ids")
        pairs.append((str(group), tuple(lead.strip() for lead in leads)))
    return tuple(pairs)


@dataclass(frozen=True)
class RecordingSettings:
    """The recording chat platform, which appends every chat write to a JSON-lines file."""

    enabled: bool = setting(boolean, "true or false", default=False)
    path: Path | None = setting(_output_path, "a file path", default=None)
    workspace: str = setting(text, "a workspace name for the recorded writes", default="local")

    def __post_init__(self) -> None:
        if self.enabled and self.path is None:
            raise invalid("recording.path", "the key is missing while enabled = true", "the path of the file to append to")


@dataclass(frozen=True)
class KeepAliveSettings:
    """Heartbeats the engine sends for users active in chat, because Nextcloud forgets "online" after 15 minutes."""

    interval_seconds: float = setting(seconds(minimum=10, maximum=840, include_minimum=True), "seconds", default=300.0)
    active_seconds: float = setting(seconds(minimum=60, maximum=86400, include_minimum=True), "seconds", default=900.0)
    max_per_interval: int = setting(int_range(1, 10), "heartbeats per user per interval", default=2)

    def __post_init__(self) -> None:
        if self.active_seconds < self.interval_seconds:
            raise invalid(
                "keepalive.active_seconds",
                f"value {self.active_seconds:g} is below keepalive.interval_seconds ({self.interval_seconds:g})",
                "at least interval_seconds, because heartbeats go out once per interval, so a user active in chat "
                "would leave the active window before the next heartbeat is due",
            )


@dataclass(frozen=True)
class PerUserReadSettings:
    """Reading linked users one by one when Nextcloud hides the ``/statuses`` list."""

    spread_fraction: float = setting(_fraction, "a fraction of the sweep interval", default=0.5)


@dataclass(frozen=True)
class WhoSettings:
    """The team leads who may list a Nextcloud group's statuses with ``who <group>``, besides its members."""

    team_leads: tuple[tuple[str, tuple[str, ...]], ...] = setting(_team_leads, "a table of group leads", default=())

    def leads_of(self, group_id: str) -> tuple[str, ...]:
        """Return the Nextcloud user ids configured as leads of ``group_id``."""
        for group, leads in self.team_leads:
            if group == group_id:
                return leads
        return ()


# Settings of the ``run`` process: its HTTP server, the replicas' leases and the
# outbox dispatcher.


_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}$){_HOST_LABEL}(?:\.{_HOST_LABEL})*")
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def _listen_host(value: object, key: str, ctx: LoadContext) -> str:
    """Parse an IP address or host name; warn when it is not a loopback address.

    The HTTP server answers /metrics and the chat platforms' endpoints without a
    login, so listening beyond this host deserves a line in the log.
    """
    host = text(value, key, ctx).strip()
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        if not _HOST_NAME.fullmatch(host):
            raise invalid(key, f"invalid host {host!r}", "an IP address such as 127.0.0.1 or a host name") from None
        loopback = host.lower() in _LOOPBACK_NAMES
    if not loopback:
        logger.warning(
            "%s = %r is not a loopback address: /healthz, /readyz and /metrics answer without a login to "
            "anyone who reaches it. Use 127.0.0.1 unless a proxy or the homeserver on another host needs it.",
            key,
            host,
        )
    return host


@dataclass(frozen=True)
class ServerSettings:
    """Listen address of the ``run`` process's HTTP server (health, metrics, chat endpoints)."""

    host: str = setting(_listen_host, "an IP address or host name to listen on", default="127.0.0.1")
    port: int = setting(int_range(0, 65535), "a TCP port, 0 for any free port", default=8090)


@dataclass(frozen=True)
class ReplicaSettings:
    """Leases that let several ``run`` processes on one PostgreSQL database share the work."""

    lease_seconds: float = setting(
        seconds(minimum=1, maximum=3600, include_minimum=True), "seconds", default=30.0
    )
    """TTL of the sweep leader lease and of each outbox claim: a dead replica's work moves on after it."""
    replica_id: str | None = setting(text, "a name for this replica in logs and leases", default=None)


@dataclass(frozen=True)
class DispatcherSettings:
    """Batch, polling, timeout and retry settings of the outbox dispatcher."""

    batch_size: int = setting(int_range(1, 1000), "rows per claim", default=20)
    poll_interval_seconds: float = setting(seconds(minimum=0.05, maximum=600, include_minimum=True), "seconds", default=1.0)
    send_timeout_seconds: float = setting(seconds(maximum=600), "seconds", default=20.0)
    retry_base_seconds: float = setting(seconds(maximum=3600), "seconds", default=5.0)
    retry_max_seconds: float = setting(seconds(maximum=86400), "seconds", default=3600.0)
    max_attempts: int = setting(int_range(1, 1000), "attempts", default=12)

    def __post_init__(self) -> None:
        if self.retry_max_seconds < self.retry_base_seconds:
            raise invalid(
                "dispatcher.retry_max_seconds",
                f"value {self.retry_max_seconds:g} is below retry_base_seconds ({self.retry_base_seconds:g})",
                "a number of seconds at least retry_base_seconds",
            )


def _matrix_user_template(value: object, key: str, ctx: LoadContext) -> MatrixUserRule:
    try:
        return MatrixUserRule.parse(text(value, key, ctx))
    except ValueError as exc:
        raise invalid(key, str(exc), 'a Matrix user id template such as "@{nextcloud_user}:example.org"') from None


@dataclass(frozen=True)
class LinkingSettings:
    """Settings of the login-flow linking and of the rule that mirrors everyone to Matrix without a link."""

    poll_interval_seconds: float = setting(
        seconds(minimum=1, maximum=60, include_minimum=True), "seconds", default=5.0
    )
    """Pause between two polls of a Login Flow v2 while a user logs in."""
    matrix_user_template: MatrixUserRule | None = setting(
        _matrix_user_template, "a Matrix user id template", default=None
    )


def section(cls: type[Any], *, required: bool) -> Any:
    """Declare a :class:`Settings` field read from the TOML table of the same name."""
    metadata = {"section_class": cls, "required": required}
    if required:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default_factory=cls, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    """All settings of one bridge process."""

    nextcloud: NextcloudSettings = section(NextcloudSettings, required=True)
    storage: StorageSettings = section(StorageSettings, required=True)
    logging: LoggingSettings = section(LoggingSettings, required=False)
    sync: SyncSettings = section(SyncSettings, required=False)
    emulator: EmulatorSettings = section(EmulatorSettings, required=False)
    recording: RecordingSettings = section(RecordingSettings, required=False)
    keepalive: KeepAliveSettings = section(KeepAliveSettings, required=False)
    per_user_reads: PerUserReadSettings = section(PerUserReadSettings, required=False)
    who: WhoSettings = section(WhoSettings, required=False)
    server: ServerSettings = section(ServerSettings, required=False)
    replicas: ReplicaSettings = section(ReplicaSettings, required=False)
    dispatcher: DispatcherSettings = section(DispatcherSettings, required=False)
    linking: LinkingSettings = section(LinkingSettings, required=False)
    mapping: MappingSettings = section(MappingSettings, required=False)
    matrix: MatrixSettings | None = dataclasses.field(
        default=None, metadata={"section_class": MatrixSettings, "required": False}
    )
    """The Matrix homeserver and appservice, or None when the file has no [matrix] table."""

    def __post_init__(self) -> None:
        if self.dispatcher.send_timeout_seconds >= self.replicas.lease_seconds:
            raise invalid(
                "dispatcher.send_timeout_seconds",
                f"value {self.dispatcher.send_timeout_seconds:g} is not below replicas.lease_seconds "
                f"({self.replicas.lease_seconds:g}), so a slow send could outlive its claim and be sent twice",
                "a number of seconds below replicas.lease_seconds",
            )


def from_mapping(
    document: Mapping[str, object], *, environ: Mapping[str, str], base_dir: Path, matrix_token: bool = True
) -> Settings:
    """Validate an already parsed TOML document into :class:`Settings`.

    ``matrix_token=False`` accepts a ``[matrix]`` table without any token, for the
    command that generates the tokens; every other command needs one.
    """
    ctx = LoadContext(environ=environ, base_dir=base_dir)
    fields = dataclasses.fields(Settings)
    for name, value in document.items():
        if not isinstance(value, dict):
            raise ConfigError(
                f"{name}: the key is outside any section. Move it into the [section] it belongs to.",
                key=name,
            )
    reject_unknown(document, [field.name for field in fields], "", "section")

    values: dict[str, Any] = {}
    for field in fields:
        cls = field.metadata["section_class"]
        if field.name in document:
            values[field.name] = build_section(cls, document[field.name], field.name, ctx)
        elif field.metadata["required"]:
            raise ConfigError(f"{field.name}: the section [{field.name}] is missing.", key=field.name)
    settings = Settings(**values)
    if matrix_token and settings.matrix is not None:
        settings.matrix.require_token()
    return settings


def loads(
    source: str,
    *,
    environ: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
    matrix_token: bool = True,
) -> Settings:
    """Parse TOML text into :class:`Settings`; relative paths start at ``base_dir`` (default: cwd)."""
    try:
        document = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}. Check the syntax at that line.") from None
    return from_mapping(
        document,
        environ=os.environ if environ is None else environ,
        base_dir=base_dir or Path.cwd(),
        matrix_token=matrix_token,
    )


def load(path: Path | str, *, environ: Mapping[str, str] | None = None, matrix_token: bool = True) -> Settings:
    """Read and validate the TOML file at ``path``."""
    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"configuration file {str(path)!r} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read configuration file {str(path)!r}: {exc}") from None
    return loads(source, environ=environ, base_dir=path.resolve().parent, matrix_token=matrix_token)
