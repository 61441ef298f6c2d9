import json
import random

from hypothesis import given, settings, strategies as st

from services.aggregator.aggregates import COUNTERS, GAUGES
from services.aggregator.engine import Engine
from services.api.readmodel import ReadModel
from services.common.events import parse_event
from services.demo.synthetic import history
from tests.support.events import T0
from tests.support.recompute import expected_figures


def run_engine(docs, partitions=3):
    """Feed docs through an Engine (partition by key hash, like Kafka) and merge snapshots like the API."""
    engine = Engine({})
    outcomes = []
    for d in docs:
        event = parse_event(d)
        outcomes.append(engine.handle(hash(event.kafka_key) % partitions, event))
    model = ReadModel()
    for key, value in engine.drain(now_ms=T0):
        model.apply(key, value)
    return engine, model, outcomes


def assert_matches(model, docs):
    expected = expected_figures(docs)
    seen = {v.scope for v in model.views()}
    assert seen == set(expected)
    for scope, figures in expected.items():
        view = model.view(scope)
        for name in COUNTERS:
            assert view.windows["all"][name] == figures[name], (scope, name)
        assert view.open == figures["open"], scope
        assert view.waiting == figures["waiting"], scope
        assert view.oldest_waiting_created_ms == figures["oldest_waiting_created_ms"], scope


def sample(seed, contacts=40):
    return history(random.Random(seed), T0, contacts)


def test_in_order_stream_matches_batch_recomputation():
    docs = sample(1)
    _, model, outcomes = run_engine(docs)
    assert set(outcomes) == {"applied"}
    assert_matches(model, docs)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), shuffle_seed=st.integers(0, 10_000), dup_share=st.floats(0, 0.5))
def test_any_order_and_any_duplication_give_the_same_figures(seed, shuffle_seed, dup_share):
    docs = sample(seed, contacts=25)
    rng = random.Random(shuffle_seed)
    delivered = docs + [d for d in docs if rng.random() < dup_share]
    rng.shuffle(delivered)
    _, model, outcomes = run_engine(delivered)
    assert outcomes.count("duplicate") == len(delivered) - len(docs)
    assert_matches(model, docs)


def test_rebuild_from_table_equals_incremental_state():
    docs = sample(5, contacts=60)
    engine, model, _ = run_engine(docs)
    restored = Engine(dict(engine.table))  # what a restarted worker has after changelog recovery
    restored.rebuild({0, 1, 2})
    model2 = ReadModel()
    for key, value in restored.drain(now_ms=T0):
        model2.apply(key, value)
    assert {v.scope: v for v in model.views()} == {v.scope: v for v in model2.views()}


def test_drain_publishes_only_changed_scopes_once():
    docs = sample(3, contacts=5)
    engine, _, _ = run_engine(docs)
    assert engine.drain(now_ms=T0) == []
    engine.handle(0, parse_event({**docs[0], "event_id": "fresh", "type": "contact.created",
                                  "contact_id": "new-one", "queue_id": "solo"}))
    keys = sorted(k.decode() for k, _ in engine.drain(now_ms=T0))
    assert keys == ["all#0", "platform/%s#0" % docs[0]["platform"], "queue/%s/solo#0" % docs[0]["platform"]]


def test_agent_events_are_ignored_for_now():
    engine = Engine({})
    agent_event = parse_event({"schema": "deskpulse.event.v1", "event_id": "s1", "type": "agent.state_changed",
                               "occurred_at": "2026-11-20T08:00:00Z", "platform": "twilio", "agent_id": "WK1",
                               "state": "available"})
    assert engine.handle(0, agent_event) == "ignored"
    assert engine.table == {}


def test_snapshot_values_are_json_with_every_figure():
    engine, _, _ = run_engine(sample(2, contacts=3))
    engine.handle(0, parse_event({**sample(2, 1)[0], "event_id": "x1", "contact_id": "zz"}))
    for key, value in engine.drain(now_ms=T0):
        snap = json.loads(value)
        assert snap["schema"] == "deskpulse.snapshot.v1"
        assert set(snap["windows"]["all"]) == set(COUNTERS)
        assert set(GAUGES) <= set(snap["live"])
