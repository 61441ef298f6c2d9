"""SLA config, policy matching, clocks, goals and service level, with literal instants in explicit time zones."""

import copy
from datetime import datetime
from pathlib import Path

import pytest

from services.domain.counters import ratio
from services.domain.goals import Goal, attainment
from services.domain.policies import clock_state, deadline, elapsed_ms
from services.domain.service_levels import ServiceLevel, service_level, service_level_contribution
from services.domain.slaconfig import SlaConfig, SlaConfigError, parse_duration

REPO = Path(__file__).resolve().parents[3]
S = 1000
M = 60 * S
H = 60 * M


def ms(iso: str) -> int:
    t = datetime.fromisoformat(iso)
    assert t.utcoffset() is not None, iso
    return int(t.timestamp()) * 1000 + t.microsecond // 1000


BASE = {
    "calendars": {
        "office": {
            "timezone": "Europe/Brussels",
            "hours": {"mon-fri": ["08:00-12:00", "13:00-18:00"]},
            "holidays": ["2026-12-25"],
        },
        "ny": {"timezone": "America/New_York", "hours": {"mon-fri": ["09:00-17:00"]}},
        "always": {"timezone": "UTC", "hours": "24/7"},
    },
    "policies": [
        {"name": "vip-voice", "match": {"queue": "vip", "channel": "voice"}, "targets": {"first_response": "20s"}},
        {"name": "urgent", "match": {"priority": ["urgent", "high"]}, "at_risk": 0.5,
         "targets": {"first_response": "10m", "next_reply": "30m", "resolution": "4h"}},
        {"name": "zendesk-email", "match": {"platform": "zendesk", "channel": "email"}, "business_hours": "ny",
         "targets": {"first_response": "1h"}},
        {"name": "default", "business_hours": "office", "targets": {"first_response": "1h", "resolution": "2d"}},
    ],
    "goals": {
        "global": {"csat": ">= 0.90", "first_response_seconds_avg": "<= 600"},
        "queues": {"voice-be": {"service_level": ">= 80%", "csat": ">= 0.95"}},
    },
    "service_levels": {
        "default": {"threshold_seconds": 30, "short_abandon_seconds": 5},
        "queues": {"voice-be": {"threshold_seconds": 20, "abandons": "count_in"}},
    },
}
CONFIG = SlaConfig.load(BASE)
POLICY = {p.name: p for p in CONFIG.policies}


# --- matching ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "platform, queue, priority, channel, expected",
    [
        # vip-voice and urgent both match: the first in file order wins
        ("zendesk", "vip", "urgent", "voice", "vip-voice"),
        ("zendesk", "vip", "urgent", "chat", "urgent"),
        ("twilio", "vip", "high", "voice", "vip-voice"),
        ("zendesk", "billing", "high", "email", "urgent"),
        ("zendesk", "billing", "normal", "email", "zendesk-email"),
        ("zendesk", "billing", None, "email", "zendesk-email"),
        ("freshdesk", "billing", "normal", "email", "default"),
        ("zendesk", None, None, None, "default"),
        # a set condition fails when the contact lacks the attribute
        ("zendesk", None, None, "voice", "default"),
    ],
)
def test_first_matching_policy_wins(platform, queue, priority, channel, expected):
    assert CONFIG.policy_for(platform, queue, priority, channel).name == expected


def test_no_policy_matches_without_a_catch_all():
    config = SlaConfig.load({"policies": [{"name": "urgent", "match": {"priority": "urgent"},
                                           "targets": {"resolution": 3600}}]})
    assert config.policy_for("zendesk", "q", "normal", "email") is None
    assert config.policy_for("zendesk", "q", "urgent", "email").resolution_ms == 3600 * S


