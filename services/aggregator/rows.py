"""A contact's row (``services.domain.contactrow``) from its facts and its contribution: what the contact adds to
the ``all`` scope is exactly its share of every figure, so the rows of a queue add up to the queue's figures."""

from __future__ import annotations

from typing import Any

from services.aggregator.contacts import ContactFacts
from services.aggregator.contributions import Contribution
from services.aggregator.kpiconfig import KpiConfig
from services.common.events import from_epoch_ms
from services.domain.contactrow import SCHEMA_ID


def _time(ms: int | None) -> str | None:
    return from_epoch_ms(ms) if ms is not None else None


def _seconds(ms: int | None) -> float | None:
    return ms / 1000 if ms is not None else None


def _sla(counters: dict[str, int], metric: str) -> str | None:
    if counters.get(f"sla_{metric}_breached"):
        return "breached"
    if counters.get(f"sla_{metric}_met"):
        return "met"
    return None


def contact_row(key: str, f: ContactFacts, contribution: Contribution, config: KpiConfig) -> dict[str, Any]:
    counters = contribution.totals_of("all")
    clocks = contribution.clocks.get("all") or []
    rating = f.rating[1] if f.rating is not None else None
    resolved = f.resolved_at is not None
    return {
        "schema": SCHEMA_ID,
        "key": key,
        "platform": f.platform,
        "account": f.account,
        "contact_id": key.partition("/")[2],
        "queue": f.queue,
        "agent": f.assignee,
        "category": config.category(f),
        "channel": f.channel,
        "priority": f.priority,
        "status": f.status or ("new" if f.created_at is not None else None),
        "created_at": _time(f.created_at),
        "first_response_at": _time(f.first_response_at),
        "resolved_at": _time(f.resolved_at),
        "last_event_at": _time(f.last_event_at),
        "open": f.is_open,
        "waiting": f.is_waiting,
        "in_queue": f.in_queue,
        "first_response_seconds": _seconds(counters.get("fr_ms")) if counters.get("fr_count") else None,
        "first_response_business_seconds": _seconds(counters["fr_bh_ms"]) if "fr_bh_ms" in counters else None,
        "resolution_seconds": _seconds(counters.get("res_ms")) if resolved and "res_ms" in counters else None,
        "full_resolution_seconds": _seconds(counters.get("full_res_ms")) if counters.get("full_res_count") else None,
        "replies": counters.get("replies", 0),
        "reopens": f.reopens,
        "one_touch": bool(counters.get("one_touch")) if resolved else None,
        "csat": rating,
        "complaint": bool(counters.get("complaints")),
        "sla_first_response": _sla(counters, "first_response"),
        "sla_resolution": _sla(counters, "resolution"),
        "sla_next_deadline": _time(min(c[0] for c in clocks)) if clocks else None,
        "sla_at_risk_from": _time(min(c[1] for c in clocks)) if clocks else None,
        "url": f.url,
    }
