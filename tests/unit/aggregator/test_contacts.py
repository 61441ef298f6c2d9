import itertools

import pytest

from services.aggregator.contacts import add_event, facts
from tests.support.events import T0, ev


def fold(*events):
    record = None
    for event in events:
        record = add_event(record, event, partition=0) or record
    return facts(record)


def created(t=0, **kw):
    return ev("contact.created", t, queue_id=kw.pop("queue_id", "q1"), status=kw.pop("status", "new"), **kw)


def agent_reply(t, agent="a1", public=True):
    return ev("contact.message", t, agent_id=agent, author="agent", public=public)


def status(t, value):
    return ev("contact.status_changed", t, status=value)


CASES = {
    "new contact waits": (
        [created()],
        dict(is_open=True, is_waiting=True, first_response_ms=None, resolved_at=None, reopens=0),
    ),
    "public agent reply is the first response": (
        [created(), ev("contact.message", 5, author="customer", public=True), agent_reply(60)],
        dict(is_waiting=False, first_response_ms=60_000, responder="a1"),
    ),
    "internal note is not a response": (
        [created(), agent_reply(30, public=False)],
        dict(is_waiting=True, first_response_ms=None),
    ),
    "bot reply is not a response": (
        [created(), ev("contact.message", 10, author="bot", public=True)],
        dict(is_waiting=True, first_response_ms=None),
    ),
    "agent creates the ticket with a public reply: the second reply responds": (
        [created(0), agent_reply(0, "a1"), agent_reply(90, "a2")],
        dict(first_response_ms=90_000, responder="a2"),
    ),
    "connected on a live channel is the response": (
        [created(), ev("contact.connected", 12, agent_id="a9")],
        dict(first_response_ms=12_000, responder="a9", assignee="a9"),
    ),
    "solve resolves once, reopen counts, second solve does not": (
        [created(), agent_reply(10), status(20, "solved"), status(30, "open"), status(40, "solved")],
        dict(resolved_at=T0 + 20_000, reopens=1, is_open=False),
    ),
    "closed without solved resolves": (
        [created(), status(50, "closed")],
        dict(resolved_at=T0 + 50_000, is_open=False, is_waiting=False),
    ),
    "solved then closed resolves at the solve": (
        [created(), status(50, "solved"), status(80, "closed")],
        dict(resolved_at=T0 + 50_000, reopens=0),
    ),
    "pending and on hold are still open": (
        [created(), agent_reply(5), status(6, "pending"), status(7, "on_hold")],
        dict(is_open=True, status="on_hold"),
    ),
    "abandoned in queue is neither open nor waiting": (
        [created(channel="chat"), ev("contact.abandoned", 40)],
        dict(is_open=False, is_waiting=False, abandoned=True),
    ),
    "created already solved is resolved at creation": (
        [created(0, status="solved", agent_id="a3")],
        dict(resolved_at=T0, resolver="a3", is_open=False),
    ),
    "no creation seen: nothing is open": (
        [agent_reply(5), status(9, "open")],
        dict(created_at=None, is_open=False, is_waiting=False),
    ),
    "resolution is credited to the assignee at that time": (
        [created(), ev("contact.assigned", 1, agent_id="a1"), status(2, "solved"),
         ev("contact.assigned", 3, agent_id="a2")],
        dict(resolver="a1", assignee="a2"),
    ),
    "unassigning clears the assignee": (
        [created(), ev("contact.assigned", 1, agent_id="a1"), ev("contact.assigned", 2, agent_id=None)],
        dict(assignee=None),
    ),
}


@pytest.mark.parametrize("events, expected", CASES.values(), ids=CASES.keys())
def test_facts(events, expected):
    result = fold(*events)
    for name, value in expected.items():
        assert getattr(result, name) == value, name


@pytest.mark.parametrize("events, expected", CASES.values(), ids=CASES.keys())
def test_facts_do_not_depend_on_arrival_order(events, expected):
    outcomes = {fold(*order) for order in itertools.islice(itertools.permutations(events), 120)}
    assert len(outcomes) == 1


def test_duplicate_event_is_recognised_and_record_unchanged():
    first = created()
    record = add_event(None, first, 0)
    assert add_event(record, first, 0) is None
    reply = agent_reply(3)
    record2 = add_event(record, reply, 0)
    assert len(record2["ev"]) == 2 and len(record["ev"]) == 1  # input not mutated
