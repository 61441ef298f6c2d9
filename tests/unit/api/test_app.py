import asyncio

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from services.api.app import create_app
from services.api.readmodel import ReadModel
from services.common.clock import FixedClock
from services.common.settings import Settings
from tests.support.partials import encoded


NOW = 1_795_000_100_000


def snapshot(scope, created=4, fr=2, fr_ms=90_000, open_=3, waiting=1, oldest=1_795_000_000_000, agent=None):
    totals = {"created": created, "fr_count": fr, "fr_ms": fr_ms, "resolved": 1}
    # published at stream time NOW by the read model's fixed clock: the API's stream clock reads NOW exactly
    return encoded(scope, totals=totals, minutes={NOW - NOW % 60_000: totals}, quarters={NOW - NOW % 900_000: totals},
                   live={"open": open_, "waiting": waiting, "oldest_waiting_created_ms": oldest}, agent=agent,
                   stream_ms=NOW, published_ms=NOW)[1]


def small_app():
    model = ReadModel(clock=FixedClock(NOW))
    model.apply(b"all#0", snapshot("all"))
    model.apply(b"platform/zendesk#0", snapshot("platform/zendesk"))
    model.apply(b"queue/zendesk/billing#0", snapshot("queue/zendesk/billing"))
    model.apply(b"queue/zendesk/shared#0", snapshot("queue/zendesk/shared"))
    model.apply(b"queue/intercom/shared#0", snapshot("queue/intercom/shared"))
    model.apply(b"agent/zendesk/42#0", snapshot("agent/zendesk/42", created=0, waiting=0, oldest=None,
                                                agent={"state": "busy", "since_ms": NOW - 90_000, "raw_state": "On call"}))
    model.caught_up = True
    return create_app(Settings(), read_model=model, consume=False)


@pytest.fixture
def client():
    with TestClient(small_app()) as c:
        yield c


def test_summary_has_figures_in_seconds_and_rfc3339(client):
    body = client.get("/v1/summary").json()
    assert body["contacts"]["created"] == 4
    assert body["first_response"]["count"] == 2
    assert body["first_response"]["total_seconds"] == 90.0
    assert body["first_response"]["average_seconds"] == 45.0
    assert body["resolution_rate"] == 0.25
    assert body["csat"]["score"] is None  # no ratings: no data, not 0 %
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
    assert body["agent"]["state"] == "busy"
    assert body["agent"]["seconds_in_state"] == 90.0  # stream time minus since


@pytest.mark.parametrize("window", ["5m", "15m", "30m", "1h", "24h", "today", "all"])
def test_every_window_is_served(client, window):
    body = client.get(f"/v1/queues/zendesk/billing?window={window}").json()
    assert body["window"] == window
    assert body["contacts"]["created"] == 4


def test_platform_route(client):
    assert client.get("/v1/platforms/zendesk").json()["scope"] == "platform/zendesk"
    assert client.get("/v1/platforms/nowhere").status_code == 404


def test_unsupported_window_is_422(client):
    response = client.get("/v1/summary?window=fortnight")
    assert response.status_code == 422


def test_metrics_render_queue_series(client):
    text = client.get("/metrics").text
    assert 'deskpulse_contacts_open{platform="zendesk",queue="billing"} 3\n' in text
    assert 'deskpulse_first_response_seconds_sum{platform="zendesk",queue="billing"} 90.0' in text
    assert 'deskpulse_first_response_seconds_count{platform="intercom",queue="shared"} 2\n' in text
    # deprecated names, kept for existing dashboards
    assert 'deskpulse_queue_open_contacts{platform="zendesk",queue="billing"} 3\n' in text
    assert 'deskpulse_queue_first_responses_total{platform="intercom",queue="shared"} 2\n' in text
    assert "deskpulse_api_read_model_ready 1\n" in text


