"""A stalled stream is said in the log once, with the consumer's view of each partition (watchdog.py)."""

import logging
from types import SimpleNamespace

from faust.types import TP

from services.aggregator.watchdog import Watchdog

EVENTS = "t.events"


def app_with(read: dict[int, int | None], highwater: dict[int, int], paused=()):
    tps = [TP(EVENTS, p) for p in read] + [TP("t-contacts-changelog", 0)]
    consumer = SimpleNamespace(
        assignment=lambda: set(tps), highwater=lambda tp: highwater.get(tp.partition),
        _read_offset={TP(EVENTS, p): o for p, o in read.items()},
        _paused_partitions={TP(EVENTS, p) for p in paused}, _buffered_partitions=set(),
        _active_partitions={TP(EVENTS, p) for p in read if p not in paused}, flow_active=True)
    completed = SimpleNamespace(is_set=lambda: True)
    return SimpleNamespace(consumer=consumer, in_recovery=False, rebalancing=False, rebalancing_count=1,
                           tables=SimpleNamespace(recovery=SimpleNamespace(completed=completed)))


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_stall_is_logged_once_with_the_partitions_and_its_end_once(caplog):
    clock = Clock()
    dog = Watchdog(app_with({0: 9, 1: 0}, {0: 10, 1: 8}, paused=[1]), EVENTS, lambda: True, 30, clock)
    clock.now += 10
    assert not dog.check()  # too soon to call it a stall
    clock.now += 25
    with caplog.at_level(logging.INFO, logger="services.aggregator.watchdog"):
        assert dog.check() and dog.check()
        dog.batch_done()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once per stall
    assert "while events wait on partitions [1]" in warnings[0]  # partition 0 has read everything
    assert "'paused': True" in warnings[0] and "no event handled for 35 s" in warnings[0]
    view = warnings[0].split("aiokafka's view: ")[1]  # a stand-in consumer has no aiokafka: said, not fatal
    assert view.startswith("{'unavailable': ") and "has no attribute" in view and "_thread" in view
    assert caplog.records[-1].getMessage() == "events flow again after a stall of 35 s"


async def test_a_stall_says_what_aiokafka_means_to_fetch_for_each_waiting_partition(caplog):
    from aiokafka import TopicPartition
    from aiokafka.consumer.subscription_state import SubscriptionState

    subscription = SubscriptionState()
    subscription.assign_from_user({TopicPartition(EVENTS, 0), TopicPartition(EVENTS, 1)})
    assignment = subscription.subscription.assignment
    assignment.state_value(TopicPartition(EVENTS, 0)).seek(4)
    assignment.state_value(TopicPartition(EVENTS, 1)).pause()  # still awaiting its reset, and paused
    app = app_with({0: None, 1: None}, {0: 10, 1: 8})
    app.consumer._thread = SimpleNamespace(_ensure_consumer=lambda: SimpleNamespace(_subscription=subscription))
    clock = Clock()
    dog = Watchdog(app, EVENTS, lambda: True, 30, clock)
    clock.now += 31
    assert dog.fetch_states([0, 1]) == {
        0: {"status": "CONSUMING", "position": 4, "paused": False, "reset": None},
        1: {"status": "AWAITING_RESET", "position": None, "paused": True, "reset": None},
    }
    with caplog.at_level(logging.WARNING, logger="services.aggregator.watchdog"):
        assert dog.check()
    assert "aiokafka's view: {0: {'status': 'CONSUMING', 'position': 4" in caplog.records[-1].getMessage()


def test_no_stall_when_idle_without_waiting_events_or_while_not_ready():
    clock = Clock()
    caught_up = Watchdog(app_with({0: 9, 1: None}, {0: 10}), EVENTS, lambda: True, 30, clock)
    recovering = Watchdog(app_with({0: 2}, {0: 10}), EVENTS, lambda: False, 30, clock)
    clock.now += 100
    assert not caught_up.check() and not recovering.check()


def test_a_worker_not_ready_for_long_and_a_batch_handled_while_not_ready_are_logged_once(caplog):
    clock, ready = Clock(), {"now": False}
    app = app_with({0: 2}, {0: 10})
    app.rebalancing = True
    dog = Watchdog(app, EVENTS, lambda: ready["now"], 30, clock)
    with caplog.at_level(logging.INFO, logger="services.aggregator.watchdog"):
        clock.now += 31
        assert not dog.check() and not dog.check()
        dog.batch_done(5)
        dog.batch_done(7)  # the same generation: said once
        ready["now"] = True
        dog.check()
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == ("not ready for 31 s: rebalancing True (generation 1), recovery completed True, "
                           "in recovery False")
    assert messages[1].startswith("a batch of 5 events was handled before the recovery was reported complete: "
                                  "rebalancing True")
    assert messages[2] == "ready again after 31 s" and len(messages) == 3
