"""The counters and gauges a scope keeps: every name, once, with what it counts.

The aggregator writes these names (``aggregator/kpis.py``, ``aggregator/agents.py``) and the API reads them
(``api/kpis.py``, ``api/periods.py``, ``api/outliers.py``, ``api/metrics.py``); both sides spell them as string
literals for speed, and ``tests/unit/domain/test_catalogue.py`` holds each side to this list, so a name written
on one side and misspelt on the other fails a test instead of serving a silent 0. ``docs/kpis.md`` gives the
formulas built on them.
"""

from __future__ import annotations

import re

# Timed facts: ``<prefix>_count``, ``<prefix>_ms`` (sum), ``<prefix>h:<bin>`` (a sketch bin, ``domain/sketches``)
# and ``<prefix>le:<bound>`` (contacts within ``bound`` seconds, cumulative: Prometheus histograms, totals only).
TIMED = {
    "fr": "first response time (created → first public agent reply)",
    "nr": "next reply time (customer message → the agent's reply)",
    "res": "resolution time (created → first resolved)",
}
# Answered in-queue contacts also keep ``asale:<bound>`` (speed of answer within ``bound`` seconds).
LE_ONLY = {"asa": "speed of answer (queued → connected)"}

COUNTERS = {
    "created": "contacts created",
    "replies": "public agent replies",
    "fr_bh_ms": "first response time in the SLA policy's business hours (ms, summed)",
    "resolved": "contacts resolved (first time)",
    "one_touch": "contacts resolved after exactly one agent reply and never reopened",
    "full_res_count": "contacts solved for the last time (full resolution)",
    "full_res_ms": "full resolution time (created → last solved), ms summed",
    "reopened": "reopenings",
    "answered": "queued contacts an agent answered",
    "asa_ms": "queue wait of answered contacts (ms, summed): speed of answer",
    "abandoned": "contacts abandoned in queue (short abandons aside)",
    "abandon_wait_ms": "queue wait of abandoned contacts (ms, summed)",
    "short_abandoned": "contacts abandoned before the service level's short-abandon threshold",
    "sl_offered": "contacts in the service-level denominator (the queue's abandon rule applied)",
    "sl_met": "contacts within the service-level threshold",
    "handled": "connected contacts that ended",
    "handle_ms": "handle time (connected → ended), ms summed",
    "complaints": "complaints: a contact in a complaint category, or else a bad latest rating",
    "rated": "contacts with a satisfaction rating (the latest one counts)",
    "csat_good": "good ratings",
    "csat_neutral": "neutral ratings",
    "csat_bad": "bad ratings",
    "nps_promoter": "0–10 ratings of 9 or 10",
    "nps_passive": "0–10 ratings of 7 or 8",
    "nps_detractor": "0–10 ratings of 6 or less",
}
SLA_METRICS = ("first_response", "next_reply", "resolution")
COUNTERS |= {
    f"sla_{metric}_{outcome}": f"{metric.replace('_', ' ')} clocks stopped {'within' if outcome == 'met' else 'past'} "
    "the SLA target"
    for metric in SLA_METRICS
    for outcome in ("met", "breached")
}
for _prefix, _what in TIMED.items():
    COUNTERS[f"{_prefix}_count"] = f"{_what}: contacts measured"
    COUNTERS[f"{_prefix}_ms"] = f"{_what}: ms summed"

AGENT_STATES = ("available", "busy", "away", "offline")
COUNTERS |= {f"state_{state}_ms": f"ms agents spent {state} (agent presence)" for state in AGENT_STATES}

# Kept per channel too (``<name>@<channel>``), in agent scopes only: an agent's workload by channel.
PER_CHANNEL = frozenset({"replies", "resolved", "answered", "handled"})

# Counters also kept in day buckets (local days): per-day and per-week figures and their trends. A per-channel
# counter of an agent (``replies@email``) is kept there when its base name is.
DAY_COUNTERS = frozenset(
    {
        "created",
        "resolved",
        "reopened",
        "one_touch",
        "replies",
        "answered",
        "handled",
        "rated",
        "csat_good",
        "csat_bad",
        "complaints",
        "fr_count",
        "fr_ms",
        "nr_count",
        "nr_ms",
    }
)

# Live figures of a scope now (not bucketed): gauges summed over contacts, and minima of instants.
GAUGES = {
    "open": "open contacts",
    "waiting": "open contacts waiting for an agent's reply",
    "unassigned": "open contacts with no assignee",
    "pending": "open contacts pending (waiting on the customer)",
    "on_hold": "open contacts on hold",
    "in_queue": "live contacts waiting in a queue now",
    "sla_running": "open contacts with a running SLA clock",
    "sla_at_risk": "running SLA clocks past their at-risk point",
    "sla_breaching": "running SLA clocks past their deadline",
    **{f"agents_{state}": f"agents {state} now" for state in AGENT_STATES},
}
INSTANTS = {
    "oldest_waiting_created_ms": "creation of the oldest contact waiting for a reply (epoch ms)",
    "oldest_queued_ms": "queue entry of the longest-queued contact (epoch ms)",
    "next_breach_ms": "the next SLA deadline of a running clock (epoch ms)",
}

_BOUND = r"\d+(?:\.\d+)?(?:e[+-]?\d+)?"
_FAMILY = re.compile(
    rf"^(?:(?:{'|'.join(TIMED)})h:-?\d+|(?:{'|'.join([*TIMED, *LE_ONLY])})le:{_BOUND}|(?:{'|'.join(PER_CHANNEL)})@[a-z_]+)$"
)


def is_counter(name: str) -> bool:
    """Whether ``name`` is a catalogued counter (exact, or one of the families: bins, bounds, per channel)."""
    return name in COUNTERS or _FAMILY.match(name) is not None


def is_live(name: str) -> bool:
    """Whether ``name`` is a catalogued live figure (a gauge or an instant)."""
    return name in GAUGES or name in INSTANTS
