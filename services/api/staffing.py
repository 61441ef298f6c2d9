"""Staffing forecast per queue, computed on read from the read model (docs/kpis.md#staffing-forecast).

Inputs, all from figures the API already holds:

- **window**: the last ``DESKPULSE_STAFFING_WINDOW`` (default ``30m``) of *complete* minutes before stream time:
  the minute buckets in [current minute − 30 min, current minute). Whole minutes make the rate exact (offered /
  1,800 s) and the forecast constant within a minute, so it is computed once per minute and change, not on
  every read or scrape.
- **offered**: live contacts offered to the queue: answered + abandoned in the window (short abandons left out),
  plus the contacts still queued now. Arrival rate = offered / the window's length.
- **AHT**: handle time summed over the live contacts handled in the window / their count.
- **target**: the queue's ``service_level`` goal (``>=`` or ``>``) from the SLA config, else
  ``DESKPULSE_STAFFING_TARGET_SL``; the answer threshold is the queue's service-level threshold (20 s without a
  config), the one its service level is counted against.
- **agents available**: agents of the queue's *platform* whose presence is ``available`` or ``busy`` now.
  Presence events carry no queue, so this is the platform's pool, shared by all its queues (docs/kpis.md).

The model is ``services.domain.erlang`` (Erlang C, pure). No inputs, no forecast: a null figure comes with
a ``reason`` (``no_arrivals``, ``no_handle_time``, ``no_agent_presence``, ``beyond_model``), never a made-up 0.
Pure apart from reading the immutable views it is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.common.events import from_epoch_ms
from services.common.settings import Settings
from services.domain import erlang
from services.domain.service_levels import DEFAULT_SERVICE_LEVEL
from services.domain.slaconfig import SlaConfig
from services.domain.windows import LEVEL_SIZE, TRAILING, bucket_start

# counters summed over the window: answered and abandoned live contacts (offered), handled ones and their time
INPUTS = ("answered", "abandoned", "handled", "handle_ms")
OTHER_STATES = ("away", "offline")  # not taking contacts; available and busy (on a contact, wrap-up) are the pool

NO_ARRIVALS = "no_arrivals"
NO_HANDLE_TIME = "no_handle_time"
NO_AGENT_PRESENCE = "no_agent_presence"
BEYOND_MODEL = "beyond_model"
REASONS = (NO_ARRIVALS, NO_HANDLE_TIME, NO_AGENT_PRESENCE, BEYOND_MODEL)


@dataclass(frozen=True)
class StaffingConfig:
    """What the forecast needs besides the figures: window, default target, shrinkage, occupancy cap, SLA config."""

    window: str = "30m"
    target_sl: float = 0.8
    shrinkage: float = 0.0
    max_occupancy: float = 0.85
    sla: SlaConfig | None = None

    def __post_init__(self) -> None:
        if self.window not in TRAILING or TRAILING[self.window][0] != "m":
            raise ValueError(f"staffing window must be one of 15m, 30m, 1h, got {self.window!r}")

    @classmethod
    def from_settings(cls, settings: Settings, sla: SlaConfig | None) -> StaffingConfig:
        return cls(
            window=settings.staffing_window,
            target_sl=settings.staffing_target_sl,
            shrinkage=settings.staffing_shrinkage,
            max_occupancy=settings.staffing_max_occupancy,
            sla=sla,
        )

    def target(self, queue: str | None) -> tuple[float, float, str]:
        """(target share, answer threshold in seconds, ``goal`` or ``default``) for a queue (``None``: global)."""
        share, source = self.target_sl, "default"
        threshold = DEFAULT_SERVICE_LEVEL.threshold_seconds
        if self.sla is not None:
            threshold = self.sla.service_level_for(queue).threshold_seconds
            goal = self.sla.goals_for(queue).get("service_level")
            if goal is not None and goal.op in (">=", ">") and 0 < goal.target <= 1:
                share, source = goal.target, "goal"
        return share, float(threshold), source


def window_bounds(window: str, now_ms: int) -> tuple[int, int]:
    """[start, end) of the staffing window at ``now_ms``: its length of whole minutes before the current one."""
    end = bucket_start(now_ms, LEVEL_SIZE["m"])
    return end - TRAILING[window][1], end


def window_sums(view: Any, start_ms: int, end_ms: int) -> dict[str, int]:
    """The staffing counters summed over the minute buckets starting in [start_ms, end_ms).

    Reads the merged buckets when the view has them already, else the partials directly (only four counters,
    so a ``/metrics`` scrape never merges whole buckets).
    """
    out = dict.fromkeys(INPUTS, 0)
    merged = view.__dict__.get("minutes")
    if merged is not None:
        sources = [merged.items()]
    else:
        sources = [((int(k), v) for k, v in part.get("minutes", {}).items()) for part in view.parts]
    for source in sources:
        for start, counters in source:
            if start_ms <= start < end_ms:
                for name in INPUTS:
                    value = counters.get(name)
                    if value:
                        out[name] += value
    return out


def pool(platform_live: Mapping[str, Any] | None) -> int | None:
    """Agents taking contacts on a platform (available or busy now); ``None`` when it reports no presence."""
    if not platform_live:
        return None
    available, busy = platform_live.get("agents_available"), platform_live.get("agents_busy")
    if available is None and busy is None and not any(f"agents_{s}" in platform_live for s in OTHER_STATES):
        return None
    return int(available or 0) + int(busy or 0)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def forecast(
    sums: Mapping[str, int],
    in_queue: int,
    span_ms: int,
    agents: int | None,
    target_sl: float,
    target_answer_s: float,
    config: StaffingConfig,
) -> dict[str, Any]:
    """The ``staffing`` figures of one scope from its window sums (pure; ``window_sums`` gives ``sums``)."""
    offered = int(sums.get("answered", 0)) + int(sums.get("abandoned", 0)) + max(0, int(in_queue or 0))
    handled, handle_ms = int(sums.get("handled", 0)), int(sums.get("handle_ms", 0))
    span_s = max(span_ms, LEVEL_SIZE["m"]) / 1000
    rate = offered / span_s
    aht = handle_ms / handled / 1000 if handled and handle_ms > 0 else None
    body: dict[str, Any] = {
        "window": config.window,
        "from": None,
        "window_seconds": round(span_s, 3),
        "offered": offered,
        "arrival_rate_per_hour": round(rate * 3600, 3),
        "handled": handled,
        "aht_s": _round(aht, 3),
        "traffic_erlangs": None,
        "target_sl": target_sl,
        "target_answer_s": target_answer_s,
        "target_source": None,
        "shrinkage": config.shrinkage,
        "max_occupancy": config.max_occupancy,
        "agents_scope": None,
        "agents_available": agents,
        "agents_needed": None,
        "agents_needed_scheduled": None,
        "limited_by": None,
        "agents_short": None,
        "stable": None,
        "predicted_sl": None,
        "predicted_asa_s": None,
        "occupancy": None,
        "reason": None,
    }
    if offered == 0:
        body["reason"] = NO_ARRIVALS
        return body
    if aht is None:
        body["reason"] = NO_HANDLE_TIME
        return body
    try:
        f = erlang.forecast(
            arrival_rate_per_s=rate,
            aht_s=aht,
            target_sl=target_sl,
            target_answer_s=target_answer_s,
            agents=agents,
            shrinkage=config.shrinkage,
            max_occupancy=config.max_occupancy,
        )
    except ValueError:
        body["reason"] = BEYOND_MODEL
        return body
    body.update(
        {
            "traffic_erlangs": round(f.traffic_erlangs, 4),
            "agents_needed": f.required_agents,
            "agents_needed_scheduled": f.scheduled_agents,
            "limited_by": f.limited_by,
        }
    )
    if f.now is None:
        body["reason"] = NO_AGENT_PRESENCE
        return body
    body.update(
        {
            "agents_short": max(0, f.required_agents - f.now.agents),
            "stable": f.now.stable,
            "predicted_sl": round(f.now.service_level, 6),
            "predicted_asa_s": _round(f.now.asa_s, 3),
            "occupancy": _round(f.now.occupancy, 6),
        }
    )
    return body


def scope_staffing(
    view: Any, now_ms: int, platform_live: Mapping[str, Any] | None, config: StaffingConfig
) -> dict[str, Any]:
    """The ``staffing`` object of a queue (or, pooled, a platform) scope at stream time ``now_ms``.

    The result depends only on the (immutable) view, the window's minute, the platform's pool and the config,
    so it is kept on the view under that key: within a minute a scrape recomputes only the scopes that changed.
    Treat the returned dict as read-only.
    """
    start, end = window_bounds(config.window, now_ms)
    agents = pool(platform_live)
    key = (start, agents, id(config))
    cached = view.__dict__.get("_staffing")
    if cached is not None and cached[0] == key:
        return cached[1]
    queue = view.id if view.kind == "queue" else None
    target_sl, target_answer_s, source = config.target(queue)
    out = forecast(
        window_sums(view, start, end),
        view.live.get("in_queue") or 0,
        end - start,
        agents,
        target_sl,
        target_answer_s,
        config,
    )
    out["from"] = from_epoch_ms(start)
    out["target_source"] = source
    out["agents_scope"] = f"platform/{view.platform}"
    view.__dict__["_staffing"] = (key, out)  # views are immutable; a racing reader computes the same
    return out


def empty(config: StaffingConfig, queue: str | None, platform: str | None) -> dict[str, Any]:
    """The ``staffing`` object of a scope not seen yet: nothing offered."""
    target_sl, target_answer_s, source = config.target(queue)
    out = forecast({}, 0, TRAILING[config.window][1], None, target_sl, target_answer_s, config)
    out["target_source"] = source
    out["agents_scope"] = f"platform/{platform}" if platform else None
    return out
