"""A contact's contribution, case by case, from the definitions in docs/kpis.md."""

import pytest

from services.aggregator.contacts import add_event, facts
from services.aggregator.contributions import split
from services.aggregator.kpiconfig import DefaultConfig, SlaKpiConfig
from services.aggregator.kpis import contribution
from services.domain.service_levels import ServiceLevel
from services.domain.slaconfig import SlaConfig
from tests.support.events import T0, ev


class Config(DefaultConfig):
    def __init__(self, sl: ServiceLevel):
        self._sl = sl

    def service_level(self, platform, queue):
        return self._sl


def totals(*events, config=None, scope="queue/zendesk/q1"):
    record = None
    for event in events:
        record = add_event(record, event, 0) or record
    counters = contribution(facts(record), config or DefaultConfig()).all_totals().get(scope, {})
    return {k: v for k, v in counters.items() if v}


def created(t=0, channel="email", **kw):
    return ev("contact.created", t, queue_id="q1", channel=channel, status="new", **kw)


def reply(t, agent="a1"):
    return ev("contact.message", t, agent_id=agent, author="agent", public=True)


def customer(t):
    return ev("contact.message", t, author="customer", public=True)


def status(t, value):
    return ev("contact.status_changed", t, status=value)


def without_bins(c):
    return {k: v for k, v in c.items() if "h:" not in k and "le:" not in k}


def test_first_response_and_next_reply_from_the_oldest_unanswered_message():
    c = totals(created(), customer(1), reply(60), customer(100), customer(130), reply(400))
    assert (c["fr_count"], c["fr_ms"]) == (1, 60_000)
    assert (c["nr_count"], c["nr_ms"]) == (1, 300_000)  # from 100 s (oldest unanswered) to 400 s
    assert c["replies"] == 2


def test_one_touch_needs_exactly_one_reply_and_no_reopen():
    assert totals(created(), reply(10), status(20, "solved"))["one_touch"] == 1
    assert "one_touch" not in totals(created(), reply(10), reply(15), status(20, "solved"))
    assert "one_touch" not in totals(created(), reply(10), status(20, "solved"), status(30, "open"),
                                     status(40, "solved"))


def test_resolution_first_and_full():
    c = totals(created(), reply(5), status(100, "solved"), status(200, "open"), status(500, "solved"))
    assert (c["resolved"], c["res_ms"], c["reopened"]) == (1, 100_000, 1)
    assert (c["full_res_count"], c["full_res_ms"]) == (1, 500_000)
    reopened_now = totals(created(), status(100, "solved"), status(200, "open"))
    assert "full_res_count" not in reopened_now and reopened_now["resolved"] == 1


LIVE = [created(0, channel="chat"), ev("contact.queued", 2, queue_id="q1")]

SL_CASES = {
    "answered within the threshold": ([ev("contact.connected", 15, agent_id="a")], ServiceLevel(),
                                      {"answered": 1, "asa_ms": 13_000, "sl_met": 1, "sl_offered": 1}),
    "answered late": ([ev("contact.connected", 60, agent_id="a")], ServiceLevel(),
                      {"answered": 1, "asa_ms": 58_000, "sl_offered": 1}),
    "abandon counts against": ([ev("contact.abandoned", 32)], ServiceLevel(),
                               {"abandoned": 1, "abandon_wait_ms": 30_000, "sl_offered": 1}),
    "abandon within threshold counts in (Connect)": ([ev("contact.abandoned", 12)], ServiceLevel(abandons="count_in"),
                                                     {"abandoned": 1, "abandon_wait_ms": 10_000, "sl_met": 1,
                                                      "sl_offered": 1}),
    "abandons excluded": ([ev("contact.abandoned", 32)], ServiceLevel(abandons="excluded"),
                          {"abandoned": 1, "abandon_wait_ms": 30_000}),
    "short abandon is left out entirely": ([ev("contact.abandoned", 5)], ServiceLevel(short_abandon_seconds=5),
                                           {"short_abandoned": 1}),
}


@pytest.mark.parametrize("events, sl, expected", SL_CASES.values(), ids=SL_CASES.keys())
def test_service_level_and_abandonment_variants(events, sl, expected):
    c = totals(*LIVE, *events, config=Config(sl))
    live_only = {k: v for k, v in without_bins(c).items() if k not in ("created", "fr_count", "fr_ms")}
    assert live_only == expected


def test_explicit_queue_entry_wins_over_creation():
    c = totals(created(0, channel="voice"), ev("contact.queued", 40, queue_id="q1"),
               ev("contact.connected", 50, agent_id="a"))
    assert c["asa_ms"] == 10_000  # IVR time before queueing is not speed of answer


def test_handle_time_runs_from_connect_to_close():
    c = totals(*LIVE, ev("contact.connected", 10, agent_id="a"), status(310, "closed"))
    assert (c["handled"], c["handle_ms"]) == (1, 300_000)