async def test_metrics_go_out_in_pieces_with_the_whole_length_stated(monkeypatch):
    """A body of megabytes written at once held the event loop while all of it was copied; in pieces, other
    requests are served in between (``slices.in_chunks``)."""
    monkeypatch.setattr("services.api.routers.metrics.CHUNK", 1_000)
    app = small_app()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/metrics", "raw_path": b"/metrics", "root_path": "", "query_string": b"", "headers": [],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    messages = []
    requested = False

    async def receive():
        nonlocal requested
        if requested:
            await asyncio.Event().wait()  # the client stays connected
        requested = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        messages.append(message)

    await app(scope, receive, send)
    start, *bodies = messages
    body = b"".join(m["body"] for m in bodies)
    assert start["status"] == 200
    assert dict(start["headers"])[b"content-length"] == str(len(body)).encode()
    assert len([m for m in bodies if m["body"]]) == -(-len(body) // 1_000) > 3
    assert all(len(m["body"]) == 1_000 for m in bodies[:-2])
    assert any(f.name == "deskpulse_contacts_open" for f in text_string_to_metric_families(body.decode()))
    assert b'deskpulse_contacts_open{platform="zendesk",queue="billing"} 3\n' in body


def test_metrics_are_compressed_for_a_scraper_that_accepts_gzip(client):
    plain = client.get("/metrics", headers={"Accept-Encoding": "identity"})
    packed = client.get("/metrics", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers and packed.headers["content-encoding"] == "gzip"
    assert int(packed.headers["content-length"]) < len(plain.content) / 3  # the bytes sent, compressed
    assert packed.content.split(b"deskpulse_snapshot_age_seconds")[0] == plain.content.split(
        b"deskpulse_snapshot_age_seconds")[0]  # httpx decompressed it; the age moves between two scrapes


def test_a_metrics_render_holds_the_foreground_so_stream_builds_step_aside(client, monkeypatch):
    from services.api import metrics

    held, render = [], metrics.render

    def watched(*args, **kw):
        held.append(client.app.state.foreground.held)  # in the render thread
        return render(*args, **kw)

    monkeypatch.setattr(metrics, "render", watched)
    assert client.get("/metrics").status_code == 200
    assert held == [True] and not client.app.state.foreground.held


def test_readiness_follows_the_read_model():
    model = ReadModel()
    with TestClient(create_app(Settings(), read_model=model, consume=False)) as c:
        assert c.get("/readyz").status_code == 503
        model.caught_up = True
        assert c.get("/readyz").status_code == 200


def test_goals_are_measured_per_window_and_queue():
    from services.domain.slaconfig import SlaConfig

    sla = SlaConfig.load({"goals": {"global": {"first_response_seconds_avg": "<= 60", "csat": ">= 0.9"},
                                    "queues": {"billing": {"first_response_seconds_avg": "<= 30"}}}})
    model = ReadModel(clock=FixedClock(NOW))
    model.apply(b"queue/zendesk/billing#0", snapshot("queue/zendesk/billing"))
    model.apply(b"all#0", snapshot("all"))
    model.caught_up = True
    with TestClient(create_app(Settings(), read_model=model, consume=False, sla=sla)) as c:
        queue = c.get("/v1/queues/zendesk/billing").json()["goals"]
        summary = c.get("/v1/summary").json()["goals"]
    assert queue["first_response_seconds_avg"] == {"goal": "first_response_seconds_avg <= 30", "op": "<=",
                                                   "target": 30.0, "value": 45.0, "met": False, "gap": -15.0}
    assert summary["first_response_seconds_avg"]["met"] is True
    assert summary["csat"] == {"goal": "csat >= 0.9", "op": ">=", "target": 0.9, "value": None, "met": None,
                               "gap": None}


def test_unknown_goal_metric_stops_the_api_with_a_clear_message(tmp_path):
    from services.api.app import ConfigError, load_sla

    path = tmp_path / "sla.yaml"
    path.write_text("goals:\n  global:\n    happiness: '>= 0.9'\n")
    with pytest.raises(ConfigError, match="unknown goal metric.*happiness.*known: abandonment_rate"):
        load_sla(Settings(sla_config=path))


def test_readiness_reports_the_events_the_aggregator_refused_for_being_from_the_future():
    def refused(n, event_id, at):
        return {"n": n, "last": {"event_id": event_id, "platform": "canonical", "occurred_at": "2030-01-01T00:00:00.000Z",
                                 "ahead_ms": 100_000_000_000, "refused_at_ms": at}}

    model = ReadModel(clock=FixedClock(NOW))
    model.apply(*encoded("all", 0, totals={"created": 1}, published_ms=NOW))
    model.caught_up = True
    with TestClient(create_app(Settings(), read_model=model, consume=False)) as c:
        assert "future_events" not in c.get("/readyz").json()
        model.apply(*encoded("all", 0, published_ms=NOW, future=refused(2, "x", NOW - 5_000)))
        model.apply(*encoded("all", 3, published_ms=NOW, future=refused(1, "y", NOW - 1_000)))
        body = c.get("/readyz").json()
    assert body["status"] == "ready" and body["future_events"] == {
        "refused": 3, "last": {"event_id": "y", "platform": "canonical", "occurred_at": "2030-01-01T00:00:00.000Z",
                               "ahead_seconds": 100_000_000.0, "refused_at": "2026-11-18T11:08:19.000Z"}}


def test_beyond_loopback_without_tokens_the_api_says_so_at_start_and_on_readyz(caplog, tmp_path):
    import logging

    from services.api.tokens import hash_token

    with caplog.at_level(logging.WARNING, logger="services.api.app"):
        app = create_app(Settings(api_host="0.0.0.0"), read_model=ReadModel(), consume=False)
    assert "OPEN: the API listens on 0.0.0.0 without tokens" in caplog.text
    with TestClient(app) as client:
        assert "open to anyone who can reach it" in client.get("/readyz").json()["warning"]
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(f"tokens:\n  - {{name: ops, role: director, sha256: {hash_token('t')}}}\n")
    for settings in (Settings(api_host="0.0.0.0", api_tokens="t"), Settings(api_host="0.0.0.0", api_tokens_file=tokens),
                     Settings(api_host="127.0.0.1")):
        with TestClient(create_app(settings, read_model=ReadModel(), consume=False)) as client:
            assert "warning" not in client.get("/readyz").json()


def test_a_broken_tokens_file_stops_the_api_from_starting(tmp_path):
    from services.api.app import ConfigError

    tokens = tmp_path / "tokens.yaml"
    tokens.write_text("tokens:\n  - {name: ops, role: boss, sha256: x}\n")
    with pytest.raises(ConfigError, match="'role' must be one of"):
        create_app(Settings(api_tokens_file=tokens), read_model=ReadModel(), consume=False)


def test_readyz_and_the_teams_say_when_the_sla_config_was_read():
    from services.domain.slaconfig import SlaConfig

    model = ReadModel(clock=FixedClock(1_795_000_000_000))
    model.caught_up = True
    config = SlaConfig.load({"goals": {"global": {"csat": ">= 0.8"}}})
    settings = Settings(sla_config="deploy/sla.example.yaml")
    with TestClient(create_app(settings, read_model=model, consume=False, sla=config)) as client:
        ready = client.get("/readyz").json()
        assert ready["sla_config"] == {"path": "deploy/sla.example.yaml", "loaded_at": "2026-11-18T11:06:40.000Z"}
        assert client.get("/v1/teams").json()["goals_loaded_at"] == "2026-11-18T11:06:40.000Z"
    with TestClient(create_app(Settings(), read_model=model, consume=False)) as client:
        assert "sla_config" not in client.get("/readyz").json()
        assert client.get("/v1/teams").json()["goals_loaded_at"] is None
