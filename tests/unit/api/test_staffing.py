"""Staffing forecast on read: inputs from the read model, Erlang C figures, nulls with a reason, API and metrics."""

import pytest
from fastapi.testclient import TestClient
from prometheus_client.registry import CollectorRegistry
from pydantic import ValidationError

from services.domain import erlang
from services.domain.slaconfig import SlaConfig
from services.api.app import create_app
from services.api.metrics import Health, SnapshotCollector
from services.api.readmodel import ReadModel
from services.api.staffing import StaffingConfig, forecast, pool, scope_staffing, window_bounds, window_sums
from services.common.clock import FixedClock
from services.common.events import from_epoch_ms
from services.common.settings import Settings
from tests.support.partials import encoded

NOW = 1_795_000_079_999  # stream time, late in a minute: the window is the 30 whole minutes before it
MINUTE = NOW - NOW % 60_000  # the current minute's bucket: not in the window
PUBLISHED = NOW + 1_000  # publication time of every partial, and the read model's (fixed) wall clock

# Call Centre Helper's worked example (docs/staffing.md): 100 calls in 30 minutes, AHT 180 s, 80 % in 20 s.
EXAMPLE = StaffingConfig(shrinkage=0.3, max_occupancy=0.85)


def test_worked_example_gives_14_agents_and_what_12_deliver():
    sums = {"answered": 95, "abandoned": 3, "handled": 90, "handle_ms": 90 * 180_000}
    s = forecast(sums, 2, 1_800_000, 12, 0.8, 20.0, EXAMPLE)  # 95 + 3 + 2 still queued = 100 offered
    assert s["offered"] == 100 and s["arrival_rate_per_hour"] == 200.0 and s["aht_s"] == 180.0
    assert s["traffic_erlangs"] == 10.0
    assert s["agents_needed"] == 14 and s["agents_needed_scheduled"] == 20 and s["limited_by"] == "service_level"
    assert s["agents_available"] == 12 and s["agents_short"] == 2 and s["stable"] is True
    assert s["predicted_sl"] == pytest.approx(0.6402, abs=1e-4)  # the CLI's "now" section, docs/staffing.md
    assert s["predicted_asa_s"] == pytest.approx(40.44, abs=0.01)
    assert s["occupancy"] == pytest.approx(10 / 12, abs=1e-6)
    assert s["reason"] is None


def test_the_same_figures_as_the_model():
    s = forecast({"answered": 40, "handled": 38, "handle_ms": 38 * 300_000}, 0, 1_800_000, 9, 0.9, 30.0,
                 StaffingConfig())
    f = erlang.forecast(contacts=40, interval_s=1800, aht_s=300, target_sl=0.9, target_answer_s=30, agents=9,
                        max_occupancy=0.85)
    assert s["agents_needed"] == f.required_agents and s["agents_needed_scheduled"] == f.required_agents
    assert s["predicted_sl"] == pytest.approx(f.now.service_level, abs=1e-6)
    assert s["occupancy"] == pytest.approx(f.now.occupancy, abs=1e-6)


def test_occupancy_cap_can_set_the_need():
    # 2 Erlangs at a generous 20 % in 60 s: the SL target needs 3 agents, an 60 % occupancy cap needs 4
    s = forecast({"answered": 20, "handled": 20, "handle_ms": 20 * 180_000}, 0, 1_800_000, 4, 0.2, 60.0,
                 StaffingConfig(max_occupancy=0.6))
    assert s["agents_needed"] == 4 and s["limited_by"] == "occupancy" and s["agents_short"] == 0


def test_no_arrivals_is_null_with_a_reason_not_zero_agents():
    s = forecast({"handled": 3, "handle_ms": 600_000}, 0, 1_800_000, 5, 0.8, 20.0, StaffingConfig())
    assert s["reason"] == "no_arrivals" and s["offered"] == 0 and s["arrival_rate_per_hour"] == 0
    assert s["agents_needed"] is None and s["predicted_sl"] is None and s["traffic_erlangs"] is None


@pytest.mark.parametrize("sums", [{"answered": 4}, {"answered": 4, "handled": 2, "handle_ms": 0}])
def test_unknown_handle_time_is_null_with_a_reason(sums):
    s = forecast(sums, 1, 1_800_000, 5, 0.8, 20.0, StaffingConfig())
    assert s["reason"] == "no_handle_time" and s["offered"] == 5 and s["aht_s"] is None
    assert s["agents_needed"] is None and s["agents_needed_scheduled"] is None and s["occupancy"] is None