# --- deadlines and clocks -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "policy, metric, start, expected",
    [
        ("urgent", "first_response", "2026-01-10T10:00:00+00:00", "2026-01-10T10:10:00+00:00"),  # calendar time
        ("urgent", "resolution", "2026-03-29T00:30:00+01:00", "2026-03-29T05:30:00+02:00"),  # across DST: 4 h
        ("default", "first_response", "2026-01-09T17:30:00+01:00", "2026-01-12T08:30:00+01:00"),  # weekend
        ("default", "first_response", "2026-12-24T17:30:00+01:00", "2026-12-28T08:30:00+01:00"),  # holiday
        ("default", "resolution", "2026-01-12T08:00:00+01:00", "2026-01-19T11:00:00+01:00"),  # 48 business h
        ("zendesk-email", "first_response", "2026-01-09T16:30:00-05:00", "2026-01-12T09:30:00-05:00"),
        ("default", "next_reply", "2026-01-12T08:00:00+01:00", None),  # no target
    ],
)
def test_deadline(policy, metric, start, expected):
    assert deadline(POLICY[policy], metric, ms(start)) == (None if expected is None else ms(expected))


@pytest.mark.parametrize(
    "policy, start, now, status, elapsed, remaining",
    [
        # office calendar, first response 1 h, at risk at 48 min: Monday 09:00 -> due 10:00
        ("default", "2026-01-12T09:00:00+01:00", "2026-01-12T09:30:00+01:00", "running", 30 * M, 30 * M),
        ("default", "2026-01-12T09:00:00+01:00", "2026-01-12T09:47:59+01:00", "running", 47 * M + 59 * S, 12 * M + S),
        ("default", "2026-01-12T09:00:00+01:00", "2026-01-12T09:48:00+01:00", "at_risk", 48 * M, 12 * M),
        ("default", "2026-01-12T09:00:00+01:00", "2026-01-12T10:00:00+01:00", "at_risk", 60 * M, 0),
        ("default", "2026-01-12T09:00:00+01:00", "2026-01-12T10:00:01+01:00", "breached", 60 * M + S, -S),
        ("default", "2026-01-12T09:00:00+01:00", "2026-01-12T12:30:00+01:00", "breached", 3 * H, -2 * H),
        # the lunch break does not consume the target: 11:30 -> due 13:30
        ("default", "2026-01-12T11:30:00+01:00", "2026-01-12T12:59:00+01:00", "running", 30 * M, 30 * M),
        ("default", "2026-01-12T11:30:00+01:00", "2026-01-12T13:18:00+01:00", "at_risk", 48 * M, 12 * M),
        # Friday 17:30: over the weekend the clock stands still (due Monday 08:30)
        ("default", "2026-01-09T17:30:00+01:00", "2026-01-10T12:00:00+01:00", "running", 30 * M, 30 * M),
        ("default", "2026-01-09T17:30:00+01:00", "2026-01-12T08:20:00+01:00", "at_risk", 50 * M, 10 * M),
        # due exactly at Friday's close: breached during the weekend although business time stands at the target
        ("default", "2026-01-09T17:00:00+01:00", "2026-01-10T10:00:00+01:00", "breached", 60 * M, 0),
        # calendar time, 10 min, per-policy at risk 0.5
        ("urgent", "2026-01-10T10:00:00+00:00", "2026-01-10T10:04:59+00:00", "running", 4 * M + 59 * S, 5 * M + S),
        ("urgent", "2026-01-10T10:00:00+00:00", "2026-01-10T10:05:00+00:00", "at_risk", 5 * M, 5 * M),
        ("urgent", "2026-01-10T10:00:00+00:00", "2026-01-10T10:10:01+00:00", "breached", 10 * M + S, -S),
        # now before start (clock skew): nothing elapsed
        ("urgent", "2026-01-10T10:00:00+00:00", "2026-01-10T09:59:00+00:00", "running", 0, 10 * M),
    ],
)
def test_running_clock(policy, start, now, status, elapsed, remaining):
    state = clock_state(POLICY[policy], "first_response", ms(start), ms(now))
    assert (state.status, state.elapsed_ms, state.remaining_ms) == (status, elapsed, remaining)
    assert state.breach_at_ms == deadline(POLICY[policy], "first_response", ms(start))
    assert state.business_hours is (policy == "default")


def test_running_clock_reports_the_transition_instants():
    state = clock_state(POLICY["default"], "first_response", ms("2026-01-12T11:30:00+01:00"),
                        ms("2026-01-12T12:10:00+01:00"))
    assert state.at_risk_at_ms == ms("2026-01-12T13:18:00+01:00")
    assert state.breach_at_ms == ms("2026-01-12T13:30:00+01:00")
    assert state.target_ms == H


