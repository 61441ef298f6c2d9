"""A team side by side (services/api/teams.py, routers/teams.py): figures against an independent recomputation."""

import random
from datetime import date

import pytest
from fastapi.testclient import TestClient

from services.aggregator.engine import Engine
from services.aggregator.kpiconfig import SlaKpiConfig
from services.api.app import create_app
from services.api.readmodel import ReadModel
from services.api.teams import medians, period_goal, status, team_body, versus
from services.common.clock import FixedClock
from services.common.events import parse_event
from services.common.settings import Settings
from services.demo.synthetic import agent_shifts, history
from services.domain.goals import Goal, GoalPeriod
from services.domain.slaconfig import SlaConfig
from services.domain.windows import DAY_MS, UTC_DAYS
from tests.support import recompute
from tests.support.partials import encoded

T0 = 1_795_000_000_000  # 2026-11-18T09:46:40Z
CONFIG = {
    "goals": {"global": {"csat": ">= 0.80", "complaint_rate": "<= 0.25"},
              "queues": {"billing": {"first_response_seconds_avg": "<= 400"}}},
    "days": {"default": {"timezone": "Europe/Brussels", "reset": "06:00"}},
    "categories": [{"name": "billing", "match": [{"tag": ["billing", "refund", "invoice"]}]},
                   {"name": "access", "match": [{"tag": ["login", "password"]}]},
                   {"name": "defect", "match": [{"tag": "bug"}]}],
}


def test_status_against_a_goal_met_near_missed():
    at_least = Goal("csat", ">=", 0.8)
    assert status(at_least, 0.95) == "met"
    assert status(at_least, 0.85) == "near"  # met by 0.05 < a tenth of 0.8
    assert status(at_least, 0.79) == "missed"
    at_most = Goal("first_response_seconds_avg", "<=", 600)
    assert status(at_most, 500) == "met" and status(at_most, 580) == "near" and status(at_most, 601) == "missed"
    assert status(at_most, None) is None and status(None, 0.5) is None


def test_medians_skip_agents_without_the_figure_and_versus_is_positive_when_better():
    rows = [{"quality": {"csat": c, "first_response_average_seconds": f, "one_touch_rate": None,
                         "reopen_rate": None, "complaint_rate": None}}
            for c, f in ((0.9, 100.0), (0.7, 300.0), (None, 200.0), (0.8, None))]
    median = medians(rows)
    assert median["csat"] == 0.8 and median["first_response_average_seconds"] == 200.0
    assert median["one_touch_rate"] is None
    assert versus(rows[0], median)["csat"] == pytest.approx(0.1)  # higher CSAT: better
    assert versus(rows[0], median)["first_response_average_seconds"] == 100.0  # faster: better
    assert versus(rows[1], median)["first_response_average_seconds"] == -100.0
    assert versus(rows[2], median)["csat"] is None


def test_period_sums_the_local_days_and_leaves_out_agents_idle_in_it():
    day = UTC_DAYS.start(T0)
    queue = {day - 8 * DAY_MS: {"resolved": 50}, day - 2 * DAY_MS: {"resolved": 3}, day: {"resolved": 2}}
    agents = {"old": {day - 8 * DAY_MS: {"resolved": 50}},
              "a": {day - 2 * DAY_MS: {"resolved": 3, "complaints": 1}, day: {"resolved": 1, "fr_count": 2, "fr_ms": 90_000}},
              "b": {day: {"resolved": 1}}}
    week = team_body(queue, agents, {}, {}, UTC_DAYS, T0, "week")
    assert week["queue"]["volume"]["resolved"] == 5
    assert [r["agent"] for r in week["agents"]] == ["a", "b"]  # "old" resolved nothing this week
    assert week["agents"][0]["volume"] == {"resolved": 4, "first_responses": 2, "replies": 0, "answered": 0,
                                           "handled": 0}
    assert week["agents"][0]["quality"]["complaint_rate"] == 0.25
    today = team_body(queue, agents, {}, {}, UTC_DAYS, T0, "today")
    assert today["queue"]["volume"]["resolved"] == 2 and today["from"] == day and today["to"] == T0