def test_without_presence_the_need_is_given_and_the_outlook_is_null():
    s = forecast({"answered": 100, "handled": 100, "handle_ms": 18_000_000}, 0, 1_800_000, None, 0.8, 20.0,
                 EXAMPLE)
    assert s["reason"] == "no_agent_presence" and s["agents_needed"] == 14 and s["agents_available"] is None
    assert s["predicted_sl"] is None and s["agents_short"] is None and s["stable"] is None


def test_fewer_agents_than_the_workload_is_an_unstable_queue():
    s = forecast({"answered": 100, "handled": 100, "handle_ms": 18_000_000}, 0, 1_800_000, 9, 0.8, 20.0, EXAMPLE)
    assert s["stable"] is False and s["predicted_sl"] == 0 and s["predicted_asa_s"] is None
    assert s["occupancy"] == 1 and s["agents_short"] == 5 and s["reason"] is None
    s = forecast({"answered": 100, "handled": 100, "handle_ms": 18_000_000}, 0, 1_800_000, 0, 0.8, 20.0, EXAMPLE)
    assert s["stable"] is False and s["occupancy"] is None and s["agents_short"] == 14


def test_traffic_beyond_the_model_is_reported_not_raised():
    s = forecast({"answered": 10**9, "handled": 1, "handle_ms": 10**9}, 0, 60_000, 5, 0.8, 20.0, StaffingConfig())
    assert s["reason"] == "beyond_model" and s["agents_needed"] is None


def test_pool_is_available_plus_busy_and_unknown_without_presence():
    assert pool({"agents_available": 2, "agents_busy": 3, "agents_away": 4, "agents_offline": 9}) == 5
    assert pool({"agents_offline": 4}) == 0  # presence known: nobody is taking contacts
    assert pool({"open": 3}) is None and pool(None) is None


def test_target_from_the_goals_and_threshold_from_the_service_levels():
    sla = SlaConfig.load({
        "goals": {"global": {"service_level": ">= 0.85"},
                  "queues": {"vip": {"service_level": ">= 95%"}, "odd": {"service_level": "<= 0.5"}}},
        "service_levels": {"default": {"threshold_seconds": 30}, "queues": {"vip": {"threshold_seconds": 10}}},
    })
    config = StaffingConfig(target_sl=0.7, sla=sla)
    assert config.target("vip") == (0.95, 10.0, "goal")
    assert config.target("billing") == (0.85, 30.0, "goal")
    assert StaffingConfig(target_sl=0.7, sla=SlaConfig.load({"goals": {"queues": {
        "odd": {"service_level": "<= 0.5"}}}})).target("odd") == (0.7, 20.0, "default")  # not a lower bound
    assert StaffingConfig(target_sl=0.75).target("billing") == (0.75, 20.0, "default")  # 20 s without a config


def test_window_must_be_a_minute_window():
    with pytest.raises(ValueError, match="15m, 30m, 1h"):
        StaffingConfig(window="24h")


def test_settings(monkeypatch):
    settings = Settings()
    assert (settings.staffing_window, settings.staffing_target_sl, settings.staffing_shrinkage,
            settings.staffing_max_occupancy) == ("30m", 0.8, 0.0, 0.85)
    monkeypatch.setenv("DESKPULSE_STAFFING_WINDOW", "1h")
    monkeypatch.setenv("DESKPULSE_STAFFING_SHRINKAGE", "0.3")
    assert StaffingConfig.from_settings(Settings(), None) == StaffingConfig(window="1h", shrinkage=0.3)
    for name, value in (("WINDOW", "2h"), ("TARGET_SL", "80"), ("SHRINKAGE", "1"), ("MAX_OCCUPANCY", "0")):
        monkeypatch.setenv(f"DESKPULSE_STAFFING_{name}", value)
        with pytest.raises(ValidationError, match=f"staffing_{name.lower()}"):
            Settings()
        monkeypatch.delenv(f"DESKPULSE_STAFFING_{name}")


# --- from the read model ---------------------------------------------------------------------------------------

def _minutes(n: int, per_minute: dict, skip: int = 0) -> dict:
    """``per_minute`` in each of the ``n`` whole minutes before NOW's, the ``skip`` most recent left out."""
    return {MINUTE - 60_000 * i: dict(per_minute) for i in range(1 + skip, n + 1)}


