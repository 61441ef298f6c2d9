"""Categories, complaints, workload and outliers in the read API and its metrics (docs/kpis.md)."""

import time

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from services.api.app import create_app
from services.api.metrics import Health, SnapshotCollector, render, render_with_client
from services.api.readmodel import ReadModel
from services.common.settings import Settings
from tests.support.partials import encoded

NOW = 1_795_000_100_000


def _wall() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def model():
    model = ReadModel()
    model.apply(*encoded("category/billing", 0, totals={"created": 4, "resolved": 3, "csat_good": 2, "csat_bad": 1,
                                                         "nps_promoter": 1, "fr_count": 2, "fr_ms": 60_000,
                                                         "frle:60": 1},
                         live={"open": 1}, stream_ms=NOW, published_ms=_wall()))
    model.apply(*encoded("category/billing", 1, totals={"created": 1}, stream_ms=NOW, published_ms=_wall()))
    model.apply(*encoded("category/other", 0, totals={"created": 7}, stream_ms=NOW, published_ms=_wall()))
    model.apply(*encoded("queue/zendesk/q1", 0, totals={"created": 12}, stream_ms=NOW, published_ms=_wall()))
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
    registry.register(SnapshotCollector(model.views(), Health(True, 0.0, NOW, time.time())))
    get = registry.get_sample_value
    assert get("deskpulse_category_contacts_created_total", {"category": "billing"}) == 5
    assert get("deskpulse_category_contacts_created_total", {"category": "other"}) == 7
    assert get("deskpulse_category_nps_responses_total", {"category": "billing", "nps": "promoter"}) == 1
    assert get("deskpulse_category_first_response_seconds_bucket", {"category": "billing", "le": "60.0"}) == 1
    assert get("deskpulse_category_contacts_open", {"category": "billing"}) == 1
    # the queue families keep their own labels and values
    assert get("deskpulse_contacts_created_total", {"platform": "zendesk", "queue": "q1"}) == 12
    health = Health(True, 0.0, NOW, time.time())
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
    model = ReadModel()
    days = _days({"resolved": 10, "complaints": 3, "csat_good": 4, "csat_bad": 1, "replies": 12},  # today
                 {"resolved": 20, "complaints": 2, "reopened": 2},                                   # yesterday
                 *[{"resolved": 10, "complaints": 1}] * 5,                                          # rest of the week
                 *[{"resolved": 10, "complaints": 0}] * 7)                                          # week before
    model.apply(*encoded("queue/zendesk/q1", 0, totals={"resolved": 200, "complaints": 9},
                         minutes={NOW - NOW % 60_000: {"resolved": 2, "complaints": 1}},
                         stream_ms=NOW, published_ms=_wall(), days=days))
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


def test_without_day_buckets_trends_are_empty_not_errors(client):
    body = client.get("/v1/categories/other").json()
    assert body["trend"]["week"]["complaint_rate"] is None and body["trend"]["week"]["resolved"] == 0
