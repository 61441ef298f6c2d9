import gc

from services.api.readmodel import ReadModel
from services.api.scopeview import merge
from services.common.clock import FixedClock
from services.common.heap import FULL_COLLECTION_AFTER
from tests.support.partials import encoded, partial

T = 1_795_000_000_000


def test_merge_adds_counters_buckets_and_gauges_and_takes_minima():
    view = merge([
        partial("queue/zendesk/q", 0, totals={"created": 2, "fr_ms": 500}, minutes={T: {"created": 1}},
                live={"open": 1, "waiting": 1, "oldest_waiting_created_ms": 500, "next_breach_ms": 9_000},
                stream_ms=T + 10, published_ms=T + 10),
        partial("queue/zendesk/q", 1, totals={"created": 3, "fr_ms": 700}, minutes={T: {"created": 2}},
                live={"open": 2, "waiting": 2, "oldest_waiting_created_ms": 300, "next_breach_ms": 7_000},
                stream_ms=T + 50, published_ms=T + 40),
        partial("queue/zendesk/q", 2, totals={"created": 1}, stream_ms=T, published_ms=T),
    ], wall_ms=T + 60)
    assert view.totals == {"created": 6, "fr_ms": 1200}
    assert view.minutes == {T: {"created": 3}}
    assert (view.live["open"], view.live["waiting"]) == (3, 3)
    assert (view.live["oldest_waiting_created_ms"], view.live["next_breach_ms"]) == (300, 7_000)
    assert view.stream_ms == T + 70  # newest stream time, advanced by wall time since it was published


def test_windows_sum_the_buckets_inside_them():
    minute = 60_000
    view = merge([partial("all", 0, minutes={T: {"created": 1}, T + 10 * minute: {"created": 2},
                                             T + 14 * minute: {"created": 4}})], wall_ms=0)
    now = T + 14 * minute + 30_000
    assert view.counters("5m", now) == {"created": 4}
    assert view.counters("15m", now) == {"created": 6}
    assert view.counters("1h", now) == {"created": 7}


def test_later_partial_replaces_earlier_one_for_the_same_partition():
    model = ReadModel()
    model.apply(*encoded("all", 0, totals={"created": 1}))
    model.apply(*encoded("all", 0, totals={"created": 5}))
    model.apply(*encoded("all", 1, totals={"created": 2}))
    assert model.view("all").totals["created"] == 7


def test_tombstone_removes_a_partial_and_bad_records_are_skipped():
    model = ReadModel()
    model.apply(*encoded("all", 0, totals={"created": 1}))
    model.apply(*encoded("all", 1, totals={"created": 2}))
    model.apply(b"all#1", None)
    model.apply(b"no-partition", b"{}")
    model.apply(b"all#2", b"not json")
    model.apply(None, b"{}")
    assert model.view("all").totals["created"] == 1
    assert model.scope_count == 1


def test_scopes_lists_by_kind():
    model = ReadModel()
    for key in ("queue/zendesk/a", "queue/intercom/b", "agent/zendesk/x"):
        model.apply(*encoded(key))
    assert model.scopes("queue") == ["queue/intercom/b", "queue/zendesk/a"]


def test_views_are_cached_until_the_scope_changes_and_changes_are_reported():
    model = ReadModel()
    model.apply(*encoded("queue/zendesk/a", 0, totals={"created": 1}))
    model.apply(*encoded("queue/zendesk/b", 0, totals={"created": 1}))
    assert model.take_changes() == {"queue/zendesk/a", "queue/zendesk/b"}
    first = model.peek("queue/zendesk/a")
    assert model.peek("queue/zendesk/a") is first  # merged once
    model.apply(*encoded("queue/zendesk/a", 1, totals={"created": 2}))
    assert model.take_changes() == {"queue/zendesk/a"}
    assert model.view("queue/zendesk/a").totals["created"] == 3
    assert model.peek("queue/zendesk/b").totals["created"] == 1


def test_cached_view_still_advances_stream_time_by_wall_time():
    model = ReadModel()
    model.apply(*encoded("all", 0, stream_ms=T, published_ms=T))
    assert model.view("all", wall_ms=T + 5_000).stream_ms == T + 5_000
    assert model.view("all", wall_ms=T + 9_000).stream_ms == T + 9_000
    assert model.stream_ms(wall_ms=T + 9_000) == T + 9_000


