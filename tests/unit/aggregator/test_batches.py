"""The batch step: events through the engine, one changelog write per touched record, outcomes counted."""

from __future__ import annotations

import asyncio
import gc
import logging
import weakref
from types import SimpleNamespace

import orjson
import pytest
from prometheus_client import CollectorRegistry, Counter

from services.aggregator.batches import BatchStep, each_batch
from services.aggregator.engine import Engine
from services.aggregator.writeback import WriteBack
from services.common.clock import FixedClock
from tests.support.events import T0, doc


def message(value: dict | bytes, partition: int = 0, offset: int = 0) -> SimpleNamespace:
    """A stand-in for a Faust event of the batch: ``value`` bytes and the Kafka message's partition and offset."""
    raw = value if isinstance(value, bytes) else orjson.dumps(value)
    return SimpleNamespace(value=raw, message=SimpleNamespace(partition=partition, offset=offset))


class ScriptedEngine:
    """An engine whose outcome per event id is given; it writes one record per event into its table."""

    def __init__(self, table: WriteBack, outcomes: dict[str, str]) -> None:
        self.table, self.outcomes, self.calls = table, outcomes, []

    def handle(self, partition, event, wall_ms):
        self.calls.append((partition, event.event_id, wall_ms))
        self.table[f"contact:{event.contact_id}"] = {"p": partition, "last": event.event_id}
        return self.outcomes.get(event.event_id, "applied")


def counters():
    registry = CollectorRegistry()
    events = Counter("deskpulse_aggregator_events_total", "events", ["outcome"], registry=registry)
    late = Counter("deskpulse_late_events_total", "late", ["kind"], registry=registry)
    return registry, events, late


def step_with(engine_factory, clock=None, ready=None):
    registry, events, late = counters()
    table = WriteBack({})
    engine = engine_factory(table)
    sink_calls = []
    step = BatchStep(engine, table, lambda key, record, partition: sink_calls.append((key, record, partition)),
                     ready or (lambda: True), clock or FixedClock(T0), events=events, late=late)
    return step, engine, registry, sink_calls


def test_each_event_goes_to_the_engine_with_its_partition_and_the_clock_read_once():
    clock = FixedClock(T0 + 5)
    step, engine, _, _ = step_with(lambda t: ScriptedEngine(t, {}), clock=clock)
    step.process([message(doc("contact.created", 0, contact="a", event_id="e1"), partition=2),
                  message(doc("contact.created", 0, contact="b", event_id="e2"), partition=3)])
    assert engine.calls == [(2, "e1", T0 + 5), (3, "e2", T0 + 5)]


def test_the_readiness_check_runs_before_the_batch():
    order = []

    class Recording(ScriptedEngine):
        def handle(self, partition, event, wall_ms):
            order.append("handle")
            return super().handle(partition, event, wall_ms)

    step, _, _, _ = step_with(lambda t: Recording(t, {}), ready=lambda: order.append("ready") or True)
    step.process([message(doc("contact.created", 0, event_id="e1"))])
    assert order == ["ready", "handle"]


def test_outcomes_are_returned_and_counted_and_late_ones_also_as_late():
    outcomes = {"e2": "duplicate", "e3": "late", "e4": "retired_late", "e5": "late", "e6": "future"}
    step, _, registry, _ = step_with(lambda t: ScriptedEngine(t, outcomes))
    batch = [message(doc("contact.created", 0, contact=f"c{i}", event_id=f"e{i}")) for i in range(1, 7)]
    result = step.process(batch)
    assert result == {"applied": 1, "duplicate": 1, "late": 2, "retired_late": 1, "future": 1}
    value = registry.get_sample_value
    assert value("deskpulse_aggregator_events_total", {"outcome": "late"}) == 2
    assert value("deskpulse_aggregator_events_total", {"outcome": "applied"}) == 1
    assert value("deskpulse_late_events_total", {"kind": "late"}) == 2
    assert value("deskpulse_late_events_total", {"kind": "retired_late"}) == 1
    assert value("deskpulse_late_events_total", {"kind": "duplicate"}) is None
    assert value("deskpulse_late_events_total", {"kind": "future"}) is None


