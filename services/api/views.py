"""JSON bodies the HTTP API returns for a scope: durations in seconds, timestamps RFC 3339 UTC."""

from __future__ import annotations

from typing import Any

from services.api.kpis import agent_time, window_kpis
from services.api.periods import workload
from services.api.scopeview import ScopeView
from services.common.events import from_epoch_ms


def _iso(ms: int | None) -> str | None:
    return from_epoch_ms(ms) if ms is not None else None


def _age(now_ms: int, since_ms: int | None) -> float | None:
    return round(max(0, now_ms - since_ms) / 1000, 3) if since_ms is not None else None


def live_body(view: ScopeView | None, now_ms: int) -> dict[str, Any]:
    live = view.live if view else {}
    oldest_waiting = live.get("oldest_waiting_created_ms")
    oldest_queued = live.get("oldest_queued_ms")
    next_breach = live.get("next_breach_ms")
    body: dict[str, Any] = {
        "open": live.get("open", 0),
        "waiting": live.get("waiting", 0),
        "unassigned": live.get("unassigned", 0),
        "pending": live.get("pending", 0),
        "on_hold": live.get("on_hold", 0),
        "in_queue": live.get("in_queue", 0),
        "oldest_waiting_created_at": _iso(oldest_waiting),
        "oldest_waiting_age_seconds": _age(now_ms, oldest_waiting),
        "oldest_queued_at": _iso(oldest_queued),
        "longest_queue_wait_seconds": _age(now_ms, oldest_queued),
        "sla": {
            "running": live.get("sla_running", 0),
            "breaching": live.get("sla_breaching", 0),
            "at_risk": live.get("sla_at_risk", 0),
            "next_breach_at": _iso(next_breach),
            "seconds_to_next_breach": round((next_breach - now_ms) / 1000, 3) if next_breach is not None else None,
        },
    }
    agents = {k[len("agents_") :]: v for k, v in live.items() if k.startswith("agents_")}
    if agents or (view and view.kind in ("all", "platform")):
        body["agents"] = {state: agents.get(state, 0) for state in ("available", "busy", "away", "offline")}
    return body


def scope_body(
    view: ScopeView | None, scope: str, kind: str, window: str, now_ms: int, today_start_ms: int | None = None
) -> dict[str, Any]:
    """The public figures of one scope in one window; an unseen scope gives zeros and nulls."""
    counters = view.counters(window, now_ms, today_start_ms) if view else {}
    window_from = view.window_from(window, now_ms, today_start_ms) if view else None
    body: dict[str, Any] = {
        "scope": scope,
        "kind": kind,
        "platform": view.platform if view else None,
        "id": view.id if view else None,
        "window": window,
        "from": _iso(window_from),
        "as_of": _iso(now_ms) if view else None,
        **window_kpis(counters),
        "live": live_body(view, now_ms),
    }
    if kind == "agent":
        # Volume never alone: the agent's workload per channel beside the quality of the same contacts.
        body["workload"] = {
            **workload(counters),
            "quality": {
                "csat": body["csat"]["score"],
                "reopen_rate": body["reopen_rate"],
                "one_touch_rate": body["one_touch"]["rate"],
                "complaint_rate": body["complaints"]["rate"],
            },
        }
        current = view.agent if view else None
        body["agent"] = {
            "state": current["state"] if current else None,
            "raw_state": current.get("raw_state") if current else None,
            "since": _iso(current["since_ms"]) if current else None,
            "seconds_in_state": _age(now_ms, current["since_ms"]) if current else None,
            "time_in_state": agent_time(counters, current, window_from, now_ms),
        }
    return body