def engine_model(docs, config):
    engine = Engine({}, config=SlaKpiConfig(SlaConfig.load(config)))
    last = max(parse_event(d).occurred_ms for d in docs)
    for d in docs:
        e = parse_event(d)
        engine.handle(hash(e.contact_id or e.agent_id) % 3, e, e.occurred_ms)
    model = ReadModel(clock=FixedClock(last))
    for key, value in engine.drain(last):
        model.apply(key, value)
    model.caught_up = True
    return model, last


def expected_row(days: dict[int, dict], since: int) -> dict:
    """The volume and quality of one scope's recomputed day counters since ``since``, from the definitions."""
    c: dict[str, int] = {}
    for start, counters in days.items():
        if start >= since:
            for name, value in counters.items():
                c[name] = c.get(name, 0) + value

    def ratio(a, b):
        return round(a / b, 6) if b else None

    good, bad = c.get("csat_good", 0), c.get("csat_bad", 0)
    return {
        "volume": {"resolved": c.get("resolved", 0), "first_responses": c.get("fr_count", 0),
                   "replies": c.get("replies", 0), "answered": c.get("answered", 0), "handled": c.get("handled", 0)},
        "csat": ratio(good, good + bad),
        "first_response_average_seconds": round(c["fr_ms"] / c["fr_count"] / 1000, 3) if c.get("fr_count") else None,
        "reopen_rate": ratio(c.get("reopened", 0), c.get("resolved", 0)),
        "complaint_rate": ratio(c.get("complaints", 0), c.get("resolved", 0)),
        "one_touch_rate": ratio(c.get("one_touch", 0), c.get("resolved", 0)),
    }


@pytest.fixture(scope="module")
def scenario():
    rng = random.Random(5)
    docs = history(rng, T0, contacts=900, mean_gap_ms=9 * DAY_MS // 900)
    docs += agent_shifts(rng, T0 + 9 * DAY_MS - 3_600_000, T0 + 9 * DAY_MS)
    model, last = engine_model(docs, CONFIG)
    return docs, model, last


def test_team_route_equals_the_recomputation_of_every_agent_in_the_period(scenario):
    docs, model, last = scenario
    since = recompute.local_day_start(last, "Europe/Brussels", "06:00") - 6 * DAY_MS
    expected = recompute.days(docs, CONFIG)
    with TestClient(create_app(Settings(), read_model=model, consume=False, sla=SlaConfig.load(CONFIG))) as client:
        body = client.get("/v1/queues/zendesk/billing/team").json()
        assert client.get("/v1/queues/billing/team?period=today").status_code == 200  # bare id, one platform
    assert body["period"] == "week" and body["timezone"] == "Europe/Brussels"
    agents = {s.rsplit("/", 1)[1]: d for s, d in expected.items() if s.startswith("queue_agent/zendesk/billing/")}
    worked = {a for a, d in agents.items() if any(expected_row(d, since)["volume"].values())}
    assert {r["agent"] for r in body["agents"]} == worked and len(worked) >= 3
    for row in body["agents"]:
        want = expected_row(agents[row["agent"]], since)
        assert row["volume"] == want["volume"], row["agent"]
        for name in ("csat", "first_response_average_seconds", "reopen_rate", "complaint_rate", "one_touch_rate"):
            assert row["quality"][name] == want[name], (row["agent"], name)
        assert row["scope"] == f"agent/zendesk/{row['agent']}"
    queue = expected_row(expected["queue/zendesk/billing"], since)
    assert body["queue"]["volume"] == queue["volume"]
    # the queue's goals: the global ones and the queue's own
    assert body["goals"] == {"csat": "csat >= 0.8", "complaint_rate": "complaint_rate <= 0.25",
                             "first_response_average_seconds": "first_response_seconds_avg <= 400"}
    assert body["queue"]["status"]["one_touch_rate"] is None  # no goal
    resolved = [r["volume"]["resolved"] for r in body["agents"]]
    assert resolved == sorted(resolved, reverse=True)
    assert {c["category"] for c in body["categories"]} <= {
        s.rsplit("/", 1)[1] for s in expected if s.startswith("queue_category/zendesk/billing/")}


def test_agent_teams_route_gives_the_agents_rows_of_each_team(scenario):
    _, model, _ = scenario
    with TestClient(create_app(Settings(), read_model=model, consume=False, sla=SlaConfig.load(CONFIG))) as client:
        team = client.get("/v1/queues/zendesk/billing/team").json()
        agent = team["agents"][0]
        body = client.get(f"/v1/agents/{agent['scope'].split('/', 1)[1]}/teams").json()
        billing = next(i for i in body["items"] if i["queue"] == "queue/zendesk/billing")
        assert billing["agent"] == agent and billing["median"] == team["median"]
        assert billing["agents_in_team"] == len(team["agents"])
        resolved = [i["agent"]["volume"]["resolved"] for i in body["items"]]
        assert resolved == sorted(resolved, reverse=True)


def test_team_routes_refuse_what_they_cannot_answer():
    model = ReadModel(clock=FixedClock(T0))
    for platform in ("zendesk", "intercom"):
        model.apply(*encoded(f"queue/{platform}/shared", totals={"created": 1}, published_ms=T0))
    model.apply(*encoded("agent/zendesk/a1", totals={"resolved": 1}, published_ms=T0))
    with TestClient(create_app(Settings(), read_model=model, consume=False)) as client:
        unknown = client.get("/v1/queues/zendesk/nope/team")
        assert unknown.status_code == 404 and unknown.json()["detail"] == "unknown queue 'zendesk/nope'"
        assert client.get("/v1/queues/shared/team").status_code == 409
        bad = client.get("/v1/queues/zendesk/shared/team?period=month")
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "period"]
        assert client.get("/v1/agents/zendesk/nobody/teams").status_code == 404
        # an agent who worked in no queue has no teams, and a queue without agents an empty table
        assert client.get("/v1/agents/zendesk/a1/teams").json()["items"] == []
        assert client.get("/v1/queues/zendesk/shared/team").json()["agents"] == []


