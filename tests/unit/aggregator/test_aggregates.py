"""A partition's per-scope aggregates (services/aggregator/aggregates.py): the sum of its contacts' contributions,
kept by replacing a contact's old contribution with its new one.

Contributions are built as the engine builds them (``kpis.contribution`` of a contact's facts), or by hand where
a test needs one exact gauge, oldest time or SLA clock. See test_bulk.py for the rebuild path (``load``).
"""

from services.aggregator.aggregates import PartitionAggregates
from services.aggregator.contacts import add_event, facts
from services.aggregator.contributions import EMPTY, Contribution
from services.aggregator.kpiconfig import DefaultConfig, SlaKpiConfig
from services.aggregator.kpis import contribution
from services.domain.slaconfig import SlaConfig
from services.domain.windows import DAY_MS, HOUR_MS, MINUTE_MS, QUARTER_MS, Retention, bucket_start
from tests.support.events import T0, ev

QUEUE = "queue/zendesk/q1"
SLA = SlaConfig.load({"policies": [{"name": "all", "targets": {"first_response": "10m"}}]})


def contact(*events, config=None) -> Contribution:
    record = None
    for event in events:
        record = add_event(record, event, 0) or record
    return contribution(facts(record), config or DefaultConfig())


def created(t, contact_id="c1", queue="q1", channel="chat"):
    return ev("contact.created", t, contact_id, queue_id=queue, channel=channel, status="new")


def reply(t, contact_id="c1", agent="a1"):
    return ev("contact.message", t, contact_id, agent_id=agent, author="agent", public=True)


def solved(t, contact_id="c1"):
    return ev("contact.status_changed", t, contact_id, status="solved")


def without_bins(counters):
    return {k: v for k, v in counters.items() if "h:" not in k and "le:" not in k}


def state(aggregates: PartitionAggregates, now_ms: int = T0) -> dict:
    """What every scope holds that is not empty: totals, buckets, gauges, oldest times, SLA clocks."""
    out = {}
    for scope, s in aggregates.scopes.items():
        held = {"totals": s.totals, "buckets": {k: v for k, v in s.buckets.items() if v}, "live": s.live,
                "oldest": {k: o.min() for k, o in s.oldest.items() if o.min() is not None},
                "clocks": {k: v for k, v in s.clock_summary(now_ms).items() if v}}
        held = {k: v for k, v in held.items() if v}
        if held:
            out[scope] = held
    return out


def test_a_contact_counts_in_its_scopes_totals_buckets_and_gauges():
    aggregates = PartitionAggregates(0)
    c = contact(created(0), reply(60))
    changed = aggregates.apply("c1", EMPTY, c)
    assert {"all", "platform/zendesk", QUEUE, "agent/zendesk/a1"} <= changed
    queue = aggregates.scopes[QUEUE]
    assert without_bins(queue.totals) == {"created": 1, "fr_count": 1, "fr_ms": 60_000, "replies": 1}
    minute = bucket_start(T0, MINUTE_MS)
    assert queue.buckets["m"] == {minute: {"created": 1}, minute + MINUTE_MS: {"fr_count": 1, "fr_ms": 60_000,
                                                                               "replies": 1}}
    assert sum(b.get("created", 0) for b in queue.buckets["q"].values()) == 1
    assert queue.live == {"open": 1, "unassigned": 1, "in_queue": 1}
    assert queue.oldest["queued"].min() == T0
    # an agent's scope also counts per channel; a queue's does not
    assert aggregates.scopes["agent/zendesk/a1"].totals["replies@chat"] == 1 and "replies@chat" not in queue.totals


def test_a_contribution_applied_then_removed_leaves_nothing():
    aggregates = PartitionAggregates(0)
    c = contact(created(0), reply(60), solved(600), config=SlaKpiConfig(SLA))
    aggregates.apply("c1", EMPTY, c)
    assert state(aggregates)
    aggregates.apply("c1", c, EMPTY)
    assert state(aggregates) == {}


