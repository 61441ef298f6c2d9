"""Prometheus exposition of the read model: a scrape-time collector over a copied list of scope views.

The copy is taken on the event loop (``ReadModel.views``); rendering runs in a worker thread, so a scrape
never iterates state that is being changed and never stalls the loop for the whole render. Labels are
bounded (platform, queue, agent, state, metric, result, rating, category); never contact ids or free text.
The catalogue, and nothing else, is ``docs/metrics.md``.

Counters and histograms are the ``all`` window of each queue (``totals`` of the merged partials). Histogram
buckets come from the aggregator's cumulative ``<prefix>le:<bound>`` counters (``frle:600`` = first
responses within 600 s); ``+Inf`` is the count. A bound missing from a queue's totals had no observation
within it, so it is 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.utils import floatToGoString

from services.api.readmodel import ScopeView
from services.api import outliers
from services.api.judgements import PERIODS, group_light, judge_views_cached
from services.api.periods import day_calendar
from services.api.staffing import StaffingConfig, pool, scope_staffing, window_bounds

QUEUE = ["platform", "queue"]
AGENT = ["platform", "agent"]
CATEGORY = ["category"]  # issue categories: a configured, bounded list plus "other" (docs/kpis.md)
STATES = ("available", "busy", "away", "offline")

# name, help, source counter in the totals, scale to base units
QUEUE_COUNTERS = (
    ("deskpulse_contacts_created", "Contacts created", "created", 1),
    ("deskpulse_contacts_resolved", "First resolutions", "resolved", 1),
    ("deskpulse_contacts_reopened", "Reopens (solved or closed back to open)", "reopened", 1),
    ("deskpulse_contacts_one_touch", "Resolved with one public agent reply, never reopened", "one_touch", 1),
    ("deskpulse_replies", "Public agent replies", "replies", 1),
    ("deskpulse_contacts_answered", "Live contacts connected to an agent", "answered", 1),
    ("deskpulse_contacts_abandoned", "Abandoned in queue (short abandons excluded)", "abandoned", 1),
    ("deskpulse_contacts_short_abandoned", "Abandoned before the short-abandon threshold", "short_abandoned", 1),
    ("deskpulse_contacts_handled", "Live contacts ended after an agent connected", "handled", 1),
    ("deskpulse_handle_seconds", "Sum of handle times", "handle_ms", 0.001),
    ("deskpulse_service_level_offered", "Contacts eligible for service level", "sl_offered", 1),
    ("deskpulse_service_level_met", "Contacts eligible for service level answered within the threshold", "sl_met", 1),
    ("deskpulse_complaints", "Complaints: contacts in a complaint category, or with a bad latest rating", "complaints",
     1),
)
# name, help, le-counter prefix, count counter, sum counter (ms)
QUEUE_HISTOGRAMS = (
    ("deskpulse_first_response_seconds", "First response times", "frle:", "fr_count", "fr_ms"),
    ("deskpulse_next_reply_seconds", "Next reply times", "nrle:", "nr_count", "nr_ms"),
    ("deskpulse_resolution_seconds", "First resolution times", "resle:", "res_count", "res_ms"),
    ("deskpulse_queue_wait_seconds", "Queue wait of answered live contacts (speed of answer)", "asale:", "answered",
     "asa_ms"),
)
QUEUE_GAUGES = (
    ("deskpulse_contacts_open", "Contacts open now", "open"),
    ("deskpulse_contacts_waiting", "Open contacts without a first response", "waiting"),
    ("deskpulse_contacts_unassigned", "Open contacts with no assignee", "unassigned"),
    ("deskpulse_contacts_pending", "Open contacts in status pending", "pending"),
    ("deskpulse_contacts_on_hold", "Open contacts in status on_hold", "on_hold"),
    ("deskpulse_contacts_in_queue", "Live contacts queued, not yet connected", "in_queue"),
    ("deskpulse_sla_clocks_running", "Running SLA clocks", "sla_running"),
    ("deskpulse_sla_clocks_breaching", "Running SLA clocks past their deadline now", "sla_breaching"),
    ("deskpulse_sla_clocks_at_risk", "Running SLA clocks past the at-risk share, not yet breached", "sla_at_risk"),
)
# timestamps in ms, absent when None
QUEUE_TIMESTAMPS = (
    ("deskpulse_oldest_waiting_contact_created_timestamp_seconds",
     "Creation time of the oldest contact waiting for a first response", "oldest_waiting_created_ms"),
    ("deskpulse_oldest_queued_contact_enqueued_timestamp_seconds",
     "Queue entry time of the longest-waiting live contact", "oldest_queued_ms"),
    ("deskpulse_sla_next_breach_timestamp_seconds", "Earliest SLA deadline still ahead", "next_breach_ms"),
)
# Erlang C staffing forecast per queue over the staffing window (services/api/staffing.py), kept on each view per
# window minute and platform pool, so a scrape recomputes it only for queues whose minute, figures or agents
# changed; a sample is absent while its figure is null.
STAFFING_GAUGES = (
    ("deskpulse_staffing_offered_contacts",
     "Live contacts offered in the staffing window: answered + abandoned, plus queued now", "offered"),
    ("deskpulse_staffing_arrivals_per_second", "Offered contacts per second over the staffing window", None),
    ("deskpulse_staffing_average_handle_time_seconds",
     "Average handle time of the live contacts handled in the staffing window (absent without any)", "aht_s"),
    ("deskpulse_staffing_agents_needed",
     "Agents taking contacts the Erlang C model needs for the service-level target (absent without a forecast)",
     "agents_needed"),
    ("deskpulse_staffing_agents_needed_scheduled", "Agents needed, allowing for shrinkage (absent like needed)",
     "agents_needed_scheduled"),
    ("deskpulse_staffing_agents_available",
     "Agents available or busy now on the queue's platform (present with agents_needed and presence data)",
     "agents_available"),
    ("deskpulse_staffing_predicted_service_level",
     "Service level the model expects with the agents available now", "predicted_sl"),
    ("deskpulse_staffing_predicted_answer_seconds",
     "Average speed of answer the model expects with the agents available now (absent when unbounded)",
     "predicted_asa_s"),
    ("deskpulse_staffing_occupancy", "Occupancy the model expects of the agents available now", "occupancy"),
)
AGENT_COUNTERS = (
    ("deskpulse_agent_replies", "Public replies the agent sent", "replies"),
    ("deskpulse_agent_first_responses", "First responses the agent sent", "fr_count"),
    ("deskpulse_agent_contacts_resolved", "Contacts resolved while assigned to the agent", "resolved"),
    ("deskpulse_agent_contacts_handled", "Live contacts the agent handled", "handled"),
    ("deskpulse_agent_complaints", "Complaints attributed to the agent (bad ratings received, complaint-category "
                                   "contacts resolved)", "complaints"),
)
# The agent's workload per channel of the contacts (docs/kpis.md, Workload): label ``channel``, the canonical
# channel or "unknown"; a series only for channels the agent has worked in.
AGENT_CHANNEL_COUNTERS = (
    ("deskpulse_agent_channel_replies", "Public replies the agent sent, by channel", "replies"),
    ("deskpulse_agent_channel_contacts_answered", "Live contacts the agent answered (connected), by channel; "
                                                  "voice: calls answered", "answered"),
    ("deskpulse_agent_channel_contacts_handled", "Live contacts the agent handled, by channel", "handled"),
    ("deskpulse_agent_channel_contacts_resolved", "Contacts resolved while assigned to the agent, by channel",
     "resolved"),
)
# Deprecated names kept for existing dashboards and tests; same values as the histograms' _count/_sum.
LEGACY = (
    ("deskpulse_queue_open_contacts", "Deprecated: use deskpulse_contacts_open", "gauge", "open", 1),
    ("deskpulse_queue_first_responses", "Deprecated: use deskpulse_first_response_seconds_count", "counter",
     "fr_count", 1),
    ("deskpulse_queue_first_response_seconds", "Deprecated: use deskpulse_first_response_seconds_sum", "counter",
     "fr_ms", 0.001),
)


@dataclass(frozen=True, slots=True)
class Health:
    ready: bool
    stale_seconds: float | None  # since the last snapshot record; None before the first
    stream_ms: int | None
    wall_s: float
    stream_clients: int | None = None  # connected /v1/stream clients
    stream_snapshots: tuple[int, int] | None = None  # (built, shared) first snapshots of /v1/stream


def _bounds(views: list[ScopeView], prefix: str) -> list[tuple[float, str]]:
    """Every ``le`` bound of ``prefix`` any queue has, sorted, with its counter name."""
    names: set[str] = set()
    for view in views:
        names.update(name for name in view.totals if name.startswith(prefix))
    out = []
    for name in names:
        try:
            out.append((float(name[len(prefix):]), name))
        except ValueError:
            continue
    return sorted(out)


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"')


def _num(value: float) -> str:
    if type(value) is int:
        return str(value)
    return floatToGoString(value)


class _Family:
    """One metric family as rows of (sample name, label values, rendered labels, value).

    The rows are the single source of the values: ``to_metric`` gives a ``prometheus_client.core`` family
    (for registries and tests), ``render`` writes the text format directly, with each scope's label string
    escaped once per scrape instead of once per sample.
    """

    __slots__ = ("name", "type", "help", "labelnames", "rows")

    def __init__(self, name: str, type_: str, help_: str, labelnames: list[str]) -> None:
        self.name, self.type, self.help, self.labelnames = name, type_, help_, labelnames
        self.rows: list[tuple[str, tuple[str, ...], str, float]] = []

    def add(self, values: tuple[str, ...], rendered: str, value: float, suffix: str = "") -> None:
        self.rows.append((suffix, values, rendered, value))

    def to_metric(self) -> Metric:
        cls = {"counter": CounterMetricFamily, "gauge": GaugeMetricFamily, "histogram": HistogramMetricFamily}
        metric = cls[self.type](self.name + ("_total" if self.type == "counter" else ""), self.help,
                                labels=self.labelnames)
        sample = self.name + ("_total" if self.type == "counter" else "")
        for suffix, values, _, value in self.rows:
            names = self.labelnames + (["le"] if suffix == "_bucket" else [])
            metric.add_sample(sample + suffix, dict(zip(names, values)), value)
        return metric

    def render(self, out: list[str]) -> None:
        full = self.name + ("_total" if self.type == "counter" else "")
        out.append(f"# HELP {full} {self.help}\n# TYPE {full} {self.type}\n")
        out.extend([f"{full}{suffix}{{{rendered}}} {_num(value)}\n" if rendered else f"{full}{suffix} {_num(value)}\n"
                    for suffix, _, rendered, value in self.rows])


def _labels(names: list[str], values: tuple[str, ...]) -> str:
    return ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, values))


def families(views: list[ScopeView], health: Health, staffing: StaffingConfig | None = None) -> list[_Family]:
    """Every family of one scrape, from copied views."""
    queues = [v for v in views if v.kind == "queue"]
    agents = [v for v in views if v.kind == "agent"]
    platforms = [v for v in views if v.kind == "platform"]
    categories = [v for v in views if v.kind == "category"]
    return [*_queue_families(queues), *_staffing_families(queues, platforms, health, staffing),
            *_outlier_families(queues, views, health, staffing), *_category_families(categories),
            *_platform_families(platforms), *_agent_families(agents), *_pipeline_families(health)]


def _outlier_families(queues: list[ScopeView], views: list[ScopeView], health: Health,
                      staffing: StaffingConfig | None) -> list[_Family]:
    """Outlier judgements of every queue for both periods (docs/kpis.md, Outliers), computed at each scrape:
    series only for flagged agents and worsened categories, so their number stays bounded by the findings."""
    sla = staffing.sla if staffing is not None else None  # the SLA config gives the queues' local days
    agent = _Family("deskpulse_outlier_agent", "gauge", "Modified z-score of an agent flagged as an outlier in "
                    "the queue (agent-level), by metric and period", QUEUE + ["agent", "metric", "period"])
    category = _Family("deskpulse_outlier_category", "gauge", "Change against the previous period of a category "
                       "that worsened in the queue (process-level), by metric and period",
                       QUEUE + ["category", "metric", "period"])
    verdict = _Family("deskpulse_outlier_verdict", "gauge", "1 for the queue's verdict in the period: none, "
                      "agent-level or process-level", QUEUE + ["period", "verdict"])
    if not queues:
        return [agent, category, verdict]
    parts = group_light(views)
    wall = int(health.wall_s * 1000)
    for view in queues:
        key = (view.platform or "", view.id or "")
        lbl = _labels(QUEUE, key)
        agents, categories = parts.get(key, ({}, {}))
        calendar = day_calendar(sla, "queue", view.id)
        for period in PERIODS:
            judgement = judge_views_cached(view, agents, categories, calendar, _stream_ms(view, wall), period,
                                           outliers.Rule())
            verdict.add(key + (period, judgement["verdict"]),
                        f'{lbl},period="{period}",verdict="{judgement["verdict"]}"', 1)
            for metric, found in judgement["metrics"].items():
                for judged in found["agents"]:
                    if judged["outlier"]:
                        labels = (judged["agent"], metric, period)
                        agent.add(key + labels, f"{lbl},{_labels(['agent', 'metric', 'period'], labels)}",
                                  judged["score"])
                for worse in found["categories_worse"]:
                    labels = (worse["category"], metric, period)
                    category.add(key + labels, f"{lbl},{_labels(['category', 'metric', 'period'], labels)}",
                                 worse["change"])
    return [agent, category, verdict]


def _stream_ms(view: ScopeView, wall_ms: int) -> int:
    """The view's stream time advanced by wall time since publication (as ``ReadModel.view`` does).

    Once the wall clock has passed every partial's publication, that is ``wall_ms`` plus the largest lead of
    stream time over publication time among the partials, which is kept on the (immutable) view, so a scrape
    does not walk every queue's partials."""
    span = view.__dict__.get("_stream_lead")
    if span is None:
        parts = view.parts
        span = ((max(p["published_ms"] for p in parts), max(p["stream_ms"] - p["published_ms"] for p in parts))
                if parts else (None, 0))
        view.__dict__["_stream_lead"] = span  # views are immutable; a racing scrape computes the same
    newest, lead = span
    best = view.stream_ms
    if newest is not None and wall_ms >= newest:
        t = wall_ms + lead
        return t if t > best else best
    for p in view.parts:
        t = p["stream_ms"] + max(0, wall_ms - p["published_ms"])
        if t > best:
            best = t
    return best


