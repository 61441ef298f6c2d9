"""Example bodies for the OpenAPI description, built by the real ``scope_body`` so they never drift."""

from __future__ import annotations

from functools import cache

from services.api.scopeview import merge
from services.api.staffing import StaffingConfig, scope_staffing
from services.api.views import scope_body
from services.domain import snapshot
from services.domain.scopes import describe_scope

_NOW = 1_795_000_100_000
_TOTALS = {
    "created": 15,
    "resolved": 6,
    "reopened": 1,
    "replies": 21,
    "fr_count": 10,
    "fr_ms": 2_468_369,
    "nr_count": 4,
    "nr_ms": 1_200_000,
    "res_count": 6,
    "res_ms": 9_000_000,
    "one_touch": 3,
    "answered": 5,
    "asa_ms": 60_000,
    "sl_offered": 6,
    "sl_met": 5,
    "abandoned": 1,
    "rated": 4,
    "csat_good": 3,
    "csat_bad": 1,
    "handled": 4,
    "handle_ms": 1_440_000,
}
# the staffing window's minute buckets: 42 live contacts answered and 2 abandoned in the 12 whole minutes before
# now (and one still queued: live in_queue), 36 handled in 4 minutes each
_MINUTES = {
    _NOW - _NOW % 60_000 - 60_000 * i: {"answered": 4 - i % 2, "handled": 4 - i % 3, "handle_ms": (4 - i % 3) * 240_000}
    for i in range(1, 13)
}
_MINUTES[_NOW - _NOW % 60_000 - 60_000]["abandoned"] = 2
_PLATFORM_AGENTS = {"agents_available": 4, "agents_busy": 7, "agents_away": 1, "agents_offline": 12}


@cache
def body(scope: str) -> dict:
    kind = describe_scope(scope)["kind"]
    live = {
        "open": 9,
        "waiting": 5,
        "unassigned": 2,
        "pending": 1,
        "on_hold": 0,
        "in_queue": 1,
        "oldest_waiting_created_ms": _NOW - 1_139_237,
        "oldest_queued_ms": _NOW - 45_000,
        "sla_running": 7,
        "sla_breaching": 1,
        "sla_at_risk": 2,
        "next_breach_ms": _NOW + 300_000,
    }
    agent = None
    if kind == "agent":
        live = {"open": 3}
        agent = {"state": "busy", "since_ms": _NOW - 95_000, "raw_state": "On call"}
    if kind in ("all", "platform"):
        live.update(_PLATFORM_AGENTS)
    minutes = _MINUTES if kind in ("queue", "platform") else {}
    partial = snapshot.record(scope, 0, _NOW, _NOW, _TOTALS, {"m": minutes, "q": {}, "d": {}}, live, agent)
    view = merge([partial], _NOW)
    out = scope_body(view, scope, kind, "all", _NOW)
    out["stale_seconds"] = 0.412
    if kind in ("queue", "platform"):
        out["staffing"] = scope_staffing(view, _NOW, _PLATFORM_AGENTS, StaffingConfig())
    return out
