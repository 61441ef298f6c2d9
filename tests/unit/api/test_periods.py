"""Complaints and day buckets from the definitions in docs/kpis.md ("Complaints", "Per day and per week")."""

import random

import pytest

from services.aggregator.contacts import add_event, facts
from services.aggregator.engine import Engine, retired_key
from services.aggregator.kpiconfig import DefaultConfig, SlaKpiConfig
from services.aggregator.kpis import contribution
from services.domain.slaconfig import SlaConfig
from services.domain.windows import DAY_MS
from services.api.readmodel import ReadModel
from services.common.events import parse_event
from services.demo.synthetic import history
from tests.support import recompute
from tests.support.events import T0, ev

CONFIG = {
    "categories": [{"name": "billing", "match": [{"tag": ["billing", "refund"]}]},
                   {"name": "complaint", "match": [{"tag": "complaint"}]}],
    "complaints": {"categories": ["complaint"]},
    "days": {"default": {"timezone": "Europe/Brussels", "reset": "06:00"},
             "queues": {"billing": {"timezone": "America/New_York"}}},
    "service_levels": {"default": {"threshold_seconds": 20, "short_abandon_seconds": 5}},
}


def totals(*events, config=None, scope="queue/zendesk/q1"):
    record = None
    for event in events:
        record = add_event(record, event, 0) or record
    return contribution(facts(record), config or DefaultConfig()).all_totals().get(scope, {})


def created(t=0, **kw):
    return ev("contact.created", t, queue_id="q1", channel="email", status="new", **kw)


# -- complaints ----------------------------------------------------------------------------------------------------


def test_a_bad_latest_rating_is_a_complaint_for_the_agent_rated():
    events = (created(), ev("contact.assigned", 10, agent_id="a1"),
              ev("contact.rated", 50, rating={"label": "bad", "score": 1, "scale_max": 5}))
    assert totals(*events)["complaints"] == 1
    assert totals(*events, scope="agent/zendesk/a1")["complaints"] == 1
    # the latest rating counts: a bad rating revised to good is no complaint
    assert "complaints" not in totals(*events, ev("contact.rated", 90, rating={"label": "good"}))


def test_bad_rating_threshold_uses_the_score_when_configured():
    config = SlaKpiConfig(SlaConfig.load({"complaints": {"bad_rating_at_most": 0.4}}))
    two_of_five = ev("contact.rated", 50, rating={"label": "neutral", "score": 2, "scale_max": 5})
    three_of_five = ev("contact.rated", 50, rating={"label": "bad", "score": 3, "scale_max": 5})
    no_score = ev("contact.rated", 50, rating={"label": "bad"})
    assert totals(created(), two_of_five, config=config)["complaints"] == 1
    assert "complaints" not in totals(created(), three_of_five, config=config)
    assert totals(created(), no_score, config=config)["complaints"] == 1  # no score: the label decides


def test_a_complaint_category_counts_once_at_creation_for_the_resolver():
    config = SlaKpiConfig(SlaConfig.load(CONFIG))
    events = (created(attributes={"tags": ["complaint"]}), ev("contact.assigned", 10, agent_id="a1"),
              ev("contact.status_changed", 60, status="solved"),
              ev("contact.rated", 90, rating={"label": "bad"}))
    record = None
    for event in events:
        record = add_event(record, event, 0)
    contrib = contribution(facts(record), config)
    complaints = [(t, scopes) for t, scopes, items, _ in contrib.facts if dict(items).get("complaints")]
    assert complaints == [(T0, ("all", "platform/zendesk", "queue/zendesk/q1", "category/complaint",
                                "queue_category/zendesk/q1/complaint", "agent/zendesk/a1",
                                "queue_agent/zendesk/q1/a1", "queue_agent_category/zendesk/q1/a1/complaint"))]


def test_no_complaint_without_a_bad_rating_or_a_complaint_category():
    assert "complaints" not in totals(created(), ev("contact.rated", 50, rating={"label": "neutral"}))
    assert "complaints" not in totals(created(attributes={"tags": ["billing"]}),
                                      config=SlaKpiConfig(SlaConfig.load(CONFIG)))


# -- day buckets against the batch recomputation ---------------------------------------------------------------------


def spread(seed, contacts=90, gap_ms=2 * 3_600_000):
    """Several days of synthetic traffic (tagged, rated, some re-tagged as complaints) in queues of 3 zones."""
    return history(random.Random(seed), T0, contacts, mean_gap_ms=gap_ms)


def run(docs, config, partitions=3, wall=None):
    engine = Engine({}, config=SlaKpiConfig(SlaConfig.load(config)))
    for d in docs:
        event = parse_event(d)
        engine.handle(hash(event.kafka_key) % partitions, event, wall or event.occurred_ms)
    return engine


def model_of(engine, wall_ms):
    for part in engine.partitions.values():
        part.aggregates.expire(part.clock.now(wall_ms))
    engine._dirty |= {(s, p) for p, part in engine.partitions.items() for s in part.aggregates.scopes}
    model = ReadModel()
    for key, value in engine.drain(wall_ms):
        model.apply(key, value)
    return model


