"""Agent presence: each agent's state changes, and the time spent in each state.

Pure. ``agent.state_changed`` events are keyed by agent on Kafka, so an agent's record lives in one partition:
its state changes, deduplicated by event id and in event-time order, pruned to the last ``KEEP_MS`` (older
intervals only fed buckets that have expired by then). Closed intervals are split into the minute and
quarter-hour buckets as ``state_<state>_ms``; the current, open interval is added at read time by the API
(``agent.since_ms``), so time in state keeps growing between events.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from services.aggregator.contributions import Contribution
from services.common.events import CanonicalEvent
from services.domain.scopes import scope_id
from services.domain.windows import DAY_MS, LEVEL_SIZE, Retention, bucket_start

AgentRecord = dict[str, Any]  # {"kind": "agent", "pl", "a", "p", "ev": [[t, state, event_id, raw_state], ...]}
KEEP_MS = 2 * DAY_MS  # longer than bucket retention (a little over a day)
STATES = ("available", "busy", "away", "offline")


def record_key(event: CanonicalEvent) -> str:
    return f"agent:{event.platform}/{event.agent_id}"


def add_state(record: AgentRecord | None, event: CanonicalEvent, partition: int) -> AgentRecord | None:
    """The record with the state change merged in; ``None`` if the event id is already there."""
    steps = list(record["ev"]) if record is not None else []
    if any(s[2] == event.event_id for s in steps):
        return None
    raw = event.attributes.get("raw_state") if isinstance(event.attributes, dict) else None
    steps.append([event.occurred_ms, event.state, event.event_id, raw if isinstance(raw, str) else None])
    steps.sort(key=lambda s: (s[0], s[2]))
    newest = steps[-1][0]
    # Keep the last change before the horizon: it says which state the agent was in when the horizon began.
    first_kept = 0
    for i, step in enumerate(steps):
        if step[0] < newest - KEEP_MS:
            first_kept = i
    return {"kind": "agent", "pl": event.platform, "a": event.agent_id, "p": partition, "ev": steps[first_kept:]}


def current(record: AgentRecord) -> dict[str, Any]:
    """The agent's state now and since when (the open interval)."""
    t, state, _, raw = record["ev"][-1]
    return {"state": state, "since_ms": t, "raw_state": raw}


def contribution(record: AgentRecord, retention: Retention | None = None) -> Contribution:
    """Time in each state in buckets, and the agent's current state as a gauge.

    With ``retention``, buckets that would already be dropped at the record's newest time are left out: they
    are dropped at least as early in the aggregates (cutoffs follow stream time, which is never behind an
    event it has seen), and splitting two days of presence into minutes on every state change was most of an
    agent event's cost.
    """
    out = Contribution()
    platform, agent = record["pl"], record["a"]
    scope = scope_id("agent", platform, agent)
    steps = record["ev"]
    newest = steps[-1][0]
    cutoffs = {level: retention.cutoff(level, newest) if retention else 0 for level in LEVEL_SIZE}
    for (start, state, _, _), (end, _, _, _) in pairwise(steps):
        name = f"state_{state}_ms"
        for level, size in LEVEL_SIZE.items():
            t = max(start, cutoffs[level])
            while t < end:
                b = bucket_start(t, size)
                piece = min(end, b + size) - t
                bucket = out.buckets.setdefault((scope, level, b), {})
                bucket[name] = bucket.get(name, 0) + piece
                t += piece
    state = steps[-1][1]
    out.gauge(["all", scope_id("platform", platform)], {f"agents_{state}": 1})
    out.live.setdefault(scope, {})  # the agent's scope exists even before any figure
    return out
