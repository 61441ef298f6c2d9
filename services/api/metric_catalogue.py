"""The catalogue of the API's ``/metrics``: every family's name, type, help text and labels, in exposition order.

Data only. ``services/api/metrics.py`` renders it, ``docs/metrics.md`` documents it (tests hold the three
together), and the Prometheus rules (deploy/prometheus/rules) and Grafana dashboards use its names. Labels are
bounded (platform, queue, agent, state, metric, result, rating, category, nps, channel, period, verdict, route,
reason, and name: one per queue or agent); never contact ids or free text.

Each family says what it shows: ``source`` is the read-model figure (a counter of the ``all`` window's totals,
a live figure, a staffing figure), ``scale`` the factor to base units. Histograms come from the aggregator's
cumulative ``<le_prefix><bound>`` counters (``frle:600`` = first responses within 600 s); ``source`` is their
count, ``sum_ms`` the sum in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

QUEUE = ("platform", "queue")
AGENT = ("platform", "agent")
CATEGORY = ("category",)  # issue categories: a configured, bounded list plus "other" (docs/kpis.md)
STATES = ("available", "busy", "away", "offline")
RATINGS = ("good", "neutral", "bad")
NPS_CATEGORIES = ("promoter", "passive", "detractor")
SLA_METRICS = ("first_response", "next_reply", "resolution")
SLA_RESULTS = ("met", "breached")
SNAPSHOT_RESULTS = ("built", "shared")


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family: ``name`` as exposed (counters end in ``_total``), ``type`` (counter, gauge or
    histogram), ``help``, ``labels`` (names, in order), and the figure it shows: ``source`` and ``scale`` to base
    units; for histograms also ``le_prefix`` (the cumulative bucket counters) and ``sum_ms``."""

    name: str
    type: str
    help: str
    labels: tuple[str, ...]
    source: str = ""
    scale: int | float = 1
    le_prefix: str = ""
    sum_ms: str = ""


def _queue(
    name: str,
    type_: str,
    help_: str,
    source: str = "",
    scale: int | float = 1,
    *,
    extra: tuple[str, ...] = (),
    le_prefix: str = "",
    sum_ms: str = "",
) -> Family:
    return Family(name, type_, help_, QUEUE + extra, source, scale, le_prefix, sum_ms)


