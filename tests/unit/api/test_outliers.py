"""Outlier judgements from their definitions (docs/kpis.md "Outliers"), small volumes included."""

import random

import pytest
from fastapi.testclient import TestClient

from services.aggregator.engine import Engine
from services.aggregator.kpiconfig import SlaKpiConfig
from services.domain.scopes import light_scope
from services.domain.slaconfig import SlaConfig
from services.api.app import create_app
from services.api.judgements import judge_queue
from services.api.outliers import METRICS, Rule, judge, judge_metric, modified_z
from services.api.readmodel import ReadModel
from services.common.clock import FixedClock
from services.common.events import from_epoch_ms, parse_event
from services.common.settings import Settings
from tests.support.partials import encoded

COMPLAINTS, REOPENS, RESPONSE = METRICS
NONE = ({}, {})


def agents_with(rates, volume=20, before=None):
    """Agents a0, a1, ... with ``rate * volume`` complaints out of ``volume`` resolved (previous: ``before``)."""
    out = {}
    for i, rate in enumerate(rates):
        prev = before[i] if before else None
        now = {"resolved": volume, "complaints": round(rate * volume)}
        out[f"a{i}"] = (now, {"resolved": volume, "complaints": round(prev * volume)} if prev is not None else {})
    return out


def queue_of(agents):
    now, before = {}, {}
    for a_now, a_before in agents.values():
        for target, source in ((now, a_now), (before, a_before)):
            for k, v in source.items():
                target[k] = target.get(k, 0) + v
    return now, before


def test_modified_z_score_worked_example():
    # rates 0.05 0.05 0.10 0.10 0.15 0.60: median 0.10, |deviations| 0.05 0.05 0 0 0.05 0.5 -> MAD 0.05
    median, mad, scale = modified_z([0.05, 0.05, 0.10, 0.10, 0.15, 0.60])
    assert (median, mad) == pytest.approx((0.10, 0.05))
    assert (0.60 - median) / scale == pytest.approx(0.6745 * 0.5 / 0.05)  # M = 6.745 > 3.5


def test_one_agent_far_above_the_queue_is_agent_level():
    agents = agents_with([0.05, 0.05, 0.10, 0.10, 0.15, 0.60])
    result = judge_metric(COMPLAINTS, queue_of(agents), agents, {}, Rule())
    assert result["outliers"] == ["a5"] and result["verdict"] == "agent-level"
    top = result["agents"][0]
    assert top["agent"] == "a5" and top["score"] == pytest.approx(6.745, abs=1e-3) and top["outlier"]
    assert top["value"] == 0.6 and top["volume"] == 20 and top["events"] == 12
    assert result["distribution"] == {"agents_judged": 6, "median": 0.1, "mad": 0.05,
                                      "scale": pytest.approx(0.05 / 0.6745, abs=1e-6)}


def test_an_agent_below_the_minimum_volume_is_never_judged():
    agents = agents_with([0.05, 0.05, 0.10, 0.10, 0.15, 0.10])
    agents["new"] = ({"resolved": 4, "complaints": 4}, {})  # 100 % complaints, but 4 contacts
    result = judge_metric(COMPLAINTS, queue_of(agents), agents, {}, Rule())
    assert result["outliers"] == [] and result["not_judged"] == ["new"] and result["verdict"] == "none"
    assert "new" not in [j["agent"] for j in result["agents"]]


def test_too_few_agents_give_no_distribution():
    agents = agents_with([0.0, 0.05, 0.9, 0.1])  # 4 agents < min_agents 5
    result = judge_metric(COMPLAINTS, queue_of(agents), agents, {}, Rule())
    assert result["outliers"] == [] and result["agents"] == [] and result["distribution"]["median"] is None


def test_when_most_agents_have_no_complaint_the_mean_deviation_decides_and_few_events_are_not_enough():
    # MAD = 0 (most rates are 0): M uses 1.253314 x the mean absolute deviation
    agents = agents_with([0, 0, 0, 0, 0, 0, 0.1], volume=20)  # 2 complaints out of 20: below min_events 3
    result = judge_metric(COMPLAINTS, queue_of(agents), agents, {}, Rule())
    assert result["distribution"]["mad"] == 0 and result["agents"][0]["score"] > 3.5
    assert result["outliers"] == []
    agents = agents_with([0, 0, 0, 0, 0, 0, 0.15], volume=20)  # 3 complaints: an outlier
    assert judge_metric(COMPLAINTS, queue_of(agents), agents, {}, Rule())["outliers"] == ["a6"]


def test_identical_agents_and_better_agents_are_not_outliers():
    same = agents_with([0.1] * 6)
    assert judge_metric(COMPLAINTS, queue_of(same), same, {}, Rule())["outliers"] == []
    better = agents_with([0.2, 0.2, 0.25, 0.2, 0.15, 0.0])  # one agent with no complaint at all
    result = judge_metric(COMPLAINTS, queue_of(better), better, {}, Rule())
    assert result["outliers"] == [] and result["agents"][-1]["score"] < -3.5


