"""Prometheus exposition of the read model: the catalogue (``metric_catalogue``) written as text, one path.

The views are copied on the event loop (``ReadModel.copy``); rendering runs in a worker thread, so a scrape never
iterates state that is being changed and never stalls the loop for the whole render. Each scope's samples are
one string per family of its section, built once per version of the scope (its view) and kept on the view
(``metric_cache``); a section is its families' headers, each followed by every scope's string for that family.

Counters and histograms are the ``all`` window of each queue (``totals`` of the merged partials). Histogram
buckets come from the aggregator's cumulative ``<prefix>le:<bound>`` counters; ``+Inf`` is the count. Every scope
has every bound any scope of its section has; a bound missing from a scope's totals had no observation within
it, so it is 0.

The Erlang C staffing forecast and the outlier judgements are figures of a queue's view too: computed when the
queue's view is new (the queue changed), its platform's pool changed or the staffing window moved on a minute
(staffing), or one of the queue's agents or categories changed or the local day turned (outliers), and kept
with the queue's text otherwise; a scrape of unchanged data computes neither.

The queue and agent sections write values with ``repr`` (the shortest exact decimal), the others with
``metric_text.num`` (as ``prometheus_client`` writes them); the two differ only in notation (``1795000100.0``
and ``1.7950001e+09``), never in value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from services.api import metric_catalogue as cat
from services.api import outliers
from services.api.judgements import PERIODS, judge_views
from services.api.metric_cache import NO_PARTS, Bounds, Parts, ScrapeCache, on_view, stream_ms
from services.api.metric_text import escape, header, labels, num
from services.api.periods import day_calendar
from services.api.scopeview import ScopeView
from services.api.staffing import StaffingConfig, pool, scope_staffing, window_bounds
from services.domain.slaconfig import SlaConfig
from services.domain.windows import DayCalendar

HISTOGRAM_PREFIXES = tuple(f.le_prefix for f in cat.QUEUE_HISTOGRAMS)


@dataclass(frozen=True, slots=True)
class Health:
    """The pipeline figures of one scrape (``PIPELINE``), taken on the event loop."""

    ready: bool
    stale_seconds: float | None  # since the last snapshot record; None before the first
    stream_ms: int | None
    wall_s: float
    stream_clients: int | None = None  # connected /v1/stream clients
    stream_snapshots: tuple[int, int] | None = None  # (built, shared) first snapshots of /v1/stream
    denied: Mapping[tuple[str, str], int] | None = None  # (route template, reason) -> refused requests


@dataclass(frozen=True, slots=True)
class _Layout:
    """The families of a queue-like section (queues, or issue categories), by how a scope's figures fill them."""

    counters: tuple[cat.Family, ...]
    csat: cat.Family
    nps: cat.Family
    sla: cat.Family
    histograms: tuple[cat.Family, ...]
    gauges: tuple[cat.Family, ...]
    timestamps: tuple[cat.Family, ...]
    legacy: tuple[cat.Family, ...]


def _layout(family: Callable[[cat.Family], cat.Family], legacy: tuple[cat.Family, ...]) -> _Layout:
    """The queue families as ``family`` maps them, with ``legacy`` (the deprecated names) last."""

    def group(families: tuple[cat.Family, ...]) -> tuple[cat.Family, ...]:
        return tuple(map(family, families))

    return _Layout(
        group(cat.QUEUE_COUNTERS),
        family(cat.CSAT),
        family(cat.NPS),
        family(cat.SLA_COMPLETED),
        group(cat.QUEUE_HISTOGRAMS),
        group(cat.QUEUE_GAUGES),
        group(cat.QUEUE_TIMESTAMPS),
        legacy,
    )


_QUEUES = _layout(lambda family: family, cat.LEGACY)  # in the order of QUEUE_FAMILIES
_CATEGORIES = _layout(cat.for_categories, ())  # in the order of CATEGORY_FAMILIES


