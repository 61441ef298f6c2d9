"""Outlier judgements from the read model (services/api/judgements.py): which days, which scopes, which views.

The rule itself (modified z-score, process shifts) is tested in test_outliers.py; here, that the right day
buckets of the right light scopes reach it, and what comes back.
"""

from services.api import judgements
from services.api.judgements import (
    bounds,
    judge_queue,
    judge_views,
    queue_parts,
    summary,
)
from services.api.outliers import Rule
from services.api.readmodel import ReadModel
from services.common.clock import FixedClock
from services.common.events import to_epoch_ms
from services.domain.scopes import light_scope
from services.domain.windows import DAY_MS, HOUR_MS, days
from tests.support.partials import encoded

NOW = 1_795_000_110_000  # 2026-11-18T11:08:30Z
UTC = days()
TODAY = UTC.start(NOW)  # 2026-11-18T00:00Z


def day(n: int) -> int:
    """Start of the UTC day ``n`` days before today."""
    return TODAY - n * DAY_MS


def model_with(records) -> ReadModel:
    model = ReadModel(clock=FixedClock(NOW))
    for scope, kw in records:
        model.apply(*encoded(scope, stream_ms=NOW, published_ms=NOW, **kw))
    model.caught_up = True
    return model


def queue_with_agents(queue="billing", platform="zendesk", bad="a5"):
    """A queue and six agents with 20 resolved today; ``bad`` has 12 complaints, the others one or two."""
    records = []
    for i in range(6):
        agent = f"a{i}"
        complaints = 12 if agent == bad else 1 + i % 2
        records.append((light_scope("queue_agent", platform, queue, agent),
                        {"days": {day(0): {"resolved": 20, "complaints": complaints}}}))
    records.append((f"queue/{platform}/{queue}", {"totals": {"resolved": 120},
                                                  "days": {day(0): {"resolved": 120, "complaints": 20}}}))
    return records


def test_today_is_compared_with_yesterday_and_a_week_with_the_week_before():
    assert bounds(UTC, NOW, "today") == (day(1), day(0), NOW)
    assert bounds(UTC, NOW, "week") == (day(13), day(6), NOW)


def test_periods_are_local_days_a_dst_day_included():
    brussels = days("Europe/Brussels")
    now = to_epoch_ms("2026-03-30T08:00:00Z")  # 10:00 in Brussels, the day after clocks went forward
    previous, start, end = bounds(brussels, now, "today")
    assert start == to_epoch_ms("2026-03-29T22:00:00Z")  # midnight, summer time
    assert previous == to_epoch_ms("2026-03-28T23:00:00Z")  # midnight, winter time
    assert start - previous == 23 * HOUR_MS and end == now


def test_the_figures_judged_are_the_day_buckets_of_each_period():
    model = model_with([("queue/zendesk/q1", {"days": {
        day(0): {"resolved": 40, "complaints": 4},
        day(1): {"resolved": 40, "complaints": 2},
        day(3): {"resolved": 100, "complaints": 50},  # in this week, neither today nor yesterday
        day(10): {"resolved": 20, "complaints": 1},  # in the week before
        day(15): {"resolved": 999, "complaints": 999},  # in neither week
    }})])
    queue = model.view("queue/zendesk/q1")
    today = judge_views(queue, {}, {}, UTC, NOW, "today", Rule())["metrics"]["complaint_rate"]["queue"]
    assert (today["value"], today["previous"], today["volume"]) == (0.1, 0.05, 40)
    week = judge_views(queue, {}, {}, UTC, NOW, "week", Rule())["metrics"]["complaint_rate"]["queue"]
    # today, yesterday and three days ago against ten days ago
    assert (week["value"], week["previous"], week["volume"]) == (round(56 / 180, 6), 0.05, 180)


def test_a_judgement_names_its_queue_periods_and_the_agents_scopes():
    model = model_with(queue_with_agents())
    agents, categories = queue_parts(model, "queue/zendesk/billing")
    judgement = judge_views(model.view("queue/zendesk/billing"), agents, categories, UTC, NOW, "today", Rule())
    assert (judgement["scope"], judgement["platform"], judgement["id"], judgement["period"]) == (
        "queue/zendesk/billing", "zendesk", "billing", "today")
    assert (judgement["timezone"], judgement["reset"]) == ("UTC", "00:00")
    assert to_epoch_ms(judgement["from"]) == day(0) and to_epoch_ms(judgement["to"]) == NOW
    assert judgement["previous"] == {"from": judgement["previous"]["from"], "to": judgement["from"]}
    assert to_epoch_ms(judgement["previous"]["from"]) == day(1)
    complaints = judgement["metrics"]["complaint_rate"]
    assert judgement["verdict"] == "agent-level" and complaints["outliers"] == ["a5"]
    assert {j["agent"]: j["scope"] for j in complaints["agents"]}["a5"] == "agent/zendesk/a5"


def test_a_queues_agents_and_categories_are_its_own_even_with_slashes_in_names():
    model = model_with([
        ("queue/zendesk/a", {"totals": {"created": 1}}),
        ("queue/zendesk/a/b", {"totals": {"created": 1}}),
        (light_scope("queue_agent", "zendesk", "a", "x/1"), {"days": {day(0): {"resolved": 1}}}),
        (light_scope("queue_agent", "zendesk", "a/b", "y"), {"days": {day(0): {"resolved": 1}}}),
        (light_scope("queue_category", "zendesk", "a/b", "billing/refunds"), {"days": {day(0): {"resolved": 1}}}),
        (light_scope("queue_agent", "intercom", "a", "z"), {"days": {day(0): {"resolved": 1}}}),
    ])
    agents, categories = queue_parts(model, "queue/zendesk/a")
    assert set(agents) == {"x/1"} and categories == {}
    agents, categories = queue_parts(model, "queue/zendesk/a/b")
    assert set(agents) == {"y"} and set(categories) == {"billing/refunds"}
    assert categories["billing/refunds"].days == {day(0): {"resolved": 1}}


def test_judge_queue_reads_the_model_at_the_queues_stream_time():
    model = model_with(queue_with_agents())
    judgement = judge_queue(model, None, "queue/zendesk/billing", "today")
    assert judgement["metrics"]["complaint_rate"]["outliers"] == ["a5"]
    assert to_epoch_ms(judgement["to"]) == NOW
    assert judge_queue(model, None, "queue/zendesk/nope", "today") is None
    strict = judge_queue(model, None, "queue/zendesk/billing", "today", Rule(threshold=1_000))
    assert strict["verdict"] == "none"


def test_summary_keeps_the_verdicts_and_the_outliers_only():
    model = model_with(queue_with_agents())
    out = summary(judge_queue(model, None, "queue/zendesk/billing", "week"))
    assert set(out) == {"scope", "platform", "id", "period", "verdict", "from", "to", "metrics"}
    complaints = out["metrics"]["complaint_rate"]
    assert [o["agent"] for o in complaints["outliers"]] == ["a5"]
    assert set(complaints["outliers"][0]) == {"agent", "scope", "value", "volume", "score"}
    assert complaints["outliers"][0]["value"] == 0.6 and complaints["outliers"][0]["volume"] == 20
    assert complaints["verdict"] == "agent-level" and complaints["queue_shift"] is False
    assert complaints["categories_worse"] == []


def test_periods_are_one_day_and_seven():
    assert judgements.PERIODS == {"today": 1, "week": 7}