def test_a_slow_agent_is_a_response_time_outlier():
    fast = {f"a{i}": ({"fr_count": 30, "fr_ms": 30 * (280_000 + 10_000 * i)}, {}) for i in range(6)}
    fast["slow"] = ({"fr_count": 30, "fr_ms": 30 * 3_600_000}, {})
    result = judge_metric(RESPONSE, queue_of(fast), fast, {}, Rule())
    assert result["outliers"] == ["slow"] and result["agents"][0]["value"] == 3600.0


def test_the_whole_queue_worse_with_most_agents_is_process_level():
    agents = agents_with([0.15, 0.2, 0.15, 0.2, 0.15, 0.2], before=[0.05, 0.05, 0.1, 0.05, 0.05, 0.1])
    result = judge_metric(COMPLAINTS, queue_of(agents), agents, {}, Rule())
    assert result["queue"]["worse"] and result["queue_shift"]["shifted"]
    assert result["queue_shift"]["agents_worse"] == [f"a{i}" for i in range(6)]
    assert result["verdict"] == "process-level" and result["outliers"] == []


def test_a_queue_made_worse_by_one_agent_is_agent_level_not_process_level():
    agents = agents_with([0.05, 0.05, 0.05, 0.05, 0.05, 0.95], before=[0.05] * 6)
    result = judge_metric(COMPLAINTS, queue_of(agents), agents, {}, Rule())
    assert result["queue"]["worse"] and not result["queue_shift"]["shifted"]  # 1 of 6 agents worse
    assert result["verdict"] == "agent-level" and result["outliers"] == ["a5"]


def test_a_category_that_worsened_is_process_level_unless_its_volume_is_small():
    agents = agents_with([0.1] * 6, before=[0.1] * 6)
    billing = ({"resolved": 30, "complaints": 9}, {"resolved": 30, "complaints": 1})
    tiny = ({"resolved": 5, "complaints": 5}, {"resolved": 5, "complaints": 0})
    result = judge_metric(COMPLAINTS, queue_of(agents), agents, {"billing": billing, "tiny": tiny}, Rule())
    assert [c["category"] for c in result["categories_worse"]] == ["billing"]
    assert result["categories_worse"][0]["change"] == pytest.approx(0.3 - 1 / 30, abs=1e-6)
    assert result["verdict"] == "process-level"
    quiet = judge_metric(COMPLAINTS, queue_of(agents), agents, {"tiny": tiny}, Rule())
    assert quiet["verdict"] == "none"


def test_queue_verdict_is_the_worst_over_metrics():
    agents = agents_with([0.05, 0.05, 0.10, 0.10, 0.15, 0.60])
    assert judge(queue_of(agents), agents, {})["verdict"] == "agent-level"
    assert judge(NONE, {}, {})["verdict"] == "none"
    assert "Iglewicz" in judge(NONE, {}, {})["rule"]["method"]


# -- from events through the engine to the API ------------------------------------------------------------------

T0 = 1_795_000_000_000
CONFIG = {"categories": [{"name": "billing", "match": [{"tag": "billing"}]}],
          "days": {"default": {"timezone": "Europe/Brussels"}}}


def week_of_traffic(bad_agent="a3", agents=6, per_day=6, days=7, seed=1):
    """Every agent resolves ``per_day`` e-mail tickets a day and gets rated; ``bad_agent`` gets bad ratings."""
    rng = random.Random(seed)
    docs, n = [], 0
    for day in range(days):
        for a in range(agents):
            agent = f"a{a}"
            for _ in range(per_day):
                n += 1
                t = T0 + day * 86_400_000 + rng.randrange(8 * 3_600_000, 18 * 3_600_000)
                base = {"schema": "deskpulse.event.v1", "platform": "zendesk", "contact_id": f"c{n}"}
                bad = agent == bad_agent and rng.random() < 0.6 or rng.random() < 0.03
                docs += [
                    {**base, "event_id": f"{n}-c", "type": "contact.created", "occurred_at": from_epoch_ms(t),
                     "queue_id": "billing", "channel": "email", "status": "new", "attributes": {"tags": ["billing"]}},
                    {**base, "event_id": f"{n}-a", "type": "contact.assigned", "occurred_at": from_epoch_ms(t + 1_000),
                     "agent_id": agent},
                    {**base, "event_id": f"{n}-m", "type": "contact.message", "occurred_at": from_epoch_ms(t + 60_000),
                     "author": "agent", "public": True, "agent_id": agent},
                    {**base, "event_id": f"{n}-s", "type": "contact.status_changed",
                     "occurred_at": from_epoch_ms(t + 120_000), "status": "solved"},
                    {**base, "event_id": f"{n}-r", "type": "contact.rated", "occurred_at": from_epoch_ms(t + 180_000),
                     "rating": {"label": "bad" if bad else "good"}},
                ]
    return sorted(docs, key=lambda d: d["occurred_at"])


