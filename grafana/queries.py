"""Every PromQL query of the deskpulse dashboards, apart from their layout (grafana/generate.py).

Metric names are the contract in docs/metrics.md; recorded series come from deploy/prometheus/rules/. Targets are
configuration (OBSERVABILITY.md §8.2): ``TARGETS`` mirrors the defaults in deploy/prometheus/rules/
deskpulse.targets.yml (a unit test keeps them equal) and the goals in deploy/sla.example.yaml.

Conventions: ratios divide by a denominator filtered with ``> 0``, so a queue without contacts has no value
(shown as "–") instead of NaN; "today" figures use ``increase(...[$__range])`` on a ``now/d`` → ``now`` time
range; per-queue series are ``by (platform, queue)``.
"""

from __future__ import annotations

TARGETS = {
    "service_level": 0.80,          # deskpulse:service_level_target:ratio
    "csat": 0.90,                   # deskpulse:csat_target:ratio
    "oldest_queued_seconds": 120,   # deskpulse:oldest_queued_target:seconds
    "first_response_seconds_avg": 600,
    "abandonment_rate": 0.05,
    "waiting_warn": 10,             # contacts waiting: amber from here
    "waiting_alarm": 20,            # red from here
    "agents_available_min": 2,      # agents available: red below 1, amber below this
}


def sel(**matchers: str) -> str:
    """A label selector body; values starting with ``=~`` are regex matches, e.g. sel(platform="=~$platform")."""
    parts = []
    for label, value in matchers.items():
        if value.startswith("=~"):
            parts.append(f'{label}=~"{value[2:]}"')
        else:
            parts.append(f'{label}="{value}"')
    return ",".join(parts)


def ratio(num: str, den: str) -> str:
    return f"{num}\n/\n({den} > 0)"


# --- live state ----------------------------------------------------------------------------------------------

def waiting(by: str = "", s: str = "") -> str:
    return f"sum{by}(deskpulse_contacts_waiting{{{s}}})"


def in_queue(by: str = "", s: str = "") -> str:
    return f"sum{by}(deskpulse_contacts_in_queue{{{s}}})"


def oldest_waiting_age(by: str = "", s: str = "") -> str:
    return f"time() - min{by}(deskpulse_oldest_waiting_contact_created_timestamp_seconds{{{s}}})"


def oldest_queued_age(by: str = "", s: str = "") -> str:
    return f"time() - min{by}(deskpulse_oldest_queued_contact_enqueued_timestamp_seconds{{{s}}})"


def sla_breaching(by: str = "", s: str = "") -> str:
    return f"sum{by}(deskpulse_sla_clocks_breaching{{{s}}})"


def sla_at_risk(by: str = "", s: str = "") -> str:
    return f"sum{by}(deskpulse_sla_clocks_at_risk{{{s}}})"


def agents(state: str, s: str = "") -> str:
    return f'sum(deskpulse_agents{{{",".join(x for x in (s, f"state={chr(34)}{state}{chr(34)}") if x)}}})'


def agents_by_state(s: str = "") -> str:
    return f"sum by (state) (deskpulse_agents{{{s}}})"


# --- windowed KPIs: `window` is a PromQL range such as $__range, 30m or 1d -----------------------------------------

def _inc(metric: str, by: str, window: str, s: str) -> str:
    return f"sum{by}(increase({metric}{{{s}}}[{window}]))"


def _rate(metric: str, by: str, window: str, s: str) -> str:
    return f"sum{by}(rate({metric}{{{s}}}[{window}]))"


def service_level(window: str, by: str = "", s: str = "") -> str:
    return ratio(_inc("deskpulse_service_level_met_total", by, window, s),
                 _inc("deskpulse_service_level_offered_total", by, window, s))


def csat(window: str, by: str = "", s: str = "") -> str:
    good = sel(rating="good") + ("," + s if s else "")
    rated = sel(rating="=~good|bad") + ("," + s if s else "")
    return ratio(_inc("deskpulse_csat_responses_total", by, window, good),
                 _inc("deskpulse_csat_responses_total", by, window, rated))


def abandonment(window: str, by: str = "", s: str = "") -> str:
    return ratio(_inc("deskpulse_contacts_abandoned_total", by, window, s),
                 f"({_inc('deskpulse_contacts_answered_total', by, window, s)}"
                 f" + {_inc('deskpulse_contacts_abandoned_total', by, window, s)})")