@pytest.mark.parametrize(
    "policy, start, stopped, status, elapsed",
    [
        ("default", "2026-01-12T09:00:00+01:00", "2026-01-12T09:59:00+01:00", "met", 59 * M),
        ("default", "2026-01-12T09:00:00+01:00", "2026-01-12T10:00:00+01:00", "met", 60 * M),  # at the deadline
        ("default", "2026-01-12T09:00:00+01:00", "2026-01-12T10:30:00+01:00", "missed", 90 * M),
        # due Friday 18:00; a reply on Saturday has the same business time but came after the deadline
        ("default", "2026-01-09T17:00:00+01:00", "2026-01-09T18:00:00+01:00", "met", 60 * M),
        ("default", "2026-01-09T17:00:00+01:00", "2026-01-10T10:00:00+01:00", "missed", 60 * M),
        ("default", "2026-01-09T17:30:00+01:00", "2026-01-12T08:29:00+01:00", "met", 59 * M),
        ("urgent", "2026-01-10T10:00:00+00:00", "2026-01-10T10:10:00+00:00", "met", 10 * M),
        ("urgent", "2026-01-10T10:00:00+00:00", "2026-01-10T10:10:00.001+00:00", "missed", 10 * M + 1),
    ],
)
def test_stopped_clock_is_met_or_missed(policy, start, stopped, status, elapsed):
    # now is long after the stop and must not matter
    state = clock_state(POLICY[policy], "first_response", ms(start), ms("2026-06-01T00:00:00+00:00"), ms(stopped))
    assert (state.status, state.elapsed_ms, state.remaining_ms) == (status, elapsed, state.target_ms - elapsed)
    assert state.breach_at_ms is None and state.at_risk_at_ms is None


def test_policy_methods_match_the_engine_protocol():
    policy, start = POLICY["default"], ms("2026-01-12T11:30:00+01:00")
    assert policy.deadline("first_response", start) == ms("2026-01-12T13:30:00+01:00")
    assert policy.at_risk_at("first_response", start) == ms("2026-01-12T13:18:00+01:00")
    assert policy.deadline("next_reply", start) is None and policy.at_risk_at("next_reply", start) is None
    assert policy.business_ms(start, ms("2026-01-12T14:00:00+01:00")) == 90 * M


def test_clock_without_target_is_none():
    assert clock_state(POLICY["default"], "next_reply", 0, 1) is None


def test_elapsed_ms_in_policy_time():
    start, end = ms("2026-01-09T17:00:00+01:00"), ms("2026-01-12T09:00:00+01:00")
    assert elapsed_ms(POLICY["default"], start, end) == 2 * H
    assert elapsed_ms(POLICY["urgent"], start, end) == 64 * H
    assert elapsed_ms(POLICY["urgent"], end, start) == 0


def test_unknown_metric_is_an_error():
    with pytest.raises(ValueError, match="unknown SLA metric"):
        deadline(POLICY["default"], "first_reply", 0)


# --- goals ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "goal, value, met, gap",
    [
        (">= 0.90", 0.92, True, 0.02),
        (">= 0.90", 0.90, True, 0.0),
        (">= 0.90", 0.88, False, -0.02),
        ("> 0.90", 0.90, False, 0.0),
        (">= 90%", 0.93, True, 0.03),
        ("<= 600", 540, True, 60),
        ("<= 600", 660, False, -60),
        ("< 600", 600, False, 0),
        (">= 0.80", None, None, None),  # no data is not a miss
    ],
)
def test_attainment(goal, value, met, gap):
    a = attainment(Goal.parse("kpi", goal), value)
    assert a.met is met
    assert a.gap == (None if gap is None else pytest.approx(gap))


def test_goals_for_queue_override_global():
    assert {k: str(g) for k, g in CONFIG.goals_for("voice-be").items()} == {
        "csat": "csat >= 0.95",
        "first_response_seconds_avg": "first_response_seconds_avg <= 600",
        "service_level": "service_level >= 0.8",
    }
    assert set(CONFIG.goals_for("other")) == {"csat", "first_response_seconds_avg"}
    assert CONFIG.goals_for(None)["csat"].target == 0.9


