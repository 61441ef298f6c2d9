"""What one contact contributes to each scope: counters in time buckets, live gauges and SLA clocks.

Pure: no Faust, no Kafka, no clock. ``contribution(facts, config)`` turns a contact's facts
(``contacts.py``) into integer counters at the event times they happened, for every scope the contact
belongs to. Aggregates subtract a contact's old contribution and add its new one, so everything here must be
a pure function of the facts and the (static) configuration. The formulas built on these counters are in
``docs/kpis.md`` and ``services/api/kpis.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from services.aggregator import sketches
from services.aggregator.contacts import ContactFacts
from services.aggregator.sla import ServiceLevel, SlaConfig, service_level_contribution

Counters = dict[str, int]
BucketKey = tuple[str, str, int]  # (scope, level "m"/"q", bucket start ms)
Clock = tuple[int, int]  # (breach at ms, at risk from ms)


# -- configuration seam ---------------------------------------------------------------------------------------


class SlaPolicy(Protocol):
    def deadline(self, metric: str, start_ms: int) -> int | None: ...
    def at_risk_at(self, metric: str, start_ms: int) -> int | None: ...
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


# Without a config: answered within 20 s, abandons count against, abandons under 5 s left out.
DEFAULT_SERVICE_LEVEL = ServiceLevel(threshold_seconds=20, abandons="count_against", short_abandon_seconds=5)


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


class SlaKpiConfig:
    """The engine's view of an ``SlaConfig`` (``DESKPULSE_SLA_CONFIG``, docs/sla.md)."""

    def __init__(self, config: SlaConfig) -> None:
        self._config = config

    def policy(self, f: ContactFacts) -> SlaPolicy | None:
        return self._config.policy_for(f.platform, f.queue, f.priority, f.channel)

    def service_level(self, platform: str, queue: str | None) -> ServiceLevel:
        return self._config.service_level_for(queue)

    def histogram_bounds_s(self) -> tuple[float, ...]:
        bounds = set(DEFAULT_BOUNDS_S)
        bounds.add(self._config.default_service_level.threshold_seconds)
        bounds.update(sl.threshold_seconds for sl in self._config.queue_service_levels.values())
        for policy in self._config.policies:
            bounds.update(ms / 1000 for ms in (policy.first_response_ms, policy.next_reply_ms, policy.resolution_ms) if ms)
        return tuple(sorted(bounds))

    def category(self, f: ContactFacts) -> str | None:
        categories = self._config.categories
        return categories.category_of(f.platform, f.account, f.labels) if categories is not None else None


# -- scopes -----------------------------------------------------------------------------------------------------


def scope_id(kind: str, platform: str | None = None, key: str | None = None) -> str:
    if kind == "all":
        return "all"
    if kind == "platform":
        return f"platform/{platform}"
    if kind == "category":
        return f"category/{key}"  # categories span platforms (the config maps each platform's values)
    return f"{kind}/{platform}/{key}"


def describe_scope(scope: str) -> dict[str, str | None]:
    """Labels of a scope id: ``{"kind", "platform", "id"}`` (``id`` may itself contain ``/``)."""
    if scope == "all":
        return {"kind": "all", "platform": None, "id": None}
    kind, _, rest = scope.partition("/")
    if kind == "platform":
        return {"kind": kind, "platform": rest, "id": None}
    if kind == "category":
        return {"kind": kind, "platform": None, "id": rest}
    platform, _, key = rest.partition("/")
    return {"kind": kind, "platform": platform, "id": key}


def contact_scopes(f: ContactFacts, category: str | None = None) -> list[str]:
    scopes = ["all", scope_id("platform", f.platform)]
    if f.account:
        scopes.append(scope_id("account", f.platform, f.account))
    if f.queue:
        scopes.append(scope_id("queue", f.platform, f.queue))
    if category is not None:
        scopes.append(scope_id("category", key=category))
    return scopes


# -- contribution -----------------------------------------------------------------------------------------------


Fact = tuple[int, tuple[str, ...], tuple[tuple[str, int], ...]]  # (time, scopes, counters): one thing counted