def _queue_text(view: ScopeView, les: Bounds, per_category: bool = False) -> list[str]:
    """One queue's samples, one string per family of ``QUEUE_FAMILIES``; with ``per_category``, one issue
    category's, per family of ``CATEGORY_FAMILIES``."""
    fmt: Callable[[Any], str]
    if per_category:
        layout, lbl, fmt = _CATEGORIES, labels(cat.CATEGORY, (view.id or "",)), num
    else:
        layout, lbl, fmt = _QUEUES, labels(cat.QUEUE, (view.platform or "", view.id or "")), repr
    t, live = view.totals, view.live
    out = [f"{f.name}{{{lbl}}} {fmt(t.get(f.source, 0) * f.scale)}\n" for f in layout.counters]
    csat, nps, sla = layout.csat, layout.nps, layout.sla
    out.append(
        "".join(
            [f'{csat.name}{{{lbl},{csat.labels[-1]}="{r}"}} {fmt(t.get(csat.source + r, 0))}\n' for r in cat.RATINGS]
        )
    )
    out.append(
        "".join(
            [
                f'{nps.name}{{{lbl},{nps.labels[-1]}="{c}"}} {fmt(t.get(nps.source + c, 0))}\n'
                for c in cat.NPS_CATEGORIES
            ]
        )
    )
    out.append(
        "".join(
            [
                f'{sla.name}{{{lbl},metric="{m}",result="{r}"}} {fmt(t.get(f"{sla.source}{m}_{r}", 0))}\n'
                for m in cat.SLA_METRICS
                for r in cat.SLA_RESULTS
            ]
        )
    )
    for f in layout.histograms:
        count = t.get(f.source, 0)
        out.append(
            "".join(
                [f'{f.name}_bucket{{{lbl},le="{le}"}} {fmt(t.get(counter, 0))}\n' for le, counter in les[f.le_prefix]]
            )
            + f'{f.name}_bucket{{{lbl},le="+Inf"}} {fmt(count)}\n{f.name}_count{{{lbl}}} {fmt(count)}\n'
            f"{f.name}_sum{{{lbl}}} {fmt(t.get(f.sum_ms, 0) / 1000)}\n"
        )
    out.extend([f"{f.name}{{{lbl}}} {fmt(live.get(f.source) or 0)}\n" for f in layout.gauges])
    for f in layout.timestamps:
        value = live.get(f.source)
        out.append(f"{f.name}{{{lbl}}} {fmt(value / 1000)}\n" if value is not None else "")
    for f in layout.legacy:
        figures = t if f.type == "counter" else live
        out.append(f"{f.name}{{{lbl}}} {fmt((figures.get(f.source) or 0) * f.scale)}\n")
    return out


def _agent_text(view: ScopeView) -> list[str]:
    """One agent's samples, one string per family of ``AGENT_FAMILIES``."""
    lbl = labels(cat.AGENT, (view.platform or "", view.id or ""))
    current = view.agent
    if current and current.get("state"):
        state = f'{cat.AGENT_STATE.name}{{{lbl},state="{escape(str(current["state"]))}"}} 1\n'
        since = f"{cat.AGENT_STATE_SINCE.name}{{{lbl}}} {current[cat.AGENT_STATE_SINCE.source] / 1000!r}\n"
    else:
        state = since = ""
    t = view.totals
    by_source: dict[str, list[tuple[str, int]]] = {}  # every source's channels in one pass over the totals
    for counter, value in t.items():
        if "@" in counter:
            source, _, channel = counter.partition("@")
            by_source.setdefault(source, []).append((channel, value))
    return [
        state,
        since,
        f"{cat.AGENT_OPEN.name}{{{lbl}}} {view.live.get(cat.AGENT_OPEN.source, 0)!r}\n",
        *[f"{f.name}{{{lbl}}} {t.get(f.source, 0)!r}\n" for f in cat.AGENT_COUNTERS],
        *[
            "".join(
                [
                    f'{f.name}{{{lbl},channel="{escape(channel)}"}} {value!r}\n'
                    for channel, value in sorted(by_source.get(f.source, ()))
                ]
            )
            for f in cat.AGENT_CHANNEL_COUNTERS
        ],
    ]


def _staffing_value(figures: dict[str, Any], source: str, forecast: bool) -> float | None:
    """One staffing gauge's value (None: absent): the arrival rate, the inputs, or a forecast figure."""
    if not source:
        return figures["offered"] / figures["window_seconds"]
    if source in cat.STAFFING_INPUTS:
        return figures[source]
    return figures[source] if forecast else None


def _staffing_text(view: ScopeView, figures: dict[str, Any]) -> tuple[str, ...]:
    """One queue's staffing samples, one string per family of ``STAFFING``."""
    lbl = labels(cat.QUEUE, (view.platform or "", view.id or ""))
    forecast = figures["agents_needed"] is not None
    out = []
    for f in cat.STAFFING:
        value = _staffing_value(figures, f.source, forecast)
        out.append(f"{f.name}{{{lbl}}} {num(value)}\n" if value is not None else "")
    return tuple(out)


