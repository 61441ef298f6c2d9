"""The synthetic floor (services/demo/synthetic.py, floor.yaml): agents logged in and changing state, and SLA
policies, goals and categories that fit its queues."""

import random

from services.api.goals import unknown_metrics
from services.common.events import parse_event, to_epoch_ms
from services.demo import run
from services.demo.synthetic import AGENTS, CHANNELS, HELD_AT_LOGIN_MS, QUEUES, TAGS, LivePresence
from services.domain.categories import freeze, step_labels
from services.domain.slaconfig import SlaConfig

T0 = 1_795_000_000_000


def test_every_agent_logs_in_at_the_start_then_changes_state_about_every_mean_seconds():
    presence = LivePresence(random.Random(1), mean_s=60)
    first = presence.due(T0)
    agents = {(e["platform"], e["agent_id"]) for e in first}
    assert agents == {(p, a) for p, names in AGENTS.items() for a in names}
    states = [e["state"] for e in first]  # a floor at any moment: every state, most at work
    assert set(states) == {"available", "busy", "away", "offline"}
    assert states.count("available") + states.count("busy") > len(states) / 2
    assert presence.due(T0) == []  # nothing more is due at the same instant
    later = [e for minute in range(1, 61) for e in presence.due(T0 + minute * 60_000)]
    per_agent = len(later) / len(agents)
    assert 30 <= per_agent <= 90  # an hour at one change a minute on average
    assert len({e["event_id"] for e in first + later}) == len(first + later)
    for event in first + later:
        parse_event(event)  # canonical events, as ingest takes them
        assert to_epoch_ms(event["occurred_at"]) <= T0 + 60 * 60_000


def test_the_board_shows_agents_in_every_state_at_every_moment_of_the_first_minutes():
    for seed in range(20):
        presence = LivePresence(random.Random(seed))
        now: dict[tuple[str, str], str] = {}
        for second in range(0, HELD_AT_LOGIN_MS // 1000, 5):
            for event in presence.due(T0 + second * 1000):
                now[(event["platform"], event["agent_id"])] = event["state"]
            assert {"available", "busy", "away", "offline"} <= set(now.values()), (seed, second)


def test_the_floors_config_fits_the_synthetic_queues():
    config = SlaConfig.load(run.FLOOR)
    names = set(config.global_goals) | {n for goals in config.queue_goals.values() for n in goals}
    assert unknown_metrics(dict.fromkeys(names)) == []
    queues = {q for qs in QUEUES.values() for q in qs}
    assert set(config.queue_goals) <= queues
    for platform, qs in QUEUES.items():
        for queue in qs:
            policy = config.policy_for(platform, queue, None, CHANNELS[platform])
            assert policy is not None and policy.first_response_ms is not None and policy.calendar is None
    found = {config.categories.category_of("zendesk", None, freeze(step_labels({"tags": [t]}))) for t in TAGS}
    assert found == {"billing", "access", "defect", "delivery", "complaint", "other"}  # how-to: other
