"""The engine's settings in one value, built from the configuration file or directly by tests."""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field

from presence_bridge.config import Settings
from presence_bridge.core.ids import Platform
from presence_bridge.core.mapping_common import MappingOptions
from presence_bridge.core.sync_state import PlannerSettings
from presence_bridge.linking.matrix_template import MatrixUserRule
from presence_bridge.nextcloud import DEFAULT_PAGE_LIMIT


@dataclass(frozen=True)
class EngineSettings:
    """Timing and policy of the sync engine; every time is in seconds.

    ``platforms`` are the chat platforms this process writes to: links to other
    platforms are left out of the plan, so no outbox row waits for an adapter
    that is not running.
    """

    platforms: frozenset[Platform] = frozenset({Platform.RECORDING})
    sweep_interval: float = 60.0
    page_limit: int = DEFAULT_PAGE_LIMIT
    spread_fraction: float = 0.5
    planner: PlannerSettings = field(default_factory=PlannerSettings)
    keepalive_interval: float = 300.0
    keepalive_active: float = 900.0
    keepalive_max_per_interval: int = 2
    team_leads: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    default_timezone: zoneinfo.ZoneInfo = field(default_factory=lambda: zoneinfo.ZoneInfo("UTC"))
    week_start: int = 0
    mapping: MappingOptions = field(default_factory=MappingOptions)
    """Operator settings of the mapping rules (``[mapping]``).

    ``msc3026_busy`` stays False here: the Matrix adapter sets it per write from ``[matrix] msc3026``.
    """
    reader_user_id: str | None = None
    """The read account's Nextcloud user id.  Knowing it saves one request when telling a hidden list from an empty one."""
    matrix_user_rule: MatrixUserRule | None = None
    """``[linking] matrix_user_template``: mirrors Nextcloud users without a Matrix link to Matrix when Matrix is served."""

    @classmethod
    def from_config(cls, settings: Settings, platforms: frozenset[Platform]) -> EngineSettings:
        """Build from the loaded configuration, for the chat platforms the process runs."""
        sync = settings.sync
        return cls(
            platforms=platforms,
            sweep_interval=sync.sweep_interval_seconds,
            page_limit=settings.nextcloud.statuses_page_limit,
            spread_fraction=settings.per_user_reads.spread_fraction,
            planner=PlannerSettings(settle_seconds=sync.settle_seconds, debounce_seconds=sync.debounce_seconds),
            keepalive_interval=settings.keepalive.interval_seconds,
            keepalive_active=settings.keepalive.active_seconds,
            keepalive_max_per_interval=settings.keepalive.max_per_interval,
            team_leads=dict(settings.who.team_leads),
            default_timezone=sync.default_timezone,
            week_start=sync.week_start,
            mapping=settings.mapping.options(),
            matrix_user_rule=settings.linking.matrix_user_template,
        )