def test_a_contacts_new_contribution_replaces_its_old_one():
    one_step = PartitionAggregates(0)
    step_by_step = PartitionAggregates(0)
    events = [created(0), reply(60), created(90, "c2"), solved(300), reply(400, "c2", "a2")]
    previous = {"c1": EMPTY, "c2": EMPTY}
    for i in range(1, len(events) + 1):  # the engine's path: each event replaces the contact's contribution
        for key in previous:
            seen = [e for e in events[:i] if e.contact_id == key]
            now = contact(*seen) if seen else EMPTY
            step_by_step.apply(key, previous[key], now)
            previous[key] = now
    for key in ("c1", "c2"):
        one_step.apply(key, EMPTY, contact(*[e for e in events if e.contact_id == key]))
    assert state(step_by_step) == state(one_step)
    totals = one_step.scopes[QUEUE].totals
    assert (totals["created"], totals["resolved"], totals["replies"]) == (2, 1, 2)
    assert (totals["fr_count"], totals["fr_ms"]) == (2, 60_000 + 310_000)


def test_two_contacts_add_up_and_removing_one_leaves_the_other():
    aggregates = PartitionAggregates(0)
    first, second = contact(created(0)), contact(created(30, "c2"))
    alone = PartitionAggregates(0)
    alone.apply("c2", EMPTY, second)
    aggregates.apply("c1", EMPTY, first)
    aggregates.apply("c2", EMPTY, second)
    assert aggregates.scopes[QUEUE].totals["created"] == 2 and aggregates.scopes[QUEUE].live["open"] == 2
    aggregates.apply("c1", first, EMPTY)
    assert state(aggregates) == state(alone)


def test_an_unchanged_contribution_changes_no_scope():
    aggregates = PartitionAggregates(0)
    c = contact(created(0), reply(60))
    aggregates.apply("c1", EMPTY, c)
    assert aggregates.apply("c1", c, contact(created(0), reply(60))) == set()


def oldest(since: int | None, kind: str = "waiting") -> Contribution:
    """One contact's oldest time in the queue (``None``: the contact no longer counts there)."""
    return Contribution(oldest={(QUEUE, kind): since} if since is not None else {})


def test_the_oldest_time_is_the_minimum_over_the_contacts_still_counted():
    aggregates = PartitionAggregates(0)
    aggregates.apply("c1", EMPTY, oldest(T0 + 5_000))
    aggregates.apply("c2", EMPTY, oldest(T0 + 1_000))
    aggregates.apply("c3", EMPTY, oldest(T0 + 9_000))
    gauge = aggregates.scopes[QUEUE].oldest["waiting"]
    assert gauge.min() == T0 + 1_000
    aggregates.apply("c2", oldest(T0 + 1_000), EMPTY)  # answered: no longer waiting
    assert gauge.min() == T0 + 5_000
    aggregates.apply("c1", oldest(T0 + 5_000), oldest(T0 + 20_000))  # waiting again, since later
    assert gauge.min() == T0 + 9_000
    assert aggregates.scopes[QUEUE].oldest["queued"].min() is None  # the other kind is apart
    aggregates.apply("c3", oldest(T0 + 9_000), EMPTY)
    aggregates.apply("c1", oldest(T0 + 20_000), EMPTY)
    assert gauge.min() is None


def test_many_oldest_time_changes_keep_the_minimum_right():
    aggregates = PartitionAggregates(0)
    current: dict[str, int] = {}
    for i in range(500):  # contacts come, move and go; the minimum follows
        key = f"c{i % 37}"
        since = T0 + (i * 7919) % 100_000 if i % 5 else None
        aggregates.apply(key, oldest(current.get(key)), oldest(since))
        if since is None:
            current.pop(key, None)
        else:
            current[key] = since
        queue = aggregates.scopes.get(QUEUE)
        assert (queue.oldest["waiting"].min() if queue else None) == (min(current.values()) if current else None)


def clocks(*pairs) -> Contribution:
    """Running SLA clocks of one contact in the queue: (breach at, at risk from)."""
    return Contribution(clocks={QUEUE: list(pairs)})


