"""Real checks of the dashboards and alerts: the pipeline, a real Prometheus 2.42 and Alertmanager 0.25.

Ingest, aggregator and API run as processes on the real broker; Prometheus scrapes the three every second with
the shipped rule files and sends to Alertmanager with the shipped config (services/demo/observability.py).
Real canonical events go in through ingest in two phases (so every counter series exists before it grows and
``increase()`` sees the growth); then every PromQL expression of every dashboard panel is sent to Prometheus
with Grafana's macros and variables substituted, and must return data without NaN. Finally a contact in a queue
with a 5 s first-response target is left unanswered: DeskpulseFirstResponseSlaBreaching must fire in
Prometheus and reach Alertmanager.
"""

from __future__ import annotations

import math
import random
import re
import shutil
import time

import httpx
import pytest

from services.common.events import SCHEMA_ID, from_epoch_ms, to_epoch_ms
from services.demo import observability
from services.demo.synthetic import agent_shifts, history
from tests.support.dashboards import DASHBOARDS, load, queries, substitute, variables
from tests.support.pipeline import Pipeline
from tests.support.tools import require_tool

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]


@pytest.fixture(autouse=True)
def _prometheus_and_alertmanager():
    """Every test here runs both: without them it skips, or fails under CI (tests/support/tools.py)."""
    require_tool("prometheus")
    require_tool("prometheus-alertmanager", "alertmanager")


BREACH_QUEUE = "e2e-breach"
SLA_CONFIG = f"""\
policies:
  - name: e2e-breach
    match: {{queue: {BREACH_QUEUE}}}
    targets: {{first_response: 5s}}
  - name: default
    targets: {{first_response: 30d, next_reply: 30d, resolution: 60d}}
service_levels:
  default: {{threshold_seconds: 20, abandons: count_against, short_abandon_seconds: 5}}
categories:
  - {{name: billing, match: [{{tag: [billing, refund]}}]}}
  - {{name: access, match: [{{tag: [login, bug]}}]}}
  - {{name: complaint, match: [{{tag: complaint}}]}}
complaints:
  categories: [complaint]
"""
OUTLIER_QUEUE = "e2e-outliers"


def _doc(kind: str, t_ms: int, platform: str, contact: str, event_id: str, **fields) -> dict:
    return {"schema": SCHEMA_ID, "event_id": event_id, "type": kind, "occurred_at": from_epoch_ms(t_ms),
            "platform": platform, "contact_id": contact, **fields}


def traffic(seed: int, tag: str, start_ms: int, now_ms: int) -> list[dict]:
    """Synthetic lifecycles and agent shifts between start and now (nothing in the future), ids tagged."""
    rng = random.Random(seed)
    docs = history(rng, start_ms, contacts=60) + agent_shifts(rng, start_ms, now_ms)
    docs = [d for d in docs if to_epoch_ms(d["occurred_at"]) <= now_ms]
    for d in docs:
        d["event_id"] = f"{tag}-{d['event_id']}"
        if d.get("contact_id"):
            d["contact_id"] = f"{tag}-{d['contact_id']}"
    docs.sort(key=lambda d: d["occurred_at"])
    return docs


def live_waiting(tag: str, now_ms: int) -> list[dict]:
    """A voice call still queued and an email still waiting for its first response (the 'oldest' tiles)."""
    return [
        _doc("contact.created", now_ms - 20_000, "twilio", f"{tag}-call", f"{tag}-call-1", queue_id="phone-support",
             channel="voice", priority="normal", status="new"),
        _doc("contact.queued", now_ms - 20_000, "twilio", f"{tag}-call", f"{tag}-call-2", queue_id="phone-support"),
        _doc("contact.created", now_ms - 60_000, "zendesk", f"{tag}-mail", f"{tag}-mail-1", queue_id="billing",
             channel="email", priority="normal", status="new"),
    ]


