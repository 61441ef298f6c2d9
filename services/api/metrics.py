"""Prometheus exposition of the read model: a scrape-time collector over a copied list of scope views.

The copy is taken on the event loop (``ReadModel.views``); rendering runs in a worker thread, so a scrape
never iterates state that is being changed and never stalls the loop. Labels are bounded: platform, queue,
agent; never contact ids or free text. Every metric is listed in ``docs/metrics.md``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import CollectorRegistry
from prometheus_client.exposition import generate_latest

from services.api.readmodel import ScopeView

# (metric suffix, help, source counter in window "all", scale to base units)
_COUNTERS = (
    ("contacts_created", "Contacts created", "created", 1),
    ("first_responses", "Contacts that received their first agent response", "fr_count", 1),
    ("first_response_seconds", "Sum of first response times", "fr_ms", 0.001),
    ("contacts_resolved", "Contacts resolved for the first time", "resolved", 1),
    ("contacts_reopened", "Reopens (solved or closed back to open)", "reopened", 1),
)


class SnapshotCollector:
    def __init__(self, views: list[ScopeView], ready: bool) -> None:
        self._views = views
        self._ready = ready

    def describe(self) -> Iterable[Metric]:
        return []  # families depend on the data; nothing to describe up front

    def collect(self) -> Iterable[Metric]:
        queue_labels = ["platform", "queue"]
        counters = {
            name: CounterMetricFamily(f"deskpulse_queue_{name}", f"{help_} per queue, since state began", labels=queue_labels)
            for name, help_, _, _ in _COUNTERS
        }
        open_ = GaugeMetricFamily("deskpulse_queue_open_contacts", "Contacts open now per queue", labels=queue_labels)
        waiting = GaugeMetricFamily(
            "deskpulse_queue_waiting_contacts", "Open contacts without a first response per queue", labels=queue_labels
        )
        oldest = GaugeMetricFamily(
            "deskpulse_queue_oldest_waiting_created_timestamp_seconds",
            "Creation time of the oldest contact waiting for a first response per queue (absent when none waits)",
            labels=queue_labels,
        )
        agent_open = GaugeMetricFamily(
            "deskpulse_agent_open_contacts", "Open contacts assigned to the agent now", labels=["platform", "agent"]
        )
        for view in self._views:
            if view.kind == "queue":
                labels = [view.platform or "", view.id or ""]
                figures = view.totals
                for name, _, source, scale in _COUNTERS:
                    counters[name].add_metric(labels, figures.get(source, 0) * scale)
                open_.add_metric(labels, view.live.get("open", 0))
                waiting.add_metric(labels, view.live.get("waiting", 0))
                if view.live.get("oldest_waiting_created_ms") is not None:
                    oldest.add_metric(labels, view.live["oldest_waiting_created_ms"] / 1000)
            elif view.kind == "agent":
                agent_open.add_metric([view.platform or "", view.id or ""], view.live.get("open", 0))
        yield from counters.values()
        yield from (open_, waiting, oldest, agent_open)
        ready = GaugeMetricFamily("deskpulse_api_read_model_ready", "1 once the read model has caught up")
        ready.add_metric([], 1 if self._ready else 0)
        yield ready


def render(views: list[ScopeView], ready: bool) -> bytes:
    """The text exposition for one scrape. Safe to call in a worker thread."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(views, ready))
    return generate_latest(registry)


def now_ms() -> int:
    return int(time.time() * 1000)
