"""Categories, complaints, workload and outliers in the read API and its metrics (docs/kpis.md)."""

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from services.api.app import create_app
from services.api.metrics import Health, SnapshotCollector, render, render_with_client
from services.api.readmodel import ReadModel
from services.common.clock import FixedClock
from services.common.settings import Settings
from tests.support.partials import encoded

NOW = 1_795_000_100_000


@pytest.fixture
def model():
    model = ReadModel(clock=FixedClock(NOW))
    model.apply(*encoded("category/billing", 0, totals={"created": 4, "resolved": 3, "csat_good": 2, "csat_bad": 1,
                                                         "nps_promoter": 1, "fr_count": 2, "fr_ms": 60_000,
                                                         "frle:60": 1},
                         live={"open": 1}, stream_ms=NOW, published_ms=NOW))
    model.apply(*encoded("category/billing", 1, totals={"created": 1}, stream_ms=NOW, published_ms=NOW))
    model.apply(*encoded("category/other", 0, totals={"created": 7}, stream_ms=NOW, published_ms=NOW))
    model.apply(*encoded("queue/zendesk/q1", 0, totals={"created": 12}, stream_ms=NOW, published_ms=NOW))
    model.caught_up = True
    return model


@pytest.fixture
def client(model):
    with TestClient(create_app(Settings(), read_model=model, consume=False)) as c:
        yield c


def test_categories_list_and_one_category(client):
    body = client.get("/v1/categories").json()
    assert [i["scope"] for i in body["items"]] == ["category/billing", "category/other"] and body["total"] == 2
    one = client.get("/v1/categories/billing?window=all").json()
    assert one["kind"] == "category" and one["id"] == "billing" and one["platform"] is None
    assert one["contacts"]["created"] == 5 and one["csat"]["score"] == pytest.approx(2 / 3, abs=1e-6)
    assert client.get("/v1/categories/nope").status_code == 404


def test_category_metrics_carry_the_category_label(model):
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(model.views(), Health(True, 0.0, NOW, NOW / 1000)))
    get = registry.get_sample_value
    assert get("deskpulse_category_contacts_created_total", {"category": "billing"}) == 5
    assert get("deskpulse_category_contacts_created_total", {"category": "other"}) == 7
    assert get("deskpulse_category_nps_responses_total", {"category": "billing", "nps": "promoter"}) == 1
    assert get("deskpulse_category_first_response_seconds_bucket", {"category": "billing", "le": "60.0"}) == 1
    assert get("deskpulse_category_contacts_open", {"category": "billing"}) == 1
    # the queue families keep their own labels and values
    assert get("deskpulse_contacts_created_total", {"platform": "zendesk", "queue": "q1"}) == 12
    health = Health(True, 0.0, NOW, NOW / 1000)
    direct = render(model.views(), health).decode()
    assert direct.count("deskpulse_category_contacts_created_total{") == 2
    assert samples(direct) == samples(render_with_client(model.views(), health).decode())


def samples(text: str) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


# -- complaints, per day and per week -----------------------------------------------------------------------------

DAY = 86_400_000
TODAY = NOW - NOW % DAY  # UTC days: no SLA config


def _days(*per_day):
    """Day buckets from today backwards: per_day[0] is today."""
    return {str(TODAY - i * DAY): counters for i, counters in enumerate(per_day) if counters}


@pytest.fixture
def trend_client():
    model = ReadModel(clock=FixedClock(NOW))
    days = _days({"resolved": 10, "complaints": 3, "csat_good": 4, "csat_bad": 1, "replies": 12},  # today
                 {"resolved": 20, "complaints": 2, "reopened": 2},                                   # yesterday
                 *[{"resolved": 10, "complaints": 1}] * 5,                                          # rest of the week
                 *[{"resolved": 10, "complaints": 0}] * 7)                                          # week before
    model.apply(*encoded("queue/zendesk/q1", 0, totals={"resolved": 200, "complaints": 9},
                         minutes={NOW - NOW % 60_000: {"resolved": 2, "complaints": 1}},
                         stream_ms=NOW, published_ms=NOW, days=days))
    model.caught_up = True
    with TestClient(create_app(Settings(), read_model=model, consume=False)) as c:
        yield c


def test_complaint_rate_per_window_is_complaints_per_resolved_contact(trend_client):
    assert trend_client.get("/v1/queues/zendesk/q1").json()["complaints"] == {"count": 9, "rate": 0.045}
    assert trend_client.get("/v1/queues/zendesk/q1?window=5m").json()["complaints"] == {"count": 1, "rate": 0.5}