@pytest.mark.parametrize("rating, expected", [
    ({"label": "good", "score": 5, "scale_max": 5}, {"rated": 1, "csat_good": 1}),
    ({"label": "bad", "score": None, "scale_max": None}, {"rated": 1, "csat_bad": 1, "complaints": 1}),
    ({"label": "good", "score": 9, "scale_max": 10}, {"rated": 1, "csat_good": 1, "nps_promoter": 1}),
    ({"label": "neutral", "score": 7, "scale_max": 10}, {"rated": 1, "csat_neutral": 1, "nps_passive": 1}),
    ({"label": "bad", "score": 6, "scale_max": 10}, {"rated": 1, "csat_bad": 1, "nps_detractor": 1, "complaints": 1}),
])
def test_csat_and_nps(rating, expected):
    c = totals(created(), ev("contact.rated", 50, rating=rating))
    assert {k: v for k, v in c.items() if k != "created"} == expected


def test_latest_rating_replaces_an_earlier_one():
    c = totals(created(), ev("contact.rated", 50, rating={"label": "bad"}), ev("contact.rated", 90, rating={"label": "good"}))
    assert c["csat_good"] == 1 and "csat_bad" not in c


def test_agent_scopes_get_their_own_work():
    record = None
    for e in (created(), ev("contact.assigned", 1, agent_id="a1"), reply(30, "a2"), status(60, "solved")):
        record = add_event(record, e, 0) or record
    c = contribution(facts(record), DefaultConfig()).all_totals()
    assert without_bins(c["agent/zendesk/a2"]) == {"fr_count": 1, "fr_ms": 30_000, "replies": 1, "replies@email": 1}
    assert c["agent/zendesk/a1"]["resolved"] == 1 and c["agent/zendesk/a1"]["one_touch"] == 1
    assert c["agent/zendesk/a1"]["resolved@email"] == 1
    assert not any("@" in k for k in c["queue/zendesk/q1"])  # per-channel workload: agent scopes only


def test_business_hours_first_response_across_a_weekend():
    config = SlaKpiConfig(SlaConfig.load({
        "calendars": {"office": {"timezone": "Europe/Brussels", "hours": {"mon-fri": ["09:00-17:00"]}}},
        "policies": [{"name": "all", "targets": {"first_response": "1h"}, "business_hours": "office"}],
    }))
    # Friday 2026-11-20 16:30 Brussels (15:30 UTC); the reply comes Monday 09:30 (08:30 UTC)
    friday = 1_795_188_600_000  # 2026-11-20T15:30:00Z, a Friday (16:30 in Brussels)
    monday = friday + (2 * 24 + 17) * 3_600_000  # 2026-11-23T08:30:00Z
    record = None
    for e in (ev("contact.created", (friday - T0) / 1000, queue_id="q1", status="new"),
              reply((monday - T0) / 1000)):
        record = add_event(record, e, 0) or record
    c = contribution(facts(record), config).all_totals()["queue/zendesk/q1"]
    assert c["fr_ms"] == (monday - friday)
    assert c["fr_bh_ms"] == 3_600_000  # 30 min on Friday, 30 min on Monday
    assert c["sla_first_response_met"] == 1  # due Monday 09:30, answered then: met


def test_le_counters_are_cumulative_histogram_buckets_in_totals_only():
    record = None
    for e in (created(), reply(45)):
        record = add_event(record, e, 0) or record
    contrib = contribution(facts(record), DefaultConfig())
    les = {k: v for k, v in contrib.all_totals()["queue/zendesk/q1"].items() if k.startswith("frle:")}
    assert les == {f"frle:{b}": 1 for b in (60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800)}
    for _, _, items, _ in contrib.facts:
        quarter, minute = split(dict(items))
        assert not any("le:" in k for k in quarter) and not any("le:" in k or "h:" in k for k in minute)


def test_sla_targets_become_histogram_bounds():
    config = SlaKpiConfig(SlaConfig.load({"policies": [{"name": "p", "targets": {"first_response": "7m"}}],
                                           "service_levels": {"default": {"threshold_seconds": 45}}}))
    assert {420.0, 45.0} <= set(config.histogram_bounds_s())


def test_one_scopes_totals_are_that_scope_of_all_totals():
    """``totals_of`` (a contact row's figures) against ``all_totals``, over synthetic contacts of every shape."""
    import random

    from services.common.events import parse_event
    from services.demo.synthetic import history

    config = SlaKpiConfig(SlaConfig.load({"policies": [{"name": "all", "targets": {"first_response": "10m"}}]}))
    records: dict = {}
    for d in history(random.Random(6), T0, 120, mean_gap_ms=60_000):
        e = parse_event(d)
        records[e.contact_id] = add_event(records.get(e.contact_id), e, 0) or records.get(e.contact_id)
    checked = 0
    for record in records.values():
        c = contribution(facts(record), config)
        every = c.all_totals()
        scopes = {s for _, fact_scopes, _, _ in c.facts for s in fact_scopes} | {"queue/none/none"}
        for scope in scopes:
            assert c.totals_of(scope) == every.get(scope, {}), scope
            checked += bool(every.get(scope))
    assert checked > 400  # agents' per-channel counters, light scopes (none) and absent scopes among them
