"""The JSON bodies of a scope (services/api/views.py): seconds, RFC 3339 UTC, zeros and nulls for no data."""

import pytest

from services.api.readmodel import ReadModel
from services.api.views import live_body, scope_body
from services.common.clock import FixedClock
from services.common.events import to_epoch_ms
from tests.support.partials import encoded

NOW = 1_795_000_110_000  # 2026-11-18T11:08:30Z, half a minute into a minute
MINUTE = NOW - NOW % 60_000


def view_of(scope, **kw):
    model = ReadModel(clock=FixedClock(NOW))
    model.apply(*encoded(scope, stream_ms=NOW, published_ms=NOW, **kw))
    return model.view(scope)


def test_an_unseen_scope_is_zeros_and_nulls():
    body = scope_body(None, "queue/zendesk/q9", "queue", "15m", NOW)
    assert (body["scope"], body["kind"], body["window"]) == ("queue/zendesk/q9", "queue", "15m")
    assert body["platform"] is body["id"] is body["from"] is body["as_of"] is None
    assert body["contacts"]["created"] == 0 and body["first_response"]["average_seconds"] is None
    assert body["service_level"]["rate"] is None  # no data is not 0 %
    live = body["live"]
    assert (live["open"], live["waiting"], live["in_queue"]) == (0, 0, 0)
    assert live["oldest_waiting_created_at"] is live["oldest_waiting_age_seconds"] is None
    assert live["sla"] == {"running": 0, "breaching": 0, "at_risk": 0, "next_breach_at": None,
                           "seconds_to_next_breach": None}
    assert "agents" not in live and "agent" not in body and "workload" not in body


def test_live_times_are_rfc3339_and_ages_in_seconds_from_now():
    view = view_of("queue/zendesk/billing", live={
        "open": 3, "waiting": 2, "oldest_waiting_created_ms": NOW - 90_500, "oldest_queued_ms": NOW - 30_000,
        "sla_running": 2, "sla_breaching": 1, "next_breach_ms": NOW + 12_345})
    live = live_body(view, NOW)
    assert (live["open"], live["waiting"], live["unassigned"]) == (3, 2, 0)
    assert live["oldest_waiting_created_at"].endswith("Z")
    assert to_epoch_ms(live["oldest_waiting_created_at"]) == NOW - 90_500
    assert live["oldest_waiting_age_seconds"] == 90.5
    assert to_epoch_ms(live["oldest_queued_at"]) == NOW - 30_000 and live["longest_queue_wait_seconds"] == 30.0
    assert live["sla"]["running"] == 2 and live["sla"]["breaching"] == 1
    assert to_epoch_ms(live["sla"]["next_breach_at"]) == NOW + 12_345
    assert live["sla"]["seconds_to_next_breach"] == 12.345
    # the same view read later: ages grow, the countdown shrinks
    later = live_body(view, NOW + 10_000)
    assert later["oldest_waiting_age_seconds"] == 100.5 and later["sla"]["seconds_to_next_breach"] == 2.345


def test_an_oldest_time_after_now_is_an_age_of_zero_never_negative():
    view = view_of("queue/zendesk/billing", live={"open": 1, "oldest_waiting_created_ms": NOW + 5_000})
    assert live_body(view, NOW)["oldest_waiting_age_seconds"] == 0


@pytest.mark.parametrize("scope, kind", [("all", "all"), ("platform/zendesk", "platform")])
def test_all_and_platform_scopes_always_count_agents_by_state(scope, kind):
    agents = live_body(view_of(scope, live={"agents_busy": 4, "agents_away": 1}), NOW)["agents"]
    assert agents == {"available": 0, "busy": 4, "away": 1, "offline": 0}
    assert live_body(view_of(scope), NOW)["agents"] == {"available": 0, "busy": 0, "away": 0, "offline": 0}


def test_a_queue_counts_agents_only_when_it_has_presence_figures():
    assert "agents" not in live_body(view_of("queue/zendesk/billing", live={"open": 1}), NOW)
    with_agents = live_body(view_of("queue/zendesk/billing", live={"agents_available": 2}), NOW)
    assert with_agents["agents"]["available"] == 2


def test_a_window_counts_only_its_buckets_and_says_where_it_starts():
    view = view_of("queue/zendesk/billing", totals={"created": 10, "resolved": 4},
                   minutes={MINUTE: {"created": 2, "resolved": 1}, MINUTE - 14 * 60_000: {"created": 1},
                            MINUTE - 15 * 60_000: {"created": 5}})  # the last one is before the 15 minutes
    body = scope_body(view, view.scope, "queue", "15m", NOW)
    assert body["contacts"]["created"] == 3 and body["contacts"]["resolved"] == 1
    assert body["resolution_rate"] == round(1 / 3, 6)
    assert to_epoch_ms(body["from"]) == MINUTE - 14 * 60_000 and to_epoch_ms(body["as_of"]) == NOW
    assert (body["platform"], body["id"]) == ("zendesk", "billing")
    whole = scope_body(view, view.scope, "queue", "all", NOW)
    assert whole["contacts"]["created"] == 10 and whole["from"] is None


def test_today_starts_where_it_is_told():
    quarter = NOW - NOW % 900_000
    view = view_of("queue/zendesk/billing", quarters={quarter: {"created": 2}, quarter - 900_000: {"created": 3}})
    body = scope_body(view, view.scope, "queue", "today", NOW, today_start_ms=quarter)
    assert body["contacts"]["created"] == 2 and to_epoch_ms(body["from"]) == quarter
    earlier = scope_body(view, view.scope, "queue", "today", NOW, today_start_ms=quarter - 900_000)
    assert earlier["contacts"]["created"] == 5


def test_an_agent_body_has_workload_per_channel_beside_quality_and_time_in_state():
    busy_since = NOW - 2 * 3_600_000
    view = view_of("agent/zendesk/a1",
                   minutes={MINUTE - 60_000: {"replies": 3, "replies@email": 2, "replies@chat": 1, "resolved": 2,
                                              "resolved@email": 2, "csat_good": 3, "csat_bad": 1,
                                              "state_available_ms": 120_000}},
                   agent={"state": "busy", "since_ms": busy_since, "raw_state": "On Queue"})
    body = scope_body(view, view.scope, "agent", "15m", NOW)
    workload = body["workload"]
    assert (workload["replies"], workload["resolved"]) == (3, 2)
    assert workload["by_channel"]["email"] == {"replies": 2, "answered": 0, "handled": 0, "resolved": 2}
    assert workload["by_channel"]["chat"]["replies"] == 1
    assert workload["quality"]["csat"] == body["csat"]["score"] == 0.75
    agent = body["agent"]
    assert (agent["state"], agent["raw_state"]) == ("busy", "On Queue")
    assert to_epoch_ms(agent["since"]) == busy_since and agent["seconds_in_state"] == 7_200
    # busy since two hours, but the window is 15 minutes: only the part inside it counts
    window_seconds = (NOW - to_epoch_ms(body["from"])) / 1000
    assert agent["time_in_state"]["busy_seconds"] == window_seconds
    assert agent["time_in_state"]["available_seconds"] == 120
    assert agent["time_in_state"]["occupancy"] == round(window_seconds / (window_seconds + 120), 6)


def test_an_unseen_agent_has_no_state_and_no_workload():
    body = scope_body(None, "agent/zendesk/nobody", "agent", "1h", NOW)
    assert body["agent"]["state"] is body["agent"]["since"] is body["agent"]["seconds_in_state"] is None
    assert body["workload"]["replies"] == 0 and body["workload"]["by_channel"] == {}
    assert body["agent"]["time_in_state"]["occupancy"] is None
