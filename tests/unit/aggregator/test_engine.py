import json
import random

from hypothesis import given, settings, strategies as st

from services.aggregator.engine import Engine, retired_key
from services.aggregator.kpiconfig import DefaultConfig
from services.domain.windows import DAY_MS, MINUTE_MS, QUARTER_MS, window_start
from services.api.readmodel import ReadModel
from services.common.events import from_epoch_ms, parse_event
from services.demo.synthetic import agent_shifts, history
from tests.support.events import T0
from tests.support import recompute

LIVE_KEYS = ("open", "waiting", "unassigned", "pending", "on_hold", "in_queue",
             "oldest_waiting_created_ms", "oldest_queued_ms")


def without_bins(counters):
    return {k: v for k, v in counters.items() if "h:" not in k and "le:" not in k}


def feed(engine, docs, partitions=3, wall=None):
    outcomes = []
    for d in docs:
        event = parse_event(d)
        wall_ms = wall if wall is not None else event.occurred_ms
        outcomes.append(engine.handle(hash(event.kafka_key) % partitions, event, wall_ms))
    return outcomes


def model_of(engine, wall_ms):
    model = ReadModel()
    for key, value in engine.drain(wall_ms):
        model.apply(key, value)
    return model


def run_engine(docs, partitions=3):
    engine = Engine({})
    last = max(recompute.ms(d) for d in docs)
    outcomes = feed(engine, docs, partitions, wall=last)
    return engine, model_of(engine, last), outcomes, last


def assert_matches(model, docs, now_ms):
    expected_all = recompute.figures(docs)
    expected_live = recompute.live(docs)
    scopes = {v.scope for v in model.views() if v.totals or any(v.live.get(k) for k in ("open",))}
    assert scopes == set(expected_all) | {s for s, g in expected_live.items() if g["open"]}
    for scope, counters in expected_all.items():
        view = model.view(scope, wall_ms=now_ms)
        assert without_bins(view.totals) == counters, scope
        for window in ("5m", "15m", "1h", "24h"):
            level, start = window_start(window, now_ms)
            want = recompute.figures(docs, since_ms=start, size_ms=MINUTE_MS if level == "m" else QUARTER_MS)
            assert without_bins(view.counters(window, now_ms)) == want.get(scope, {}), (scope, window)
    for scope, gauges in expected_live.items():
        view = model.view(scope, wall_ms=now_ms)
        for name in LIVE_KEYS:
            assert (view.live.get(name) or 0) == (gauges[name] or 0), (scope, name)


def sample(seed, contacts=40, gap_ms=20_000):
    return history(random.Random(seed), T0, contacts, mean_gap_ms=gap_ms)


def test_in_order_stream_matches_batch_recomputation():
    docs = sample(1, contacts=120)
    _, model, outcomes, now = run_engine(docs)
    assert set(outcomes) == {"applied"}
    assert_matches(model, docs, now)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), shuffle_seed=st.integers(0, 10_000), dup_share=st.floats(0, 0.5))
def test_any_order_and_any_duplication_give_the_same_figures(seed, shuffle_seed, dup_share):
    docs = sample(seed, contacts=25)
    rng = random.Random(shuffle_seed)
    delivered = docs + [d for d in docs if rng.random() < dup_share]
    rng.shuffle(delivered)
    _, model, outcomes, now = run_engine(delivered)
    assert outcomes.count("duplicate") == len(delivered) - len(docs)
    assert_matches(model, docs, now)


def test_rebuild_from_table_equals_incremental_state():
    docs = sample(5, contacts=60) + agent_shifts(random.Random(5), T0, T0 + 3_600_000)
    engine, model, _, now = run_engine(docs)
    restored = Engine(dict(engine.table))  # what a restarted worker has after changelog recovery
    restored.rebuild({0, 1, 2}, now)
    model2 = model_of(restored, now)
    for view in model.views():
        other = model2.view(view.scope, wall_ms=now)
        assert (other.totals, other.minutes, other.quarters, other.live, other.agent) == \
            (view.totals, view.minutes, view.quarters, view.live, view.agent), view.scope


