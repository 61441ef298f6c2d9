"""The bulk path of a rebuild (``aggregates.BulkLoad``) gives exactly the aggregates that applying each
contribution incrementally gives: figures, buckets, gauges, oldest times, clocks, and which scopes exist."""

import random

import pytest
from hypothesis import given, settings, strategies as st

from services.aggregator.aggregates import BulkLoad, PartitionAggregates
from services.aggregator.contacts import facts
from services.aggregator.engine import Engine, EngineSettings, retired_key
from services.aggregator.contributions import EMPTY, Contribution, retired_contribution
from services.aggregator.kpiconfig import DefaultConfig, SlaKpiConfig
from services.aggregator.kpis import contribution
from services.domain.slaconfig import SlaConfig
from services.domain.windows import DAY_MS, HOUR_MS, MINUTE_MS, DayCalendar, Retention
from services.common.events import parse_event
from services.demo.synthetic import agent_shifts, history
from tests.support.events import T0

# Categories (a queue x category light scope, complaints), clocks (policies), days in two zones with a reset
# that is not on a quarter hour.
SLA = {
    "categories": [{"name": "billing", "match": [{"tag": ["billing", "refund"]}]},
                   {"name": "complaint", "match": [{"tag": "complaint"}]}],
    "complaints": {"categories": ["complaint"]},
    "days": {"default": {"timezone": "Europe/Brussels", "reset": "06:07"},
             "queues": {"billing": {"timezone": "America/New_York"}}},
    "policies": [{"name": "urgent", "match": {"priority": "urgent"}, "targets": {"first_response": "10m"}},
                 {"name": "rest", "targets": {"first_response": "1h", "next_reply": "2h", "resolution": "1d"}}],
}


def state_of(aggregates: PartitionAggregates) -> dict:
    """Everything a scope holds, comparable (oldest times as their contacts, clocks as sorted lists)."""
    return {scope: (s.light, s.agent, s.totals, s.buckets, s.live, s.oldest["waiting"].since,
                    s.oldest["waiting"].min(), s.oldest["queued"].since, s.oldest["queued"].min(), s.deadlines,
                    s.risks) for scope, s in aggregates.scopes.items()}


def incremental(partition, contributions, stream_ms) -> PartitionAggregates:
    """What a rebuild did before the bulk path: each contribution applied as a change from nothing."""
    aggregates = PartitionAggregates(partition, Retention())
    aggregates.expire(stream_ms)
    for key, contrib in contributions:
        aggregates.apply(key, EMPTY, contrib)
    return aggregates


def bulk(partition, contributions, stream_ms) -> PartitionAggregates:
    aggregates = PartitionAggregates(partition, Retention())
    aggregates.expire(stream_ms)
    aggregates.load(contributions)
    return aggregates


def engine_with_retired_contacts(seed, contacts, gap_ms, config, partitions):
    """An engine that processed a seeded history with agent shifts, retiring closed contacts after an hour."""
    rng = random.Random(seed)
    docs = history(rng, T0, contacts, mean_gap_ms=gap_ms) + agent_shifts(rng, T0, T0 + contacts * gap_ms)
    docs.sort(key=lambda d: d["occurred_at"])
    engine = Engine({}, config=config, settings=EngineSettings(contact_retention_ms=HOUR_MS))
    last = T0
    for d in docs:
        event = parse_event(d)
        engine.handle(hash(event.kafka_key) % partitions, event, event.occurred_ms)
        last = max(last, event.occurred_ms)
    return engine, last


def contributions_of(engine, partition):
    out = [(key, engine._contribution(record)) for key, record in engine.table.items()
           if record.get("p") == partition and not key.startswith("retired#")]
    return out + [("retired", retired_contribution(engine.table.get(retired_key(partition))))]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), contacts=st.integers(1, 60), gap_ms=st.sampled_from([5_000, 60_000, 600_000]),
       sla=st.booleans(), later_ms=st.sampled_from([0, 5 * MINUTE_MS, 2 * HOUR_MS, DAY_MS + HOUR_MS, 20 * DAY_MS]))