def outlier_traffic(tag: str, now_ms: int) -> list[dict]:
    """Six agents of one queue each resolve 10 refund tickets yesterday (rated good) and 10 today: one agent gets
    6 bad ratings today, the others 1 each. Today the agent is an outlier (agent-level) and the billing category
    worsened against yesterday (process-level), so every outlier panel has data (docs/kpis.md, Outliers)."""
    day = now_ms - now_ms % 86_400_000  # no days: in the SLA config, so UTC days
    span = max(1_000, min(40 * 60_000, now_ms - day - 60_000))
    docs, n = [], 0
    for when, bad_of in ((day - 12 * 3_600_000, {}), (now_ms - span, {"e2e-bad": 6})):
        for a in range(6):
            agent = "e2e-bad" if a == 0 else f"e2e-agent-{a}"
            for i in range(10):
                n += 1
                t, c = when + (a * 10 + i) * span // 70, f"{tag}-out-{n}"
                bad = i < bad_of.get(agent, 1 if bad_of else 0)
                docs += [
                    _doc("contact.created", t, "zendesk", c, f"{c}-1", queue_id=OUTLIER_QUEUE, channel="email",
                         status="new", attributes={"tags": ["refund"]}),
                    _doc("contact.assigned", t + 1, "zendesk", c, f"{c}-2", agent_id=agent),
                    _doc("contact.message", t + 2, "zendesk", c, f"{c}-3", author="agent", public=True, agent_id=agent),
                    _doc("contact.status_changed", t + 3, "zendesk", c, f"{c}-4", status="solved"),
                    _doc("contact.rated", t + 4, "zendesk", c, f"{c}-5", rating={"label": "bad" if bad else "good"}),
                ]
    return docs


def post_all(pipeline: Pipeline, client: httpx.Client, docs: list[dict]) -> None:
    for start in range(0, len(docs), 100):
        response = pipeline.post(client, docs[start:start + 100])
        assert response.status_code == 202, response.text


def prom_query(client: httpx.Client, prom: str, expr: str) -> dict:
    body = client.post(f"{prom}/api/v1/query", data={"query": expr}).json()
    assert body["status"] == "success", (expr, body.get("error"))
    return body["data"]