def _staffing_families(queues: list[ScopeView], platforms: list[ScopeView], health: Health,
                       config: StaffingConfig | None) -> list[_Family]:
    config = config or _DEFAULT_STAFFING
    wall = int(health.wall_s * 1000)
    pools = {v.platform: v.live for v in platforms}
    out = [_Family(name, "gauge", help_, QUEUE) for name, help_, _ in STAFFING_GAUGES]
    for view in queues:
        figures = scope_staffing(view, _stream_ms(view, wall), pools.get(view.platform), config)
        key = (view.platform or "", view.id or "")
        lbl = _labels(QUEUE, key)
        forecast = figures["agents_needed"] is not None
        for family, (_, _, source) in zip(out, STAFFING_GAUGES):
            value = _staffing_value(figures, source, forecast)
            if value is not None:
                family.add(key, lbl, value)
    return out


def _category_families(categories: list[ScopeView]) -> list[_Family]:
    """The queue families per issue category: ``deskpulse_category_*`` with the label ``category`` (NPS categories
    are labelled ``nps`` there); the deprecated names are not repeated."""
    return _queue_families(categories, CATEGORY, "deskpulse_category_")


def _queue_families(queues: list[ScopeView], labelnames: list[str] = QUEUE,
                    prefix: str = "deskpulse_") -> list[_Family]:
    """The queue families; with ``labelnames`` and ``prefix``, the same per category (``_category_families``)."""
    per_category = labelnames == CATEGORY
    nps_label = "nps" if per_category else "category"
    name_of = (lambda name: name) if prefix == "deskpulse_" else (lambda name: prefix + name[len("deskpulse_"):])
    out = []
    keys = [(v.id or "",) if per_category else (v.platform or "", v.id or "") for v in queues]
    rendered = [_labels(labelnames, k) for k in keys]
    rows = list(zip(queues, keys, rendered))
    for name, help_, source, scale in QUEUE_COUNTERS:
        family = _Family(name_of(name), "counter", help_, labelnames)
        for view, key, lbl in rows:
            family.add(key, lbl, view.totals.get(source, 0) * scale)
        out.append(family)
    csat = _Family(name_of("deskpulse_csat_responses"), "counter", "Latest rating per contact, by rating",
                   labelnames + ["rating"])
    nps = _Family(name_of("deskpulse_nps_responses"), "counter", "Ratings on a 0-10 scale, by NPS category",
                  labelnames + [nps_label])
    sla = _Family(name_of("deskpulse_sla_completed"), "counter", "SLA clocks stopped, met or breached",
                  labelnames + ["metric", "result"])
    for view, key, lbl in rows:
        t = view.totals
        for rating in ("good", "neutral", "bad"):
            csat.add(key + (rating,), f'{lbl},rating="{rating}"', t.get(f"csat_{rating}", 0))
        for category in ("promoter", "passive", "detractor"):
            nps.add(key + (category,), f'{lbl},{nps_label}="{category}"', t.get(f"nps_{category}", 0))
        for metric in ("first_response", "next_reply", "resolution"):
            for result in ("met", "breached"):
                sla.add(key + (metric, result), f'{lbl},metric="{metric}",result="{result}"',
                        t.get(f"sla_{metric}_{result}", 0))
    out += [csat, nps, sla]
    for name, help_, le_prefix, count_name, sum_name in QUEUE_HISTOGRAMS:
        bounds = [(floatToGoString(b), counter) for b, counter in _bounds(queues, le_prefix)]
        family = _Family(name_of(name), "histogram", help_, labelnames)
        add = family.add
        for view, key, lbl in rows:
            t = view.totals
            count = t.get(count_name, 0)
            for le, counter in bounds:
                add(key + (le,), f'{lbl},le="{le}"', t.get(counter, 0), "_bucket")
            add(key + ("+Inf",), f'{lbl},le="+Inf"', count, "_bucket")
            add(key, lbl, count, "_count")
            add(key, lbl, t.get(sum_name, 0) / 1000, "_sum")
        out.append(family)
    for name, help_, source in QUEUE_GAUGES:
        family = _Family(name_of(name), "gauge", help_, labelnames)
        for view, key, lbl in rows:
            family.add(key, lbl, view.live.get(source) or 0)
        out.append(family)
    for name, help_, source in QUEUE_TIMESTAMPS:
        family = _Family(name_of(name), "gauge", help_ + " (absent when none)", labelnames)
        for view, key, lbl in rows:
            value = view.live.get(source)
            if value is not None:
                family.add(key, lbl, value / 1000)
        out.append(family)
    if prefix != "deskpulse_":
        return out
    for name, help_, kind, source, scale in LEGACY:
        family = _Family(name, kind, help_, labelnames)
        for view, key, lbl in rows:
            figures = view.totals if kind == "counter" else view.live
            family.add(key, lbl, (figures.get(source) or 0) * scale)
        out.append(family)
    return out