def model_from(docs, config=CONFIG):
    """The read model of ``docs`` published at the last event's time, its wall clock standing there."""
    engine = Engine({}, config=SlaKpiConfig(SlaConfig.load(config)))
    last = max(parse_event(d).occurred_ms for d in docs)
    for d in docs:
        e = parse_event(d)
        engine.handle(0, e, e.occurred_ms)
    model = ReadModel(clock=FixedClock(last))
    for key, value in engine.drain(last):
        model.apply(key, value)
    model.caught_up = True
    return model


def test_one_agent_with_bad_ratings_is_found_from_the_events():
    model = model_from(week_of_traffic())
    judgement = judge_queue(model, SlaConfig.load(CONFIG), "queue/zendesk/billing", "week")
    complaints = judgement["metrics"]["complaint_rate"]
    assert judgement["verdict"] == "agent-level" and complaints["outliers"] == ["a3"]
    assert complaints["agents"][0]["scope"] == "agent/zendesk/a3"
    assert judgement["timezone"] == "Europe/Brussels"
    # today alone: 6 resolved per agent is below the minimum volume, so nobody is judged
    today = judge_queue(model, SlaConfig.load(CONFIG), "queue/zendesk/billing", "today")
    assert today["verdict"] == "none" and today["metrics"]["complaint_rate"]["agents"] == []
    assert today["metrics"]["complaint_rate"]["not_judged"] == [f"a{i}" for i in range(6)]


def test_outlier_routes(monkeypatch):
    model = model_from(week_of_traffic())
    model.apply(*encoded("queue/intercom/quiet", totals={"created": 1}, published_ms=model.clock()))
    with TestClient(create_app(Settings(), read_model=model, consume=False, sla=SlaConfig.load(CONFIG))) as client:
        body = client.get("/v1/queues/zendesk/billing/outliers").json()
        assert body["scope"] == "queue/zendesk/billing" and body["verdict"] == "agent-level"
        assert body["period"] == "week" and body["previous"]["to"] == body["from"]
        assert client.get("/v1/queues/billing/outliers?period=today").json()["verdict"] == "none"
        strict = client.get("/v1/queues/zendesk/billing/outliers?threshold=50").json()
        assert strict["metrics"]["complaint_rate"]["outliers"] == []
        assert client.get("/v1/queues/zendesk/nope/outliers").status_code == 404
        assert client.get("/v1/queues/zendesk/billing/outliers?min_volume=0").status_code == 422
        listing = client.get("/v1/outliers").json()
        assert [i["scope"] for i in listing["items"]] == ["queue/zendesk/billing", "queue/intercom/quiet"]
        assert listing["items"][0]["metrics"]["complaint_rate"]["outliers"][0]["agent"] == "a3"
        # the plain queue route still answers
        assert client.get("/v1/queues/zendesk/billing").json()["scope"] == "queue/zendesk/billing"


def test_light_scopes_are_not_streamed_nor_listed():
    model = ReadModel()
    model.apply(*encoded(light_scope("queue_agent", "zendesk", "billing", "a1"), days={T0: {"resolved": 1}}))
    assert model.take_changes() == set() and model.scopes("queue") == []
    assert model.under("queue_agent/zendesk/billing/") == ["queue_agent/zendesk/billing/a1"]


def test_outlier_gauges_only_for_findings():
    from prometheus_client.registry import CollectorRegistry

    from services.api.metrics import Health, SnapshotCollector, render, render_with_client
    from services.api.staffing import StaffingConfig

    model = model_from(week_of_traffic())
    staffing = StaffingConfig(sla=SlaConfig.load(CONFIG))
    health = Health(True, 0.0, None, model.clock() / 1000)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(model.views(), health, staffing))
    get = registry.get_sample_value
    queue = {"platform": "zendesk", "queue": "billing"}
    assert get("deskpulse_outlier_agent", {**queue, "agent": "a3", "metric": "complaint_rate", "period": "week"}) > 3.5
    assert get("deskpulse_outlier_agent", {**queue, "agent": "a1", "metric": "complaint_rate", "period": "week"}) is None
    assert get("deskpulse_outlier_verdict", {**queue, "period": "week", "verdict": "agent-level"}) == 1
    assert get("deskpulse_outlier_verdict", {**queue, "period": "today", "verdict": "none"}) == 1
    assert get("deskpulse_outlier_verdict", {**queue, "period": "week", "verdict": "none"}) is None
    from prometheus_client.parser import text_string_to_metric_families

    def samples(text):
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for f in text_string_to_metric_families(text.decode()) for s in f.samples}

    assert samples(render(model.views(), health, staffing)) == samples(render_with_client(model.views(), health, staffing))