def first_response_avg(window: str, by: str = "", s: str = "") -> str:
    return ratio(_inc("deskpulse_first_response_seconds_sum", by, window, s),
                 _inc("deskpulse_first_response_seconds_count", by, window, s))


def sla_compliance(metric: str, window: str, by: str = "", s: str = "") -> str:
    base = sel(metric=metric) + ("," + s if s else "")
    return ratio(_inc("deskpulse_sla_completed_total", by, window, base + ',result="met"'),
                 _inc("deskpulse_sla_completed_total", by, window, base))


def created(window: str, by: str = "", s: str = "") -> str:
    return _inc("deskpulse_contacts_created_total", by, window, s)


def created_per_hour(window: str, by: str = "", s: str = "") -> str:
    return f"{_rate('deskpulse_contacts_created_total', by, window, s)} * 3600"


def service_level_rate(window: str, by: str = "", s: str = "") -> str:
    return ratio(_rate("deskpulse_service_level_met_total", by, window, s),
                 _rate("deskpulse_service_level_offered_total", by, window, s))


def first_response_avg_rate(window: str, by: str = "", s: str = "") -> str:
    return ratio(_rate("deskpulse_first_response_seconds_sum", by, window, s),
                 _rate("deskpulse_first_response_seconds_count", by, window, s))


# --- staffing forecast: computed by the API per queue over its staffing window (docs/kpis.md#staffing-forecast) -----
# `max`: every API replica serves the same figure. A queue without a forecast (no live contacts) has no series.

def staffing(name: str, by: str = "", s: str = "") -> str:
    return f"max{by}(deskpulse_staffing_{name}{{{s}}})"


def staffing_spare(by: str = "", s: str = "") -> str:
    """Agents available or busy on the platform minus the forecast need: below 0 = short."""
    return f"{staffing('agents_available', by, s)} - {staffing('agents_needed', by, s)}"


def staffing_offered_per_hour(by: str = "", s: str = "") -> str:
    return f"{staffing('arrivals_per_second', by, s)} * 3600"


# --- complaints and outliers (docs/kpis.md#complaints, #outliers-one-agent-or-the-process) -------------------------

def complaint_rate(window: str, by: str = "", s: str = "", prefix: str = "deskpulse_") -> str:
    """Complaints per resolved contact; ``prefix="deskpulse_category_"`` for the per-category families."""
    return ratio(_inc(f"{prefix}complaints_total", by, window, s),
                 _inc(f"{prefix}contacts_resolved_total", by, window, s))


def outlier_verdict(s: str) -> str:
    """0 none, 1 agent-level, 2 process-level per queue (one series per queue and period; max over replicas)."""
    v = "deskpulse_outlier_verdict"
    return (f'max by (platform, queue) ({v}{{{s},verdict="process-level"}} * 2 or {v}{{{s},verdict="agent-level"}} '
            f'or {v}{{{s},verdict="none"}} * 0)')


def outlier_agents(s: str) -> str:
    """Modified z-score of each agent flagged in a queue, per metric (absent when nobody is)."""
    return f"max by (platform, queue, agent, metric) (deskpulse_outlier_agent{{{s}}})"


def outlier_categories(s: str) -> str:
    """Change against the previous period of each category that worsened in a queue, per metric."""
    return f"max by (platform, queue, category, metric) (deskpulse_outlier_category{{{s}}})"


# --- per agent ---------------------------------------------------------------------------------------------------

AGENT_BY = " by (platform, agent) "


def agent_state(s: str) -> str:
    return f"max by (platform, agent, state) (deskpulse_agent_state{{{s}}}) == 1"


def agent_in_state_for(s: str) -> str:
    return f"time() - max{AGENT_BY}(deskpulse_agent_state_since_timestamp_seconds{{{s}}})"


def agent_open(s: str) -> str:
    return f"sum{AGENT_BY}(deskpulse_agent_open_contacts{{{s}}})"


def agent_increase(metric: str, window: str, s: str) -> str:
    return _inc(f"deskpulse_agent_{metric}_total", AGENT_BY, window, s)


def agent_rate_per_hour(metric: str, window: str, s: str) -> str:
    return f"{_rate(f'deskpulse_agent_{metric}_total', AGENT_BY, window, s)} * 3600"


# --- recorded series (deploy/prometheus/rules/deskpulse.rules.yml) ------------------------------------------------

SL_30M_BY_QUEUE = "queue:deskpulse_service_level:ratio_rate30m"
PER_QUEUE = " by (platform, queue) "
PER_PLATFORM = " by (platform) "
