"""What one contact contributes to each scope: counters in time buckets, live gauges and SLA clocks.

Pure: no Faust, no Kafka, no clock. ``contribution(facts, config)`` turns a contact's facts
(``contacts.py``) into integer counters at the event times they happened, for every scope the contact
belongs to. Aggregates subtract a contact's old contribution and add its new one, so everything here must be
a pure function of the facts and the (static) configuration. The formulas built on these counters are in
``docs/kpis.md`` and ``services/api/kpis.py``.
"""

from __future__ import annotations

import bisect
from functools import lru_cache

from services.aggregator.contacts import ContactFacts
from services.aggregator.contributions import Contribution
from services.aggregator.kpiconfig import KpiConfig, SlaPolicy
from services.domain import sketches
from services.domain.categories import ComplaintRule
from services.domain.counters import Counters
from services.domain.policies import Metric
from services.domain.scopes import agent_category_scope, light_scope, scope_id
from services.domain.service_levels import ServiceLevel, service_level_contribution

# -- scopes -----------------------------------------------------------------------------------------------------


@lru_cache(maxsize=65_536)
def _contact_scopes(platform: str, account: str | None, queue: str | None, category: str | None) -> tuple[str, ...]:
    scopes = ["all", scope_id("platform", platform)]
    if account:
        scopes.append(scope_id("account", platform, account))
    if queue:
        scopes.append(scope_id("queue", platform, queue))
    if category is not None:
        scopes.append(scope_id("category", key=category))
    return tuple(scopes)


class _Counted:
    """Where a contact's facts count: ``counted``, its scopes; called with an agent, those plus the agent's."""

    __slots__ = ("category", "counted", "platform", "queue")

    def __init__(self, counted: tuple[str, ...], platform: str, queue: str | None, category: str | None) -> None:
        self.counted, self.platform, self.queue, self.category = counted, platform, queue, category

    def __call__(self, agent: str | None) -> tuple[str, ...]:
        """A fact attributed to ``agent`` counts besides the contact's scopes for the agent, the agent within the
        contact's queue (for outlier judgements) and within the queue and the contact's category (for training);
        the last two keep day buckets only."""
        if not agent:
            return self.counted
        return self.counted + _agent_scopes(self.platform, self.queue, self.category, agent)


@lru_cache(maxsize=65_536)
def _agent_scopes(platform: str, queue: str | None, category: str | None, agent: str) -> tuple[str, ...]:
    if not queue:
        return (scope_id("agent", platform, agent),)
    scopes: tuple[str, ...] = (scope_id("agent", platform, agent), light_scope("queue_agent", platform, queue, agent))
    if category is not None:
        scopes += (agent_category_scope(platform, queue, agent, category),)
    return scopes


def _agent_only(f: ContactFacts, agent: str | None) -> list[str]:
    return [scope_id("agent", f.platform, agent)] if agent else []


def _timed(prefix: str, duration_ms: int, bounds_s: tuple[float, ...]) -> Counters:
    """Count, sum, sketch bin and cumulative ``le`` buckets of one duration, e.g. fr_count, fr_ms, frh:42,
    frle:600 (``le`` counters go to the totals only: they feed Prometheus histograms)."""
    count, total, bins = _timed_names(prefix)
    out = {count: 1, total: duration_ms, f"{bins}{sketches.bin_of(duration_ms)}": 1}
    _add_le(out, prefix, duration_ms, bounds_s)
    return out


@lru_cache(maxsize=256)
def _timed_names(prefix: str) -> tuple[str, str, str]:
    return f"{prefix}_count", f"{prefix}_ms", f"{prefix}h:"


def _add_le(out: Counters, prefix: str, duration_ms: int, bounds_s: tuple[float, ...]) -> None:
    """``<prefix>le:<bound>`` = 1 for every bound (seconds) the duration is within, in the order of the bounds."""
    limits, names = _le_names(prefix, bounds_s)
    if limits is None:
        for limit_ms, name in names:
            if duration_ms <= limit_ms:
                out[name] = 1
    else:  # sorted bounds: the ones the duration is within are a suffix (formatting the names was most of the cost)
        out.update(names[bisect.bisect_left(limits, duration_ms)])