def _platform_families(platforms: list[ScopeView]) -> list[_Family]:
    family = _Family("deskpulse_agents", "gauge", "Agents by current presence state", ["platform", "state"])
    for view in platforms:
        platform = view.platform or ""
        for state in STATES:
            key = (platform, state)
            family.add(key, _labels(["platform", "state"], key), view.live.get(f"agents_{state}", 0))
    return [family]


def _agent_families(agents: list[ScopeView]) -> list[_Family]:
    state = _Family("deskpulse_agent_state", "gauge", "1 for the agent's current presence state", AGENT + ["state"])
    since = _Family("deskpulse_agent_state_since_timestamp_seconds", "gauge",
                    "When the agent's current presence state began", AGENT)
    open_ = _Family("deskpulse_agent_open_contacts", "gauge", "Open contacts assigned to the agent now", AGENT)
    counters = [(_Family(name, "counter", help_, AGENT), source) for name, help_, source in AGENT_COUNTERS]
    channels = [(_Family(name, "counter", help_, AGENT + ["channel"]), source)
                for name, help_, source in AGENT_CHANNEL_COUNTERS]
    for view in agents:
        key = (view.platform or "", view.id or "")
        lbl = _labels(AGENT, key)
        current = view.agent
        if current and current.get("state"):
            name = str(current["state"])
            state.add(key + (name,), f'{lbl},state="{_escape(name)}"', 1)
            since.add(key, lbl, current["since_ms"] / 1000)
        open_.add(key, lbl, view.live.get("open", 0))
        totals = view.totals
        for family, source in counters:
            family.add(key, lbl, totals.get(source, 0))
        for family, source in channels:
            for channel, value in _per_channel(totals, source):
                family.add(key + (channel,), f'{lbl},channel="{_escape(channel)}"', value)
    return [state, since, open_, *(family for family, _ in counters), *(family for family, _ in channels)]


