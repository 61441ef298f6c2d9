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

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.utils import floatToGoString

from services.api.readmodel import ScopeView

QUEUE = ["platform", "queue"]
AGENT = ["platform", "agent"]
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
AGENT_COUNTERS = (
    ("deskpulse_agent_replies", "Public replies the agent sent", "replies"),
    ("deskpulse_agent_first_responses", "First responses the agent sent", "fr_count"),
    ("deskpulse_agent_contacts_resolved", "Contacts resolved while assigned to the agent", "resolved"),
    ("deskpulse_agent_contacts_handled", "Live contacts the agent handled", "handled"),
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


class SnapshotCollector:
    def __init__(self, views: list[ScopeView], health: Health) -> None:
        self._views = views
        self._health = health

    def describe(self) -> Iterable[Metric]:
        return []  # families depend on the data; nothing to describe up front

    def collect(self) -> Iterator[Metric]:
        queues = [v for v in self._views if v.kind == "queue"]
        agents = [v for v in self._views if v.kind == "agent"]
        platforms = [v for v in self._views if v.kind == "platform"]
        yield from self._queues(queues)
        yield from self._platforms(platforms)
        yield from self._agents(agents)
        yield from self._pipeline()

    def _queues(self, queues: list[ScopeView]) -> Iterator[Metric]:
        labels = [[v.platform or "", v.id or ""] for v in queues]
        for name, help_, source, scale in QUEUE_COUNTERS:
            family = CounterMetricFamily(name, help_, labels=QUEUE)
            for view, lv in zip(queues, labels):
                family.add_metric(lv, view.totals.get(source, 0) * scale)
            yield family
        csat = CounterMetricFamily("deskpulse_csat_responses", "Latest rating per contact", labels=QUEUE + ["rating"])
        nps = CounterMetricFamily("deskpulse_nps_responses", "Ratings on a 0-10 scale by NPS category",
                                  labels=QUEUE + ["category"])
        sla = CounterMetricFamily("deskpulse_sla_completed", "SLA clocks stopped, met or breached",
                                  labels=QUEUE + ["metric", "result"])
        for view, lv in zip(queues, labels):
            t = view.totals
            for rating in ("good", "neutral", "bad"):
                csat.add_metric(lv + [rating], t.get(f"csat_{rating}", 0))
            for category in ("promoter", "passive", "detractor"):
                nps.add_metric(lv + [category], t.get(f"nps_{category}", 0))
            for metric in ("first_response", "next_reply", "resolution"):
                for result in ("met", "breached"):
                    sla.add_metric(lv + [metric, result], t.get(f"sla_{metric}_{result}", 0))
        yield from (csat, nps, sla)
        for name, help_, prefix, count_name, sum_name in QUEUE_HISTOGRAMS:
            bounds = _bounds(queues, prefix)
            les = [floatToGoString(b) for b, _ in bounds]
            family = HistogramMetricFamily(name, help_, labels=QUEUE)
            for view, lv in zip(queues, labels):
                t = view.totals
                count = t.get(count_name, 0)
                buckets = [(le, t.get(counter, 0)) for le, (_, counter) in zip(les, bounds)]
                buckets.append(("+Inf", count))
                family.add_metric(lv, buckets, t.get(sum_name, 0) / 1000)
            yield family
        for name, help_, source in QUEUE_GAUGES:
            family = GaugeMetricFamily(name, help_, labels=QUEUE)
            for view, lv in zip(queues, labels):
                family.add_metric(lv, view.live.get(source) or 0)
            yield family
        for name, help_, source in QUEUE_TIMESTAMPS:
            family = GaugeMetricFamily(name, help_ + " (absent when none)", labels=QUEUE)
            for view, lv in zip(queues, labels):
                value = view.live.get(source)
                if value is not None:
                    family.add_metric(lv, value / 1000)
            yield family
        for name, help_, kind, source, scale in LEGACY:
            cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            family = cls(name, help_, labels=QUEUE)
            for view, lv in zip(queues, labels):
                figures = view.totals if kind == "counter" else view.live
                family.add_metric(lv, (figures.get(source) or 0) * scale)
            yield family

    def _platforms(self, platforms: list[ScopeView]) -> Iterator[Metric]:
        family = GaugeMetricFamily("deskpulse_agents", "Agents by current presence state",
                                   labels=["platform", "state"])
        for view in platforms:
            for state in STATES:
                family.add_metric([view.platform or "", state], view.live.get(f"agents_{state}", 0))
        yield family

    def _agents(self, agents: list[ScopeView]) -> Iterator[Metric]:
        state = GaugeMetricFamily("deskpulse_agent_state", "1 for the agent's current presence state",
                                  labels=AGENT + ["state"])
        since = GaugeMetricFamily("deskpulse_agent_state_since_timestamp_seconds",
                                  "When the agent's current presence state began", labels=AGENT)
        open_ = GaugeMetricFamily("deskpulse_agent_open_contacts", "Open contacts assigned to the agent now",
                                  labels=AGENT)
        counters = [(CounterMetricFamily(name, help_, labels=AGENT), source) for name, help_, source in AGENT_COUNTERS]
        for view in agents:
            lv = [view.platform or "", view.id or ""]
            current = view.agent
            if current and current.get("state"):
                state.add_metric(lv + [str(current["state"])], 1)
                since.add_metric(lv, current["since_ms"] / 1000)
            open_.add_metric(lv, view.live.get("open", 0))
            for family, source in counters:
                family.add_metric(lv, view.totals.get(source, 0))
        yield from (state, since, open_)
        yield from (family for family, _ in counters)

    def _pipeline(self) -> Iterator[Metric]:
        health = self._health
        ready = GaugeMetricFamily("deskpulse_api_read_model_ready",
                                  "1 once the read model has caught up with the snapshot topic")
        ready.add_metric([], 1 if health.ready else 0)
        yield ready
        age = GaugeMetricFamily("deskpulse_snapshot_age_seconds",
                                "Seconds since the read model last received a snapshot record (absent before the first)")
        if health.stale_seconds is not None:
            age.add_metric([], health.stale_seconds)
        yield age
        stream = GaugeMetricFamily("deskpulse_stream_time_timestamp_seconds",
                                   "The pipeline's stream time: newest event time, advanced by wall time")
        if health.stream_ms is not None:
            stream.add_metric([], health.stream_ms / 1000)
        yield stream


def render(views: list[ScopeView], health: Health | bool) -> bytes:
    """The text exposition for one scrape. Safe to call in a worker thread."""
    if isinstance(health, bool):
        health = Health(ready=health, stale_seconds=None, stream_ms=None, wall_s=time.time())
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(views, health))
    return generate_latest(registry)


def now_ms() -> int:
    return int(time.time() * 1000)
