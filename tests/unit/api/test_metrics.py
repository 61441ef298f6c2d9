"""The Prometheus collector over copied views, and a real scrape checked by promtool."""

import subprocess

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from services.api.app import create_app
from services.api.metrics import Health, SnapshotCollector
from services.api.readmodel import ReadModel
from services.common.clock import FixedClock
from services.common.settings import Settings
from tests.support.partials import encoded
from tests.support.tools import require_tool

T = 1_795_000_100_000
QUEUE_TOTALS = {
    "created": 20, "resolved": 8, "reopened": 2, "one_touch": 3, "replies": 30, "answered": 6, "abandoned": 2,
    "short_abandoned": 1, "handled": 5, "handle_ms": 1_500_000, "sl_offered": 8, "sl_met": 5,
    "csat_good": 4, "csat_bad": 1, "csat_neutral": 2, "nps_promoter": 3, "nps_detractor": 1,
    "sla_first_response_met": 7, "sla_first_response_breached": 2, "sla_resolution_breached": 1,
    "fr_count": 10, "fr_ms": 2_500_000, "frle:60": 3, "frle:600": 9, "frle:3600": 10,
    "nr_count": 4, "nr_ms": 400_000, "nrle:600": 4, "nrle:3600": 4,
    "res_count": 8, "res_ms": 8_000_000, "resle:3600": 6, "resle:86400": 8,
    "asa_ms": 90_000, "asale:20": 4, "asale:60": 5,
}