def _per_channel(totals: dict[str, int], source: str) -> list[tuple[str, int]]:
    """(channel, value) of the agent's ``<source>@<channel>`` counters, sorted by channel."""
    head = source + "@"
    return sorted((name[len(head):], value) for name, value in totals.items() if name.startswith(head))


def _pipeline_families(health: Health) -> list[_Family]:
    ready = _Family("deskpulse_api_read_model_ready", "gauge",
                    "1 once the read model has caught up with the snapshot topic", [])
    ready.add((), "", 1 if health.ready else 0)
    age = _Family("deskpulse_snapshot_age_seconds", "gauge",
                  "Seconds since the read model last received a snapshot record (absent before the first)", [])
    if health.stale_seconds is not None:
        age.add((), "", health.stale_seconds)
    stream = _Family("deskpulse_stream_time_timestamp_seconds", "gauge",
                     "The pipeline's stream time: newest event time, advanced by wall time", [])
    if health.stream_ms is not None:
        stream.add((), "", health.stream_ms / 1000)
    clients = _Family("deskpulse_stream_clients", "gauge", "Clients connected to the live stream (/v1/stream)", [])
    snapshots = _Family("deskpulse_stream_snapshots", "counter", "First snapshots sent to live-stream clients, by "
                        "whether this one was built or shared with clients of the same window and filter", ["result"])
    if health.stream_clients is not None:
        clients.add((), "", health.stream_clients)
    if health.stream_snapshots is not None:
        for result, n in zip(("built", "shared"), health.stream_snapshots):
            snapshots.add((result,), f'result="{result}"', n)
    return [ready, age, stream, clients, snapshots]