def test_bulk_load_of_contact_contributions_equals_applying_each(seed, contacts, gap_ms, sla, later_ms):
    config = SlaKpiConfig(SlaConfig.load(SLA)) if sla else DefaultConfig()
    engine, last = engine_with_retired_contacts(seed, contacts, gap_ms, config, partitions=2)
    stream_ms = last + later_ms  # later: more of the facts are behind the minute, quarter and day cutoffs
    for p in (0, 1):
        contributions = contributions_of(engine, p)
        expected = state_of(incremental(p, contributions, stream_ms))
        assert state_of(bulk(p, contributions, stream_ms)) == expected
        # the facts summed as kpis.contribution adds them (what Engine.rebuild does) give the same
        aggregates = PartitionAggregates(p, Retention())
        aggregates.expire(stream_ms)
        loader = BulkLoad(aggregates)
        for key, record in engine.table.items():
            if record.get("p") == p and not key.startswith("retired#"):
                if record.get("kind") == "agent":
                    loader.add(key, engine._contribution(record))
                else:
                    loader.add(key, contribution(facts(record), config, loader.contribution()))
        loader.add("retired", retired_contribution(engine.table.get(retired_key(p))))
        loader.finish()
        assert state_of(aggregates) == expected


# -- arbitrary contributions: counters that cancel, zeros, light scopes without day counters, expired buckets --

SCOPES = ["all", "platform/z", "queue/z/q1", "queue/z/q2", "account/z/a", "category/billing", "agent/z/a1",
          "agent/z/a2", "queue_agent/z/q1/a1", "queue_category/z/q1/billing"]
NAMES = ["created", "resolved", "fr_ms", "frh:12", "frle:60", "replies@email", "resolved@chat", "asa_ms",
         "asale:20", "state_busy_ms", "sl_met"]
DAYS = [DayCalendar(), DayCalendar("Europe/Brussels", "06:07"), DayCalendar("America/New_York")]
T = T0 + 3 * DAY_MS  # stream time of the generated contributions

times = st.integers(T - 40 * DAY_MS, T)
counters = st.dictionaries(st.sampled_from(NAMES), st.integers(-2, 2), max_size=5)
scope_lists = st.lists(st.sampled_from(SCOPES), min_size=1, max_size=6, unique=True).map(tuple)
day_keys = st.one_of(st.none(), st.tuples(st.sampled_from(DAYS), st.sampled_from(DAYS)))


@st.composite
def contributions(draw):
    out = Contribution()
    for t, scopes, items, keys in draw(st.lists(st.tuples(times, scope_lists, counters, day_keys), max_size=6)):
        out.facts.append((t, scopes, tuple(items.items()), keys))
    out.totals = draw(st.dictionaries(st.sampled_from(SCOPES), counters, max_size=2))
    out.buckets = draw(st.dictionaries(
        st.tuples(st.sampled_from(SCOPES), st.sampled_from("mqd"), times.map(lambda t: t - t % (15 * MINUTE_MS))),
        counters, max_size=3))
    out.live = draw(st.dictionaries(st.sampled_from(SCOPES), counters, max_size=2))
    out.oldest = draw(st.dictionaries(st.tuples(st.sampled_from(SCOPES), st.sampled_from(["waiting", "queued"])),
                                      times, max_size=2))
    out.clocks = draw(st.dictionaries(st.sampled_from(SCOPES), st.lists(st.tuples(times, times), max_size=2),
                                      max_size=2))
    return out


@settings(max_examples=100, deadline=None)
@given(many=st.lists(contributions(), max_size=8), stream_ms=st.sampled_from([T, T - DAY_MS, T + 15 * DAY_MS]))
def test_bulk_load_of_arbitrary_contributions_equals_applying_each(many, stream_ms):
    keyed = [(f"k{i}", c) for i, c in enumerate(many)]
    assert state_of(bulk(0, keyed, stream_ms)) == state_of(incremental(0, keyed, stream_ms))


def test_a_bulk_load_needs_a_partition_without_aggregates():
    aggregates = PartitionAggregates(0)
    aggregates.apply("k", EMPTY, Contribution(live={"all": {"open": 1}}))
    with pytest.raises(ValueError):
        BulkLoad(aggregates)


@pytest.mark.parametrize("sla", [False, True])
def test_rebuild_with_retired_contacts_equals_the_incremental_rebuild(sla):
    config = SlaKpiConfig(SlaConfig.load(SLA)) if sla else DefaultConfig()
    engine, last = engine_with_retired_contacts(7, 150, 60_000, config, partitions=3)
    assert all(engine.table.get(retired_key(p)) for p in range(3))
    restored = Engine(dict(engine.table), config=config)
    restored.rebuild({0, 1, 2}, last)
    for p in range(3):
        part = restored.partitions[p]
        stream_ms = part.clock.now(last)
        assert state_of(part.aggregates) == state_of(incremental(p, contributions_of(engine, p), stream_ms))