def test_trend_compares_today_with_yesterday_and_the_week_with_the_week_before(trend_client):
    trend = trend_client.get("/v1/queues/zendesk/q1").json()["trend"]
    assert trend["timezone"] == "UTC"
    day = trend["day"]
    assert (day["complaints"], day["resolved"], day["complaint_rate"]) == (3, 10, 0.3)
    assert (day["previous"]["complaints"], day["previous"]["resolved"], day["previous"]["complaint_rate"]) == (2, 20, 0.1)
    assert day["complaint_rate_change"] == pytest.approx(0.2)
    assert day["csat"] == 0.8 and day["previous"]["csat"] is None and day["csat_change"] is None
    week = trend["week"]
    assert (week["complaints"], week["resolved"]) == (3 + 2 + 5, 10 + 20 + 50)
    assert (week["previous"]["complaints"], week["previous"]["resolved"]) == (0, 70)
    assert week["complaint_rate_change"] == pytest.approx(10 / 80)
    assert week["from"].startswith("2026-") and week["previous"]["to"] == week["from"]


def test_days_route_lists_local_days_oldest_first(trend_client):
    body = trend_client.get("/v1/days/queue/zendesk/q1").json()
    assert body["timezone"] == "UTC" and len(body["days"]) == 16
    today, yesterday = body["days"][-1], body["days"][-2]
    assert today["complaints"] == 3 and today["complaint_rate"] == 0.3 and today["workload"]["replies"] == 12
    assert yesterday["reopen_rate"] == 0.1 and yesterday["to"] == today["from"]
    assert body["days"][0]["resolved"] == 0 and body["days"][2]["resolved"] == 10  # 15 and 13 days ago
    assert trend_client.get("/v1/days/queue/zendesk/nope").status_code == 404


def test_days_route_lists_as_many_days_as_asked_up_to_the_32_kept(trend_client):
    month = trend_client.get("/v1/days/queue/zendesk/q1", params={"days": 32}).json()["days"]
    assert len(month) == 32 and month[-16:] == trend_client.get("/v1/days/queue/zendesk/q1").json()["days"]
    assert [d["date"] for d in month] == sorted(d["date"] for d in month)
    for bad in (0, 33, "x"):
        response = trend_client.get("/v1/days/queue/zendesk/q1", params={"days": bad})
        assert response.status_code == 422 and "days" in str(response.json()["detail"])


def test_without_day_buckets_trends_are_empty_not_errors(client):
    body = client.get("/v1/categories/other").json()
    assert body["trend"]["week"]["complaint_rate"] is None and body["trend"]["week"]["resolved"] == 0


# -- workload per agent and channel -------------------------------------------------------------------------------


@pytest.fixture
def agent_model():
    model = ReadModel(clock=FixedClock(NOW))
    totals = {"replies": 9, "replies@email": 7, "replies@chat": 2, "answered": 4, "answered@voice": 4,
              "handled": 4, "handled@voice": 4, "resolved": 10, "resolved@email": 6, "resolved@voice": 4,
              "reopened": 1, "one_touch": 5, "csat_good": 3, "csat_bad": 1, "complaints": 1}
    model.apply(*encoded("agent/zendesk/42", 0, totals=totals, published_ms=NOW,
                         agent={"state": "busy", "since_ms": NOW - 1_000, "raw_state": None},
                         days={TODAY: {"replies": 3, "replies@email": 3, "resolved": 2, "resolved@email": 2}}))
    model.caught_up = True
    return model


def test_agent_body_has_workload_per_channel_beside_quality(agent_model):
    with TestClient(create_app(Settings(), read_model=agent_model, consume=False)) as client:
        body = client.get("/v1/agents/zendesk/42").json()
        days = client.get("/v1/days/agent/zendesk/42").json()["days"]
    work = body["workload"]
    assert (work["replies"], work["answered"], work["handled"], work["resolved"]) == (9, 4, 4, 10)
    assert work["by_channel"] == {"chat": {"replies": 2, "answered": 0, "handled": 0, "resolved": 0},
                                  "email": {"replies": 7, "answered": 0, "handled": 0, "resolved": 6},
                                  "voice": {"replies": 0, "answered": 4, "handled": 4, "resolved": 4}}
    assert work["quality"] == {"csat": 0.75, "reopen_rate": 0.1, "one_touch_rate": 0.5, "complaint_rate": 0.1}
    assert days[-1]["workload"]["by_channel"] == {"email": {"replies": 3, "answered": 0, "handled": 0, "resolved": 2}}
    assert "workload" not in client.app.state.figures.body("queue/zendesk/q1", "all", "queue")


def test_agent_channel_metrics_have_one_series_per_channel_worked(agent_model):
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(agent_model.views(), Health(True, 0.0, NOW, NOW / 1000)))
    get = registry.get_sample_value
    agent = {"platform": "zendesk", "agent": "42"}
    assert get("deskpulse_agent_channel_contacts_answered_total", {**agent, "channel": "voice"}) == 4
    assert get("deskpulse_agent_channel_replies_total", {**agent, "channel": "email"}) == 7
    assert get("deskpulse_agent_channel_replies_total", {**agent, "channel": "voice"}) is None
    assert get("deskpulse_agent_channel_contacts_resolved_total", {**agent, "channel": "voice"}) == 4
    assert get("deskpulse_agent_complaints_total", agent) == 1
    health = Health(True, 0.0, NOW, NOW / 1000)
    assert samples(render(agent_model.views(), health).decode()) == samples(
        render_with_client(agent_model.views(), health).decode())
