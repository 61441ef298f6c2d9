"""Prometheus rules and Alertmanager config, checked with the shipped promtool 2.42 and amtool 0.25 (no network)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.tools import require_tool

ROOT = Path(__file__).resolve().parents[3]
PROM = ROOT / "deploy" / "prometheus"
RULES = sorted((PROM / "rules").glob("*.yml"))
ALERTS = PROM / "rules" / "deskpulse.alerts.yml"
AM = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
RUNBOOKS = ROOT / "docs" / "runbooks.md"


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_tool("promtool")


@pytest.fixture(scope="module")
def amtool() -> str:
    return require_tool("amtool")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=ROOT)


def alerts() -> list[dict]:
    return [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]


def test_rules_pass_promtool_check_with_lint(promtool):
    result = run(promtool, "check", "rules", "--lint=all", "--lint-fatal", *map(str, RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass(promtool):
    result = run(promtool, "test", "rules", str(PROM / "tests" / "deskpulse.alerts_test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_config_is_valid(promtool):
    result = run(promtool, "check", "config", str(PROM / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested_firing_and_not_firing():
    tests = yaml.safe_load((PROM / "tests" / "deskpulse.alerts_test.yml").read_text())["tests"]
    cases = [c for t in tests for c in t.get("alert_rule_test", [])]
    for rule in alerts():
        mine = [c for c in cases if c["alertname"] == rule["alert"]]
        assert any(c["exp_alerts"] for c in mine), f"{rule['alert']}: no firing case"
        assert any(not c["exp_alerts"] for c in mine), f"{rule['alert']}: no quiet case"


def test_alert_conventions_and_runbook_anchors():
    anchors = {m.group(1).strip().lower() for m in re.finditer(r"^## (.+)$", RUNBOOKS.read_text(), re.M)}
    names = [r["alert"] for r in alerts()]
    assert len(names) == len(set(names))
    for rule in alerts():
        name = rule["alert"]
        assert name.startswith("Deskpulse") and re.fullmatch(r"[A-Za-z]+", name)
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert rule["labels"]["team"] in {"floor", "platform"}, name
        ann = rule["annotations"]
        assert ann["summary"] and ann["description"], name
        assert ann["runbook_url"].endswith(f"docs/runbooks.md#{name.lower()}"), name
        assert name.lower() in anchors, f"docs/runbooks.md has no section '## {name}'"
        if rule["labels"]["team"] == "floor":
            assert "$labels.queue" in ann["description"], name


def test_recording_rules_follow_level_metric_operations():
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            assert "labels" not in group  # not supported by Prometheus 2.42
            for rule in group["rules"]:
                if "record" in rule:
                    assert re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", rule["record"]), rule["record"]
                    assert "deskpulse" in rule["record"], rule["record"]


def test_alertmanager_config_is_valid(amtool):
    result = run(amtool, "check-config", str(AM))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("labels, receiver", [
    (["severity=critical", "team=floor", "queue=billing"], "floor-pager"),
    (["severity=warning", "team=floor", "queue=billing"], "floor-wallboard-chat"),
    (["severity=critical", "team=platform"], "platform-pager"),
    (["severity=warning", "team=platform"], "platform-chat"),
    (["severity=info"], "deskpulse-default"),
])
def test_alertmanager_routes_by_team_and_severity(amtool, labels, receiver):
    result = run(amtool, "config", "routes", "test", f"--config.file={AM}", *labels)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == receiver


def test_warnings_are_inhibited_by_the_critical_alert_of_the_same_queue():
    config = yaml.safe_load(AM.read_text())
    rules = config["inhibit_rules"]
    assert any(r["source_matchers"] == ['severity="critical"'] and r["target_matchers"] == ['severity="warning"']
               and {"platform", "queue"} <= set(r["equal"]) for r in rules)
    assert {"alertname", "queue"} <= set(config["route"]["group_by"])


def test_targets_file_is_generated_from_the_sla_config():
    result = run(str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else "python3",
                 str(PROM / "targets.py"), "--check")
    assert result.returncode == 0, result.stderr


def test_queue_goals_become_target_overrides(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("targets", PROM / "targets.py")
    targets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(targets)
    from services.domain.slaconfig import SlaConfig

    text = targets.render(SlaConfig.load({"goals": {"global": {"csat": ">= 0.85"},
                                                    "queues": {"vip": {"service_level": ">= 0.95"}}}}), "test")
    assert "expr: vector(0.85)" in text  # csat default from the global goal
    assert 'label_replace(vector(0.95), "queue", "vip", "", "")' in text
    assert "vector(0.80)" in text  # service level default when no global goal