def model_with_figures() -> ReadModel:
    wall = T + 2_000  # every partial's publication time, and the read model's wall clock
    model = ReadModel(clock=FixedClock(wall))
    # two partitions of one queue: the collector sees their sum
    half = {k: v // 2 for k, v in QUEUE_TOTALS.items()}
    rest = {k: v - v // 2 for k, v in QUEUE_TOTALS.items()}
    live = {"open": 5, "waiting": 2, "unassigned": 1, "pending": 1, "on_hold": 1, "in_queue": 1, "sla_running": 4,
            "sla_breaching": 1, "sla_at_risk": 1}
    model.apply(*encoded("queue/zendesk/billing", 0, totals=half, stream_ms=T, published_ms=wall,
                         live={**live, "oldest_waiting_created_ms": T - 60_000, "next_breach_ms": T + 30_000}))
    model.apply(*encoded("queue/zendesk/billing", 1, totals=rest, stream_ms=T, published_ms=wall,
                         live={**live, "oldest_waiting_created_ms": T - 90_000, "oldest_queued_ms": T - 5_000}))
    model.apply(*encoded("queue/intercom/sales", 0, totals={"created": 1}, stream_ms=T, published_ms=wall))
    model.apply(*encoded("platform/zendesk", 0, live={"agents_busy": 2, "agents_available": 1}, published_ms=wall))
    model.apply(*encoded("agent/zendesk/42", 0, totals={"replies": 7, "fr_count": 3, "resolved": 2, "handled": 1},
                         live={"open": 2}, agent={"state": "busy", "since_ms": T - 1_000, "raw_state": "On call"},
                         published_ms=wall))
    model.apply(*encoded("agent/zendesk/43", 0, published_ms=wall))  # no presence yet
    model.caught_up = True
    return model


@pytest.fixture
def registry():
    model = model_with_figures()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(model.views(), Health(ready=True, stale_seconds=3.5, stream_ms=T,
                                                              wall_s=model.clock() / 1000)))
    return registry


Q = {"platform": "zendesk", "queue": "billing"}


@pytest.mark.parametrize("name,value", [
    ("deskpulse_contacts_created_total", 20), ("deskpulse_contacts_resolved_total", 8),
    ("deskpulse_contacts_reopened_total", 2), ("deskpulse_contacts_one_touch_total", 3),
    ("deskpulse_replies_total", 30), ("deskpulse_contacts_answered_total", 6),
    ("deskpulse_contacts_abandoned_total", 2), ("deskpulse_contacts_short_abandoned_total", 1),
    ("deskpulse_contacts_handled_total", 5), ("deskpulse_handle_seconds_total", 1500),
    ("deskpulse_service_level_offered_total", 8), ("deskpulse_service_level_met_total", 5),
    ("deskpulse_contacts_open", 10), ("deskpulse_contacts_waiting", 4), ("deskpulse_contacts_unassigned", 2),
    ("deskpulse_contacts_pending", 2), ("deskpulse_contacts_on_hold", 2), ("deskpulse_contacts_in_queue", 2),
    ("deskpulse_sla_clocks_running", 8), ("deskpulse_sla_clocks_breaching", 2), ("deskpulse_sla_clocks_at_risk", 2),
    ("deskpulse_oldest_waiting_contact_created_timestamp_seconds", (T - 90_000) / 1000),
    ("deskpulse_oldest_queued_contact_enqueued_timestamp_seconds", (T - 5_000) / 1000),
    ("deskpulse_sla_next_breach_timestamp_seconds", (T + 30_000) / 1000),
])
def test_queue_counters_and_gauges(registry, name, value):
    assert registry.get_sample_value(name, Q) == pytest.approx(value)


def test_labelled_counters(registry):
    get = registry.get_sample_value
    assert get("deskpulse_csat_responses_total", {**Q, "rating": "neutral"}) == 2
    assert get("deskpulse_nps_responses_total", {**Q, "category": "passive"}) == 0
    assert get("deskpulse_nps_responses_total", {**Q, "category": "promoter"}) == 3
    assert get("deskpulse_sla_completed_total", {**Q, "metric": "first_response", "result": "breached"}) == 2
    assert get("deskpulse_sla_completed_total", {**Q, "metric": "resolution", "result": "breached"}) == 1


def test_histograms_from_cumulative_le_counters(registry):
    get = registry.get_sample_value
    fr = "deskpulse_first_response_seconds"
    assert [get(f"{fr}_bucket", {**Q, "le": le}) for le in ("60.0", "600.0", "3600.0", "+Inf")] == [3, 9, 10, 10]
    assert get(f"{fr}_count", Q) == 10 and get(f"{fr}_sum", Q) == 2500
    wait = "deskpulse_queue_wait_seconds"
    assert [get(f"{wait}_bucket", {**Q, "le": le}) for le in ("20.0", "60.0", "+Inf")] == [4, 5, 6]
    assert get(f"{wait}_sum", Q) == 90
    assert get("deskpulse_resolution_seconds_bucket", {**Q, "le": "86400.0"}) == 8
    # a queue without observations has every bucket, at 0
    assert get(f"{fr}_bucket", {"platform": "intercom", "queue": "sales", "le": "600.0"}) == 0
    assert get("deskpulse_next_reply_seconds_count", {"platform": "intercom", "queue": "sales"}) == 0


def test_agents_and_platform(registry):
    get = registry.get_sample_value
    agent = {"platform": "zendesk", "agent": "42"}
    assert get("deskpulse_agent_state", {**agent, "state": "busy"}) == 1
    assert get("deskpulse_agent_state", {**agent, "state": "available"}) is None  # one series per agent
    assert get("deskpulse_agent_state_since_timestamp_seconds", agent) == (T - 1_000) / 1000
    assert get("deskpulse_agent_open_contacts", agent) == 2
    assert get("deskpulse_agent_replies_total", agent) == 7
    assert get("deskpulse_agent_first_responses_total", agent) == 3
    assert get("deskpulse_agent_contacts_resolved_total", agent) == 2
    assert get("deskpulse_agent_contacts_handled_total", agent) == 1
    assert get("deskpulse_agent_state", {"platform": "zendesk", "agent": "43", "state": "offline"}) is None
    assert get("deskpulse_agent_open_contacts", {"platform": "zendesk", "agent": "43"}) == 0
    assert get("deskpulse_agents", {"platform": "zendesk", "state": "busy"}) == 2
    assert get("deskpulse_agents", {"platform": "zendesk", "state": "offline"}) == 0


def test_pipeline_health(registry):
    assert registry.get_sample_value("deskpulse_api_read_model_ready") == 1
    assert registry.get_sample_value("deskpulse_snapshot_age_seconds") == 3.5
    assert registry.get_sample_value("deskpulse_stream_time_timestamp_seconds") == T / 1000


def _catalogue() -> set[str]:
    from pathlib import Path
    import re

    text = (Path(__file__).resolve().parents[3] / "docs" / "metrics.md").read_text()
    api = text.split("## API", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(deskpulse_[a-z_]+)`", api, re.M))


def test_exposition_is_exactly_the_documented_catalogue(registry):
    exposed = {m.name + ("_total" if m.type == "counter" else "") for m in registry.collect()}
    assert exposed == _catalogue()


def test_no_contact_ids_in_labels(registry):
    labels = {name for m in registry.collect() for s in m.samples for name in s.labels}
    assert labels <= {"platform", "queue", "agent", "state", "metric", "result", "rating", "category", "le",
                      "period", "verdict", "name"}


def test_real_scrape_passes_promtool_check_metrics():
    require_tool("promtool")
    model = model_with_figures()
    for i in range(50):  # a realistic spread: many queues and agents, odd characters in ids
        model.apply(*encoded(f"queue/zendesk/team \"{i}\"\\x", 0, totals={"created": i, "fr_count": i, "frle:60": i}))
        model.apply(*encoded(f"agent/front/agent-{i}@example.com", 0,
                             agent={"state": "available", "since_ms": T, "raw_state": None}))
    with TestClient(create_app(Settings(), read_model=model, consume=False)) as client:
        response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    families = {f.name for f in text_string_to_metric_families(response.text)}
    assert "deskpulse_first_response_seconds" in families
    check = subprocess.run(["promtool", "check", "metrics"], input=response.content, capture_output=True, timeout=60)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()


def test_direct_render_equals_prometheus_client_exposition():
    from services.api.metrics import render, render_with_client

    model = model_with_figures()
    model.apply(*encoded('queue/zendesk/odd "name"\\with\nnewline', 0, totals={"created": 2, "frle:60": 1}))
    health = Health(ready=False, stale_seconds=None, stream_ms=T, wall_s=model.clock() / 1000)

    def samples(text: bytes) -> dict:
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for f in text_string_to_metric_families(text.decode()) for s in f.samples}

    direct, reference = render(model.views(), health), render_with_client(model.views(), health)
    assert samples(direct) == samples(reference)
    assert [f.name for f in text_string_to_metric_families(direct.decode())] == [
        f.name for f in text_string_to_metric_families(reference.decode())]


def _scrape_text() -> str:
    from services.api.metrics import render

    model = model_with_figures()
    # cumulative counters as the aggregator writes them: one first response within 60 s is within every bound above
    model.apply(*encoded('queue/zendesk/odd "name"\\with\nnewline', 0, totals={
        "created": 2, "frle:60": 1, "frle:600": 1, "frle:3600": 1, "fr_count": 1}))
    model.apply(*encoded("category/billing", 0, totals={"created": 3, "resle:3600": 1, "res_count": 2},
                         live={"open": 1}))
    health = Health(ready=True, stale_seconds=1.5, stream_ms=T, wall_s=model.clock() / 1000, stream_clients=2,
                    stream_snapshots=(3, 4))
    return render(model.views(), health).decode()


def test_exposition_follows_the_catalogue_family_by_family():
    from services.api.metric_catalogue import FAMILIES

    exposed = [(f.name + ("_total" if f.type == "counter" else ""), f.type, f.documentation)
               for f in text_string_to_metric_families(_scrape_text())]
    assert exposed == [(f.name, f.type, f.help) for f in FAMILIES]
    assert {f.name for f in FAMILIES} == _catalogue()
    # the labels each family's samples carry are the catalogue's (plus le on histogram buckets)
    for family, catalogued in zip(text_string_to_metric_families(_scrape_text()), FAMILIES):
        for sample in family.samples:
            assert tuple(sample.labels) == catalogued.labels + (("le",) if sample.name.endswith("_bucket") else ())


def test_exposition_keeps_the_text_format_rules():
    """What ``promtool check metrics`` checks of the format, without promtool: one HELP and TYPE per family before
    its samples, every sample in its family, histogram buckets ascending, cumulative, ending in +Inf = _count."""
    declared: list[str] = []
    families: dict[str, str] = {}
    series: dict[tuple[str, str], list[tuple[float, float]]] = {}
    counts: dict[tuple[str, str], float] = {}
    for line in _scrape_text().splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert name not in families and name not in declared
            declared.append(name)
        elif line.startswith("# TYPE "):
            _, _, name, type_ = line.split(" ")
            assert name == declared[-1] and name not in families
            families[name] = type_
        else:
            current = declared[-1]
            name, _, rest = line.partition("{") if "{" in line else line.partition(" ")
            suffixes = ("_bucket", "_count", "_sum") if families[current] == "histogram" else ("",)
            assert name in {current + suffix for suffix in suffixes}, line
            if families[current] == "histogram":
                labels, value = rest.rsplit("} ", 1)
                if name.endswith("_bucket"):
                    scope, le = labels.rsplit(',le="', 1)
                    bound = float(le.rstrip('"').replace("+Inf", "inf"))
                    series.setdefault((current, scope), []).append((bound, float(value)))
                elif name.endswith("_count"):
                    counts[(current, labels)] = float(value)
    assert series and set(series) == set(counts)
    for key, buckets in series.items():
        bounds = [b for b, _ in buckets]
        assert bounds == sorted(set(bounds)) and bounds[-1] == float("inf"), key
        values = [v for _, v in buckets]
        assert values == sorted(values) and values[-1] == counts[key], key
