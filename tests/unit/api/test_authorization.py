"""The authorization matrix: every route and page of the API × every role × inside and outside its reach.

Generated from the app's own route table: each route declares its rule (``reach.ACCESS`` in ``openapi_extra``) and
its path parameters say which scope it addresses, so a new route without a rule, or with parameters this test does
not know, fails here. What each token should see is written independently of reach.py, in tests/support/access.py.
Every 200 body is searched for scope ids outside the token's reach (and, for agent tokens, other agents' ids).
"""

import csv
import io
import json
import re
import tempfile
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

from services.api.app import create_app
from services.api.reach import ACCESS
from services.common.settings import Settings
from services.domain.slaconfig import SlaConfig
from tests.support.access import CONFIG, FLAT, GRANTS, LEAD, ME, contacts, expected, floor, tokens_file, worked
from tests.support.serving import served

# Which scope a route addresses, from its path parameters: a function of a subject scope id -> the path's values.
SUBJECTS = {
    (): ("all",),
    ("platform",): ("platform/zendesk", "platform/intercom"),
    ("account", "platform"): ("account/zendesk/acme",),
    ("queue_key",): ("queue/zendesk/billing", "queue/zendesk/technical", "queue/zendesk/escalations/tier 2",
                     "queue/intercom/sales-chat"),
    ("agent_key",): (f"agent/zendesk/{ME}", "agent/zendesk/ze-agent-02", f"agent/zendesk/{LEAD}",
                     "agent/intercom/in-agent-01"),
    ("name",): ("category/billing",),
    ("scope",): ("all", "platform/zendesk", "platform/intercom", "account/zendesk/acme", "queue/zendesk/billing",
                 "queue/zendesk/vip", "queue/intercom/sales-chat", f"agent/zendesk/{ME}", f"agent/zendesk/{LEAD}",
                 "agent/intercom/in-agent-02", "category/billing"),
    ("agent_id", "platform"): (f"agent/zendesk/{ME}", "agent/intercom/in-agent-01"),
    ("platform", "queue_id"): ("queue/zendesk/billing", "queue/intercom/sales-chat"),
}
WHO = ("director", "flat", "team manager", "platform manager", "agent", "lead", "metrics", "expired")
KINDS = ("platform", "account", "queue", "agent", "category", "queue_agent", "queue_category", "queue_agent_category")
SCOPE_ID = re.compile(rf"^(?:{'|'.join(KINDS)})/")


def token_of(who: str) -> str | None:
    return FLAT if who == "flat" else GRANTS[who][0]


def path_for(route: APIRoute, subject: str) -> str:
    """``route.path`` filled in for the subject scope."""
    _, _, rest = subject.partition("/")
    platform, _, key = rest.partition("/")
    values = {"platform": platform or rest, "account": key, "queue_key": rest, "agent_key": rest,
              "name": rest, "scope": subject, "agent_id": key, "queue_id": key}
    return re.sub(r"{(\w+)(?::path)?}", lambda m: values[m.group(1)], route.path)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    _, model = floor()
    settings = Settings(api_tokens=FLAT, api_tokens_file=tokens_file(tmp_path_factory.mktemp("t") / "tokens.yaml"))
    return create_app(settings, read_model=model, consume=False, sla=SlaConfig.load(CONFIG), contacts=contacts())


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


def rules(app) -> list[tuple[APIRoute, str]]:
    """Every route with its rule; fails naming a route that has none or parameters without subjects."""
    out = []
    for route in (context.route for context in iter_route_contexts(app.routes)):
        if isinstance(route, APIRoute):
            rule = (route.openapi_extra or {}).get(ACCESS)
            assert rule, f"{route.path} declares no access rule (openapi_extra=reach.rule(...))"
            params = tuple(sorted(re.findall(r"{(\w+)", route.path)))
            if rule in ("scope", "people", "open"):
                assert params in SUBJECTS, f"{route.path}: add its parameters {params} to SUBJECTS"
            out.append((route, rule))
        elif isinstance(route, Mount):
            assert route.path in ("/wallboard", "/pages"), f"{route.path}: a mount this matrix does not know"
        elif isinstance(route, Route):
            # Starlette's own /openapi.json and /docs helpers, and the stream's light twin of the documented route
            assert route.path in ("/openapi.json", "/v1/stream"), f"{route.path}: a route without a rule"
        else:
            pytest.fail(f"{route!r}: a route of a kind this matrix does not know")
    return out


