"""The counter catalogue (services/domain/catalogue.py) holds both sides to one list of names.

The aggregator's output over a day of synthetic traffic under the example SLA config writes only catalogued
names; every figure function of the API reads only catalogued names (recorded by a mapping that notes each
key asked for), so a name misspelt on either side fails here.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from pathlib import Path

import orjson
import pytest

from services.aggregator.engine import Engine
from services.aggregator.kpiconfig import SlaKpiConfig
from services.api import kpis, outliers, periods
from services.common.events import parse_event
from services.demo.synthetic import agent_shifts, history
from services.domain.catalogue import COUNTERS, DAY_COUNTERS, GAUGES, INSTANTS, PER_CHANNEL, is_counter, is_live
from services.domain.slaconfig import SlaConfig
from tests.support.events import T0

SLA_EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "sla.example.yaml"
CONTACTS = 600
GAP_MS = 3_000


@pytest.fixture(scope="module")
def records() -> list[dict]:
    rng = random.Random(7)
    docs = history(rng, T0, CONTACTS, mean_gap_ms=GAP_MS) + agent_shifts(rng, T0, T0 + CONTACTS * GAP_MS)
    docs.sort(key=lambda d: d["occurred_at"])
    engine = Engine({}, SlaKpiConfig(SlaConfig.load(SLA_EXAMPLE)))
    for doc in docs:
        event = parse_event(doc)
        engine.handle(hash(event.kafka_key) % 2, event, event.occurred_ms)
    out = [orjson.loads(value) for _, value in engine.drain(T0 + CONTACTS * GAP_MS)]
    return [r for r in out if "totals" in r]


def counter_names(record: Mapping) -> Iterator[str]:
    yield from record["totals"]
    for part in ("minutes", "quarters", "days"):
        for counters in (record.get(part) or {}).values():
            yield from counters


def test_the_engine_writes_only_catalogued_counters_and_gauges(records):
    written = {name for r in records for name in counter_names(r)}
    live = {name for r in records for name in r["live"]}
    assert len(written) > 60  # the traffic exercises the families: bins, bounds, channels, SLA outcomes
    assert sorted(n for n in written if not is_counter(n)) == []
    assert sorted(n for n in live if not is_live(n)) == []


def test_only_day_counters_reach_day_buckets(records):
    in_days = {name for r in records for counters in (r.get("days") or {}).values() for name in counters}
    assert in_days
    assert {name.partition("@")[0] for name in in_days} <= DAY_COUNTERS


def test_the_families_are_exact():
    assert is_counter("frh:42") and is_counter("resh:-3") and is_counter("nrle:600") and is_counter("asale:0.5")
    assert is_counter("replies@email") and is_counter("sla_next_reply_breached") and is_counter("state_away_ms")
    for wrong in ("frh:", "asah:4", "created@email", "fr_le:600", "sla_first_reply_met", "cerated", "open"):
        assert not is_counter(wrong), wrong
    assert is_live("open") and is_live("next_breach_ms") and not is_live("created")
    assert not set(COUNTERS) & set(GAUGES) and not set(GAUGES) & set(INSTANTS)
    assert PER_CHANNEL <= set(COUNTERS)


class Recording(dict):
    """A counter map that notes every name asked for, present or not."""

    def __init__(self, counters: Mapping[str, int]) -> None:
        super().__init__(counters)
        self.asked: set[str] = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.asked.add(key)
        return super().__contains__(key)


def test_the_api_reads_only_catalogued_counters(records):
    asked: set[str] = set()
    for record in records[:200]:
        for counters in (record["totals"], *(record.get("days") or {}).values()):
            c = Recording(counters)
            kpis.window_kpis(c)
            periods.quality(c)
            periods.workload(c)
            kpis.agent_time(c, None, None, T0)
            for metric in outliers.METRICS:
                outliers.value(metric, c)
            asked |= c.asked
    assert {"created", "fr_ms", "sl_met", "state_busy_ms", "complaints"} <= asked  # the recording works
    assert sorted(n for n in asked if not is_counter(n)) == []