def _outlier_text(view: ScopeView, judgements: tuple[dict[str, Any], ...]) -> tuple[str, str, str]:
    """One queue's outlier samples, one string per family of ``OUTLIERS`` (agent, category, verdict)."""
    lbl = labels(cat.QUEUE, (view.platform or "", view.id or ""))
    agent, category, verdict = [], [], []
    for period, judgement in zip(PERIODS, judgements):
        verdict.append(f'{cat.OUTLIER_VERDICT.name}{{{lbl},period="{period}",verdict="{judgement["verdict"]}"}} 1\n')
        for metric, found in judgement["metrics"].items():
            for judged in found["agents"]:
                if judged["outlier"]:
                    extra = labels(("agent", "metric", "period"), (judged["agent"], metric, period))
                    agent.append(f"{cat.OUTLIER_AGENT.name}{{{lbl},{extra}}} {num(judged['score'])}\n")
            for worse in found["categories_worse"]:
                extra = labels(("category", "metric", "period"), (worse["category"], metric, period))
                category.append(f"{cat.OUTLIER_CATEGORY.name}{{{lbl},{extra}}} {num(worse['change'])}\n")
    return "".join(agent), "".join(category), "".join(verdict)


def _staffing_of(
    view: ScopeView, now: int, platform_live: dict[str, Any] | None, config: StaffingConfig
) -> tuple[str, ...]:
    """A queue's staffing samples: the Erlang C forecast at ``now`` (``staffing.scope_staffing``), written."""
    return _staffing_text(view, scope_staffing(view, now, platform_live, config))


def _outliers_of(view: ScopeView, parts: Parts, calendar: DayCalendar, now: int) -> tuple[str, str, str]:
    """A queue's outlier samples: its judgements for every period at ``now``, written."""
    return _outlier_text(
        view,
        tuple(judge_views(view, parts.agents, parts.categories, calendar, now, period, _RULE) for period in PERIODS),
    )


def _platform_text(platforms: Sequence[ScopeView]) -> str:
    """The ``AGENTS`` family: every platform's agents by presence state (a bounded few, written every scrape)."""
    out = [header(cat.AGENTS)]
    for view in platforms:
        platform = view.platform or ""
        out.extend(
            [
                f"{cat.AGENTS.name}{{{labels(cat.AGENTS.labels, (platform, state))}}} "
                f"{num(view.live.get(cat.AGENTS.source + state, 0))}\n"
                for state in cat.STATES
            ]
        )
    return "".join(out)


def _name_text(view: ScopeView, family: cat.Family, kind: str, sla: SlaConfig | None) -> tuple[str]:
    """A queue's or agent's ``NAMES`` sample: its display name (the SLA config's, else the platform's, else the id)."""
    key = view.id or ""
    name = (sla.name_for(kind, view.platform, key) if sla is not None else None) or view.name or key
    return (f"{family.name}{{{labels(family.labels, (view.platform or '', key, name))}}} 1\n",)


def _names(
    cache: ScrapeCache, queues: Sequence[ScopeView], agents: Sequence[ScopeView], sla: SlaConfig | None
) -> bytes:
    """``NAMES``, every queue's and agent's line kept on its view (11,000 of them took 20 ms of every scrape)."""
    out = []
    for family, kind, views in zip(cat.NAMES, ("queue", "agent"), (queues, agents)):
        chunks = [on_view(view, "_prometheus_name", sla, _name_text, view, family, kind, sla) for view in views]
        out.append(cache.joined(f"{kind} names", [header(family)], chunks))
    return b"".join(out)


def _pipeline_text(health: Health) -> str:
    """The ``PIPELINE`` families of the scrape's health figures."""
    ready, age, stream, clients, snapshots, denied = cat.PIPELINE
    out = [header(ready), f"{ready.name} {num(1 if health.ready else 0)}\n", header(age)]
    if health.stale_seconds is not None:
        out.append(f"{age.name} {num(health.stale_seconds)}\n")
    out.append(header(stream))
    if health.stream_ms is not None:
        out.append(f"{stream.name} {num(health.stream_ms / 1000)}\n")
    out.append(header(clients))
    if health.stream_clients is not None:
        out.append(f"{clients.name} {num(health.stream_clients)}\n")
    out.append(header(snapshots))
    if health.stream_snapshots is not None:
        out.extend(
            [
                f'{snapshots.name}{{result="{result}"}} {num(n)}\n'
                for result, n in zip(cat.SNAPSHOT_RESULTS, health.stream_snapshots)
            ]
        )
    out.append(header(denied))
    for (route, reason), n in sorted((health.denied or {}).items()):
        out.append(f"{denied.name}{{{labels(denied.labels, (route, reason))}}} {num(n)}\n")
    return "".join(out)


