"""Agent presence: time in state per bucket, and leaving out buckets already behind retention."""

from __future__ import annotations

import random

from services.aggregator import agents
from services.aggregator.engine import Engine
from services.domain.windows import DAY_MS, HOUR_MS, MINUTE_MS, WINDOWS, Retention
from services.api.readmodel import ReadModel
from services.common.events import parse_event
from services.demo.synthetic import agent_shifts
from tests.support.events import T0


def two_days_of_presence(agents_kept=1):
    docs = agent_shifts(random.Random(8), T0, T0 + 2 * DAY_MS + 7 * HOUR_MS)
    kept = sorted({(d["platform"], d["agent_id"]) for d in docs})[:agents_kept]
    return sorted((d for d in docs if (d["platform"], d["agent_id"]) in kept), key=lambda d: d["occurred_at"])


def figures(engine, now_ms):
    model = ReadModel()
    for key, value in engine.drain(now_ms):
        model.apply(key, value)
    return {(v.scope, w): v.counters(w, now_ms) for v in model.views() if v.scope.startswith("agent/")
            for w in WINDOWS if w != "all"}


def test_leaving_out_expired_buckets_changes_no_window(monkeypatch):
    docs = two_days_of_presence()
    now = parse_event(docs[-1]).occurred_ms + MINUTE_MS
    trimmed = Engine({})
    for d in docs:
        trimmed.handle(0, parse_event(d), parse_event(d).occurred_ms)
    # The same stream with contributions holding every bucket of the record's two days.
    full = Engine({})
    monkeypatch.setattr(agents, "contribution",
                        lambda record, retention=None, previous=None, f=agents.contribution: f(record))
    for d in docs:
        full.handle(0, parse_event(d), parse_event(d).occurred_ms)
    got, want = figures(trimmed, now), figures(full, now)
    assert want and got == want
    assert any(c.get("state_busy_ms") for c in want.values())


def test_contribution_leaves_out_only_buckets_behind_the_cutoff_at_the_newest_change():
    docs = two_days_of_presence()
    record = None
    for d in docs:
        record = agents.add_state(record, parse_event(d), 0) or record
    retention = Retention()
    newest = record["ev"][-1][0]
    full, trimmed = agents.contribution(record), agents.contribution(record, retention)
    assert len(trimmed.buckets) < len(full.buckets) / 3
    for (scope, level, start), counters in full.buckets.items():
        if start >= retention.cutoff(level, newest):
            assert trimmed.buckets[(scope, level, start)] == counters
        else:
            assert (scope, level, start) not in trimmed.buckets


def test_a_contribution_extended_from_the_previous_one_equals_one_split_from_every_interval():
    # Three days of changes arriving mostly in order, some late or repeated: each step's contribution built from
    # the previous one (the engine's path) equals the one split from every interval again, at every step.
    docs = two_days_of_presence(agents_kept=2)
    docs += agent_shifts(random.Random(9), T0 + 2 * DAY_MS + 7 * HOUR_MS, T0 + 3 * DAY_MS)
    rng = random.Random(5)
    arrivals = [parse_event(d) for d in docs]
    for i in rng.sample(range(len(arrivals)), len(arrivals) // 10):  # a tenth late, by up to 20 changes
        arrivals.insert(min(len(arrivals), i + rng.randrange(1, 20)), arrivals.pop(i))
    arrivals += rng.sample(arrivals, 20)  # redelivered
    retention = Retention()
    previous: dict[str, tuple] = {}
    extended = 0
    for event in arrivals:
        old = previous.get(event.agent_id)
        record = agents.add_state(old[0] if old else None, event, 0)
        if record is None:
            continue
        got = agents.contribution(record, retention, old)
        want = agents.contribution(record, retention)
        assert got.buckets == want.buckets and got.totals == want.totals and got.live == want.live
        extended += old is not None and record["ev"][-2] is old[0]["ev"][-1]
        previous[event.agent_id] = (record, got)
    assert extended > len(arrivals) / 2  # the path it takes for changes in order