# --- service level (KPIS.md §4.1) -----------------------------------------------------------------------

ANSWERED = [5 * S, 15 * S, 20 * S, 25 * S, 40 * S]  # three within 20 s (20 s itself counts as within)
ABANDONED = [3 * S, 10 * S, 30 * S]  # 3 s is a short abandon when short_abandon_seconds = 5


@pytest.mark.parametrize(
    "abandons, short_s, expected, vendor",
    [
        ("count_against", 0, (3, 8), "Genesys with Include Abandons; Talkdesk without short-abandon"),
        ("count_against", 5, (3, 7), "Twilio real time, Freshcaller, Genesys without short abandons"),
        ("excluded", 0, (3, 5), "Genesys without Include Abandons"),
        ("count_in", 0, (5, 8), "Amazon Connect SL X: abandons within X are in SL"),
        ("count_in", 5, (4, 7), "Amazon-style with short abandons left out"),
        ("excluded_within_threshold", 0, (3, 6), "WFM: abandons within the threshold ignored"),
    ],
)
def test_service_level_variants(abandons, short_s, expected, vendor):
    settings = ServiceLevel(threshold_seconds=20, abandons=abandons, short_abandon_seconds=short_s)
    assert service_level(ANSWERED, ABANDONED, settings) == expected, vendor


@pytest.mark.parametrize(
    "answered, wait_ms, expected",
    [(True, 20 * S, (1, 1)), (True, 20 * S + 1, (0, 1)), (False, 4999, (0, 0)), (False, 5 * S, (0, 1))],
)
def test_service_level_contribution_edges(answered, wait_ms, expected):
    settings = ServiceLevel(threshold_seconds=20, short_abandon_seconds=5)
    assert service_level_contribution(answered, wait_ms, settings) == expected


def test_service_level_without_contacts_is_no_data_not_zero():
    assert service_level([], [], ServiceLevel()) == (0, 0)
    assert ratio(0, 0) is None
    assert ratio(0, 4) == 0.0
    assert ratio(3, 4) == 0.75


def test_service_level_settings_per_queue_inherit_the_default():
    assert CONFIG.service_level_for("voice-be") == ServiceLevel(
        threshold_seconds=20, abandons="count_in", short_abandon_seconds=5
    )
    assert CONFIG.service_level_for("other") == ServiceLevel(threshold_seconds=30, short_abandon_seconds=5)
    assert CONFIG.service_level_for(None) == CONFIG.default_service_level
    assert SlaConfig.load({}).default_service_level == ServiceLevel(
        threshold_seconds=20, abandons="count_against", short_abandon_seconds=0
    )


# --- config loading and errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected_ms",
    [("90s", 90 * S), ("10m", 10 * M), ("4h", 4 * H), ("2d", 48 * H), ("1w", 168 * H), ("1h30m", 90 * M),
     ("1.5h", 90 * M), (600, 10 * M), (0.5, 500)],
)
def test_parse_duration(text, expected_ms):
    assert parse_duration(text) == expected_ms