def get(client, path: str, who: str | None, **params):
    headers = {"Authorization": f"Bearer {token_of(who)}"} if who else {}
    return client.get(path, headers=headers, params=params)


def leaks(body, who: str) -> list[str]:
    """Scope ids in the body outside the token's reach; for agent tokens, also other agents' ids."""
    found = []

    def walk(value):
        if isinstance(value, dict):
            for key, item in value.items():
                if key != "agents_scope":  # staffing: where its count of available agents comes from (a count)
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str):
            if SCOPE_ID.match(value) and not expected(who, value):
                found.append(value)
            if who in ("agent", "lead") and value in others(who):
                found.append(value)

    walk(body)
    return found


def others(who: str) -> set[str]:
    me = ME if who == "agent" else LEAD
    return {a for _, _, a in worked() if a != me}


def test_every_route_declares_a_rule_the_matrix_knows(app):
    assert {rule for _, rule in rules(app)} == {"open", "metrics", "scope", "people", "list", "stream"}


def test_without_a_valid_token_every_figure_and_metrics_route_is_401(app, client):
    for route, rule in rules(app):
        if rule == "open":
            continue
        subject = SUBJECTS.get(tuple(sorted(re.findall(r"{(\w+)", route.path))), ("all",))[0]
        path = path_for(route, subject)
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Bearer {token_of('expired')}"}):
            response = client.get(path, headers=headers)
            assert response.status_code == 401, (path, headers, response.text)
            assert response.headers["www-authenticate"] == "Bearer" and response.json()["detail"]


def test_open_routes_pages_and_files_answer_anyone(app, client):
    for route, rule in rules(app):
        if rule != "open":
            continue
        params = tuple(sorted(re.findall(r"{(\w+)", route.path)))
        for subject in SUBJECTS[params]:
            response = client.get(path_for(route, subject))
            assert response.status_code == 200, route.path
            assert not leaks(response.text, "metrics") or route.path == "/readyz"
    for path in ("/", "/pages/common.js", "/wallboard/wallboard.js", "/openapi.json"):
        assert client.get(path).status_code == 200, path


@pytest.mark.parametrize("who", WHO[:-1])
def test_scope_routes_answer_inside_the_reach_and_403_outside(app, client, who):
    checked = 0
    for route, rule in rules(app):
        if rule not in ("scope", "people"):
            continue
        for subject in SUBJECTS[tuple(sorted(re.findall(r"{(\w+)", route.path)))]:
            path = path_for(route, subject)
            response = get(client, path, who)
            allowed = who != "metrics" and expected(who, subject, people=rule == "people")
            if route.path == "/v1/agents/{agent_key:path}/teams" and allowed:
                assert response.status_code == 200
            if not allowed:
                assert response.status_code == 403, (who, path, response.text)
                assert response.json()["detail"], path
                continue
            assert response.status_code in (200, 404), (who, path, response.text)
            assert response.status_code == 200 or subject.startswith("category/"), (who, path, response.text)
            assert not leaks(response.json(), who), (who, path, leaks(response.json(), who))
            checked += 1
    assert checked > 0 or who == "metrics"