def test_views_at_later_stream_times_merge_their_buckets_once_and_share_them():
    model = ReadModel()
    minute = T - T % 60_000
    model.apply(*encoded("all", 0, stream_ms=T, published_ms=T, minutes={minute: {"created": 1}},
                         quarters={minute: {"created": 1}}, days={minute: {"created": 1}}))
    model.apply(*encoded("all", 1, stream_ms=T, published_ms=T, minutes={minute: {"created": 2}}))
    first = model.view("all", wall_ms=T + 5_000)  # a copy at a later stream time, its buckets not merged yet
    later = model.view("all", wall_ms=T + 9_000)
    assert first.minutes == {minute: {"created": 3}}
    # merged once, on the view the model holds, not again on each copy (a snapshot asks every scope's copy)
    assert later.minutes is first.minutes is model.peek("all").minutes
    assert later.quarters is first.quarters and later.days is first.days == {minute: {"created": 1}}
    assert later.counters("15m", T + 9_000) == {"created": 3}


def test_the_models_clock_advances_stream_time_between_publications():
    clock = FixedClock(T)
    model = ReadModel(clock=clock)
    model.apply(*encoded("all", 0, stream_ms=T - 2_000, published_ms=T))
    assert model.view("all").stream_ms == T - 2_000 and model.stream_ms() == T - 2_000
    clock.advance(7_000)
    assert model.view("all").stream_ms == T + 5_000 and model.stream_ms() == T + 5_000


def test_bare_ids_are_indexed_and_tombstoned_scopes_forgotten():
    model = ReadModel()
    model.apply(*encoded("agent/zendesk/7"))
    model.apply(*encoded("agent/intercom/7"))
    assert model.by_id("agent", "7") == ["agent/intercom/7", "agent/zendesk/7"]
    model.apply(b"agent/intercom/7#0", None)
    assert model.by_id("agent", "7") == ["agent/zendesk/7"]
    assert model.scopes("agent") == ["agent/zendesk/7"] and "agent/intercom/7" not in model


def test_staleness_counts_from_the_last_record():
    model = ReadModel()
    assert model.stale_seconds() is None
    model.apply(*encoded("all"))
    assert 0 <= model.stale_seconds() < 1


def test_copy_hands_unmerged_scopes_to_the_thread_and_adopts_them_unless_changed():
    model = ReadModel()
    model.apply(*encoded("queue/zendesk/a", 0, totals={"created": 1}))
    model.apply(*encoded("queue/zendesk/b", 0, totals={"created": 2}))
    model.peek("queue/zendesk/a")  # cached
    copy = model.copy()
    assert [v.scope for v in copy.cached] == ["queue/zendesk/a"] and [s for s, _ in copy.pending] == ["queue/zendesk/b"]
    model.apply(*encoded("queue/zendesk/b", 1, totals={"created": 5}))  # changes while the thread renders
    views = copy.views()
    assert sorted((v.scope, v.totals["created"]) for v in views) == [("queue/zendesk/a", 1), ("queue/zendesk/b", 2)]
    model.adopt(copy.merged)
    assert model.view("queue/zendesk/b").totals["created"] == 7  # the stale merge was not adopted
    copy = model.copy()
    copy.views()
    model.adopt(copy.merged)
    assert len(model.copy().cached) == 2


def test_agent_state_reads_the_newest_partial_without_merging():
    model = ReadModel()
    model.apply(*encoded("agent/zendesk/7", 0, agent={"state": "busy", "since_ms": T, "raw_state": "x"},
                         published_ms=T + 10))
    model.apply(*encoded("agent/zendesk/7", 1, agent={"state": "away", "since_ms": T, "raw_state": "x"},
                         published_ms=T + 20))
    assert model.agent_state("agent/zendesk/7") == "away"
    assert model.agent_state("agent/zendesk/8") is None
    assert model.view("agent/zendesk/7").agent["state"] == "away"  # the merge agrees


def test_catching_up_freezes_the_heap_and_makes_full_collections_rare():
    threshold = gc.get_threshold()
    try:
        gc.unfreeze()
        gc.set_threshold(700, 10, 10)
        model = ReadModel()
        assert gc.get_freeze_count() == 0
        model.caught_up = True
        assert gc.get_freeze_count() > 0  # the model as it stands is out of the cyclic GC's reach
        assert gc.get_threshold() == (700, 10, FULL_COLLECTION_AFTER) and FULL_COLLECTION_AFTER > 10
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
