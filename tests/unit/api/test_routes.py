"""Lists, accounts, errors, auth, CORS and the OpenAPI description of the read API."""

import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.api.readmodel import ReadModel
from services.common.clock import FixedClock
from services.common.settings import Settings
from tests.support.partials import encoded

NOW = 1_795_000_100_000


def _agent(model, platform, agent, state):
    model.apply(*encoded(f"agent/{platform}/{agent}", totals={"replies": 2}, live={"open": 1},
                         agent={"state": state, "since_ms": NOW - 60_000, "raw_state": state},
                         stream_ms=NOW, published_ms=NOW))


@pytest.fixture
def model():
    model = ReadModel(clock=FixedClock(NOW))
    for platform in ("intercom", "zendesk"):
        for q in range(5):
            model.apply(*encoded(f"queue/{platform}/q{q}", totals={"created": q}))
        for a in range(4):
            _agent(model, platform, f"a{a}", "busy" if a % 2 else "available")
    model.apply(*encoded("account/zendesk/acme", totals={"created": 9}))
    model.apply(*encoded("account/zendesk/acme/eu", totals={"created": 1}))
    model.caught_up = True
    return model


@pytest.fixture
def client(model):
    with TestClient(create_app(Settings(), read_model=model, consume=False)) as c:
        yield c


def test_queue_list_pages_with_total_and_next(client):
    first = client.get("/v1/queues?limit=4").json()
    assert first["total"] == 10 and len(first["items"]) == 4
    assert [i["scope"] for i in first["items"]] == [f"queue/intercom/q{i}" for i in range(4)]
    assert first["next"] == "/v1/queues?limit=4&offset=4"
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()
    assert len(third["items"]) == 2 and third["next"] is None
    assert {i["scope"] for i in first["items"] + second["items"] + third["items"]} == set(client.app.state.read_model.scopes("queue"))


def test_queue_list_filters_by_platform_and_keeps_filters_in_next(client):
    body = client.get("/v1/queues?platform=zendesk&limit=2&window=15m").json()
    assert body["total"] == 5 and all(i["platform"] == "zendesk" and i["window"] == "15m" for i in body["items"])
    assert body["next"] == "/v1/queues?platform=zendesk&limit=2&window=15m&offset=2"
    assert client.get("/v1/queues?platform=nowhere").json() == {"items": [], "total": 0, "next": None}


def test_agent_list_filters_by_platform_and_state(client):
    body = client.get("/v1/agents?platform=zendesk&state=busy").json()
    assert [i["scope"] for i in body["items"]] == ["agent/zendesk/a1", "agent/zendesk/a3"]
    assert all(i["agent"]["state"] == "busy" for i in body["items"])
    assert client.get("/v1/agents").json()["total"] == 8


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "offset=-1", "state=sleeping", "window=2h",
                                   "limit=ten"])
def test_bad_list_parameters_are_422_with_detail(client, query):
    response = client.get(f"/v1/agents?{query}")
    assert response.status_code == 422 and response.json()["detail"]


def test_agent_status_has_state_since_open_and_window_figures(client):
    body = client.get("/v1/agents/zendesk/a1?window=today").json()
    assert body["agent"]["state"] == "busy" and body["agent"]["since"].endswith("Z")
    assert body["live"]["open"] == 1 and body["window"] == "today"
    assert body["stale_seconds"] is not None


def test_bare_agent_id_used_by_two_platforms_is_409(client):
    response = client.get("/v1/agents/a1")
    assert response.status_code == 409 and "intercom, zendesk" in response.json()["detail"]


def test_account_scope_and_404s(client):
    assert client.get("/v1/accounts/zendesk/acme").json()["contacts"]["created"] == 9
    assert client.get("/v1/accounts/zendesk/acme/eu").json()["scope"] == "account/zendesk/acme/eu"
    assert client.get("/v1/accounts/zendesk/nobody").json() == {"detail": "unknown account 'zendesk/nobody'"}
    assert client.get("/v1/platforms/nowhere").json() == {"detail": "unknown platform 'nowhere'"}
    assert client.get("/v1/agents/zendesk/nobody").status_code == 404


def test_readiness_reports_staleness(client):
    body = client.get("/readyz").json()
    assert body["status"] == "ready" and body["scopes"] == 20 and body["stale_seconds"] >= 0


def test_openapi_documents_every_route_with_examples_and_errors(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/v1/summary", "/v1/queues", "/v1/queues/{queue_key}", "/v1/agents", "/v1/agents/{agent_key}",
                 "/v1/platforms/{platform}", "/v1/accounts/{platform}/{account}", "/v1/stream", "/healthz",
                 "/readyz", "/metrics"):
        operation = paths[path]["get"]
        assert operation["summary"], path
    agent = paths["/v1/agents/{agent_key}"]["get"]["responses"]
    assert {"200", "401", "404", "409", "422"} <= set(agent)
    assert agent["200"]["content"]["application/json"]["example"]["agent"]["state"] == "busy"
    assert "ScopeBody" in spec["components"]["schemas"]


def test_tokens_guard_v1_but_not_health_or_metrics(model):
    settings = Settings(api_tokens="s3cret,other")
    with TestClient(create_app(settings, read_model=model, consume=False)) as c:
        response = c.get("/v1/summary")
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        assert response.json()["detail"].startswith("missing bearer token")
        wrong = c.get("/v1/summary", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json() == {"detail": "invalid bearer token"}
        assert c.get("/v1/summary", headers={"Authorization": "Bearer other"}).status_code == 200
        assert c.get("/v1/queues", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/v1/stream?access_token=nope").status_code == 401
        for open_path in ("/healthz", "/readyz", "/metrics"):
            assert c.get(open_path).status_code == 200, open_path


def test_cors_is_off_by_default_and_configurable(model):
    with TestClient(create_app(Settings(), read_model=model, consume=False)) as c:
        assert "access-control-allow-origin" not in c.get("/v1/summary", headers={"Origin": "https://a.example"}).headers
    settings = Settings(cors_origins="https://wall.example")
    with TestClient(create_app(settings, read_model=model, consume=False)) as c:
        response = c.get("/v1/summary", headers={"Origin": "https://wall.example"})
        assert response.headers["access-control-allow-origin"] == "https://wall.example"


def test_wallboard_page_is_served_when_present(monkeypatch, tmp_path, model):
    from services.api import app as app_module

    (tmp_path / "index.html").write_text("<h1>wallboard</h1>")
    (tmp_path / "app.js").write_text("// js")
    monkeypatch.setattr(app_module, "WALLBOARD", tmp_path)
    with TestClient(app_module.create_app(Settings(), read_model=model, consume=False)) as c:
        assert c.get("/").text == "<h1>wallboard</h1>"
        assert c.get("/wallboard/app.js").text == "// js"