class SnapshotCollector:
    """A ``prometheus_client`` collector over copied views (for registries, ``get_sample_value`` in tests)."""

    def __init__(self, views: list[ScopeView], health: Health, staffing: StaffingConfig | None = None) -> None:
        self._views = views
        self._health = health
        self._staffing = staffing

    def describe(self) -> Iterable[Metric]:
        return []  # families depend on the data; nothing to describe up front

    def collect(self) -> Iterator[Metric]:
        for family in families(self._views, self._health, self._staffing):
            yield family.to_metric()


def _le_names(view: ScopeView) -> tuple[tuple[str, str], ...]:
    """(``<prefix>le:``, counter name) of the view's totals, kept on the (immutable) view."""
    names = view.__dict__.get("_le_names")
    if names is None:
        names = tuple((name[:name.index("le:") + 3], name) for name in view.totals if "le:" in name)
        view.__dict__["_le_names"] = names
    return names


def _le_bounds(queues: list[ScopeView]) -> dict[str, list[tuple[str, str]]]:
    """Per histogram prefix, every ``le`` bound any queue has: sorted (le label, counter name)."""
    found: dict[str, set[str]] = {prefix: set() for _, _, prefix, _, _ in QUEUE_HISTOGRAMS}
    for view in queues:
        for prefix, name in _le_names(view):
            names = found.get(prefix)
            if names is not None:
                names.add(name)
    out = {}
    for prefix, names in found.items():
        bounds = []
        for name in names:
            try:
                bounds.append((float(name[len(prefix):]), name))
            except ValueError:
                continue
        out[prefix] = [(floatToGoString(b), name) for b, name in sorted(bounds)]
    return out