def example_model() -> ReadModel:
    """billing: 100 live contacts in the last 30 minutes (two partitions), AHT 180 s; older traffic outside the
    window; zendesk has 12 agents taking contacts. chat: one contact handled in 0 ms. mail: e-mail only."""
    model = ReadModel(clock=FixedClock(PUBLISHED))  # the stream clock stays at NOW exactly
    p0 = _minutes(30, {"answered": 2, "handled": 2, "handle_ms": 360_000})
    # before the window, and the current (partial) minute: not counted
    p0.update({MINUTE - 60_000 * i: {"answered": 50, "handled": 50, "handle_ms": 50 * 999_000} for i in (0, 31, 45)})
    p1 = _minutes(30, {"answered": 1, "abandoned": 1, "short_abandoned": 4, "handled": 1, "handle_ms": 180_000},
                  skip=10)
    # p0: 60 answered, 60 handled in 3 min each; p1: 20 answered + 20 abandoned, 20 handled: 100 offered, AHT 180 s
    model.apply(*encoded("queue/zendesk/billing", 0, minutes=p0, stream_ms=NOW, published_ms=PUBLISHED,
                         totals={"created": 500}))
    model.apply(*encoded("queue/zendesk/billing", 1, minutes=p1, stream_ms=NOW, published_ms=PUBLISHED))
    model.apply(*encoded("queue/zendesk/mail", 0, minutes=_minutes(30, {"created": 5}), stream_ms=NOW,
                         published_ms=PUBLISHED, live={"open": 40, "waiting": 12}))
    model.apply(*encoded("queue/intercom/chat", 0, minutes=_minutes(5, {"answered": 1, "handled": 1}),
                         stream_ms=NOW, published_ms=PUBLISHED, live={"in_queue": 2}))
    model.apply(*encoded("platform/zendesk", 0, stream_ms=NOW, published_ms=PUBLISHED,
                         minutes=_minutes(30, {"answered": 4, "abandoned": 1, "handled": 4, "handle_ms": 720_000}),
                         live={"agents_available": 5, "agents_busy": 7, "agents_away": 3, "agents_offline": 20}))
    model.apply(*encoded("all", 0, stream_ms=NOW, published_ms=PUBLISHED))
    model.apply(*encoded("agent/zendesk/a1", 0, stream_ms=NOW, published_ms=PUBLISHED,
                         agent={"state": "busy", "since_ms": NOW - 1_000, "raw_state": None}))
    model.caught_up = True
    return model


def test_window_sums_from_partials_equal_those_from_merged_buckets():
    model = example_model()
    view = model.view("queue/zendesk/billing")
    start, end = window_bounds("30m", NOW)
    assert (start, end) == (MINUTE - 30 * 60_000, MINUTE)
    from_parts = window_sums(view, start, end)
    assert from_parts == {"answered": 80, "abandoned": 20, "handled": 80, "handle_ms": 80 * 180_000}
    merged = model.view("queue/zendesk/billing")
    merged.minutes  # noqa: B018 - merge the buckets first
    assert window_sums(merged, start, end) == from_parts


def test_forecast_is_kept_on_the_view_until_its_minute_or_the_pool_changes():
    view = example_model().view("queue/zendesk/billing")
    config = StaffingConfig()
    live = {"agents_available": 5, "agents_busy": 7}
    first = scope_staffing(view, NOW, live, config)
    assert scope_staffing(view, NOW - 50_000, dict(live), config) is first  # same minute, same pool
    assert scope_staffing(view, NOW, {"agents_available": 6, "agents_busy": 7}, config)["agents_available"] == 13
    # a minute later the window moved: the then-complete minute (50 answered) in, the oldest (2 + 1 + 1) out
    later = scope_staffing(view, NOW + 60_000, live, config)
    assert later is not first and later["offered"] == 146


@pytest.fixture
def client():
    with TestClient(create_app(Settings(staffing_shrinkage=0.3), read_model=example_model(), consume=False)) as c:
        yield c


def test_queue_body_has_the_forecast_from_its_window(client):
    s = client.get("/v1/queues/zendesk/billing").json()["staffing"]
    assert s["window"] == "30m" and s["window_seconds"] == 1800
    assert s["from"] == from_epoch_ms(MINUTE - 30 * 60_000)
    assert s["offered"] == 100 and s["handled"] == 80 and s["aht_s"] == 180.0
    assert s["arrival_rate_per_hour"] == 200
    assert s["target_sl"] == 0.8 and s["target_answer_s"] == 20 and s["target_source"] == "default"
    assert s["agents_scope"] == "platform/zendesk" and s["agents_available"] == 12
    assert s["agents_needed"] == 14 and s["agents_needed_scheduled"] == 20 and s["agents_short"] == 2
    assert s["predicted_sl"] == pytest.approx(0.6402, abs=1e-4) and s["occupancy"] == pytest.approx(0.8333, abs=1e-4)
    assert s["reason"] is None