# Per queue: counters and histograms are the ``all`` window (the totals of the merged partials).
QUEUE_COUNTERS = (
    _queue("deskpulse_contacts_created_total", "counter", "Contacts created", "created"),
    _queue("deskpulse_contacts_resolved_total", "counter", "First resolutions", "resolved"),
    _queue("deskpulse_contacts_reopened_total", "counter", "Reopens (solved or closed back to open)", "reopened"),
    _queue(
        "deskpulse_contacts_one_touch_total",
        "counter",
        "Resolved with one public agent reply, never reopened",
        "one_touch",
    ),
    _queue("deskpulse_replies_total", "counter", "Public agent replies", "replies"),
    _queue("deskpulse_contacts_answered_total", "counter", "Live contacts connected to an agent", "answered"),
    _queue(
        "deskpulse_contacts_abandoned_total", "counter", "Abandoned in queue (short abandons excluded)", "abandoned"
    ),
    _queue(
        "deskpulse_contacts_short_abandoned_total",
        "counter",
        "Abandoned before the short-abandon threshold",
        "short_abandoned",
    ),
    _queue("deskpulse_contacts_handled_total", "counter", "Live contacts ended after an agent connected", "handled"),
    _queue("deskpulse_handle_seconds_total", "counter", "Sum of handle times", "handle_ms", 0.001),
    _queue("deskpulse_service_level_offered_total", "counter", "Contacts eligible for service level", "sl_offered"),
    _queue(
        "deskpulse_service_level_met_total",
        "counter",
        "Contacts eligible for service level answered within the threshold",
        "sl_met",
    ),
    _queue(
        "deskpulse_complaints_total",
        "counter",
        "Complaints: contacts in a complaint category, or with a bad latest rating",
        "complaints",
    ),
)
# label values RATINGS from ``csat_<rating>``, NPS_CATEGORIES from ``nps_<category>``, SLA_METRICS x SLA_RESULTS
# from ``sla_<metric>_<result>``
CSAT = _queue(
    "deskpulse_csat_responses_total", "counter", "Latest rating per contact, by rating", "csat_", extra=("rating",)
)
NPS = _queue(
    "deskpulse_nps_responses_total", "counter", "Ratings on a 0-10 scale, by NPS category", "nps_", extra=("category",)
)
SLA_COMPLETED = _queue(
    "deskpulse_sla_completed_total",
    "counter",
    "SLA clocks stopped, met or breached",
    "sla_",
    extra=("metric", "result"),
)
QUEUE_HISTOGRAMS = (
    _queue(
        "deskpulse_first_response_seconds",
        "histogram",
        "First response times",
        "fr_count",
        le_prefix="frle:",
        sum_ms="fr_ms",
    ),
    _queue(
        "deskpulse_next_reply_seconds", "histogram", "Next reply times", "nr_count", le_prefix="nrle:", sum_ms="nr_ms"
    ),
    _queue(
        "deskpulse_resolution_seconds",
        "histogram",
        "First resolution times",
        "res_count",
        le_prefix="resle:",
        sum_ms="res_ms",
    ),
    _queue(
        "deskpulse_queue_wait_seconds",
        "histogram",
        "Queue wait of answered live contacts (speed of answer)",
        "answered",
        le_prefix="asale:",
        sum_ms="asa_ms",
    ),
)
QUEUE_GAUGES = (  # live figures, 0 when absent
    _queue("deskpulse_contacts_open", "gauge", "Contacts open now", "open"),
    _queue("deskpulse_contacts_waiting", "gauge", "Open contacts without a first response", "waiting"),
    _queue("deskpulse_contacts_unassigned", "gauge", "Open contacts with no assignee", "unassigned"),
    _queue("deskpulse_contacts_pending", "gauge", "Open contacts in status pending", "pending"),
    _queue("deskpulse_contacts_on_hold", "gauge", "Open contacts in status on_hold", "on_hold"),
    _queue("deskpulse_contacts_in_queue", "gauge", "Live contacts queued, not yet connected", "in_queue"),
    _queue("deskpulse_sla_clocks_running", "gauge", "Running SLA clocks", "sla_running"),
    _queue("deskpulse_sla_clocks_breaching", "gauge", "Running SLA clocks past their deadline now", "sla_breaching"),
    _queue(
        "deskpulse_sla_clocks_at_risk",
        "gauge",
        "Running SLA clocks past the at-risk share, not yet breached",
        "sla_at_risk",
    ),
)
QUEUE_TIMESTAMPS = (  # live times in ms, exposed in seconds; absent when None
    _queue(
        "deskpulse_oldest_waiting_contact_created_timestamp_seconds",
        "gauge",
        "Creation time of the oldest contact waiting for a first response (absent when none)",
        "oldest_waiting_created_ms",
    ),
    _queue(
        "deskpulse_oldest_queued_contact_enqueued_timestamp_seconds",
        "gauge",
        "Queue entry time of the longest-waiting live contact (absent when none)",
        "oldest_queued_ms",
    ),
    _queue(
        "deskpulse_sla_next_breach_timestamp_seconds",
        "gauge",
        "Earliest SLA deadline still ahead (absent when none)",
        "next_breach_ms",
    ),
)
# Deprecated names kept for existing dashboards; same values as the histograms' _count/_sum. The gauge reads the
# live figures, the counters the totals.
LEGACY = (
    _queue("deskpulse_queue_open_contacts", "gauge", "Deprecated: use deskpulse_contacts_open", "open"),
    _queue(
        "deskpulse_queue_first_responses_total",
        "counter",
        "Deprecated: use deskpulse_first_response_seconds_count",
        "fr_count",
    ),
    _queue(
        "deskpulse_queue_first_response_seconds_total",
        "counter",
        "Deprecated: use deskpulse_first_response_seconds_sum",
        "fr_ms",
        0.001,
    ),
)
QUEUE_FAMILIES = (
    *QUEUE_COUNTERS,
    CSAT,
    NPS,
    SLA_COMPLETED,
    *QUEUE_HISTOGRAMS,
    *QUEUE_GAUGES,
    *QUEUE_TIMESTAMPS,
    *LEGACY,
)