def test_an_agent_sees_their_teams_aggregates_and_nobody_elses_names(client):
    mine = get(client, f"/v1/agents/zendesk/{ME}/teams", "agent").json()
    assert {item["id"] for item in mine["items"]} == {q for p, q, a in worked() if a == ME}
    assert all(item["agent"]["agent"] == ME for item in mine["items"])
    assert get(client, "/v1/queues/zendesk/billing", "agent").status_code == 200  # the team's figures
    refused = get(client, "/v1/queues/zendesk/billing/team", "agent")  # the team's table names every agent
    assert refused.status_code == 403 and "aggregate figures, not other agents'" in refused.json()["detail"]
    assert get(client, "/v1/agents/zendesk/ze-agent-02", "agent").status_code == 403
    # a bare id resolves within the reach; one outside it is refused, not looked up
    assert get(client, f"/v1/agents/{ME}", "agent").json()["scope"] == f"agent/zendesk/{ME}"
    assert get(client, "/v1/agents/in-agent-01", "agent").status_code == 403
    assert get(client, "/v1/queues/zendesk/nowhere", "team manager").status_code == 403  # unknown and outside
    assert get(client, "/v1/queues/zendesk/nowhere", "director").status_code == 404


LISTS = {
    "/v1/queues": ("queue", False),
    "/v1/agents": ("agent", False),
    "/v1/categories": ("category", False),
    "/v1/teams": ("queue", False),
    "/v1/outliers": ("queue", True),
    "/v1/export/attainment.csv": ("queue", False),
    "/v1/export/contacts.csv": ("contact", True),
}


@pytest.mark.parametrize("who", WHO[:-1])
def test_lists_hold_exactly_what_the_token_may_see(app, client, who):
    _, model = floor()
    for route, rule in rules(app):
        if rule != "list":
            continue
        assert route.path in LISTS, f"{route.path}: say which scopes the list holds"
        kind, people = LISTS[route.path]
        response = get(client, route.path, who, **({"window": "all"} if "contacts" in route.path else {"limit": 1000}))
        if who == "metrics":
            assert response.status_code == 403, route.path
            continue
        assert response.status_code == 200, (who, route.path, response.text)
        if route.path == "/v1/export/contacts.csv":
            rows = list(csv.DictReader(io.StringIO(response.text)))
            me = {"agent": ME, "lead": LEAD}.get(who)
            want = {r["key"] for r in contacts().of("all")
                    if expected(who, f"queue/{r['platform']}/{r['queue']}", people=True)
                    or (me is not None and r["platform"] == "zendesk" and r["agent"] == me)}
            assert {r["key"] for r in rows} == want and (want or who != "director"), who
            continue
        if route.path.endswith(".csv"):
            rows = list(csv.DictReader(io.StringIO(response.text)))
            assert {f"queue/{r['platform']}/{r['queue']}" for r in rows} == {
                s for s in model.scopes(kind) if expected(who, s)}, who
            assert all(expected(who, f"agent/{r['platform']}/{r['agent']}") for r in rows if r["level"] == "agent")
            assert not any(r["agent"] in others(who) for r in rows) or who not in ("agent", "lead")
            continue
        body = response.json()
        listed = {item["scope"] for item in body["items"]}
        want = {s for s in model.scopes(kind) if expected(who, s, people)}
        if route.path == "/v1/outliers":
            assert listed <= want, (who, listed - want)  # only queues with a judgement are listed
            assert listed or not want or who == "platform manager", who
        else:
            assert listed == want, (who, route.path, listed ^ want)
        assert body.get("total", len(listed)) == len(listed)
        assert not leaks(body, who), (who, route.path, leaks(body, who))


def test_metrics_take_a_metrics_or_director_token_with_a_tokens_file(client):
    for who, status in (("metrics", 200), ("director", 200), ("flat", 200), ("team manager", 403), ("agent", 403)):
        assert get(client, "/metrics", who).status_code == status, who
    assert client.get("/metrics").status_code == 401