def _queue_text(view: ScopeView, les: dict[str, list[tuple[str, str]]]) -> list[str]:
    """One queue's samples, one string per queue family (in :func:`_queue_families` order)."""
    lbl = _labels(QUEUE, (view.platform or "", view.id or ""))
    t, live = view.totals, view.live
    out = [f"{name}_total{{{lbl}}} {t.get(source, 0) * scale!r}\n" for name, _, source, scale in QUEUE_COUNTERS]
    out.append("".join(f'deskpulse_csat_responses_total{{{lbl},rating="{r}"}} {t.get("csat_" + r, 0)!r}\n'
                       for r in ("good", "neutral", "bad")))
    out.append("".join(f'deskpulse_nps_responses_total{{{lbl},category="{c}"}} {t.get("nps_" + c, 0)!r}\n'
                       for c in ("promoter", "passive", "detractor")))
    out.append("".join(f'deskpulse_sla_completed_total{{{lbl},metric="{m}",result="{r}"}} '
                       f'{t.get(f"sla_{m}_{r}", 0)!r}\n'
                       for m in ("first_response", "next_reply", "resolution") for r in ("met", "breached")))
    for name, _, prefix, count_name, sum_name in QUEUE_HISTOGRAMS:
        count = t.get(count_name, 0)
        out.append("".join([f'{name}_bucket{{{lbl},le="{le}"}} {t.get(counter, 0)!r}\n' for le, counter in les[prefix]])
                   + f'{name}_bucket{{{lbl},le="+Inf"}} {count!r}\n{name}_count{{{lbl}}} {count!r}\n'
                   f'{name}_sum{{{lbl}}} {t.get(sum_name, 0) / 1000!r}\n')
    out.extend(f"{name}{{{lbl}}} {live.get(source) or 0!r}\n" for name, _, source in QUEUE_GAUGES)
    for name, _, source in QUEUE_TIMESTAMPS:
        value = live.get(source)
        out.append(f"{name}{{{lbl}}} {value / 1000!r}\n" if value is not None else "")
    for name, _, kind, source, scale in LEGACY:
        figures = t if kind == "counter" else live
        out.append(f"{name}{'_total' if kind == 'counter' else ''}{{{lbl}}} {(figures.get(source) or 0) * scale!r}\n")
    return out


def _agent_text(view: ScopeView) -> list[str]:
    """One agent's samples, one string per agent family (in :func:`_agent_families` order)."""
    lbl = _labels(AGENT, (view.platform or "", view.id or ""))
    current = view.agent
    if current and current.get("state"):
        state = f'deskpulse_agent_state{{{lbl},state="{_escape(str(current["state"]))}"}} 1\n'
        since = f"deskpulse_agent_state_since_timestamp_seconds{{{lbl}}} {current['since_ms'] / 1000!r}\n"
    else:
        state = since = ""
    t = view.totals
    by_source: dict[str, list[tuple[str, int]]] = {}  # _per_channel of every source in one pass over the totals
    for counter, value in t.items():
        if "@" in counter:
            source, _, channel = counter.partition("@")
            by_source.setdefault(source, []).append((channel, value))
    return [state, since, f"deskpulse_agent_open_contacts{{{lbl}}} {view.live.get('open', 0)!r}\n",
            *(f"{name}_total{{{lbl}}} {t.get(source, 0)!r}\n" for name, _, source in AGENT_COUNTERS),
            *("".join(f'{name}_total{{{lbl},channel="{_escape(channel)}"}} {value!r}\n'
                      for channel, value in sorted(by_source.get(source, ())))
              for name, _, source in AGENT_CHANNEL_COUNTERS)]


