"""The generated dashboards and Grafana provisioning: fresh, well-formed, and on the provisioned datasource."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from grafana import alerting, generate, queries
from tests.support.dashboards import DASHBOARDS, load, panels, queries as dashboard_queries, substitute, \
    used_variables, variables
from tests.support.tools import require_tool

ROOT = Path(__file__).resolve().parents[3]
PROVISIONING = ROOT / "grafana" / "provisioning"
UID = "deskpulse-prometheus"
BY_NAME = {p.name: load(p) for p in DASHBOARDS}


def test_committed_files_equal_a_fresh_generation():
    stale = [path.name for path, text in generate.render().items()
             if not path.exists() or path.read_text() != text]
    assert not stale, f"stale generated files {stale}: run .venv/bin/python grafana/generate.py and commit"


def test_the_four_dashboards_exist_with_unique_uids():
    assert set(BY_NAME) == {"deskpulse-wallboard.json", "deskpulse-supervisor.json", "deskpulse-director.json",
                            "deskpulse-agent.json"}
    uids = [d["uid"] for d in BY_NAME.values()]
    assert len(set(uids)) == len(uids) and all(len(u) <= 40 for u in uids)


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_layout_ids_and_grid(name):
    dash = BY_NAME[name]
    ids = [p["id"] for p in panels(dash)]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    cells = set()
    for p in panels(dash):
        assert p["type"] != "row", "no rows (grafana-foundation-sdk #504)"
        g = p["gridPos"]
        assert g["x"] >= 0 and g["y"] >= 0 and g["w"] > 0 and g["h"] > 0 and g["x"] + g["w"] <= 24, p["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine, f"{p['title']} overlaps another panel"
        cells |= mine
        assert p["title"]


def test_wallboard_is_one_1080p_screen_without_variables():
    dash = BY_NAME["deskpulse-wallboard.json"]
    assert max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels(dash)) <= 27  # 1080 px at 30 px + margins
    assert not variables(dash), "kiosk=tv hides variables: bake filters into the wallboard"
    top = [p for p in panels(dash) if p["gridPos"]["y"] == 0]
    assert 3 <= len(top) <= 6 and all(p["type"] == "stat" for p in top)
    assert any(p["type"] == "alertlist" for p in panels(dash))


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_every_query_uses_the_provisioned_datasource_and_declared_variables(name):
    dash = BY_NAME[name]
    declared = {v["name"] for v in variables(dash)}
    for p in panels(dash):
        for t in p.get("targets", []):
            assert t["datasource"] == {"type": "prometheus", "uid": UID}, p["title"]
            assert used_variables(t["expr"]) <= declared, (p["title"], t["expr"])
    for v in variables(dash):
        assert v["datasource"]["uid"] == UID
    assert dashboard_queries(dash)


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_stat_panels_have_unit_thresholds_and_last_not_null(name):
    for p in panels(BY_NAME[name]):
        if p["type"] not in ("stat", "bargauge"):
            continue
        defaults = p["fieldConfig"]["defaults"]
        assert defaults.get("unit"), p["title"]
        assert defaults["thresholds"]["steps"][0]["value"] is None, p["title"]
        assert p["options"]["reduceOptions"]["calcs"] == ["lastNotNull"], p["title"]
        assert defaults.get("noValue"), p["title"]
        if p["type"] == "stat":
            assert p["options"]["colorMode"], p["title"]


def _seconds(duration: str) -> float:
    return float(duration[:-1]) * {"s": 1, "m": 60, "h": 3600}[duration[-1]]


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_refresh_and_time_range(name):
    dash = BY_NAME[name]
    assert _seconds(dash["refresh"]) >= 5  # Grafana's default min_refresh_interval
    assert dash["time"]["to"] == "now"
    if any("$__range" in e for _, _, e in dashboard_queries(dash)):
        assert dash["time"]["from"] == "now/d", "'today' tiles need the now/d → now range"


def test_every_query_parses_as_promql(tmp_path):
    promtool = require_tool("promtool")
    rules = []
    for name, dash in BY_NAME.items():
        values = {v["name"]: "x" for v in variables(dash)}
        for title, ref, expr in dashboard_queries(dash):
            rules.append({"record": f"check:q{len(rules)}:x", "expr": substitute(expr, values)})
        for v in variables(dash):
            m = re.fullmatch(r"label_values\((.+), *(\w+)\)", v["query"] if isinstance(v["query"], str)
                             else v["query"]["query"])
            assert m, v["query"]
            rules.append({"record": f"check:v{len(rules)}:x", "expr": substitute(m.group(1), values)})
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_targets_match_the_recorded_defaults():
    groups = yaml.safe_load((ROOT / "deploy/prometheus/rules/deskpulse.targets.yml").read_text())["groups"]
    recorded = {r["record"]: r["expr"] for g in groups for r in g["rules"]}
    assert recorded["deskpulse:service_level_target:ratio"] == f"vector({queries.TARGETS['service_level']:.2f})"
    assert recorded["deskpulse:csat_target:ratio"] == f"vector({queries.TARGETS['csat']:.2f})"
    assert recorded["deskpulse:oldest_queued_target:seconds"] == f"vector({queries.TARGETS['oldest_queued_seconds']})"


def test_datasource_provisioning():
    doc = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yaml").read_text())
    assert doc["apiVersion"] == 1
    (ds,) = doc["datasources"]
    assert ds["type"] == "prometheus" and ds["uid"] == UID and ds["access"] == "proxy" and ds["url"] and ds["name"]
    scrape = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())["global"]["scrape_interval"]
    assert ds["jsonData"]["timeInterval"] == scrape


def test_dashboard_provisioning():
    doc = yaml.safe_load((PROVISIONING / "dashboards" / "deskpulse.yaml").read_text())
    assert doc["apiVersion"] == 1
    (provider,) = doc["providers"]
    assert provider["name"] and provider["type"] == "file" and provider["options"]["path"]


def test_grafana_alerting_provisioning_mirrors_the_prometheus_alerts():
    doc = yaml.safe_load(alerting.OUT.read_text())
    assert doc["apiVersion"] == 1
    rules = [r for g in doc["groups"] for r in g["rules"]]
    prom = [r for g in yaml.safe_load(alerting.ALERTS.read_text())["groups"] for r in g["rules"]]
    assert [r["title"] for r in rules] == [r["alert"] for r in prom]
    assert len({r["uid"] for r in rules}) == len(rules) and all(len(r["uid"]) <= 40 for r in rules)
    for g in doc["groups"]:
        assert {"orgId", "name", "folder", "interval", "rules"} <= set(g)
    for r in rules:
        assert r["condition"] in {d["refId"] for d in r["data"]}
        assert r["data"][0]["datasourceUid"] == UID
        assert r["labels"]["severity"] and r["annotations"]["runbook_url"]
        assert "$value " not in r["annotations"]["description"]