def assert_days_match(model, docs, config, now):
    expected = recompute.days(docs, config, since_ms=now - 16 * DAY_MS)
    got = {v.scope: v.days for v in model.views() if v.days}
    assert set(got) == set(expected)
    for scope, by_day in expected.items():
        assert got[scope] == by_day, scope


def test_day_buckets_are_local_days_of_each_scope_and_match_the_recomputation():
    docs = spread(7)
    now = max(recompute.ms(d) for d in docs)
    assert now - T0 > 5 * DAY_MS  # several days, and contacts retired on the way (closed 3 days ago)
    engine = run(docs, CONFIG)
    assert engine.table.get(retired_key(0)) is not None
    model = model_of(engine, now)
    assert_days_match(model, docs, CONFIG, now)
    # queue billing lives in New York days, the rest in Brussels days from 06:00
    billing, everything = model.view("queue/zendesk/billing").days, model.view("all").days
    assert billing and all(recompute.local_day_start(d, "America/New_York") == d for d in billing)
    assert all(recompute.local_day_start(d, "Europe/Brussels", "06:00") == d for d in everything)
    assert max(everything) == recompute.local_day_start(now, "Europe/Brussels", "06:00")
    assert len(everything) >= 5


def test_day_buckets_survive_retirement_and_a_rebuild():
    docs = spread(11, contacts=60)
    now = max(recompute.ms(d) for d in docs)
    engine = run(docs, CONFIG, partitions=1)
    engine.retire(0, now + 1)  # retire every closed contact
    assert_days_match(model_of(engine, now), docs, CONFIG, now)
    restored = Engine(dict(engine.table), config=SlaKpiConfig(SlaConfig.load(CONFIG)))
    restored.rebuild({0}, now)
    assert_days_match(model_of(restored, now), docs, CONFIG, now)


def test_days_older_than_the_32_kept_expire_but_totals_stay():
    docs = spread(3, contacts=30, gap_ms=600_000)
    now = max(recompute.ms(d) for d in docs)
    engine = run(docs, CONFIG, partitions=1)
    assert model_of(engine, now + 31 * DAY_MS).view("all").days != {}  # a month later, still kept
    later = now + 33 * DAY_MS
    model = model_of(engine, later)
    view = model.view("all")
    assert view.days == {} and view.totals["created"] == 30
    # a sweep at that time retires every closed contact, and the retired record keeps no expired day
    engine.handle(0, parse_event({**docs[0], "event_id": "later", "contact_id": "later", "type": "contact.created",
                                  "occurred_at": recompute_iso(later)}), later)
    retired = engine.table[retired_key(0)]
    assert retired["totals"]["all"]["created"] >= 20
    assert all(int(d) >= later - 34 * DAY_MS for days in retired.get("days", {}).values() for d in days)


def recompute_iso(t_ms):
    from services.common.events import from_epoch_ms
    return from_epoch_ms(t_ms)


@pytest.mark.parametrize("seed", [1, 2])
def test_days_do_not_depend_on_arrival_order(seed):
    docs = spread(seed, contacts=40, gap_ms=3_600_000)
    now = max(recompute.ms(d) for d in docs)
    shuffled = list(docs)
    random.Random(seed).shuffle(shuffled)
    assert_days_match(model_of(run(shuffled, CONFIG, wall=now), now), docs, CONFIG, now)


# -- workload per channel ------------------------------------------------------------------------------------------


def test_a_call_answered_and_handled_counts_for_the_agent_on_voice_and_in_the_queue_x_agent_days():
    events = (ev("contact.created", 0, queue_id="q1", channel="voice", status="new"),
              ev("contact.connected", 12, agent_id="a1"), ev("contact.status_changed", 300, status="closed"))
    record = None
    for event in events:
        record = add_event(record, event, 0)
    contrib = contribution(facts(record), DefaultConfig())
    agent = contrib.all_totals()["agent/zendesk/a1"]
    assert (agent["answered@voice"], agent["handled@voice"], agent["resolved@voice"]) == (1, 1, 1)
    assert "queue_agent/zendesk/q1/a1" not in contrib.all_totals()  # light: day buckets only
    days = contrib.day_buckets()
    today = recompute.local_day_start(T0)
    first = {"fr_count": 1, "fr_ms": 12_000}  # connecting is the first response on a live channel
    assert days[("queue_agent/zendesk/q1/a1", "d", today)] == {**first, "answered": 1, "handled": 1, "resolved": 1}
    assert days[("agent/zendesk/a1", "d", today)] == {**first, "answered": 1, "answered@voice": 1, "handled": 1,
                                                      "handled@voice": 1, "resolved": 1, "resolved@voice": 1}


def test_light_scope_ids_survive_slashes_in_ids():
    from services.domain.scopes import light_scope, parse_light_scope
    scope = light_scope("queue_agent", "zendesk", "tier 1/eu", "a/b%c")
    assert scope == "queue_agent/zendesk/tier%201%2Feu/a%2Fb%25c"
    assert parse_light_scope(scope) == ("queue_agent", "zendesk", "tier 1/eu", "a/b%c")
