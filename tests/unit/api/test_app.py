import json

import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.api.readmodel import ReadModel
from services.common.settings import Settings


def snapshot(scope, platform, key, created=4, fr=2, fr_ms=90_000, open_=3, waiting=1, oldest=1_795_000_000_000):
    kind = scope.split("/")[0]
    return json.dumps({
        "schema": "deskpulse.snapshot.v1", "scope": scope, "kind": kind, "platform": platform, "id": key,
        "partition": 0, "published_ms": 1_795_000_100_000,
        "windows": {"all": {"created": created, "first_responses": fr, "first_response_ms_sum": fr_ms,
                            "resolved": 1, "reopened": 0}},
        "live": {"open": open_, "waiting": waiting, "oldest_waiting_created_ms": oldest},
    }).encode()


@pytest.fixture
def client():
    model = ReadModel()
    model.apply(b"all#0", snapshot("all", None, None))
    model.apply(b"queue/zendesk/billing#0", snapshot("queue/zendesk/billing", "zendesk", "billing"))
    model.apply(b"queue/zendesk/shared#0", snapshot("queue/zendesk/shared", "zendesk", "shared"))
    model.apply(b"queue/intercom/shared#0", snapshot("queue/intercom/shared", "intercom", "shared"))
    model.apply(b"agent/zendesk/42#0", snapshot("agent/zendesk/42", "zendesk", "42", created=0, waiting=0, oldest=None))
    model.caught_up = True
    with TestClient(create_app(Settings(), read_model=model, consume=False)) as c:
        yield c


def test_summary_has_figures_in_seconds_and_rfc3339(client):
    body = client.get("/v1/summary").json()
    assert body["contacts"]["created"] == 4
    assert body["first_response"] == {"count": 2, "total_seconds": 90.0, "average_seconds": 45.0}
    assert body["live"]["oldest_waiting_created_at"].endswith("Z")
    assert body["live"]["oldest_waiting_age_seconds"] > 0


def test_queue_by_platform_and_id_or_unique_id(client):
    assert client.get("/v1/queues/zendesk/billing").json()["scope"] == "queue/zendesk/billing"
    assert client.get("/v1/queues/billing").json()["scope"] == "queue/zendesk/billing"


def test_ambiguous_queue_id_is_409_naming_the_platforms(client):
    response = client.get("/v1/queues/shared")
    assert response.status_code == 409
    assert "intercom" in response.json()["detail"] and "zendesk" in response.json()["detail"]


def test_unknown_agent_and_queue_are_404(client):
    assert client.get("/v1/agents/nobody").status_code == 404
    assert client.get("/v1/queues/zendesk/none").json() == {"detail": "unknown queue 'zendesk/none'"}


def test_agent_status(client):
    body = client.get("/v1/agents/42").json()
    assert body["scope"] == "agent/zendesk/42" and body["live"]["open"] == 3


def test_unsupported_window_is_422(client):
    response = client.get("/v1/summary?window=fortnight")
    assert response.status_code == 422


def test_metrics_render_queue_series(client):
    text = client.get("/metrics").text
    assert 'deskpulse_queue_open_contacts{platform="zendesk",queue="billing"} 3.0' in text
    assert 'deskpulse_queue_first_response_seconds_total{platform="zendesk",queue="billing"} 90.0' in text
    assert 'deskpulse_queue_first_responses_total{platform="intercom",queue="shared"} 2.0' in text
    assert "deskpulse_api_read_model_ready 1.0" in text


def test_readiness_follows_the_read_model():
    model = ReadModel()
    with TestClient(create_app(Settings(), read_model=model, consume=False)) as c:
        assert c.get("/readyz").status_code == 503
        model.caught_up = True
        assert c.get("/readyz").status_code == 200
