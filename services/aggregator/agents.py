"""Agent presence: each agent's state changes, and the time spent in each state.

Pure. ``agent.state_changed`` events are keyed by agent on Kafka, so an agent's record lives in one partition:
its state changes, deduplicated by event id and in event-time order, pruned to the last ``KEEP_MS`` (older
intervals only fed buckets that have expired by then). Closed intervals are split into the minute and
quarter-hour buckets as ``state_<state>_ms``; the current, open interval is added at read time by the API
(``agent.since_ms``), so time in state keeps growing between events.
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import pairwise
from operator import itemgetter
from typing import Any

from services.aggregator.contributions import Contribution
from services.common.events import CanonicalEvent
from services.domain.scopes import scope_id
from services.domain.windows import DAY_MS, LEVEL_SIZE, Retention, bucket_start

AgentRecord = dict[str, Any]  # {"kind": "agent", "pl", "a", "p", "ev": [[t, state, event_id, raw_state], ...]}
KEEP_MS = 2 * DAY_MS  # longer than bucket retention (a little over a day)
STATES = ("available", "busy", "away", "offline")
_TIME, _EVENT_ID, _ORDER = itemgetter(0), itemgetter(2), itemgetter(0, 2)  # a step's order: time, then event id


def record_key(event: CanonicalEvent) -> str:
    return f"agent:{event.platform}/{event.agent_id}"


def add_state(record: AgentRecord | None, event: CanonicalEvent, partition: int) -> AgentRecord | None:
    """The record with the state change merged in; ``None`` if the event id is already there."""
    steps = list(record["ev"]) if record is not None else []
    if event.event_id in map(_EVENT_ID, steps):
        return None
    raw = event.attributes.get("raw_state") if isinstance(event.attributes, dict) else None
    step = [event.occurred_ms, event.state, event.event_id, raw if isinstance(raw, str) else None]
    in_order = not steps or _ORDER(step) >= _ORDER(steps[-1])
    steps.append(step)
    if not in_order:
        steps.sort(key=_ORDER)
    # Keep the last change before the horizon: it says which state the agent was in when the horizon began.
    first_kept = max(0, bisect_left(steps, steps[-1][0] - KEEP_MS, key=_TIME) - 1)
    return {"kind": "agent", "pl": event.platform, "a": event.agent_id, "p": partition, "ev": steps[first_kept:]}


def current(record: AgentRecord) -> dict[str, Any]:
    """The agent's state now and since when (the open interval)."""
    t, state, _, raw = record["ev"][-1]
    return {"state": state, "since_ms": t, "raw_state": raw}


def contribution(
    record: AgentRecord,
    retention: Retention | None = None,
    previous: tuple[AgentRecord, Contribution] | None = None,
) -> Contribution:
    """Time in each state in buckets, and the agent's current state as a gauge.

    With ``retention``, buckets that would already be dropped at the record's newest time are left out: they
    are dropped at least as early in the aggregates (cutoffs follow stream time, which is never behind an
    event it has seen), and splitting two days of presence into minutes on every state change was most of an
    agent event's cost.

    ``previous``: the record before this change and its contribution (with the same ``retention``). When the
    change is the newest (the usual case), only the interval it closes is split into buckets and the rest is
    taken from the previous contribution: the same buckets as splitting every interval again (``_extends``).
    """
    out = Contribution()
    platform, agent = record["pl"], record["a"]
    scope = scope_id("agent", platform, agent)
    steps = record["ev"]
    newest = steps[-1][0]
    cutoffs = {level: retention.cutoff(level, newest) if retention else 0 for level in LEVEL_SIZE}
    if previous is not None and retention is not None and _extends(previous[0], steps, cutoffs):
        kept = previous[1].buckets  # shared with the previous contribution: never changed in place
        moved = any(cutoffs[level] > retention.cutoff(level, previous[0]["ev"][-1][0]) for level in LEVEL_SIZE)
        out.buckets = {k: v for k, v in kept.items() if k[2] >= cutoffs[k[1]]} if moved else dict(kept)
        _split(out.buckets, scope, steps[-2:], cutoffs, copy=True)
    else:
        _split(out.buckets, scope, steps, cutoffs)
    state = steps[-1][1]
    out.gauge(["all", scope_id("platform", platform)], {f"agents_{state}": 1})
    out.live.setdefault(scope, {})  # the agent's scope exists even before any figure
    return out


def _extends(before: AgentRecord, steps: list, cutoffs: dict[str, int]) -> bool:
    """Whether ``steps`` are ``before``'s steps with one newer change appended, less changes pruned from the front
    whose intervals all end before every cutoff (so they add nothing to the buckets kept either way)."""
    old = before["ev"]
    if len(steps) < 2 or steps[-2] is not old[-1] or steps[-1][0] < old[-1][0]:
        return False
    return len(steps) == len(old) + 1 or steps[0][0] <= min(cutoffs.values())


def _split(buckets: dict, scope: str, steps: list, cutoffs: dict[str, int], copy: bool = False) -> None:
    """Add the time of each interval between consecutive ``steps`` to the buckets at or after the cutoffs;
    ``copy``: the buckets are shared with another contribution, so a bucket is copied before it is added to."""
    for (start, state, _, _), (end, _, _, _) in pairwise(steps):
        name = f"state_{state}_ms"
        for level, size in LEVEL_SIZE.items():
            t = max(start, cutoffs[level])
            while t < end:
                b = bucket_start(t, size)
                piece = min(end, b + size) - t
                key = (scope, level, b)
                bucket = buckets.get(key)
                if bucket is None:
                    bucket = buckets[key] = {}
                elif copy:
                    bucket = buckets[key] = dict(bucket)
                bucket[name] = bucket.get(name, 0) + piece
                t += piece