def test_sla_clocks_running_breaching_at_risk_and_the_next_breach():
    aggregates = PartitionAggregates(0)
    aggregates.apply("c1", EMPTY, clocks((T0 + 10 * MINUTE_MS, T0 + 8 * MINUTE_MS)))
    aggregates.apply("c2", EMPTY, clocks((T0 + 2 * MINUTE_MS, T0 + MINUTE_MS)))
    aggregates.apply("c3", EMPTY, clocks((T0 + HOUR_MS, T0 + 50 * MINUTE_MS)))
    queue = aggregates.scopes[QUEUE]
    at = T0 + 9 * MINUTE_MS  # c2 breached, c1 at risk, c3 fine
    assert queue.clock_summary(at) == {"sla_running": 3, "sla_breaching": 1, "sla_at_risk": 1,
                                       "next_breach_ms": T0 + 10 * MINUTE_MS}
    assert queue.next_clock_change(at) == T0 + 10 * MINUTE_MS
    aggregates.apply("c2", clocks((T0 + 2 * MINUTE_MS, T0 + MINUTE_MS)), EMPTY)  # answered: its clock stops
    assert queue.clock_summary(at)["sla_running"] == 2 and queue.clock_summary(at)["sla_breaching"] == 0
    assert queue.next_clock_change(T0 + 11 * MINUTE_MS) == T0 + 50 * MINUTE_MS  # c3 turns at risk next
    assert queue.next_clock_change(T0 + 2 * HOUR_MS) is None


def test_a_real_contacts_first_response_clock():
    aggregates = PartitionAggregates(0)
    aggregates.apply("c1", EMPTY, contact(created(0), config=SlaKpiConfig(SLA)))
    summary = aggregates.scopes[QUEUE].clock_summary(T0 + 11 * MINUTE_MS)
    assert summary == {"sla_running": 1, "sla_breaching": 1, "sla_at_risk": 0, "next_breach_ms": None}
    assert aggregates.scopes[QUEUE].clock_summary(T0)["next_breach_ms"] == T0 + 10 * MINUTE_MS


def test_expired_buckets_go_and_the_totals_stay():
    aggregates = PartitionAggregates(0, Retention())
    c = contact(created(0), reply(60))
    aggregates.apply("c1", EMPTY, c)
    totals = dict(aggregates.scopes[QUEUE].totals)
    aggregates.expire(T0 + 2 * HOUR_MS)
    queue = aggregates.scopes[QUEUE]
    assert queue.buckets["m"] == {} and queue.buckets["q"]  # minutes kept an hour, quarters a day
    aggregates.expire(T0 + 2 * DAY_MS)
    assert queue.buckets["q"] == {} and queue.totals == totals
    assert queue.buckets["d"]  # day buckets stay about two weeks
    # removing the contact later takes it out of the totals and of what buckets remain
    aggregates.apply("c1", c, EMPTY)
    assert state(aggregates) == {}


def test_a_late_fact_for_an_expired_bucket_counts_only_in_the_totals():
    aggregates = PartitionAggregates(0, Retention())
    aggregates.expire(T0 + 3 * HOUR_MS)
    c = contact(created(0))  # three hours ago: its minute has gone, its quarter has not
    aggregates.apply("c1", EMPTY, c)
    queue = aggregates.scopes[QUEUE]
    assert queue.totals["created"] == 1 and queue.buckets["m"] == {}
    assert queue.buckets["q"] == {bucket_start(T0, QUARTER_MS): {"created": 1}}
    aggregates.apply("c1", c, EMPTY)
    assert state(aggregates) == {}


def test_cutoffs_only_move_forward():
    aggregates = PartitionAggregates(0, Retention())
    aggregates.expire(T0 + 3 * HOUR_MS)
    cutoffs = dict(aggregates.cutoffs)
    aggregates.expire(T0)  # stream time cannot go back, and an old call changes nothing
    assert aggregates.cutoffs == cutoffs
    aggregates.apply("c1", EMPTY, contact(created(0)))
    assert aggregates.scopes[QUEUE].buckets["m"] == {}


def test_light_scopes_keep_day_buckets_only():
    aggregates = PartitionAggregates(0)
    aggregates.apply("c1", EMPTY, contact(created(0), reply(60), solved(120)))
    light = aggregates.scopes["queue_agent/zendesk/q1/a1"]
    assert light.light and light.totals == {} and light.live == {}
    assert light.buckets["m"] == {} and light.buckets["q"] == {}
    assert sum(day.get("replies", 0) for day in light.buckets["d"].values()) == 1
