"""Rebuild on rebalance: not ready during a rebalance or recovery; one rebuild per generation, of this worker's
partitions of the events topic."""

from __future__ import annotations

import gc
import threading
from types import SimpleNamespace
from typing import NamedTuple

from services.aggregator.rebalance import RebuildOnRebalance, Revocations
from services.common.clock import FixedClock
from services.common.heap import FULL_COLLECTION_AFTER
from tests.support.events import T0


class TP(NamedTuple):  # as faust.types.TP
    topic: str
    partition: int


class FakeApp:
    """The attributes of a Faust app the check reads."""

    def __init__(self, assigned: set[tuple[str, int]]) -> None:
        self.rebalancing = False
        self.rebalancing_count = 1
        self.completed = threading.Event()
        self.tables = SimpleNamespace(recovery=SimpleNamespace(completed=self.completed))
        self.assigned = assigned
        self.assignor = SimpleNamespace(assigned_actives=lambda: {TP(t, p) for t, p in self.assigned})


class FakeEngine:
    def __init__(self) -> None:
        self.rebuilds: list[tuple[set[int], int]] = []

    def rebuild(self, active, wall_ms):
        self.rebuilds.append((active, wall_ms))


def setup(assigned=frozenset({("events", 0), ("events", 2), ("deskpulse-aggregator-contacts-changelog", 1)})):
    app, engine, clock = FakeApp(set(assigned)), FakeEngine(), FixedClock(T0)
    return app, engine, clock, RebuildOnRebalance(app, engine, "events", clock)


def test_not_ready_until_the_tables_are_recovered():
    app, engine, _, rebuild = setup()
    assert rebuild.ready() is False
    assert engine.rebuilds == []
    app.completed.set()
    assert rebuild.ready() is True


def test_not_ready_during_a_rebalance():
    app, engine, _, rebuild = setup()
    app.completed.set()
    app.rebalancing = True
    assert rebuild.ready() is False and engine.rebuilds == []


def test_the_first_ready_rebuilds_this_workers_partitions_of_the_events_topic_at_the_wall_clock():
    app, engine, clock, rebuild = setup()
    app.completed.set()
    clock.advance(1234)
    assert rebuild.ready() is True
    assert engine.rebuilds == [({0, 2}, T0 + 1234)]
    assert rebuild.built_for == 1


def test_one_rebuild_per_rebalance_generation():
    app, engine, _, rebuild = setup()
    app.completed.set()
    rebuild.ready()
    rebuild.ready()
    assert len(engine.rebuilds) == 1
    app.rebalancing_count = 2
    app.assigned = {("events", 1)}
    assert rebuild.ready() is True
    assert [active for active, _ in engine.rebuilds] == [{0, 2}, {1}]
    rebuild.ready()
    assert len(engine.rebuilds) == 2


def test_a_worker_assigned_nothing_rebuilds_to_nothing():
    app, engine, _, rebuild = setup(assigned=frozenset())
    app.completed.set()
    assert rebuild.ready() is True
    assert engine.rebuilds == [(set(), T0)]


def test_when_faust_reports_recovery_complete_the_records_are_loaded_then_the_aggregates_rebuilt_once():
    app, engine, clock = FakeApp({("events", 0), ("events", 2)}), FakeEngine(), FixedClock(T0)
    steps = []
    rebuild = RebuildOnRebalance(app, engine, "events", clock, load=lambda active: steps.append(("load", active)))
    engine.rebuild = lambda active, wall_ms: steps.append(("rebuild", active))
    rebuild.on_recovered({0, 2})  # in Faust's recovery hook: the streams have not resumed yet
    assert steps == [("load", {0, 2}), ("rebuild", {0, 2})]
    assert gc.isenabled()  # paused for the load and the rebuild only
    app.completed.set()
    assert rebuild.ready() is True and rebuild.ready() is True
    assert len(steps) == 2  # ready() does not rebuild again in the same generation
    app.rebalancing_count += 1  # a rebalance that did not reach the hook: ready() rebuilds (no load)
    assert rebuild.ready() is True and steps[2:] == [("rebuild", {0, 2})]


def test_what_a_rebuild_built_is_frozen_and_full_collections_made_rare():
    threshold = gc.get_threshold()
    try:
        gc.unfreeze()
        gc.set_threshold(700, 10, 10)
        app, engine, clock, rebuild = setup()
        rebuild.on_recovered({0, 2})
        assert gc.get_freeze_count() > 0 and gc.get_threshold() == (700, 10, FULL_COLLECTION_AFTER)
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


async def test_a_revocation_is_under_way_from_the_rebalances_start_until_faust_says_it_is_over():
    import faust

    app = faust.App("revocations-test", broker="kafka://127.0.0.1:1")  # never started: no broker needed
    revocations = Revocations(app)
    assert not revocations.under_way()
    app.rebalancing, app.rebalancing_count = True, app.rebalancing_count + 1  # what on_rebalance_start does first
    assert revocations.under_way()  # Faust waits for the batch in hand: it must go on
    await app.on_partitions_revoked.send(set())  # Faust's signal at the end of its revocation
    assert not revocations.under_way()  # the new assignment and its recovery: batches wait
    app.rebalancing_count += 1  # another rebalance starts before this one ended
    assert revocations.under_way()
    await app.on_partitions_revoked.send(set())
    app.rebalancing = False
    assert not revocations.under_way()