@lru_cache(maxsize=256)
def _le_names(prefix: str, bounds_s: tuple[float, ...]) -> tuple[list[float] | None, tuple]:
    """(limits in ms, the ``le`` counters from each limit on) for sorted bounds; (None, (limit, name) pairs) else."""
    pairs = tuple((bound * 1000, f"{prefix}le:{bound:g}") for bound in bounds_s)
    limits = [limit for limit, _ in pairs]
    if limits != sorted(limits):
        return None, pairs
    return limits, tuple({name: 1 for _, name in pairs[i:]} for i in range(len(pairs) + 1))


def _sla(policy: SlaPolicy | None, metric: Metric, start_ms: int, stop_ms: int) -> Counters:
    """Met or breached, counted when the clock stops."""
    if policy is None:
        return {}
    deadline = policy.deadline(metric, start_ms)
    if deadline is None:
        return {}
    return {f"sla_{metric}_{'met' if stop_ms <= deadline else 'breached'}": 1}


def contribution(f: ContactFacts, config: KpiConfig, out: Contribution | None = None) -> Contribution:
    """Every figure one contact adds, by scope. See the module docstring.

    ``out``: an empty contribution to fill instead of a new one (``aggregates.BulkLoad.contribution`` sums the
    facts as they are added)."""
    if out is None:
        out = Contribution()
    if f.created_at is None:
        return out  # nothing counts until the contact's creation is known
    bounds = config.histogram_bounds_s()
    category = config.category(f)
    scopes = _contact_scopes(f.platform, f.account, f.queue, category)  # gauges, oldest times and clocks count here
    counted = scopes  # and completed-event facts also in the queue x category (day buckets only)
    if f.queue and category is not None:
        counted += (light_scope("queue_category", f.platform, f.queue, category),)
    out.day_keys = (config.day(f.queue), config.day(None))
    policy = config.policy(f)
    channel = f.channel or "unknown"  # the agents' workload per channel: <counter>@<channel>, agent scopes only
    to = _Counted(counted, f.platform, f.queue, category)
    out.add(counted, f.created_at, {"created": 1})
    _replies(f, f.created_at, out, to, policy, bounds, channel)
    _resolution(f, f.created_at, out, to, policy, bounds, channel)
    if f.queued_at is not None:
        _queue(f, f.queued_at, out, to, config.service_level(f.platform, f.queue), bounds, channel)
    if f.connected_at is not None and f.ended_at is not None:
        figures = {"handled": 1, "handle_ms": max(0, f.ended_at - f.connected_at)}
        if f.connected_agent:
            figures[f"handled@{channel}"] = 1
        out.add(to(f.connected_agent), f.ended_at, figures)
    _feedback(f, f.created_at, out, to, config.complaints(), category)
    if f.is_open:
        _live(f, f.created_at, out, scopes, policy)
    return out


def _replies(
    f: ContactFacts,
    created: int,
    out: Contribution,
    to: _Counted,
    policy: SlaPolicy | None,
    bounds: tuple[float, ...],
    channel: str,
) -> None:
    """First response (time, SLA outcome, business time), every public reply, and next-reply times."""
    if f.first_response_at is not None:
        duration = f.first_response_at - created
        figures = _timed("fr", duration, bounds) | _sla(policy, "first_response", created, f.first_response_at)
        if policy is not None:
            figures["fr_bh_ms"] = policy.business_ms(created, f.first_response_at)
        out.add(to(f.responder), f.first_response_at, figures)
    for t, agent in f.replies:
        out.add(to(agent), t, {"replies": 1, f"replies@{channel}": 1} if agent else {"replies": 1})
    for t, wait, agent in f.next_replies:
        out.add(to(agent), t, _timed("nr", wait, bounds) | _sla(policy, "next_reply", t - wait, t))


