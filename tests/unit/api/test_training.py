"""Who needs training on what (services/api/training.py): agents far worse than the others in one category."""

from services.api.outliers import Rule
from services.api.training import training_body
from services.domain.windows import DAY_MS, UTC_DAYS

T0 = 1_795_000_000_000
DAY = UTC_DAYS.start(T0)


def cell(resolved, complaints=0, fr_count=0, fr_ms=0, day=DAY):
    return {day: {"resolved": resolved, "complaints": complaints, "fr_count": fr_count, "fr_ms": fr_ms}}


def test_an_agent_far_worse_than_the_others_in_one_category_is_flagged_there_only():
    # billing: six agents with 20 resolved each; a5 has 12 complaints (60 %), the others 1 or 2
    cells = {(f"a{i}", "billing"): cell(20, complaints=c) for i, c in enumerate((1, 2, 1, 2, 1, 12))}
    # delivery: a5 is like everyone else
    cells |= {(f"a{i}", "delivery"): cell(20, complaints=1) for i in range(6)}
    team = {"billing": cell(120, complaints=19), "delivery": cell(120, complaints=6)}
    body = training_body(team, cells, {}, UTC_DAYS, T0, "week", Rule())
    assert [(f["agent"], f["category"], f["metric"]) for f in body["flagged"]] == [("a5", "billing", "complaint_rate")]
    flag = body["flagged"][0]
    assert flag["value"] == 0.6 and flag["team"] == round(19 / 120, 6) and flag["volume"] == 20
    billing = next(c for c in body["categories"] if c["category"] == "billing")
    a5 = next(r for r in billing["agents"] if r["agent"] == "a5")
    assert a5["judged"]["complaint_rate"]["outlier"] and a5["quality"]["complaint_rate"] == 0.6
    assert billing["distribution"]["complaint_rate"]["agents_judged"] == 6
    delivery = next(c for c in body["categories"] if c["category"] == "delivery")
    assert not any(r["judged"]["complaint_rate"]["outlier"] for r in delivery["agents"])


def test_small_volumes_and_few_agents_are_never_flagged():
    few = {(f"a{i}", "billing"): cell(20, complaints=c) for i, c in enumerate((1, 2, 1, 12))}  # 4 agents < 5
    small = {(f"a{i}", "access"): cell(20 if i < 5 else 6, complaints=0 if i < 5 else 6) for i in range(6)}
    body = training_body({}, few | small, {}, UTC_DAYS, T0, "week", Rule())
    assert body["flagged"] == []  # a5 in access: 100 % complaints, but 6 contacts < min_volume 10
    looser = training_body({}, few | small, {}, UTC_DAYS, T0, "week", Rule(min_volume=5, min_agents=3))
    assert {(f["agent"], f["category"]) for f in looser["flagged"]} == {("a3", "billing"), ("a5", "access")}


def test_only_the_period_counts():
    old = {(f"a{i}", "billing"): cell(20, complaints=12 if i == 5 else 1, day=DAY - 9 * DAY_MS) for i in range(6)}
    body = training_body({}, old, {}, UTC_DAYS, T0, "week", Rule())
    assert body["flagged"] == [] and body["categories"] == []  # nothing handled in the last 7 days