def split(counters: Counters) -> tuple[Counters, Counters]:
    """(quarter-bucket counters, minute-bucket counters) of a fact's counters.

    Histogram bins (``…h:<bin>``) are kept in the totals and quarter-hour buckets only, so percentiles are
    served for 24h, today and all while minute buckets (the short windows) stay small; ``le`` counters feed
    Prometheus histograms from the totals only.
    """
    if not any(("h:" in k or "le:" in k) for k in counters):
        return counters, counters
    windowed = {k: v for k, v in counters.items() if "le:" not in k}
    return windowed, {k: v for k, v in windowed.items() if "h:" not in k}


@dataclass(slots=True)
class Contribution:
    """What one record adds. ``facts`` are kept compact and expanded into totals and buckets by the
    aggregates only where a contact's old and new facts differ (most do not change from one event to the next).
    ``totals`` and ``buckets`` hold figures that are already aggregated (retired totals, agents' time in state)."""

    facts: list[Fact] = field(default_factory=list)
    totals: dict[str, Counters] = field(default_factory=dict)
    buckets: dict[BucketKey, Counters] = field(default_factory=dict)
    live: dict[str, Counters] = field(default_factory=dict)  # gauges now
    oldest: dict[tuple[str, str], int] = field(default_factory=dict)  # (scope, "waiting"/"queued") -> since
    clocks: dict[str, list[Clock]] = field(default_factory=dict)  # running SLA clocks per scope

    def add(self, scopes: list[str], t_ms: int, counters: Counters) -> None:
        """Count ``counters`` at event time ``t_ms`` in every scope (totals and both bucket levels)."""
        self.facts.append((t_ms, tuple(scopes), tuple(counters.items())))

    def gauge(self, scopes: list[str], counters: Counters) -> None:
        for scope in scopes:
            _bump(self.live.setdefault(scope, {}), counters)

    def all_totals(self) -> dict[str, Counters]:
        """Window ``all`` per scope: the facts and the pre-aggregated totals together."""
        out = {scope: dict(c) for scope, c in self.totals.items()}
        for _, scopes, items in self.facts:
            for scope in scopes:
                _bump(out.setdefault(scope, {}), dict(items))
        return out


EMPTY = Contribution()


def _bump(target: Counters, counters: Counters) -> None:
    for name, value in counters.items():
        target[name] = target.get(name, 0) + value


def _agent(f: ContactFacts, agent: str | None) -> list[str]:
    return [scope_id("agent", f.platform, agent)] if agent else []


def _timed(prefix: str, duration_ms: int, bounds_s: tuple[float, ...]) -> Counters:
    """Count, sum, sketch bin and cumulative ``le`` buckets of one duration, e.g. fr_count, fr_ms, frh:42,
    frle:600 (``le`` counters go to the totals only: they feed Prometheus histograms)."""
    out = {f"{prefix}_count": 1, f"{prefix}_ms": duration_ms, f"{prefix}h:{sketches.bin_of(duration_ms)}": 1}
    for bound in bounds_s:
        if duration_ms <= bound * 1000:
            out[f"{prefix}le:{bound:g}"] = 1
    return out


def _sla(policy: SlaPolicy | None, metric: str, start_ms: int, stop_ms: int) -> Counters:
    """Met or breached, counted when the clock stops."""
    if policy is None:
        return {}
    deadline = policy.deadline(metric, start_ms)
    if deadline is None:
        return {}
    return {f"sla_{metric}_{'met' if stop_ms <= deadline else 'breached'}": 1}