def test_every_team_route_gives_each_queue_this_week_and_last_worst_first(scenario):
    docs, model, last = scenario
    week_start = recompute.local_day_start(last, "Europe/Brussels", "06:00") - 6 * DAY_MS
    expected = recompute.days(docs, CONFIG)
    with TestClient(create_app(Settings(), read_model=model, consume=False, sla=SlaConfig.load(CONFIG))) as client:
        body = client.get("/v1/teams").json()
        zendesk = client.get("/v1/teams?platform=zendesk").json()
    assert body["total"] == len(model.scopes("queue")) >= 4
    assert {i["scope"] for i in zendesk["items"]} == {s for s in model.scopes("queue") if s.startswith("queue/zendesk/")}
    for item in body["items"]:
        days = expected[item["scope"]]
        this_week = expected_row(days, week_start)
        before = expected_row({d: c for d, c in days.items() if d < week_start}, week_start - 7 * DAY_MS)
        assert item["queue"]["volume"] == this_week["volume"], item["scope"]
        assert item["previous"]["volume"] == before["volume"], item["scope"]
        assert item["queue"]["quality"]["csat"] == this_week["csat"]
        assert item["missed"] == list(item["queue"]["status"].values()).count("missed")
    order = [(-i["missed"], -i["near"]) for i in body["items"]]
    assert order == sorted(order) and body["items"][0]["missed"] >= 1  # the worst first