def test_drain_publishes_only_changed_scopes_once():
    docs = sample(3, contacts=5)
    engine, _, _, now = run_engine(docs)
    assert engine.drain(now) == []
    fresh = parse_event({**docs[0], "event_id": "fresh", "type": "contact.created", "contact_id": "new-one",
                         "queue_id": "solo"})
    engine.handle(0, fresh, now)
    keys = sorted(k.decode() for k, _ in engine.drain(now))
    platform = docs[0]["platform"]
    assert keys == ["all#0", f"platform/{platform}#0", f"queue/{platform}/solo#0"]


def test_old_buckets_expire_but_totals_stay():
    docs = sample(8, contacts=30)
    engine, model, _, now = run_engine(docs)
    later = now + 2 * DAY_MS
    old_totals = model.view("all", wall_ms=now).totals
    aged = model_of_after(engine, later)
    view = aged.view("all", wall_ms=later)
    assert view.totals == old_totals
    assert view.counters("24h", view.stream_ms) == {} and view.minutes == {} and view.quarters == {}


def model_of_after(engine, wall_ms):
    for part in engine.partitions.values():
        part.aggregates.expire(part.clock.now(wall_ms))
    engine._dirty |= {(s, p) for p, part in engine.partitions.items() for s in part.aggregates.scopes}
    return model_of(engine, wall_ms)


def test_retirement_keeps_totals_and_survives_a_crash_between_its_writes():
    docs = sample(11, contacts=80)
    engine, model, _, now = run_engine(docs, partitions=1)
    before = {v.scope: v.totals for v in model.views()}
    open_before = model.view("all", wall_ms=now).live.get("open")
    # a crash right after the retired record was written, before the deletions: keep a copy of the table
    table_before = dict(engine.table)
    retired = engine.retire(0, now + 1)
    assert retired > 0
    assert len(engine.table) < len(table_before)
    engine._dirty |= {(s, 0) for s in engine.partitions[0].aggregates.scopes}
    after = model_of(engine, now)
    assert {v.scope: v.totals for v in after.views()} == before
    assert after.view("all", wall_ms=now).live.get("open") == open_before

    crashed = dict(table_before)
    crashed[retired_key(0)] = engine.table[retired_key(0)]
    restored = Engine(crashed)
    restored.rebuild({0}, now)
    assert {v.scope: v.totals for v in model_of(restored, now).views()} == before
    # an event from before the cutoff is late for good: reported, not applied
    late = parse_event({**docs[0], "event_id": "very-late"})
    assert restored.handle(0, late, now) == "retired_late"


def test_late_events_are_reported_and_still_counted_in_totals():
    engine = Engine({})
    docs = sample(2, contacts=10)
    feed(engine, docs)  # each event read at its own time, as live
    newest_doc = max(docs, key=recompute.ms)
    newest = recompute.ms(newest_doc)
    # read on the partition of the newest event, whose stream time is then that event's: partition 0 of feed's
    # (hash-randomised) partitioning could have no event at all and no stream time (1 run in 60 failed so)
    partition = hash(parse_event(newest_doc).kafka_key) % 3
    old = parse_event({**docs[0], "event_id": "late-1", "contact_id": "late-contact",
                       "occurred_at": "2026-11-01T00:00:00.000Z"})
    assert engine.handle(partition, old, newest) == "late"
    assert engine.late_events == 1
    model = model_of(engine, newest)
    assert model.view("all").totals["created"] == 11


class FakePolicy:
    """First response due 10 min after creation, at risk after 8 min; calendar time."""

    def deadline(self, metric, start):
        return start + 600_000 if metric == "first_response" else None

    def at_risk_at(self, metric, start):
        return start + 480_000 if metric == "first_response" else None

    def business_ms(self, start, end):
        return end - start


class PolicyConfig(DefaultConfig):
    def policy(self, f):
        return FakePolicy()

    def service_level(self, platform, queue):
        from services.domain.service_levels import DEFAULT_SERVICE_LEVEL
        return DEFAULT_SERVICE_LEVEL

    def histogram_bounds_s(self):
        return (600,)