def wait_for(predicate, timeout_s: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


@pytest.fixture
def stack(kafka_bootstrap, unique_names, tmp_path):
    sla = tmp_path / "sla.yaml"
    sla.write_text(SLA_CONFIG)
    pipe = Pipeline(kafka_bootstrap, unique_names, tmp_path / "logs", extra_env={"DESKPULSE_SLA_CONFIG": str(sla)})
    obs = None
    try:
        pipe.start()
        obs = observability.start(
            pipe.api_url, ingest_url=pipe.ingest_url, aggregator_url=f"http://127.0.0.1:{pipe.metrics_port}",
            workdir=tmp_path / "observability", scrape_interval="1s", evaluation_interval="1s",
            prometheus_port=None, alertmanager_port=None)
        yield pipe, obs
    finally:
        if obs is not None:
            codes = obs.stop()
            print(obs.logs()[-2000:])
            assert all(code == 0 for code in codes.values()), f"unclean Prometheus/Alertmanager shutdown: {codes}"
        pipe.stop_cleanly()
        shutil.rmtree(tmp_path / "observability", ignore_errors=True)


def variable_values(client: httpx.Client, prom: str, dashboard: dict, chosen: dict[str, str]) -> dict[str, str]:
    """Every variable's query must return values; multi-value variables become '.*' (All)."""
    values = {}
    for var in variables(dashboard):
        text = var["query"] if isinstance(var["query"], str) else var["query"]["query"]
        match, label = re.fullmatch(r"label_values\((.+), *(\w+)\)", text).groups()
        found = client.get(f"{prom}/api/v1/label/{label}/values",
                           params={"match[]": substitute(match, values)}).json()["data"]
        assert found, f"{dashboard['title']}: variable {var['name']} has no values"
        if var.get("multi"):
            values[var["name"]] = ".*"
        else:
            values[var["name"]] = chosen.get(var["name"], found[0])
            assert values[var["name"]] in found, (var["name"], values[var["name"]], found)
    return values


def test_dashboards_show_data_and_a_breach_reaches_alertmanager(stack):
    pipeline, obs = stack
    started = time.monotonic()
    prom, am = obs.prometheus_url, obs.alertmanager_url
    with httpx.Client(timeout=10) as client:
        assert client.get(f"{prom}/api/v1/status/buildinfo").json()["data"]["version"].startswith("2.42.")
        assert client.get(f"{am}/api/v2/status").json()["versionInfo"]["version"].startswith("0.25.")

        # Phase 1: every series comes to exist.
        now = int(time.time() * 1000)
        post_all(pipeline, client, traffic(11, "p1", now - 100 * 60_000, now) + live_waiting("p1", now)
                 + outlier_traffic("p1", now))
        wait_for(lambda: prom_query(client, prom, "sum(deskpulse_contacts_created_total) > 170")["result"], 30,
                 "phase 1 in Prometheus")  # 60 synthetic contacts at most, 2 waiting, 120 for the outliers
        time.sleep(2)
        phase1 = float(prom_query(client, prom, "sum(deskpulse_contacts_created_total)")["result"][0]["value"][1])

        # Phase 2: the counters grow while Prometheus watches.
        now = int(time.time() * 1000)
        post_all(pipeline, client, traffic(12, "p2", now - 40 * 60_000, now))
        wait_for(lambda: prom_query(client, prom, f"sum(deskpulse_contacts_created_total) > {phase1 + 40}")["result"],
                 30, "phase 2 in Prometheus")
        time.sleep(3)  # a few more scrapes and rule evaluations
        fed_s = time.monotonic() - started

        # The busiest live agent for the agent board.
        top = prom_query(client, prom, "topk(1, sum by (platform, agent) "
                                       "(increase(deskpulse_agent_contacts_handled_total[1h])))")["result"]
        assert top, "no agent handled a live contact"
        chosen = {"platform": top[0]["metric"]["platform"], "agent": top[0]["metric"]["agent"]}

        problems, checked = [], 0
        for path in DASHBOARDS:
            dashboard = load(path)
            values = variable_values(client, prom, dashboard, chosen)
            for title, ref, expr in queries(dashboard):
                checked += 1
                data = prom_query(client, prom, substitute(expr, values))
                series = data["result"]
                if not series:
                    problems.append(f"{path.name}: {title} [{ref}]: no series for {substitute(expr, values)}")
                elif any(math.isnan(float(s["value"][1])) for s in series):
                    problems.append(f"{path.name}: {title} [{ref}]: NaN")
        assert not problems, "\n".join(problems)
        assert checked >= 50
        flagged = prom_query(client, prom, f'deskpulse_outlier_agent{{queue="{OUTLIER_QUEUE}",period="today"}}')
        assert {r["metric"]["agent"] for r in flagged["result"]} == {"e2e-bad"}
        verdict = client.get(f"{pipeline.api_url}/v1/queues/zendesk/{OUTLIER_QUEUE}/outliers?period=today").json()
        assert verdict["verdict"] == "process-level"  # billing worsened for everyone, and e2e-bad is listed
        assert verdict["metrics"]["complaint_rate"]["outliers"] == ["e2e-bad"]

        rules = client.get(f"{prom}/api/v1/rules").json()["data"]["groups"]
        # groups evaluated once a minute (the 24 h CSAT windows) may not have run yet: "unknown", never "err"
        unhealthy = [(r["name"], r["health"], r.get("lastError")) for g in rules for r in g["rules"]
                     if r["health"] == "err" or (r["health"] != "ok" and g["interval"] < 60)]
        assert not unhealthy
        assert sum(len(g["rules"]) for g in rules) >= 30

        # Induce a first-response breach: a contact in the 5 s queue that nobody answers.
        def breach_alerts(state: str) -> list[dict]:
            alerts = client.get(f"{prom}/api/v1/alerts").json()["data"]["alerts"]
            return [a for a in alerts if a["labels"]["alertname"] == "DeskpulseFirstResponseSlaBreaching"
                    and a["labels"].get("queue") == BREACH_QUEUE and a["state"] == state]

        assert not breach_alerts("firing") and not breach_alerts("pending")
        breach_at = time.monotonic()
        now = int(time.time() * 1000)
        post_all(pipeline, client, [_doc("contact.created", now, "zendesk", "breach-1", "breach-1-created",
                                         queue_id=BREACH_QUEUE, channel="email", priority="high", status="new")])
        firing = wait_for(lambda: breach_alerts("firing"), 60, "DeskpulseFirstResponseSlaBreaching firing")
        assert firing[0]["labels"]["severity"] == "critical" and firing[0]["labels"]["platform"] == "zendesk"
        assert "e2e-breach (zendesk)" in firing[0]["annotations"]["description"]
        fired_s = time.monotonic() - breach_at

        def in_alertmanager() -> list[dict]:
            alerts = client.get(f"{am}/api/v2/alerts", params={
                "filter": ['alertname="DeskpulseFirstResponseSlaBreaching"', f'queue="{BREACH_QUEUE}"']}).json()
            return [a for a in alerts if a["status"]["state"] == "active"]

        received = wait_for(in_alertmanager, 20, "the alert in Alertmanager")
        assert received[0]["labels"]["team"] == "floor"
        assert [r["name"] for r in received[0]["receivers"]] == ["floor-pager"]
    print(f"\nobservability e2e: {checked} dashboard queries with data after {fed_s:.1f} s of feeding; breach alert "
          f"firing {fired_s:.1f} s after the contact (5 s target + 15 s for:), in Alertmanager; "
          f"total {time.monotonic() - started:.1f} s")