def test_training_route_gives_every_agents_figures_per_category_as_recomputed(scenario):
    docs, model, last = scenario
    since = recompute.local_day_start(last, "Europe/Brussels", "06:00") - 6 * DAY_MS
    expected = recompute.days(docs, CONFIG)
    with TestClient(create_app(Settings(), read_model=model, consume=False, sla=SlaConfig.load(CONFIG))) as client:
        body = client.get("/v1/queues/zendesk/billing/training").json()
        loose = client.get("/v1/queues/zendesk/billing/training?min_volume=1&min_agents=3&threshold=0.5").json()
        assert client.get("/v1/queues/zendesk/billing/training?min_agents=2").status_code == 422
        assert client.get("/v1/queues/zendesk/nope/training").status_code == 404
    prefix = "queue_agent_category/zendesk/billing/"
    cells = {tuple(s[len(prefix):].split("/")): d for s, d in expected.items() if s.startswith(prefix)}
    assert cells and body["categories"]
    seen = set()
    for category in body["categories"]:
        for row in category["agents"]:
            want = expected_row(cells[(row["agent"], category["category"])], since)
            assert row["volume"] == want["volume"], (row["agent"], category["category"])
            assert row["quality"]["complaint_rate"] == want["complaint_rate"]
            seen.add((row["agent"], category["category"]))
        team = expected_row(expected[f"queue_category/zendesk/billing/{category['category']}"], since)
        assert category["team"]["volume"] == team["volume"]
    assert seen == {k for k, d in cells.items() if any(expected_row(d, since)["volume"].values())}
    assert body["rule"]["min_volume"] == 10 and loose["rule"]["threshold"] == 0.5
    assert len(loose["flagged"]) >= len(body["flagged"])  # a looser rule flags at least as many cells


def test_queues_and_agents_carry_their_display_names_where_the_config_gives_them(scenario):
    _, model, _ = scenario
    named = SlaConfig.load({**CONFIG, "names": {"queues": {"zendesk/billing": "Billing & refunds"},
                                                "agents": {"ze-agent-01": "Ada"}}})
    with TestClient(create_app(Settings(), read_model=model, consume=False, sla=named)) as client:
        assert client.get("/v1/queues/zendesk/billing").json()["name"] == "Billing & refunds"
        assert client.get("/v1/queues/zendesk/vip").json()["name"] is None
        assert client.get("/v1/agents/zendesk/ze-agent-01").json()["name"] == "Ada"
        team = client.get("/v1/queues/zendesk/billing/team").json()
        assert team["name"] == "Billing & refunds"
        assert {r["agent"]: r["name"] for r in team["agents"]}.get("ze-agent-01") == "Ada"
        teams = {i["scope"]: i["name"] for i in client.get("/v1/teams").json()["items"]}
        assert teams["queue/zendesk/billing"] == "Billing & refunds" and teams["queue/zendesk/vip"] is None
        assert client.get("/v1/summary").json().get("name") is None  # only queues and agents are named


# -- goals over a period ----------------------------------------------------------------------------------------

WED = 1_795_000_000_000  # Wednesday 2026-11-18 11:06 UTC
MON = UTC_DAYS.start(WED) - 2 * DAY_MS


def goal(metric: str, text: str, period: GoalPeriod) -> Goal:
    parsed = Goal.parse(metric, text)
    return Goal(metric, parsed.op, parsed.target, period)


def test_a_week_goal_to_date_what_the_rest_needs_and_where_the_last_days_lead():
    # Monday to Wednesday: 40 rated, 30 good (75 %); the last three days are the whole week so far
    days = {MON: {"csat_good": 10, "csat_bad": 0}, MON + DAY_MS: {"csat_good": 10, "csat_bad": 5},
            MON + 2 * DAY_MS: {"csat_good": 10, "csat_bad": 5}, MON - DAY_MS: {"csat_good": 99}}  # Sunday: not this week
    body = period_goal(goal("csat", ">= 0.8", GoalPeriod("week")), days, UTC_DAYS, WED)
    assert (body["from"], body["to"], body["days_elapsed"], body["days_total"]) == ("2026-11-16", "2026-11-22", 3, 7)
    assert body["to_date"] == 0.75 and body["projected"] == 0.75
    # the rest at the same volume: 40 / 3 x 4 = 53.3 rated; 0.8 x 93.3 - 30 = 44.67 good needed: 83.75 %
    assert body["needed"] == pytest.approx(0.8375, abs=1e-6)
    assert body["status"] == "at_risk" and body["goal"] == "csat >= 0.8 (this week)"


