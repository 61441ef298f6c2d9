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