def created(contact, t_ms):
    return parse_event({"schema": "deskpulse.event.v1", "event_id": f"c-{contact}", "type": "contact.created",
                        "occurred_at": recompute_iso(t_ms), "platform": "zendesk", "contact_id": contact,
                        "queue_id": "q1", "status": "new"})


def recompute_iso(t_ms):
    from services.common.events import from_epoch_ms
    return from_epoch_ms(t_ms)


def test_sla_clocks_breaching_at_risk_and_next_breach():
    engine = Engine({}, config=PolicyConfig())
    engine.handle(0, created("a", T0), T0)
    engine.handle(0, created("b", T0 + 300_000), T0 + 300_000)
    model = model_of(engine, T0 + 300_000)
    live = model.view("queue/zendesk/q1").live
    assert (live["sla_running"], live["sla_breaching"], live["sla_at_risk"]) == (2, 0, 0)
    assert live["next_breach_ms"] == T0 + 600_000
    # no new events: the stream clock advances with the wall clock and the scope is republished at crossings
    keys = [k for k, _ in engine.drain(T0 + 300_000 + 190_000)]  # stream time T0 + 490 s: a at risk
    assert b"queue/zendesk/q1#0" in keys
    model = model_of_after(engine, T0 + 300_000 + 310_000)  # T0 + 610 s: a breached
    live = model.view("queue/zendesk/q1").live
    assert (live["sla_breaching"], live["sla_at_risk"], live["next_breach_ms"]) == (1, 0, T0 + 900_000)
    # the first response stops the clock: met or breached is counted when it stops
    reply = parse_event({"schema": "deskpulse.event.v1", "event_id": "r-a", "type": "contact.message",
                         "occurred_at": recompute_iso(T0 + 620_000), "platform": "zendesk", "contact_id": "a",
                         "author": "agent", "public": True, "agent_id": "x"})
    engine.handle(0, reply, T0 + 620_000)
    view = model_of(engine, T0 + 620_000).view("queue/zendesk/q1")
    assert view.totals["sla_first_response_breached"] == 1 and view.live["sla_running"] == 1


def test_agent_time_in_state_comes_from_closed_intervals():
    engine = Engine({})
    steps = [("available", 0), ("busy", 120_000), ("away", 420_000)]
    for i, (state, offset) in enumerate(steps):
        engine.handle(0, parse_event({"schema": "deskpulse.event.v1", "event_id": f"s{i}", "type": "agent.state_changed",
                                      "occurred_at": recompute_iso(T0 + offset), "platform": "twilio", "agent_id": "W1",
                                      "state": state}), T0 + offset)
    view = model_of(engine, T0 + 420_000).view("agent/twilio/W1")
    assert view.totals == {}  # time in state is only windowed
    counters = view.counters("1h", T0 + 420_000)
    assert counters == {"state_available_ms": 120_000, "state_busy_ms": 300_000}
    assert view.agent == {"state": "away", "since_ms": T0 + 420_000, "raw_state": None}
    assert model_of_after(engine, T0 + 420_000).view("all").live["agents_away"] == 1


def test_snapshot_values_are_json_partials():
    engine, _, _, now = run_engine(sample(2, contacts=3))
    engine.handle(0, parse_event({**sample(2, 1)[0], "event_id": "x1", "contact_id": "zz"}), now)
    for key, value in engine.drain(now):
        snap = json.loads(value)
        assert snap["schema"] == "deskpulse.snapshot.v1"
        assert key.decode() == f"{snap['scope']}#{snap['partition']}"
        assert {"totals", "minutes", "quarters", "live", "stream_ms"} <= set(snap)