def contribution(f: ContactFacts, config: KpiConfig) -> Contribution:
    """Every figure one contact adds, by scope. See the module docstring."""
    out = Contribution()
    if f.created_at is None:
        return out  # nothing counts until the contact's creation is known
    bounds = config.histogram_bounds_s()
    scopes = contact_scopes(f, config.category(f))
    policy = config.policy(f)
    created = f.created_at
    out.add(scopes, created, {"created": 1})

    if f.first_response_at is not None:
        duration = f.first_response_at - created
        figures = _timed("fr", duration, bounds) | _sla(policy, "first_response", created, f.first_response_at)
        if policy is not None:
            figures["fr_bh_ms"] = policy.business_ms(created, f.first_response_at)
        out.add(scopes + _agent(f, f.responder), f.first_response_at, figures)
    for t, agent in f.replies:
        out.add(scopes + _agent(f, agent), t, {"replies": 1})
    for t, wait, agent in f.next_replies:
        out.add(scopes + _agent(f, agent), t, _timed("nr", wait, bounds) | _sla(policy, "next_reply", t - wait, t))

    if f.resolved_at is not None:
        figures = _timed("res", f.resolved_at - created, bounds) | _sla(policy, "resolution", created, f.resolved_at)
        figures["resolved"] = 1
        if len(f.replies) == 1 and not f.reopen_times:
            figures["one_touch"] = 1
        out.add(scopes + _agent(f, f.resolver), f.resolved_at, figures)
    if f.last_solved_at is not None:
        out.add(scopes, f.last_solved_at, {"full_res_count": 1, "full_res_ms": f.last_solved_at - created})
    for t in f.reopen_times:
        out.add(scopes + _agent(f, f.resolver), t, {"reopened": 1})

    if f.queued_at is not None:
        sl = config.service_level(f.platform, f.queue)
        if f.connected_at is not None:
            wait = max(0, f.connected_at - f.queued_at)
            met, offered = service_level_contribution(True, wait, sl)
            figures = {"answered": 1, "asa_ms": wait, "sl_offered": offered, "sl_met": met}
            figures.update({f"asale:{b:g}": 1 for b in bounds if wait <= b * 1000})
            out.add(scopes + _agent(f, f.connected_agent), f.connected_at, figures)
        elif f.abandoned_at is not None:
            wait = max(0, f.abandoned_at - f.queued_at)
            if wait < sl.short_abandon_seconds * 1000:
                figures = {"short_abandoned": 1}
            else:
                met, offered = service_level_contribution(False, wait, sl)
                figures = {"abandoned": 1, "abandon_wait_ms": wait, "sl_offered": offered, "sl_met": met}
            out.add(scopes, f.abandoned_at, figures)
    if f.connected_at is not None and f.ended_at is not None:
        out.add(scopes + _agent(f, f.connected_agent), f.ended_at,
                {"handled": 1, "handle_ms": max(0, f.ended_at - f.connected_at)})

    if f.rating is not None:
        t, label, score, scale_max = f.rating
        figures = {"rated": 1, f"csat_{label}": 1}
        if score is not None and scale_max == 10:
            figures["nps_" + ("promoter" if score >= 9 else "detractor" if score <= 6 else "passive")] = 1
        out.add(scopes + _agent(f, f.rating_agent), t, figures)

    if f.is_open:
        status = f.status or "new"
        gauges = {"open": 1, "waiting": int(f.is_waiting), "unassigned": int(f.assignee is None),
                  "pending": int(status == "pending"), "on_hold": int(status == "on_hold"),
                  "in_queue": int(f.in_queue)}
        out.gauge(scopes, {k: v for k, v in gauges.items() if v})
        out.gauge(_agent(f, f.assignee), {"open": 1})
        for scope in scopes:
            if f.is_waiting:
                out.oldest[(scope, "waiting")] = created
            if f.in_queue:
                out.oldest[(scope, "queued")] = f.queued_at  # type: ignore[assignment]
        if policy is not None:
            running = []
            if f.first_response_at is None:
                running.append(("first_response", created))
            if f.unanswered_since is not None:
                running.append(("next_reply", f.unanswered_since))
            if f.resolved_at is None:
                running.append(("resolution", created))
            clocks = []
            for metric, start in running:
                deadline = policy.deadline(metric, start)
                if deadline is not None:
                    clocks.append((deadline, policy.at_risk_at(metric, start) or deadline))
            if clocks:
                for scope in scopes + _agent(f, f.assignee):
                    out.clocks[scope] = list(clocks)
    return out