@pytest.mark.parametrize("text", ["10 minutes", "10", "h", "-5m", "0m", 0, -3, True, None, "1y", "0.0001s"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def _mutated(path, value):
    data = copy.deepcopy(BASE)
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    "path, value, key, message",
    [
        (("policies", 3, "business_hours"), "ofice", "policies[3].business_hours", "unknown calendar 'ofice'"),
        (("policies", 1, "targets", "first_response"), "10 minutes", "policies[1].targets.first_response",
         "invalid duration '10 minutes'"),
        (("policies", 1, "targets", "resolution"), -60, "policies[1].targets.resolution", "invalid duration"),
        (("calendars", "office", "hours", "mon-fri", 1), "13:00-25:00", "calendars.office.hours.mon-fri[1]",
         "invalid time"),
        (("calendars", "office", "hours", "mon-fri", 0), "8-12", "calendars.office.hours.mon-fri[0]",
         "invalid time range '8-12'"),
        (("calendars", "office", "hours", "sat"), ["09:00-09:00"], "calendars.office.hours.sat[0]", "start equals end"),
        (("calendars", "office", "hours", "weekdays"), ["09:00-12:00"], "calendars.office.hours.weekdays (key)",
         "invalid day 'weekdays'"),
        (("calendars", "office", "timezone"), "Europe/Brussel", "calendars.office.timezone",
         "unknown IANA time zone 'Europe/Brussel'"),
        (("calendars", "office", "holidays"), ["25/12/2026"], "calendars.office.holidays[0]", "date"),
        (("calendars", "office", "hours"), {}, "calendars.office.hours", "at least one opening range"),
        (("policies", 0, "match", "priority"), "Urgent", "policies[0].match.priority[0]", "'urgent'"),
        (("policies", 0, "match", "chanel"), "voice", "policies[0].match.chanel", "unknown key"),
        (("policies", 0, "targets"), {}, "policies[0].targets", "set at least one target"),
        (("policies", 0, "targets"), KeyError, "policies[0].targets", "required key is missing"),
        (("policies", 1, "name"), "default", "policies[3].name", "duplicate policy name 'default' (also policies[1])"),
        (("policies", 1, "at_risk"), 1.5, "policies[1].at_risk", "less than or equal to 1"),
        (("goals", "global", "csat"), "0.9", "goals.global.csat", "invalid goal '0.9'"),
        (("goals", "global", "CSAT"), ">= 0.9", "goals.global.CSAT (key)", "invalid KPI name"),
        (("service_levels", "queues", "voice-be", "abandons"), "ignore", "service_levels.queues.voice-be.abandons",
         "'count_against'"),
        (("service_levels", "default", "threshold_seconds"), 0, "service_levels.default.threshold_seconds",
         "greater than 0"),
        (("polices",), [], "polices", "unknown key"),
    ],
)
def test_config_errors_name_the_key(path, value, key, message):
    with pytest.raises(SlaConfigError) as err:
        SlaConfig.load(_mutated(path, value))
    assert [p for p, _ in err.value.problems] == [key]
    assert message in err.value.problems[0][1]
    assert key in str(err.value)


def test_config_errors_are_all_reported_at_once():
    data = _mutated(("policies", 1, "targets", "first_response"), "soon")
    data["calendars"]["office"]["timezone"] = "Mars/Olympus"
    with pytest.raises(SlaConfigError) as err:
        SlaConfig.load(data)
    assert {p for p, _ in err.value.problems} == {"calendars.office.timezone", "policies[1].targets.first_response"}


def test_load_from_path_and_file_errors(tmp_path):
    good = tmp_path / "sla.yaml"
    good.write_text("policies:\n  - name: all\n    targets: {first_response: 4h}\n")
    assert SlaConfig.load(good).policy_for("zendesk", None, None, None).first_response_ms == 4 * H
    assert SlaConfig.load(str(good)).policies[0].calendar is None
    broken = tmp_path / "broken.yaml"
    broken.write_text("goals:\n  global:\n    csat: >= 0.9\n  oops: [\n")
    with pytest.raises(SlaConfigError, match="broken.yaml.*\n.*not valid YAML"):
        SlaConfig.load(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just text\n")
    with pytest.raises(SlaConfigError, match="must be a mapping"):
        SlaConfig.load(scalar)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert SlaConfig.load(empty).policies == ()


def test_example_config_loads():
    config = SlaConfig.load(REPO / "deploy" / "sla.example.yaml")
    assert set(config.calendars) == {"brussels_office", "us_support"}
    assert config.policy_for("twilio", "voice-be", "urgent", "voice").name == "urgent-live"
    assert config.policy_for("zendesk", "us-support", "high", "email").name == "high-us"
    assert config.policy_for("zendesk", "eu-support", "normal", "email").name == "email"
    assert config.policy_for("zendesk", "eu-support", None, "chat").name == "default"
    assert str(config.goals_for("voice-be")["service_level"]) == "service_level >= 0.8"
    assert str(config.goals_for(None)["csat"]) == "csat >= 0.9"
    assert str(config.goals_for(None)["first_response_seconds_avg"]) == "first_response_seconds_avg <= 600"
    assert config.service_level_for("voice-be").threshold_seconds == 20
    # the US late shift runs over midnight: Friday 21:00 -> Saturday 01:00 New York time
    high_us = config.policy_for("zendesk", "us-support", "high", "email")
    assert deadline(high_us, "first_response", ms("2026-01-09T23:30:00-05:00")) == ms("2026-01-10T00:30:00-05:00")
    assert deadline(high_us, "first_response", ms("2026-01-10T00:30:00-05:00")) == ms("2026-01-10T09:30:00-05:00")


def test_names_give_queues_and_agents_the_names_people_know_them_by():
    config = SlaConfig.load({"names": {"queues": {"zendesk/360001": "Billing", "vip": "VIP desk"},
                                       "agents": {"zendesk/42": " Ada Lovelace "}}})
    assert config.name_for("queue", "zendesk", "360001") == "Billing"
    assert config.name_for("queue", "intercom", "vip") == "VIP desk"  # a bare id: any platform
    assert config.name_for("agent", "zendesk", "42") == "Ada Lovelace"  # trimmed
    assert config.name_for("agent", "intercom", "42") is None and config.name_for("queue", "zendesk", None) is None
    assert SlaConfig.load({}).name_for("queue", "zendesk", "360001") is None
    with pytest.raises(SlaConfigError) as bad:
        SlaConfig.load({"names": {"queues": {"x": ""}, "teams": {}}})
    assert {p for p, _ in bad.value.problems} == {"names.queues.x", "names.teams"}


def test_goals_over_a_period_are_kept_apart_and_validated():
    from datetime import date

    from services.domain.goals import GoalPeriod

    config = SlaConfig.load({"goals": {
        "global": {"csat": {"target": ">= 90%", "period": "week"}, "first_response_seconds_avg": "<= 600"},
        "queues": {"billing": {"complaint_rate": {"target": "<= 0.1",
                                                  "period": {"from": "2026-12-01", "to": "2026-12-14"}}}}}})
    assert set(config.goals_for("billing")) == {"first_response_seconds_avg"}  # every window: as before
    period = config.period_goals_for("billing")
    assert period["csat"].target == 0.9 and period["csat"].period == GoalPeriod("week")
    assert period["complaint_rate"].period == GoalPeriod("range", date(2026, 12, 1), date(2026, 12, 14))
    assert str(period["complaint_rate"]) == "complaint_rate <= 0.1 (2026-12-01..2026-12-14)"
    assert GoalPeriod("week").days(date(2026, 12, 3)) == (date(2026, 11, 30), date(2026, 12, 6))  # Mon..Sun
    month = SlaConfig.load({"goals": {"global": {"csat": {"target": ">= 0.9", "period": "month"}}}})
    assert month.period_goals_for(None)["csat"].period == GoalPeriod("month")
    assert str(month.period_goals_for(None)["csat"]) == "csat >= 0.9 (this month)"
    # a whole calendar month, whatever its length; a range as long as the longest month
    for today, first, last in ((date(2026, 12, 31), date(2026, 12, 1), date(2026, 12, 31)),
                               (date(2026, 2, 1), date(2026, 2, 1), date(2026, 2, 28)),
                               (date(2028, 2, 29), date(2028, 2, 1), date(2028, 2, 29)),
                               (date(2026, 4, 15), date(2026, 4, 1), date(2026, 4, 30))):
        assert GoalPeriod("month").days(today) == (first, last)
    SlaConfig.load({"goals": {"global": {"csat": {"target": ">= 0.9", "period": {"from": "2026-12-01",
                                                                              "to": "2026-12-31"}}}}})
    problems = {
        "unknown": ({"csat": {"target": ">= 0.9", "period": "year"}}, "Input should be 'today', 'week' or 'month'"),
        "long": ({"csat": {"target": ">= 0.9", "period": {"from": "2026-12-01", "to": "2027-01-02"}}},
                 "a period of at most 32 days"),
        "kpi": ({"service_level": {"target": ">= 0.8", "period": "week"}}, "a goal over a period needs a KPI kept"),
        "target": ({"csat": {"target": "high", "period": "week"}}, "target: invalid goal 'high'"),
    }
    for name, (goals, message) in problems.items():
        with pytest.raises(SlaConfigError, match=message):
            SlaConfig.load({"goals": {"global": goals}})