def test_the_forecast_does_not_depend_on_the_requested_window(client):
    bodies = [client.get(f"/v1/queues/zendesk/billing?window={w}").json() for w in ("5m", "all", "today")]
    assert len({b["staffing"]["agents_needed"] for b in bodies}) == 1
    assert bodies[1]["contacts"]["created"] == 500


def test_email_queue_and_zero_handle_time_are_null_with_reasons(client):
    mail = client.get("/v1/queues/zendesk/mail").json()["staffing"]
    assert mail["reason"] == "no_arrivals" and mail["agents_needed"] is None and mail["agents_available"] == 12
    chat = client.get("/v1/queues/intercom/chat").json()["staffing"]
    assert chat["offered"] == 7 and chat["aht_s"] is None and chat["reason"] == "no_handle_time"
    assert chat["agents_available"] is None  # intercom reports no presence


def test_lists_and_the_stream_carry_the_forecast(client):
    items = client.get("/v1/queues?platform=zendesk").json()["items"]
    assert [i["staffing"]["agents_needed"] for i in items] == [14, None]


def test_platform_is_pooled_and_other_scopes_have_none(client):
    s = client.get("/v1/platforms/zendesk").json()["staffing"]
    assert s["agents_scope"] == "platform/zendesk" and s["agents_available"] == 12 and s["offered"] == 150
    assert "staffing" not in client.get("/v1/summary").json()
    assert "staffing" not in client.get("/v1/agents/zendesk/a1").json()


def test_queue_goal_sets_the_target():
    sla = SlaConfig.load({"goals": {"queues": {"billing": {"service_level": ">= 0.95"}}},
                          "service_levels": {"queues": {"billing": {"threshold_seconds": 15}}}})
    with TestClient(create_app(Settings(), read_model=example_model(), consume=False, sla=sla)) as c:
        s = c.get("/v1/queues/zendesk/billing").json()["staffing"]
    assert (s["target_sl"], s["target_answer_s"], s["target_source"]) == (0.95, 15, "goal")
    f = erlang.forecast(contacts=100, interval_s=1800, aht_s=180, target_sl=0.95, target_answer_s=15,
                        max_occupancy=0.85)
    assert s["agents_needed"] == f.required_agents == 16  # 14 at the default 80 % in 20 s


def test_openapi_example_has_a_forecast(client):
    spec = client.get("/openapi.json").json()
    example = spec["paths"]["/v1/queues/{queue_key}"]["get"]["responses"]["200"]["content"]["application/json"][
        "example"]
    assert example["staffing"]["agents_needed"] > 0 and example["staffing"].get("reason") is None  # nulls dropped
    assert "Staffing" in spec["components"]["schemas"]


def test_prometheus_gauges_per_queue():
    model = example_model()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(model.views(), Health(ready=True, stale_seconds=0, stream_ms=NOW,
                                                              wall_s=model.clock() / 1000), EXAMPLE))
    get = registry.get_sample_value
    q = {"platform": "zendesk", "queue": "billing"}
    assert get("deskpulse_staffing_offered_contacts", q) == 100
    assert get("deskpulse_staffing_arrivals_per_second", q) == pytest.approx(100 / 1800)
    assert get("deskpulse_staffing_average_handle_time_seconds", q) == 180
    assert get("deskpulse_staffing_agents_needed", q) == 14
    assert get("deskpulse_staffing_agents_needed_scheduled", q) == 20
    assert get("deskpulse_staffing_agents_available", q) == 12
    assert get("deskpulse_staffing_predicted_service_level", q) == pytest.approx(0.6402, abs=1e-4)
    assert get("deskpulse_staffing_predicted_answer_seconds", q) == pytest.approx(40.44, abs=0.01)
    assert get("deskpulse_staffing_occupancy", q) == pytest.approx(0.8333, abs=1e-4)
    mail = {"platform": "zendesk", "queue": "mail"}
    assert get("deskpulse_staffing_offered_contacts", mail) == 0
    for name in ("agents_needed", "agents_available", "average_handle_time_seconds", "predicted_service_level"):
        assert get(f"deskpulse_staffing_{name}", mail) is None, name  # absent, never a made-up 0
    chat = {"platform": "intercom", "queue": "chat"}
    assert get("deskpulse_staffing_offered_contacts", chat) == 7
    assert get("deskpulse_staffing_agents_needed", chat) is None


def test_scrape_serves_the_forecast_with_the_apps_settings(client):
    text = client.get("/metrics").text
    assert 'deskpulse_staffing_agents_needed{platform="zendesk",queue="billing"} 14\n' in text
    assert 'deskpulse_staffing_agents_needed_scheduled{platform="zendesk",queue="billing"} 20\n' in text