def _on_view(view: ScopeView, attr: str, key: object, build):
    """``build()``, kept on the (immutable) view under ``attr`` while ``key`` stays equal: a scope unchanged since
    the previous scrape costs a lookup."""
    cached = view.__dict__.get(attr)
    if cached is None or cached[0] != key:
        cached = (key, build())
        view.__dict__[attr] = cached  # views are immutable; a racing scrape writes the same text
    return cached[1]


def _chunks(views: list[ScopeView], attr: str, key: object, build) -> list:
    """Each view's rendered samples (one string per family), kept on the view (:func:`_on_view`)."""
    return [_on_view(view, attr, key, lambda view=view: build(view)) for view in views]


def _header(family: _Family) -> str:
    full = family.name + ("_total" if family.type == "counter" else "")
    return f"# HELP {full} {family.help}\n# TYPE {full} {family.type}\n"


class _RenderCache:
    """What the previous scrape rendered, for the next one (shared by scrapes in worker threads).

    Every entry is one tuple replaced whole, so a racing scrape reads either the old or the new entry; the
    worst case is rendering a section twice. Entries compare the objects they were built from by identity
    (views and per-view chunks are immutable), so they never hand back text of a replaced or removed scope.
    """

    def __init__(self) -> None:
        self.sections: dict[str, tuple[list, bytes]] = {}
        self.le: tuple[list[ScopeView], tuple, dict[str, list[tuple[str, str]]]] | None = None
        self.light: tuple[list[ScopeView], dict] | None = None

    def section(self, name: str, headers: list[str], chunks: list) -> bytes:
        """The families' headers, each followed by every scope's chunk for it, encoded; reused while every
        chunk is the same object as at the previous scrape."""
        hit = self.sections.get(name)
        if hit is not None and len(hit[0]) == len(chunks) and all(map(_is, hit[0], chunks)):
            return hit[1]
        text = "".join([header + "".join([chunk[i] for chunk in chunks]) for i, header in enumerate(headers)])
        data = text.encode()
        self.sections[name] = (chunks, data)
        return data

    def le_bounds(self, queues: list[ScopeView]) -> tuple[tuple, dict[str, list[tuple[str, str]]]]:
        """The queues' ``le`` bounds and a key of them; the same key object while the bounds stay the same."""
        hit = self.le
        if hit is not None and len(hit[0]) == len(queues) and all(map(_is, hit[0], queues)):
            return hit[1], hit[2]
        les = _le_bounds(queues)
        key = tuple(tuple(les[prefix]) for _, _, prefix, _, _ in QUEUE_HISTOGRAMS)
        if hit is not None and hit[1] == key:
            key = hit[1]  # the per-view chunks compare their key: identity first
        self.le = (queues, key, les)
        return key, les

    def group_light(self, light: list[ScopeView]) -> dict:
        hit = self.light
        if hit is not None and len(hit[0]) == len(light) and all(map(_is, hit[0], light)):
            return hit[1]
        parts = group_light(light)
        self.light = (light, parts)
        return parts

    def clear(self) -> None:
        self.sections.clear()
        self.le = self.light = None


def _is(a: object, b: object) -> bool:
    return a is b


_cache = _RenderCache()
_DEFAULT_STAFFING = StaffingConfig()
_RULE = outliers.Rule()


def _staffing_value(figures: dict, source: str | None, forecast: bool) -> float | None:
    """One staffing gauge's value (None: absent): the arrival rate, the inputs, or a forecast figure."""
    if source is None:
        return figures["offered"] / figures["window_seconds"]
    if source in ("offered", "aht_s"):
        return figures[source]
    return figures[source] if forecast else None


def _staffing_text(view: ScopeView, figures: dict) -> tuple[str, ...]:
    """One queue's staffing samples, one string per family (as :func:`_staffing_families` renders them)."""
    lbl = _labels(QUEUE, (view.platform or "", view.id or ""))
    forecast = figures["agents_needed"] is not None
    out = []
    for name, _, source in STAFFING_GAUGES:
        value = _staffing_value(figures, source, forecast)
        out.append(f"{name}{{{lbl}}} {_num(value)}\n" if value is not None else "")
    return tuple(out)


