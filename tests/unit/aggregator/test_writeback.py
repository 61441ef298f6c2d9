"""The write-back buffer: reads see the batch, flush writes each key once, writes before deletions."""

from __future__ import annotations

import pytest

from services.aggregator.writeback import WriteBack, into


def recorder():
    calls = []
    return calls, lambda key, value, partition: calls.append((key, value, partition))


def test_reads_see_pending_writes_and_deletions_before_flush():
    table = {"a": {"p": 0, "v": 1}, "b": {"p": 1, "v": 2}}
    wb = WriteBack(table)
    wb["a"] = {"p": 0, "v": 10}
    del wb["b"]
    wb["c"] = {"p": 2, "v": 3}
    assert wb["a"]["v"] == 10 and wb.get("b") is None and "b" not in wb and wb.get("c")["v"] == 3
    with pytest.raises(KeyError):
        wb["b"]
    assert sorted(wb) == ["a", "c"] and len(wb) == 2
    assert table == {"a": {"p": 0, "v": 1}, "b": {"p": 1, "v": 2}}  # nothing written yet


def test_flush_writes_each_touched_key_once_with_its_final_value_and_partition():
    calls, sink = recorder()
    wb = WriteBack({})
    for v in range(5):
        wb["k"] = {"p": 3, "v": v}
    wb["other"] = {"p": 1, "v": 0}
    assert wb.flush(sink) == 2
    assert calls == [("k", {"p": 3, "v": 4}, 3), ("other", {"p": 1, "v": 0}, 1)]
    assert wb.pending == 0 and wb.flush(sink) == 0


def test_deletions_come_after_every_write_even_when_deleted_keys_were_written_first():
    # Retirement: contact written, then the retired totals written, then the contact deleted. The totals must
    # reach the changelog before the deletion whatever the order of first touch.
    calls, sink = recorder()
    wb = WriteBack({"c1": {"p": 0, "v": 1}})
    wb["c1"] = {"p": 0, "v": 2}
    wb["retired#0"] = {"p": 0, "totals": {}}
    del wb["c1"]
    wb.flush(sink)
    assert calls == [("retired#0", {"p": 0, "totals": {}}, 0), ("c1", None, 0)]


def test_deleted_then_written_again_is_a_write():
    calls, sink = recorder()
    wb = WriteBack({"c": {"p": 1, "v": 1}})
    del wb["c"]
    wb["c"] = {"p": 1, "v": 2}
    wb.flush(sink)
    assert calls == [("c", {"p": 1, "v": 2}, 1)]


def test_deleting_a_missing_key_raises_like_a_dict():
    with pytest.raises(KeyError):
        del WriteBack({})["nope"]


def test_into_applies_the_flush_to_a_mapping():
    table = {"a": {"p": 0}, "b": {"p": 0}}
    wb = WriteBack(table)
    wb["a"] = {"p": 0, "x": 1}
    del wb["b"]
    wb.flush(into(table))
    assert table == {"a": {"p": 0, "x": 1}}


def test_engine_over_batches_leaves_the_same_table_and_figures_as_one_write_per_event():
    # Retirement inside batches included: a short contact retention with sweeps every event-time minute.
    import random

    from services.aggregator.engine import Engine, EngineSettings
    from services.api.readmodel import ReadModel
    from services.common.events import parse_event
    from services.demo.synthetic import history
    from tests.support.events import T0

    docs = history(random.Random(5), T0, 150, mean_gap_ms=30 * 60_000)  # ~3 days of contacts
    settings = EngineSettings(contact_retention_ms=2 * 86_400_000)
    plain = Engine({}, settings=settings)
    table: dict = {}
    batched = Engine(WriteBack(table), settings=settings)
    flushes = 0
    for i, d in enumerate(docs):
        event = parse_event(d)
        partition = hash(event.kafka_key) % 2
        assert plain.handle(partition, event, event.occurred_ms) == batched.handle(partition, event, event.occurred_ms)
        if i % 37 == 36:
            flushes += batched.table.flush(into(table)) > 0
    batched.table.flush(into(table))
    assert flushes > 10 and any(k.startswith("retired#") for k in table)
    assert table == plain.table

    def figures(engine):
        model = ReadModel()
        now = max(event_ms for event_ms in (parse_event(d).occurred_ms for d in docs))
        for key, value in engine.drain(now):
            model.apply(key, value)
        return {v.scope: (v.totals, v.live) for v in model.views()}

    assert figures(batched) == figures(plain)
