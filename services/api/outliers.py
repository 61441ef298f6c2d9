"""Is it one agent or the process? Outlier judgements for a queue over a period. Pure; rules in docs/kpis.md.

Inputs are day-bucket counters (``periods``): the queue's, each agent's within the queue (``queue_agent``
scopes) and each category's within the queue (``queue_category`` scopes), for the period and the one before.
For each metric (complaint rate, reopen rate, first response time):

- **agent-level**: an agent whose figure is far above the queue's distribution. The rule is the *modified
  z-score* of Iglewicz and Hoaglin (1993, "How to Detect and Handle Outliers", ASQC Basic References in Quality
  Control vol. 16): ``M = 0.6745 (x - median) / MAD`` over the agents with enough volume, flagged when
  ``M > 3.5``. Median and MAD (median absolute deviation) are not pulled by the outliers themselves, unlike a
  mean and standard deviation. When MAD is 0 (more than half the agents share one value, typically a rate of
  0), the mean absolute deviation is used instead, ``M = (x - median) / (1.253314 MeanAD)``, as IBM SPSS does;
  when both are 0 nobody stands out. Only the worse side is flagged (more complaints or reopens, slower
  responses): a weak link is what is looked for.
- Small volumes are never judged: an agent needs ``min_volume`` resolved contacts (first responses for the
  response time) in the period, a rate outlier also ``min_events`` complaints or reopens (one bad rating never
  makes an outlier), and a queue needs ``min_agents`` such agents for a distribution at all.
- **process-level**: the queue's figure worsened against the previous period (by ``min_change`` for rates, by
  ``min_change_ratio`` for times) and so did most of the agents with enough volume in both periods (a shift of
  the whole queue, not of one person); or a category's figure in the queue worsened that way (a category that
  fails everyone who handles it).

A metric's verdict is ``process-level`` when there is a process finding (agent outliers are still listed),
else ``agent-level`` when there is an agent outlier, else ``none``; the queue's verdict is the worst of its
metrics' in that order.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

Counters = Mapping[str, int]
Verdict = Literal["none", "agent-level", "process-level"]
SEVERITY: tuple[Verdict, ...] = ("process-level", "agent-level", "none")  # worst first

# 0.6745 = the 0.75 quantile of the standard normal: MAD / 0.6745 estimates the standard deviation.
MAD_SCALE = 0.6745
MEAN_AD_SCALE = 1.253314  # sqrt(pi / 2): mean absolute deviation to standard deviation, for MAD = 0
REFERENCE = (
    "modified z-score, Iglewicz & Hoaglin (1993), How to Detect and Handle Outliers, ASQC Basic "
    "References in Quality Control vol. 16"
)


@dataclass(frozen=True)
class Rule:
    threshold: float = 3.5  # |M| above this is an outlier (Iglewicz & Hoaglin's recommendation)
    min_volume: int = 10  # resolved contacts (first responses for the response time) for an agent to be judged
    min_agents: int = 5  # agents with that volume for a queue to have a distribution
    min_events: int = 3  # complaints or reopens of a rate outlier
    min_change: float = 0.05  # a rate is worse by at least 5 percentage points
    min_change_ratio: float = 0.2  # a time is worse by at least 20 %


@dataclass(frozen=True)
class Metric:
    name: str
    numerator: str
    denominator: str
    scale: float = 1.0  # value = numerator / denominator * scale
    rate: bool = True


METRICS = (
    Metric("complaint_rate", "complaints", "resolved"),
    Metric("reopen_rate", "reopened", "resolved"),
    Metric("response_time_seconds", "fr_ms", "fr_count", scale=0.001, rate=False),
)


def value(metric: Metric, c: Counters) -> float | None:
    d = c.get(metric.denominator, 0)
    return c.get(metric.numerator, 0) / d * metric.scale if d else None


def modified_z(values: list[float]) -> tuple[float, float, float | None]:
    """(median, MAD, scale) of the values; ``M = (x - median) / scale``, scale ``None`` when nothing varies."""
    median = statistics.median(values)
    deviations = [abs(x - median) for x in values]
    mad = statistics.median(deviations)
    if mad > 0:
        return median, mad, mad / MAD_SCALE
    mean_ad = sum(deviations) / len(deviations)
    return median, mad, (MEAN_AD_SCALE * mean_ad) if mean_ad > 0 else None


def _worse(metric: Metric, now: float | None, before: float | None, rule: Rule) -> bool:
    if now is None or before is None:
        return False
    if metric.rate:
        return now - before >= rule.min_change
    return before > 0 and now >= before * (1 + rule.min_change_ratio)


def _figure(metric: Metric, now: Counters, before: Counters) -> dict[str, Any]:
    v, p = value(metric, now), value(metric, before)
    return {
        "value": _round(v),
        "previous": _round(p),
        "change": _round(v - p) if v is not None and p is not None else None,
        "volume": now.get(metric.denominator, 0),
        "previous_volume": before.get(metric.denominator, 0),
        "events": now.get(metric.numerator, 0) if metric.rate else now.get(metric.denominator, 0),
    }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def judge_metric(
    metric: Metric,
    queue: tuple[Counters, Counters],
    agents: Mapping[str, tuple[Counters, Counters]],
    categories: Mapping[str, tuple[Counters, Counters]],
    rule: Rule,
) -> dict[str, Any]:
    """One metric's findings. Each input is (this period's counters, the previous period's)."""
    eligible = {a: now for a, (now, _) in agents.items() if now.get(metric.denominator, 0) >= rule.min_volume}
    too_few = sorted(a for a, (now, _) in agents.items() if 0 < now.get(metric.denominator, 0) < rule.min_volume)
    judged: list[dict[str, Any]] = []
    distribution: dict[str, Any] = {"agents_judged": len(eligible), "median": None, "mad": None, "scale": None}
    if len(eligible) >= rule.min_agents:
        values = {a: value(metric, c) for a, c in eligible.items()}
        median, mad, scale = modified_z([v for v in values.values() if v is not None])
        distribution.update(median=_round(median), mad=_round(mad), scale=_round(scale))
        for agent, c in sorted(eligible.items()):
            x = values[agent]
            score = (x - median) / scale if scale and x is not None else 0.0
            events = c.get(metric.numerator, 0) if metric.rate else c.get(metric.denominator, 0)
            outlier = score > rule.threshold and (not metric.rate or events >= rule.min_events)
            judged.append(
                {"agent": agent, **_figure(metric, c, agents[agent][1]), "score": round(score, 3), "outlier": outlier}
            )
        judged.sort(key=lambda j: (-j["score"], j["agent"]))
    outliers = [j["agent"] for j in judged if j["outlier"]]

    # process: the whole queue shifted, most agents with it
    q_now, q_before = queue
    queue_figure = _figure(metric, q_now, q_before)
    queue_worse = (
        q_now.get(metric.denominator, 0) >= rule.min_volume
        and q_before.get(metric.denominator, 0) >= rule.min_volume
        and _worse(metric, value(metric, q_now), value(metric, q_before), rule)
    )
    compared = {
        a: (value(metric, now), value(metric, before))
        for a, (now, before) in agents.items()
        if now.get(metric.denominator, 0) >= rule.min_volume and before.get(metric.denominator, 0) >= rule.min_volume
    }
    agents_worse = sorted(a for a, (v, p) in compared.items() if v is not None and p is not None and v > p)
    shift = queue_worse and len(compared) >= rule.min_agents and 2 * len(agents_worse) > len(compared)

    worse_categories = []
    for name, (now, before) in sorted(categories.items()):
        if now.get(metric.denominator, 0) < rule.min_volume or before.get(metric.denominator, 0) < rule.min_volume:
            continue
        figure = _figure(metric, now, before)
        if _worse(metric, figure["value"], figure["previous"], rule) and (
            not metric.rate or figure["events"] >= rule.min_events
        ):
            worse_categories.append({"category": name, **figure})

    verdict: Verdict = "process-level" if shift or worse_categories else "agent-level" if outliers else "none"
    return {
        "verdict": verdict,
        "queue": {**queue_figure, "worse": queue_worse},
        "distribution": distribution,
        "agents": judged,
        "outliers": outliers,
        "not_judged": too_few,
        "queue_shift": {"shifted": shift, "agents_compared": len(compared), "agents_worse": agents_worse},
        "categories_worse": worse_categories,
    }


def judge(
    queue: tuple[Counters, Counters],
    agents: Mapping[str, tuple[Counters, Counters]],
    categories: Mapping[str, tuple[Counters, Counters]],
    rule: Rule = Rule(),
) -> dict[str, Any]:
    """Every metric's findings and the queue's verdict: ``process-level`` > ``agent-level`` > ``none``."""
    metrics = {m.name: judge_metric(m, queue, agents, categories, rule) for m in METRICS}
    verdict: Verdict = min((m["verdict"] for m in metrics.values()), key=SEVERITY.index, default="none")
    return {"verdict": verdict, "rule": {"method": REFERENCE, **asdict(rule)}, "metrics": metrics}