def test_a_contact_queued_twice_for_retirement_is_retired_once():
    # Its last two events share a millisecond: the closed-contact heap holds it twice.
    engine = Engine({})
    base = {"schema": "deskpulse.event.v1", "platform": "p", "contact_id": "c1"}
    for i, (kind, t, extra) in enumerate([("contact.created", 0, {"status": "new", "queue_id": "q"}),
                                          ("contact.status_changed", 60_000, {"status": "solved"}),
                                          ("contact.assigned", 60_000, {"agent_id": "a"})]):
        engine.handle(0, parse_event({**base, "event_id": f"e{i}", "type": kind,
                                      "occurred_at": recompute_iso(T0 + t), **extra}), T0 + t)
    later = T0 + 4 * DAY_MS
    other = parse_event({**base, "contact_id": "c2", "event_id": "x", "type": "contact.created",
                         "occurred_at": recompute_iso(later), "status": "new", "queue_id": "q"})
    assert engine.handle(0, other, later) == "applied"
    assert "p/c1" not in engine.table
    totals = engine.table[retired_key(0)]["totals"]
    assert totals["queue/p/q"]["created"] == 1 and totals["queue/p/q"]["resolved"] == 1


def test_republish_all_publishes_every_scope_again_after_a_failed_publication():
    engine, _, _, now = run_engine(sample(12, contacts=20))
    assert engine.drain(now) == []  # run_engine drained everything once
    engine.republish_all()
    again = {key for key, _ in engine.drain(now)}
    assert again == {f"{scope}#{p}".encode() for p, part in engine.partitions.items() for scope in part.aggregates.scopes}


# -- clocks: one wrong clock must not corrupt every figure -----------------------------------------------------------

def figures_of(model, now):
    """Every scope's totals, buckets and live figures as the API reads them at ``now``."""
    return {v.scope: (v.totals, v.minutes, v.quarters, v.days, v.live) for v in model.views()}


def test_an_event_from_beyond_the_skew_is_counted_not_applied_and_changes_no_figure():
    docs = sample(21, contacts=60)
    engine = Engine({})
    assert set(feed(engine, docs[:-40])) == {"applied"}
    wall = recompute.ms(docs[-41])
    stray = parse_event({**docs[0], "event_id": "from-2030", "contact_id": "stray", "occurred_at": "2030-01-01T00:00:00Z"})
    assert engine.handle(0, stray, wall) == "future"
    assert engine.handle(0, stray, wall + 1) == "future"  # a redelivery is refused again, and counted again
    assert "stray" not in engine.table and engine.partitions[0].clock.now(wall) <= wall
    assert set(feed(engine, docs[-40:])) == {"applied"}  # nothing later is late: time was not dragged forward
    now = max(recompute.ms(d) for d in docs)
    model = model_of(engine, now)
    assert_matches(model, docs, now)  # every figure as if the stray event had never been sent
    refused = model.view("all", wall_ms=now).future
    assert refused["n"] == 2 and refused["last"]["event_id"] == "from-2030"
    assert refused["last"]["occurred_at"] == "2030-01-01T00:00:00.000Z" and refused["last"]["refused_at_ms"] == wall + 1
    # the count survives a restart: it is a table record, rebuilt with the rest
    restored = Engine(dict(engine.table))
    restored.rebuild({0, 1, 2}, now)
    assert model_of(restored, now).view("all", wall_ms=now).future == refused


def test_stream_time_is_kept_per_partition():
    docs = sample(22, contacts=30)
    engine = Engine({})
    feed(engine, docs, partitions=1)
    now = max(recompute.ms(d) for d in docs)
    # partition 1 hears of a contact stamped as far ahead as the skew allows
    ahead = parse_event({**docs[0], "event_id": "ahead", "contact_id": "elsewhere", "occurred_at": from_epoch_ms(now + 300_000)})
    assert engine.handle(1, ahead, now) == "applied"
    assert engine.partitions[1].clock.now(now) == now + 300_000
    assert engine.partitions[0].clock.now(now) == now
    # an event of partition 0 a minute old is not late there: partition 1's time does not age partition 0's contacts
    recent = parse_event({**docs[0], "event_id": "recent", "contact_id": "here", "occurred_at": from_epoch_ms(now - 60_000)})
    assert engine.handle(0, recent, now) == "applied"
    # while on partition 1 an event six minutes behind its stream time is late
    behind = parse_event({**docs[0], "event_id": "behind", "contact_id": "there", "occurred_at": from_epoch_ms(now - 60_000)})
    assert engine.handle(1, behind, now) == "late"
