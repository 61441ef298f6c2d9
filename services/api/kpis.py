"""From summed counters to the KPIs the API serves. Pure; formulas documented in ``docs/kpis.md``.

Ratios are ``null`` when their denominator is zero ("no data" is not "0 %", KPIS.md §8), and every ratio comes
with its numerator and denominator so dashboards can re-aggregate. Durations are seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.domain import sketches
from services.domain.counters import rate

PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p95", 0.95))


def _seconds(ms: int | float | None) -> float | None:
    return None if ms is None else round(ms / 1000, 3)


def bins(counters: Mapping[str, int], prefix: str) -> dict[int, int]:
    """Histogram bins stored as counters named ``<prefix>h:<bin>``."""
    head = f"{prefix}h:"
    return {int(name[len(head) :]): value for name, value in counters.items() if name.startswith(head)}


def duration(counters: Mapping[str, int], prefix: str) -> dict[str, Any]:
    """count / total / average / percentiles of one duration KPI (fr, nr, res)."""
    count = counters.get(f"{prefix}_count", 0)
    total = counters.get(f"{prefix}_ms", 0)
    out: dict[str, Any] = {
        "count": count,
        "total_seconds": total / 1000,
        "average_seconds": _seconds(total / count) if count else None,
    }
    histogram = bins(counters, prefix)
    for name, q in PERCENTILES:
        out[f"{name}_seconds"] = _seconds(sketches.quantile(histogram, q))
    return out


def _sla(counters: Mapping[str, int], metric: str) -> dict[str, Any]:
    met = counters.get(f"sla_{metric}_met", 0)
    breached = counters.get(f"sla_{metric}_breached", 0)
    return {"met": met, "breached": breached, "compliance": rate(met, met + breached)}


def window_kpis(c: Mapping[str, int]) -> dict[str, Any]:
    """Every completed-event KPI of one window, from its summed counters."""
    created, resolved = c.get("created", 0), c.get("resolved", 0)
    answered, abandoned = c.get("answered", 0), c.get("abandoned", 0)
    good, bad, neutral = c.get("csat_good", 0), c.get("csat_bad", 0), c.get("csat_neutral", 0)
    promoters, passives, detractors = c.get("nps_promoter", 0), c.get("nps_passive", 0), c.get("nps_detractor", 0)
    nps_n = promoters + passives + detractors
    first_response = duration(c, "fr")
    fr_count = first_response["count"]
    first_response["business_average_seconds"] = (
        _seconds(c["fr_bh_ms"] / fr_count) if fr_count and "fr_bh_ms" in c else None
    )
    return {
        "contacts": {
            "created": created,
            "resolved": resolved,
            "reopened": c.get("reopened", 0),
            "replies": c.get("replies", 0),
            "handled": c.get("handled", 0),
        },
        "first_response": first_response,
        "next_reply": duration(c, "nr"),
        "resolution": {
            **duration(c, "res"),
            "full_count": c.get("full_res_count", 0),
            "full_average_seconds": _seconds(c.get("full_res_ms", 0) / c["full_res_count"])
            if c.get("full_res_count")
            else None,
        },
        "resolution_rate": rate(resolved, created),
        "one_touch": {"count": c.get("one_touch", 0), "rate": rate(c.get("one_touch", 0), resolved)},
        "reopen_rate": rate(c.get("reopened", 0), resolved),
        "complaints": {"count": c.get("complaints", 0), "rate": rate(c.get("complaints", 0), resolved)},
        "service_level": {
            "met": c.get("sl_met", 0),
            "offered": c.get("sl_offered", 0),
            "rate": rate(c.get("sl_met", 0), c.get("sl_offered", 0)),
        },
        "abandonment": {
            "abandoned": abandoned,
            "short_abandoned": c.get("short_abandoned", 0),
            "offered": answered + abandoned,
            "rate": rate(abandoned, answered + abandoned),
        },
        "speed_of_answer": {
            "answered": answered,
            "average_seconds": _seconds(c.get("asa_ms", 0) / answered) if answered else None,
        },
        "handle_time": {
            "handled": c.get("handled", 0),
            "average_seconds": _seconds(c.get("handle_ms", 0) / c["handled"]) if c.get("handled") else None,
        },
        "csat": {
            "good": good,
            "bad": bad,
            "neutral": neutral,
            "rated": c.get("rated", 0),
            "score": rate(good, good + bad),
        },
        "nps": {
            "promoters": promoters,
            "passives": passives,
            "detractors": detractors,
            "responses": nps_n,
            "score": round((promoters - detractors) * 100 / nps_n, 2) if nps_n else None,
        },
        "sla": {metric: _sla(c, metric) for metric in ("first_response", "next_reply", "resolution")},
    }


def agent_time(
    c: Mapping[str, int], current: Mapping[str, Any] | None, window_from_ms: int | None, now_ms: int
) -> dict[str, Any]:
    """Time in each state within the window: closed intervals from the buckets, plus the open interval."""
    seconds = {state: c.get(f"state_{state}_ms", 0) for state in ("available", "busy", "away", "offline")}
    if current and current.get("state") in seconds:
        since = current["since_ms"]
        start = max(since, window_from_ms) if window_from_ms is not None else since
        seconds[current["state"]] += max(0, now_ms - start)
    busy, available = seconds["busy"], seconds["available"]
    return {
        **{f"{state}_seconds": round(ms / 1000, 3) for state, ms in seconds.items()},
        "occupancy": rate(busy, busy + available),
    }