def test_a_month_goal_counts_every_day_of_the_month_so_far():
    # Wednesday 2026-11-18: the 1st to the 18th of November are kept (32 local days), October's last day is not counted
    first_of_month = MON - 15 * DAY_MS
    days = {first_of_month: {"resolved": 10, "complaints": 4}, MON: {"resolved": 30, "complaints": 0},
            first_of_month - DAY_MS: {"resolved": 99, "complaints": 99}}
    body = period_goal(goal("complaint_rate", "<= 0.2", GoalPeriod("month")), days, UTC_DAYS, WED)
    assert (body["from"], body["to"], body["days_elapsed"], body["days_total"]) == ("2026-11-01", "2026-11-30", 18, 30)
    assert body["to_date"] == 0.1 and body["partial"] is False and body["goal"] == "complaint_rate <= 0.2 (this month)"
    assert body["covered_from"] == "2026-11-01T00:00:00.000Z"


def test_statuses_of_a_period_goal():
    first, last = date(2026, 11, 16), date(2026, 11, 17)  # Monday and Tuesday, over by Wednesday
    days = {MON: {"resolved": 10, "complaints": 1}, MON + DAY_MS: {"resolved": 10, "complaints": 1}}
    ended = period_goal(goal("complaint_rate", "<= 0.1", GoalPeriod("range", first, last)), days, UTC_DAYS, WED)
    assert ended["status"] == "met" and ended["to_date"] == 0.1 and ended["needed"] is None
    assert period_goal(goal("complaint_rate", "< 0.1", GoalPeriod("range", first, last)), days, UTC_DAYS,
                       WED)["status"] == "missed"
    later = GoalPeriod("range", date(2026, 11, 20), date(2026, 11, 22))
    assert period_goal(goal("csat", ">= 0.8", later), days, UTC_DAYS, WED)["status"] == "not_started"
    old = GoalPeriod("range", date(2026, 10, 1), date(2026, 10, 5))  # before the 32 days kept
    assert period_goal(goal("csat", ">= 0.8", old), days, UTC_DAYS, WED)["status"] == "no_data"
    # a week at 100 % CSAT so far on a goal of 10 %: the rest cannot lose it; at 0 % on a goal of 99 %: lost
    good = {MON: {"csat_good": 50}}
    assert period_goal(goal("csat", ">= 0.1", GoalPeriod("week")), good, UTC_DAYS, WED)["status"] == "secured"
    bad = {MON: {"csat_bad": 50}}
    assert period_goal(goal("csat", ">= 0.99", GoalPeriod("week")), bad, UTC_DAYS, WED)["status"] == "out_of_reach"
    # improving: Monday and Tuesday bad, Wednesday to Friday good: 50 % to date, on track at the last days' pace
    fri = WED + 2 * DAY_MS
    turning = {MON: {"csat_bad": 30}, MON + DAY_MS: {"csat_bad": 30}, **{MON + d * DAY_MS: {"csat_good": 20}
                                                                       for d in (2, 3, 4)}}
    body = period_goal(goal("csat", ">= 0.6", GoalPeriod("week")), turning, UTC_DAYS, fri)
    assert body["to_date"] == 0.5 and body["projected"] == pytest.approx(108 / 168, abs=1e-6)
    assert body["needed"] == pytest.approx(0.85, abs=1e-6) and body["status"] == "on_track"


def test_the_team_routes_carry_the_queues_period_goals(scenario):
    _, model, _ = scenario
    config = SlaConfig.load({**CONFIG, "goals": {"queues": {"billing": {
        "csat": {"target": ">= 0.8", "period": "week"},
        "complaint_rate": {"target": "<= 0.25", "period": "today"}}}}})
    with TestClient(create_app(Settings(), read_model=model, consume=False, sla=config)) as client:
        team = client.get("/v1/queues/zendesk/billing/team").json()
        teams = {i["scope"]: i for i in client.get("/v1/teams").json()["items"]}
    assert [g["metric"] for g in team["period_goals"]] == ["csat", "complaint_rate"]
    assert team["period_goals"][1]["days_total"] == 1 and team["period_goals"][0]["days_total"] == 7
    assert team["goals"] == {}  # goals over a period are not measured against the team's rolling period
    assert teams["queue/zendesk/billing"]["period_goals"] == team["period_goals"]
    assert teams["queue/zendesk/vip"]["period_goals"] == []