# Erlang C staffing forecast per queue over the staffing window (services/api/staffing.py); ``source`` is the
# figure of the ``staffing`` object (empty: offered / window_seconds). A sample is absent while its figure is null;
# the forecast figures are absent without a forecast (``agents_needed`` null).
STAFFING = (
    _queue(
        "deskpulse_staffing_offered_contacts",
        "gauge",
        "Live contacts offered in the staffing window: answered + abandoned, plus queued now",
        "offered",
    ),
    _queue("deskpulse_staffing_arrivals_per_second", "gauge", "Offered contacts per second over the staffing window"),
    _queue(
        "deskpulse_staffing_average_handle_time_seconds",
        "gauge",
        "Average handle time of the live contacts handled in the staffing window (absent without any)",
        "aht_s",
    ),
    _queue(
        "deskpulse_staffing_agents_needed",
        "gauge",
        "Agents taking contacts the Erlang C model needs for the service-level target (absent without a forecast)",
        "agents_needed",
    ),
    _queue(
        "deskpulse_staffing_agents_needed_scheduled",
        "gauge",
        "Agents needed, allowing for shrinkage (absent like needed)",
        "agents_needed_scheduled",
    ),
    _queue(
        "deskpulse_staffing_agents_available",
        "gauge",
        "Agents available or busy now on the queue's platform (present with agents_needed and presence data)",
        "agents_available",
    ),
    _queue(
        "deskpulse_staffing_predicted_service_level",
        "gauge",
        "Service level the model expects with the agents available now",
        "predicted_sl",
    ),
    _queue(
        "deskpulse_staffing_predicted_answer_seconds",
        "gauge",
        "Average speed of answer the model expects with the agents available now (absent when unbounded)",
        "predicted_asa_s",
    ),
    _queue(
        "deskpulse_staffing_occupancy", "gauge", "Occupancy the model expects of the agents available now", "occupancy"
    ),
)
STAFFING_INPUTS = ("offered", "aht_s")  # present whether or not there is a forecast

# Outlier judgements of every queue for both periods (docs/kpis.md, Outliers): series only for flagged agents and
# worsened categories, so their number stays bounded by the findings.
OUTLIER_AGENT = _queue(
    "deskpulse_outlier_agent",
    "gauge",
    "Modified z-score of an agent flagged as an outlier in the queue (agent-level), by metric and period",
    extra=("agent", "metric", "period"),
)
OUTLIER_CATEGORY = _queue(
    "deskpulse_outlier_category",
    "gauge",
    "Change against the previous period of a category that worsened in the queue (process-level), by metric and period",
    extra=("category", "metric", "period"),
)
OUTLIER_VERDICT = _queue(
    "deskpulse_outlier_verdict",
    "gauge",
    "1 for the queue's verdict in the period: none, agent-level or process-level",
    extra=("period", "verdict"),
)
OUTLIERS = (OUTLIER_AGENT, OUTLIER_CATEGORY, OUTLIER_VERDICT)


def for_categories(family: Family) -> Family:
    """A queue family per issue category: ``deskpulse_category_*``, label ``category`` instead of platform and
    queue (the NPS category is the label ``nps`` there)."""
    extra = tuple("nps" if label == "category" else label for label in family.labels[len(QUEUE) :])
    return replace(family, name="deskpulse_category_" + family.name[len("deskpulse_") :], labels=CATEGORY + extra)


# The queue families again per issue category; the deprecated names are not repeated.
CATEGORY_FAMILIES = tuple(for_categories(f) for f in QUEUE_FAMILIES if f not in LEGACY)

AGENTS = Family("deskpulse_agents", "gauge", "Agents by current presence state", ("platform", "state"), "agents_")