def _outlier_text(view: ScopeView, judgements: tuple[dict, ...]) -> tuple[str, str, str]:
    """One queue's outlier samples (agent, category, verdict families), as :func:`_outlier_families` renders them."""
    key = (view.platform or "", view.id or "")
    lbl = _labels(QUEUE, key)
    agent, category, verdict = [], [], []
    for period, judgement in zip(PERIODS, judgements):
        verdict.append(f'deskpulse_outlier_verdict{{{lbl},period="{period}",verdict="{judgement["verdict"]}"}} 1\n')
        for metric, found in judgement["metrics"].items():
            for judged in found["agents"]:
                if judged["outlier"]:
                    labels = _labels(["agent", "metric", "period"], (judged["agent"], metric, period))
                    agent.append(f"deskpulse_outlier_agent{{{lbl},{labels}}} {_num(judged['score'])}\n")
            for worse in found["categories_worse"]:
                labels = _labels(["category", "metric", "period"], (worse["category"], metric, period))
                category.append(f"deskpulse_outlier_category{{{lbl},{labels}}} {_num(worse['change'])}\n")
    return "".join(agent), "".join(category), "".join(verdict)


def _family_text(families_: list[_Family]) -> bytes:
    out: list[str] = []
    for family in families_:
        family.render(out)
    return "".join(out).encode()


def render(views: list[ScopeView], health: Health, staffing: StaffingConfig | None = None) -> bytes:
    """The text exposition (format 0.0.4) of one scrape. Safe to call in a worker thread.

    The same samples as ``generate_latest`` over :class:`SnapshotCollector` (a test compares them), written
    directly per scope. Each scope's samples are cached on its immutable view (the staffing ones per window
    minute and platform pool, the outlier ones per judgement), and each section's encoded text is kept while
    all its scopes' samples are the ones of the previous scrape, so a scrape renders only the scopes that
    changed and joins the rest (a test checks the result is byte for byte that of a cold render).
    """
    cache = _cache
    queues: list[ScopeView] = []
    agents: list[ScopeView] = []
    platforms: list[ScopeView] = []
    categories: list[ScopeView] = []
    light: list[ScopeView] = []
    by_kind = {"queue": queues.append, "agent": agents.append, "platform": platforms.append,
               "category": categories.append, "queue_agent": light.append, "queue_category": light.append}
    for view in views:
        add = by_kind.get(view.kind)
        if add is not None:
            add(view)
    out: list[bytes] = []

    key, les = cache.le_bounds(queues)
    out.append(cache.section("queue", _QUEUE_HEADERS,
                             _chunks(queues, "_prometheus", key, lambda v: _queue_text(v, les))))

    config = staffing or _DEFAULT_STAFFING
    wall = int(health.wall_s * 1000)
    pools = {v.platform: v.live for v in platforms}
    nows = [_stream_ms(view, wall) for view in queues]
    chunks = []
    for view, now in zip(queues, nows):
        platform_live = pools.get(view.platform)
        figures_key = (window_bounds(config.window, now)[0], pool(platform_live), config)
        chunks.append(_on_view(view, "_prometheus_staffing", figures_key, lambda: _staffing_text(
            view, scope_staffing(view, now, platform_live, config))))
    out.append(cache.section("staffing", _STAFFING_HEADERS, chunks))

    chunks = []
    if queues:
        sla = staffing.sla if staffing is not None else None  # the SLA config gives the queues' local days
        parts = cache.group_light(light)
        for view, now in zip(queues, nows):
            agents_, categories_ = parts.get((view.platform or "", view.id or ""), ({}, {}))
            calendar = day_calendar(sla, "queue", view.id)
            judgements = tuple(judge_views_cached(view, agents_, categories_, calendar, now, period, _RULE)
                               for period in PERIODS)
            # judgements are cached objects: the tuples compare element by element, identical objects first
            chunks.append(_on_view(view, "_prometheus_outliers", judgements,
                                   lambda: _outlier_text(view, judgements)))
    out.append(cache.section("outliers", _OUTLIER_HEADERS, chunks))

    out.append(_family_text(_category_families(categories)))  # a bounded few
    out.append(_family_text(_platform_families(platforms)))
    out.append(cache.section("agent", _AGENT_HEADERS, _chunks(agents, "_prometheus", None, _agent_text)))
    out.append(_family_text(_pipeline_families(health)))
    return b"".join(out)


def render_with_client(views: list[ScopeView], health: Health, staffing: StaffingConfig | None = None) -> bytes:
    """The same exposition through ``prometheus_client``'s ``generate_latest`` (reference for tests)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(views, health, staffing))
    return generate_latest(registry)


_QUEUE_HEADERS = [_header(f) for f in _queue_families([])]
_STAFFING_HEADERS = [_header(f) for f in _staffing_families([], [], Health(True, None, None, 0.0), None)]
_OUTLIER_HEADERS = [_header(f) for f in _outlier_families([], [], Health(True, None, None, 0.0), None)]
_AGENT_HEADERS = [_header(f) for f in _agent_families([])]