def test_denials_are_counted_by_route_and_reason_without_tokens(app):
    with TestClient(app) as client:
        before = _denied(get(client, "/metrics", "metrics").text)
        get(client, "/v1/queues/zendesk/vip", "team manager")
        get(client, "/v1/queues/zendesk/vip", "team manager")
        client.get("/v1/summary", headers={"Authorization": "Bearer wrong-token"})
        get(client, "/v1/summary", "metrics")
        text = get(client, "/metrics", "metrics").text
    after = _denied(text)
    assert after[("/v1/queues/{queue_key:path}", "outside_reach")] - before.get(
        ("/v1/queues/{queue_key:path}", "outside_reach"), 0) == 2
    assert after[("/v1/summary", "unknown")] - before.get(("/v1/summary", "unknown"), 0) == 1
    assert after[("/v1/summary", "role")] - before.get(("/v1/summary", "role"), 0) == 1
    assert "wrong-token" not in text and "tok-" not in text


def _denied(text: str) -> dict[tuple[str, str], float]:
    out = {}
    for line in text.splitlines():
        m = re.match(r'deskpulse_api_denied_total\{route="([^"]+)",reason="(\w+)"\} (\S+)', line)
        if m:
            out[(m.group(1), m.group(2))] = float(m.group(3))
    return out


def first_snapshot(url: str, who: str | None, params: list[tuple[str, str]]) -> tuple[int, list[str]]:
    """The stream's status and the scopes of its first snapshot."""
    headers = {"Authorization": f"Bearer {token_of(who)}"} if who else {}
    with httpx.Client(timeout=20) as http, http.stream("GET", f"{url}/v1/stream", params=params,
                                                       headers=headers) as response:
        if response.status_code != 200:
            return response.status_code, []
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "snapshot":
                return 200, [body["scope"] for body in json.loads(line[6:])["scopes"]]
    raise AssertionError("no snapshot")


def test_the_stream_carries_only_the_scopes_in_reach(app):
    _, model = floor()
    asked = [("scope", "all"), ("scope", "platform/"), ("scope", "queue/"), ("scope", "agent/"),
             ("scope", "queue_category/zendesk/"), ("window", "today")]
    with served(app) as url:
        assert first_snapshot(url, None, asked)[0] == 401
        assert first_snapshot(url, "metrics", asked)[0] == 403
        for who in ("director", "team manager", "platform manager", "agent", "lead"):
            for params in (asked, [("window", "today")]):  # the wallboard's subscription, and every scope
                status, scopes = first_snapshot(url, who, params)
                wanted = [p for k, p in params if k == "scope"]
                requested = {s for s in model.all_scopes()
                             if not wanted or s in wanted or s.startswith(tuple(w for w in wanted if w.endswith("/")))}
                assert status == 200
                assert set(scopes) == {s for s in requested if expected(who, s)}, who
        # the token in the query string (EventSource), as the pages send it
        status, scopes = first_snapshot(url, None, [*asked, ("access_token", token_of("agent"))])
        assert status == 200 and f"agent/zendesk/{ME}" in scopes and "agent/zendesk/ze-agent-02" not in scopes


def _schema():
    _, model = floor()
    path = tokens_file(Path(tempfile.mkdtemp()) / "tokens.yaml")
    app = create_app(Settings(api_tokens_file=path), read_model=model, consume=False, sla=SlaConfig.load(CONFIG),
                     contacts=contacts())
    return schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path="/v1/stream")


@_schema().parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@pytest.mark.parametrize("who", ["team manager", "agent"])
def test_schemathesis_with_a_scoped_token_finds_no_server_error_and_no_leak(case, who):
    """Generated requests of every documented route with a manager's and an agent's token: never a 5xx, and no 200
    body with a scope outside the token's reach (or, for the agent, another agent's id)."""
    response = case.call(headers={"Authorization": f"Bearer {token_of(who)}"})
    case.validate_response(response, checks=[not_a_server_error])
    if response.status_code == 200 and "json" in response.headers.get("content-type", ""):
        assert not leaks(response.json(), who), (case.path, leaks(response.json(), who))