# presence: from the agent's current state (``ScopeView.agent``), absent until its first presence event
AGENT_STATE = Family("deskpulse_agent_state", "gauge", "1 for the agent's current presence state", AGENT + ("state",))
AGENT_STATE_SINCE = Family(
    "deskpulse_agent_state_since_timestamp_seconds",
    "gauge",
    "When the agent's current presence state began",
    AGENT,
    "since_ms",
)
AGENT_OPEN = Family("deskpulse_agent_open_contacts", "gauge", "Open contacts assigned to the agent now", AGENT, "open")
AGENT_COUNTERS = (
    Family("deskpulse_agent_replies_total", "counter", "Public replies the agent sent", AGENT, "replies"),
    Family("deskpulse_agent_first_responses_total", "counter", "First responses the agent sent", AGENT, "fr_count"),
    Family(
        "deskpulse_agent_contacts_resolved_total",
        "counter",
        "Contacts resolved while assigned to the agent",
        AGENT,
        "resolved",
    ),
    Family("deskpulse_agent_contacts_handled_total", "counter", "Live contacts the agent handled", AGENT, "handled"),
    Family(
        "deskpulse_agent_complaints_total",
        "counter",
        "Complaints attributed to the agent (bad ratings received, complaint-category contacts resolved)",
        AGENT,
        "complaints",
    ),
)
# The agent's workload per channel of the contacts (docs/kpis.md, Workload), from the ``<source>@<channel>``
# counters: label ``channel``, the canonical channel or "unknown"; a series only for channels the agent worked in.
AGENT_CHANNEL_COUNTERS = (
    Family(
        "deskpulse_agent_channel_replies_total",
        "counter",
        "Public replies the agent sent, by channel",
        AGENT + ("channel",),
        "replies",
    ),
    Family(
        "deskpulse_agent_channel_contacts_answered_total",
        "counter",
        "Live contacts the agent answered (connected), by channel; voice: calls answered",
        AGENT + ("channel",),
        "answered",
    ),
    Family(
        "deskpulse_agent_channel_contacts_handled_total",
        "counter",
        "Live contacts the agent handled, by channel",
        AGENT + ("channel",),
        "handled",
    ),
    Family(
        "deskpulse_agent_channel_contacts_resolved_total",
        "counter",
        "Contacts resolved while assigned to the agent, by channel",
        AGENT + ("channel",),
        "resolved",
    ),
)
AGENT_FAMILIES = (AGENT_STATE, AGENT_STATE_SINCE, AGENT_OPEN, *AGENT_COUNTERS, *AGENT_CHANNEL_COUNTERS)

# Pipeline health: ``source`` names the field of ``metrics.Health``.
PIPELINE = (
    Family(
        "deskpulse_api_read_model_ready",
        "gauge",
        "1 once the read model has caught up with the snapshot topic",
        (),
        "ready",
    ),
    Family(
        "deskpulse_snapshot_age_seconds",
        "gauge",
        "Seconds since the read model last received a snapshot record (absent before the first)",
        (),
        "stale_seconds",
    ),
    Family(
        "deskpulse_stream_time_timestamp_seconds",
        "gauge",
        "The pipeline's stream time: newest event time, advanced by wall time",
        (),
        "stream_ms",
    ),
    Family(
        "deskpulse_stream_clients", "gauge", "Clients connected to the live stream (/v1/stream)", (), "stream_clients"
    ),
    Family(
        "deskpulse_stream_snapshots_total",
        "counter",
        "First snapshots sent to live-stream clients, by whether "
        "this one was built or shared with clients of the same window and filter",
        ("result",),
        "stream_snapshots",
    ),
    Family(
        "deskpulse_api_denied_total",
        "counter",
        "Requests refused for their token (401: missing, unknown, expired; 403: outside_reach, role), by route",
        ("route", "reason"),
        "denied",
    ),
)

# Every family, in exposition order.
# Display names for legends (join ``* on (platform, queue) group_left (name) deskpulse_queue_info``): the SLA config's
# ``names:``, else the name the platform's events gave, else the id. One series per queue and per agent.
NAMES = (
    Family(
        "deskpulse_queue_info",
        "gauge",
        "Always 1: a queue's display name (the SLA config's, else the platform's, else its id), for legends",
        ("platform", "queue", "name"),
    ),
    Family(
        "deskpulse_agent_info",
        "gauge",
        "Always 1: an agent's display name (the SLA config's, else the platform's, else its id), for legends",
        ("platform", "agent", "name"),
    ),
)

FAMILIES = (
    *QUEUE_FAMILIES,
    *STAFFING,
    *OUTLIERS,
    *CATEGORY_FAMILIES,
    AGENTS,
    *AGENT_FAMILIES,
    *NAMES,
    *PIPELINE,
)