def test_invalid_messages_are_skipped_counted_and_logged_with_their_position(caplog):
    step, engine, registry, _ = step_with(lambda t: ScriptedEngine(t, {}))
    bad_type = {**doc("contact.created", 0), "type": "contact.exploded"}
    with caplog.at_level(logging.WARNING, logger="services.aggregator.batches"):
        result = step.process([message(b"{not json", partition=1, offset=7),
                               message(bad_type, partition=2, offset=8),
                               message(doc("contact.created", 0, event_id="ok"), partition=3, offset=9)])
    assert result == {"invalid": 2, "applied": 1}
    assert [c[1] for c in engine.calls] == ["ok"]
    assert registry.get_sample_value("deskpulse_aggregator_events_total", {"outcome": "invalid"}) == 2
    messages = [r.getMessage() for r in caplog.records]
    assert any("partition 1 offset 7" in m for m in messages) and any("partition 2 offset 8" in m for m in messages)


def test_a_record_touched_several_times_in_a_batch_is_written_to_the_changelog_once():
    step, _, _, sink_calls = step_with(lambda t: ScriptedEngine(t, {}))
    step.process([message(doc("contact.created", 0, contact="a", event_id="e1"), partition=1),
                  message(doc("contact.assigned", 1, contact="a", event_id="e2", agent_id="x"), partition=1),
                  message(doc("contact.created", 0, contact="b", event_id="e3"), partition=0)])
    assert sorted(sink_calls, key=lambda c: c[0]) == [("contact:a", {"p": 1, "last": "e2"}, 1),
                                                       ("contact:b", {"p": 0, "last": "e3"}, 0)]


def test_with_the_real_engine_the_flushed_records_are_the_engines_table():
    store: dict = {}
    table = WriteBack(store)
    engine = Engine(table)
    _, events, late = counters()

    def sink(key, record, partition):
        if record is None:
            store.pop(key, None)
        else:
            store[key] = record

    step = BatchStep(engine, table, sink, lambda: True, FixedClock(T0 + 60_000), events=events, late=late)
    reply = doc("contact.message", 30, contact="a", agent_id="x", author="agent", public=True)
    result = step.process([message(doc("contact.created", 0, contact="a")), message(reply)])
    assert result == {"applied": 2}
    assert table.pending == 0
    [record] = [r for r in store.values() if r.get("kind") != "agent"]
    assert record["p"] == 0 and len(record["ev"]) == 2


async def test_an_agent_cancelled_in_the_middle_of_a_batch_leaves_it_unacknowledged():
    acked: list[int] = []

    async def take_events():  # as Faust's Stream.take_events: a batch is acknowledged in a finally around its yield
        for batch in ([1, 2], [3, 4], [5, 6]):
            try:
                yield batch
            finally:
                acked.extend(batch)

    stream = SimpleNamespace(_active_agens=weakref.WeakSet())  # faust-streaming's Stream tracks its take generators
    taken = take_events()
    stream._active_agens.add(taken)
    second = asyncio.Event()

    async def handle(batch):
        if batch == [3, 4]:
            second.set()
            await asyncio.sleep(3600)  # a worker stopping: cancelled here

    agent = asyncio.ensure_future(each_batch(taken, handle, stream))
    await asyncio.wait_for(second.wait(), 1)
    agent.cancel()
    with pytest.raises(asyncio.CancelledError):
        await agent
    del agent, taken
    for agen in list(stream._active_agens):  # what Stream.on_stop does as the agent stops
        await agen.aclose()
    gc.collect()  # and the loop's finalizer for an abandoned async generator
    for _ in range(5):
        await asyncio.sleep(0)
    assert acked == [1, 2]  # the first batch, handled; never the unfinished second
