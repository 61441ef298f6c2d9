"""What the engine asks of the operator's config: a contact's SLA policy, a queue's service level and days,
the histogram bounds, categories and complaints (``KpiConfig``); ``DefaultConfig`` without a config file,
``SlaKpiConfig`` over a loaded ``SlaConfig`` (``DESKPULSE_SLA_CONFIG``, docs/sla.md).
"""

from __future__ import annotations

from typing import Protocol

from services.aggregator.contacts import ContactFacts
from services.domain.categories import ComplaintRule
from services.domain.policies import Metric
from services.domain.service_levels import DEFAULT_SERVICE_LEVEL, ServiceLevel
from services.domain.slaconfig import SlaConfig
from services.domain.windows import UTC_DAYS, DayCalendar


class SlaPolicy(Protocol):
    def deadline(self, metric: Metric, start_ms: int) -> int | None: ...
    def at_risk_at(self, metric: Metric, start_ms: int) -> int | None: ...
    def business_ms(self, start_ms: int, end_ms: int) -> int: ...


# Classic Prometheus histogram bounds (seconds) for response, resolution and wait times: common contact-centre
# thresholds; a config adds its own SLA targets and service-level thresholds, so "within target" is an exact
# bucket (OBSERVABILITY.md §6.2).
DEFAULT_BOUNDS_S = (10, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800)


class KpiConfig(Protocol):
    def policy(self, f: ContactFacts) -> SlaPolicy | None: ...
    def service_level(self, platform: str, queue: str | None) -> ServiceLevel: ...
    def histogram_bounds_s(self) -> tuple[float, ...]: ...
    def category(self, f: ContactFacts) -> str | None: ...  # None: no categories configured
    def complaints(self) -> ComplaintRule: ...
    def day(self, queue: str | None) -> DayCalendar: ...  # local days of a queue (None: the default days)


_DEFAULT_COMPLAINTS = ComplaintRule()  # frozen: one for every contact


class DefaultConfig:
    """No SLA policies (no clocks), calendar time, the default service level."""

    def policy(self, f: ContactFacts) -> SlaPolicy | None:
        return None

    def service_level(self, platform: str, queue: str | None) -> ServiceLevel:
        return DEFAULT_SERVICE_LEVEL

    def histogram_bounds_s(self) -> tuple[float, ...]:
        return DEFAULT_BOUNDS_S

    def category(self, f: ContactFacts) -> str | None:
        return None

    def complaints(self) -> ComplaintRule:
        return _DEFAULT_COMPLAINTS

    def day(self, queue: str | None) -> DayCalendar:
        return UTC_DAYS


class SlaKpiConfig:
    """The engine's view of an ``SlaConfig`` (``DESKPULSE_SLA_CONFIG``, docs/sla.md)."""

    def __init__(self, config: SlaConfig) -> None:
        self._config = config
        self._bounds: tuple[float, ...] | None = None  # the config does not change: computed once
        self._policies: dict[tuple, SlaPolicy | None] = {}  # (platform, queue, priority, channel) -> first match

    def policy(self, f: ContactFacts) -> SlaPolicy | None:
        key = (f.platform, f.queue, f.priority, f.channel)
        try:
            return self._policies[key]
        except KeyError:
            if len(self._policies) >= 65_536:
                self._policies.clear()
            found = self._policies[key] = self._config.policy_for(*key)
            return found

    def service_level(self, platform: str, queue: str | None) -> ServiceLevel:
        return self._config.service_level_for(queue)

    def histogram_bounds_s(self) -> tuple[float, ...]:
        if self._bounds is None:
            self._bounds = self._histogram_bounds_s()
        return self._bounds

    def _histogram_bounds_s(self) -> tuple[float, ...]:
        bounds: set[float] = set(DEFAULT_BOUNDS_S)
        bounds.add(self._config.default_service_level.threshold_seconds)
        bounds.update(sl.threshold_seconds for sl in self._config.queue_service_levels.values())
        for policy in self._config.policies:
            bounds.update(
                ms / 1000 for ms in (policy.first_response_ms, policy.next_reply_ms, policy.resolution_ms) if ms
            )
        return tuple(sorted(bounds))

    def category(self, f: ContactFacts) -> str | None:
        categories = self._config.categories
        return categories.category_of(f.platform, f.account, f.labels) if categories is not None else None

    def complaints(self) -> ComplaintRule:
        return self._config.complaints

    def day(self, queue: str | None) -> DayCalendar:
        """``days:`` of the SLA config (the queue's, else the default), else UTC days from midnight. The
        aggregator does not read DESKPULSE_TIMEZONE: set ``days.default`` for local days (docs/kpis.md)."""
        return self._config.days_for(queue)