def _resolution(
    f: ContactFacts,
    created: int,
    out: Contribution,
    to: _Counted,
    policy: SlaPolicy | None,
    bounds: tuple[float, ...],
    channel: str,
) -> None:
    """First resolution (time, SLA outcome, one touch), full resolution, and reopenings."""
    if f.resolved_at is not None:
        figures = _timed("res", f.resolved_at - created, bounds) | _sla(policy, "resolution", created, f.resolved_at)
        figures["resolved"] = 1
        if f.resolver:
            figures[f"resolved@{channel}"] = 1
        if len(f.replies) == 1 and not f.reopen_times:
            figures["one_touch"] = 1
        out.add(to(f.resolver), f.resolved_at, figures)
    if f.last_solved_at is not None:
        out.add(to.counted, f.last_solved_at, {"full_res_count": 1, "full_res_ms": f.last_solved_at - created})
    for t in f.reopen_times:
        out.add(to(f.resolver), t, {"reopened": 1})


def _queue(
    f: ContactFacts,
    queued: int,
    out: Contribution,
    to: _Counted,
    sl: ServiceLevel,
    bounds: tuple[float, ...],
    channel: str,
) -> None:
    """A live contact's wait in queue: answered (speed of answer, service level) or abandoned."""
    if f.connected_at is not None:
        wait = max(0, f.connected_at - queued)
        met, offered = service_level_contribution(True, wait, sl)
        figures = {"answered": 1, "asa_ms": wait, "sl_offered": offered, "sl_met": met}
        _add_le(figures, "asa", wait, bounds)  # asale:<bound>
        if f.connected_agent:
            figures[f"answered@{channel}"] = 1
        out.add(to(f.connected_agent), f.connected_at, figures)
    elif f.abandoned_at is not None:
        wait = max(0, f.abandoned_at - queued)
        if wait < sl.short_abandon_seconds * 1000:
            figures = {"short_abandoned": 1}
        else:
            met, offered = service_level_contribution(False, wait, sl)
            figures = {"abandoned": 1, "abandon_wait_ms": wait, "sl_offered": offered, "sl_met": met}
        out.add(to.counted, f.abandoned_at, figures)


def _feedback(
    f: ContactFacts,
    created: int,
    out: Contribution,
    to: _Counted,
    rule: ComplaintRule,
    category: str | None,
) -> None:
    """Ratings (CSAT, NPS) and complaints.

    A complaint: a contact in a complaint category (counted at creation, for the agent it is assigned to when
    resolved, else now), or else one whose latest rating is bad (at the rating, for the agent rated)."""
    complaint_category = category is not None and category in rule.categories
    if complaint_category:
        out.add(to(f.resolver if f.resolved_at is not None else f.assignee), created, {"complaints": 1})
    if f.rating is not None:
        t, label, score, scale_max = f.rating
        figures = {"rated": 1, f"csat_{label}": 1}
        if score is not None and scale_max == 10:
            figures["nps_" + ("promoter" if score >= 9 else "detractor" if score <= 6 else "passive")] = 1
        if not complaint_category and rule.bad_rating(label, score, scale_max):
            figures["complaints"] = 1
        out.add(to(f.rating_agent), t, figures)


def _live(f: ContactFacts, created: int, out: Contribution, scopes: tuple[str, ...], policy: SlaPolicy | None) -> None:
    """An open contact's gauges, oldest times and running SLA clocks (in its scopes and its assignee's)."""
    status = f.status or "new"
    gauges = {
        "open": 1,
        "waiting": int(f.is_waiting),
        "unassigned": int(f.assignee is None),
        "pending": int(status == "pending"),
        "on_hold": int(status == "on_hold"),
        "in_queue": int(f.in_queue),
    }
    out.gauge(scopes, {k: v for k, v in gauges.items() if v})
    out.gauge(_agent_only(f, f.assignee), {"open": 1})
    for scope in scopes:
        if f.is_waiting:
            out.oldest[(scope, "waiting")] = created
        if f.in_queue and f.queued_at is not None:
            out.oldest[(scope, "queued")] = f.queued_at
    if policy is None:
        return
    running: list[tuple[Metric, int]] = []
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
        for scope in (*scopes, *_agent_only(f, f.assignee)):
            out.clocks[scope] = list(clocks)