_cache = ScrapeCache()
_DEFAULT_STAFFING = StaffingConfig()
_RULE = outliers.Rule()
_NO_POOL: tuple[None, None] = (None, None)
_QUEUE_HEADERS = [header(f) for f in cat.QUEUE_FAMILIES]
_CATEGORY_HEADERS = [header(f) for f in cat.CATEGORY_FAMILIES]
_STAFFING_HEADERS = [header(f) for f in cat.STAFFING]
_OUTLIER_HEADERS = [header(f) for f in cat.OUTLIERS]
_AGENT_HEADERS = [header(f) for f in cat.AGENT_FAMILIES]


def render(
    views: list[ScopeView], health: Health, staffing: StaffingConfig | None = None, cache: ScrapeCache | None = None
) -> bytes:
    """The text exposition (format 0.0.4) of one scrape, every family of ``metric_catalogue.FAMILIES`` in order.
    Safe to call in a worker thread; ``cache`` (default: the module's) holds what the previous scrape built.

    A scrape builds the strings of the scopes that changed since the previous one and joins the rest (a test
    checks the result is byte for byte that of a cold render)."""
    cache = cache if cache is not None else _cache
    kinds = cache.by_kind(views)
    queues, agents, platforms, categories = kinds["queue"], kinds["agent"], kinds["platform"], kinds["category"]
    light = kinds["queue_agent"] + kinds["queue_category"]
    out: list[bytes] = []

    key, les = cache.le_bounds("queue", queues, HISTOGRAM_PREFIXES)
    out.append(cache.section("queue", _QUEUE_HEADERS, queues, "_prometheus", key, _queue_text, les))

    config = staffing or _DEFAULT_STAFFING
    wall = int(health.wall_s * 1000)
    pools = {v.platform: (v.live, pool(v.live)) for v in platforms}
    nows = [stream_ms(view, wall) for view in queues]
    chunks = []
    for view, now in zip(queues, nows):
        platform_live, agents_now = pools.get(view.platform, _NO_POOL)
        figures_key = (window_bounds(config.window, now)[0], agents_now, config)
        chunks.append(
            on_view(view, "_prometheus_staffing", figures_key, _staffing_of, view, now, platform_live, config)
        )
    out.append(cache.joined("staffing", _STAFFING_HEADERS, chunks))

    chunks = []
    if queues:
        sla = staffing.sla if staffing is not None else None  # the SLA config gives the queues' local days
        groups = cache.light_groups(light)
        for view, now in zip(queues, nows):
            parts = groups.get((view.platform or "", view.id or ""), NO_PARTS)
            calendar = day_calendar(sla, "queue", view.id)
            judged_key = (calendar, calendar.start(now), parts)  # the periods' bounds follow from the local day
            chunks.append(on_view(view, "_prometheus_outliers", judged_key, _outliers_of, view, parts, calendar, now))
    out.append(cache.joined("outliers", _OUTLIER_HEADERS, chunks))

    key, les = cache.le_bounds("category", categories, HISTOGRAM_PREFIXES)
    out.append(cache.section("category", _CATEGORY_HEADERS, categories, "_prometheus", key, _queue_text, les, True))
    out.append(_platform_text(platforms).encode())
    out.append(cache.section("agent", _AGENT_HEADERS, agents, "_prometheus", None, _agent_text))
    out.append(_names(cache, queues, agents, staffing.sla if staffing is not None else None))
    out.append(_pipeline_text(health).encode())
    return b"".join(out)


class SnapshotCollector:
    """A ``prometheus_client`` collector of one scrape: :func:`render`'s families as ``prometheus_client``'s
    parser reads them (for registries and ``get_sample_value`` in tests)."""

    def __init__(self, views: list[ScopeView], health: Health, staffing: StaffingConfig | None = None) -> None:
        self._views = views
        self._health = health
        self._staffing = staffing

    def describe(self) -> Iterable[Metric]:
        return []  # families depend on the data; nothing to describe up front

    def collect(self) -> Iterator[Metric]:
        yield from text_string_to_metric_families(render(self._views, self._health, self._staffing).decode())


def render_with_client(views: list[ScopeView], health: Health, staffing: StaffingConfig | None = None) -> bytes:
    """The exposition as ``prometheus_client`` writes what it parsed of :func:`render` (``generate_latest``)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(views, health, staffing))
    return generate_latest(registry)
