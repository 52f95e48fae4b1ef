"""The summary that ``presence-bridge config check`` prints: one block per section, no secret values.

Secrets appear only as where they come from (``environment variable NAME``,
``file PATH`` or ``config file``), and a proxy URL with a password shows ``***``.
"""

from __future__ import annotations

import urllib.parse

from presence_bridge import config
from presence_bridge.config_mapping import MappingSettings
from presence_bridge.matrix.settings import MatrixSettings

INDENT = " " * 12


def mask_url_password(url: str) -> str:
    """Return ``url`` with the password of a ``user:password@`` part replaced by ``***``."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def describe(settings: config.Settings) -> list[str]:
    """Summarise validated settings in plain words, one or more lines per section."""
    return [
        *_nextcloud(settings.nextcloud),
        *_storage(settings.storage),
        *_logging_and_sync(settings),
        f"Emulator:   {settings.emulator.host}:{settings.emulator.port} (used by demo and nextcloud-emulator)",
        _recording(settings.recording),
        *_keepalive_and_reads(settings),
        _who(settings.who),
        f"Server:     {settings.server.host}:{settings.server.port} (health, metrics and chat endpoints of run)",
        f"Replicas:   leases of {settings.replicas.lease_seconds:g} s, replica id "
        f"{settings.replicas.replica_id or '<host>-<pid>-<random>'}",
        f"Dispatcher: {settings.dispatcher.batch_size} writes per claim, send timeout "
        f"{settings.dispatcher.send_timeout_seconds:g} s, retries from {settings.dispatcher.retry_base_seconds:g} s "
        f"to {settings.dispatcher.retry_max_seconds:g} s, given up after {settings.dispatcher.max_attempts} attempts",
        _linking(settings.linking),
        _mapping(settings.mapping),
        *_matrix(settings.matrix),
    ]


def _nextcloud(nextcloud: config.NextcloudSettings) -> list[str]:
    if not nextcloud.verify_tls:
        tls = "certificate checks OFF"
    elif nextcloud.ca_bundle:
        tls = f"certificates checked against {nextcloud.ca_bundle}"
    else:
        tls = "certificates checked against the system CA store"
    proxy = mask_url_password(nextcloud.proxy) if nextcloud.proxy else "none"
    return [
        f"Nextcloud:  {nextcloud.url} as {nextcloud.login!r}, app password from {nextcloud.app_password.source}",
        f"{INDENT}{tls}; connect timeout {nextcloud.timeout_connect:g} s, read timeout {nextcloud.timeout_read:g} s",
        f"{INDENT}proxy {proxy}; {nextcloud.statuses_page_limit} statuses per page; User-Agent {nextcloud.user_agent!r}",
    ]


def _storage(storage: config.StorageSettings) -> list[str]:
    previous = storage.previous_encryption_key
    retention = (
        f"audit entries kept {storage.audit_retention_days} days"
        if storage.audit_retention_days
        else "audit entries kept forever"
    )
    return [
        f"Storage:    {storage.url}, encryption key from {storage.encryption_key.source}"
        + (f", previous key from {previous.source}" if previous else ""),
        f"{INDENT}{retention}",
    ]


def _logging_and_sync(settings: config.Settings) -> list[str]:
    repeats = settings.logging.repeat_window_seconds
    sync = settings.sync
    return [
        f"Logging:    level {settings.logging.level}, format {settings.logging.format}, "
        + (f"identical messages folded within {repeats:g} s" if repeats else "no folding of repeats"),
        f"Sync:       sweep every {sync.sweep_interval_seconds:g} s, settle {sync.settle_seconds:g} s, "
        f"debounce {sync.debounce_seconds:g} s",
        f"{INDENT}time zone {sync.default_timezone.key}, weeks start on {config.WEEKDAYS[sync.week_start].capitalize()}",
    ]


def _recording(recording: config.RecordingSettings) -> str:
    if not recording.enabled:
        return "Recording:  off"
    return f"Recording:  writes appended to {recording.path}, workspace {recording.workspace!r}"


def _keepalive_and_reads(settings: config.Settings) -> list[str]:
    keepalive = settings.keepalive
    return [
        f"Keep-alive: a heartbeat every {keepalive.interval_seconds:g} s for users active in chat within "
        f"{keepalive.active_seconds:g} s, at most {keepalive.max_per_interval} per interval",
        f"Reads:      per-user reads spread over {settings.per_user_reads.spread_fraction:g} of the sweep interval "
        "when Nextcloud hides the status list",
    ]


def _who(who: config.WhoSettings) -> str:
    if not who.team_leads:
        return "Who:        no group leads; a group's statuses are shown to its members"
    groups = ", ".join(f"{group} ({', '.join(leads)})" for group, leads in who.team_leads)
    return f"Who:        group leads: {groups}"


def _linking(linking: config.LinkingSettings) -> str:
    template = (
        f"Matrix user template {linking.matrix_user_template.template!r}"
        if linking.matrix_user_template
        else "no Matrix user template"
    )
    return f"Linking:    login flow polled every {linking.poll_interval_seconds:g} s; {template}"


def _mapping(mapping: MappingSettings) -> str:
    fallback = f"shown as {mapping.custom_emoji_fallback}" if mapping.custom_emoji_fallback else "sent without an icon"
    dnd_message = repr(mapping.matrix_dnd_message) if mapping.matrix_dnd_message else "none"
    busy_message = repr(mapping.matrix_busy_message) if mapping.matrix_busy_message else "none"
    return (
        f"Mapping:    Slack DND of at most {mapping.dnd_max_seconds} s; Slack custom emoji {fallback}; "
        f"Matrix DND message {dnd_message}, busy message {busy_message}"
    )


def _matrix(matrix: MatrixSettings | None) -> list[str]:
    if matrix is None:
        return ["Matrix:     not configured"]
    if matrix.as_token is not None and matrix.hs_token is not None:
        login = (
            f"appservice {matrix.appservice_id!r}, as_token from {matrix.as_token.source}, "
            f"hs_token from {matrix.hs_token.source}"
        )
    elif matrix.bot_access_token is not None:
        login = f"plain bot user, access token from {matrix.bot_access_token.source}"
    else:
        login = "no token"
    servers = ", ".join(matrix.allowed_servers) if matrix.allowed_servers else matrix.server_name
    return [
        f"Matrix:     {matrix.homeserver_url} (server name {matrix.server_name}), bot {matrix.bot_user_id}, {login}",
        f"{INDENT}users from {servers}"
        + (f", only {len(matrix.allowed_users)} listed users" if matrix.allowed_users else "")
        + f", {len(matrix.admins)} admins, MSC3026 busy {matrix.msc3026}",
    ]
