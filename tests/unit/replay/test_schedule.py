"""The pure timing logic of deskpulse replay: order, limit, due events, rebase; and the thin loop on a fake clock."""

import asyncio

import pytest

from services.replay.documents import document, utc_ms_text
from services.replay.schedule import make_schedule, order, shifted

H = 3_600_000  # one hour in ms
T0 = 1_336_000_000_000  # 2012-05-02T23:06:40Z


def ev(contact, index, ms, type_="contact.status_changed"):
    return document(event_id=f"t:{contact}:{index}", type=type_, ms=ms, platform="t", contact_id=contact,
                    status="open" if type_ == "contact.status_changed" else None, attributes={})


def test_as_fast_as_possible_makes_everything_due_at_once():
    s = make_schedule([T0, T0 + H, T0 + 10 * H], speed=0, rebase=False, now_ms=0)
    assert s.due(0.0) == 3 and s.duration_s == 0 and s.wait_s(0.0, 0) == 0 and s.shift_ms == 0


def test_speed_compresses_history():
    s = make_schedule([T0, T0 + H, T0 + H, T0 + 2 * H, T0 + 10 * H], speed=3600, rebase=False, now_ms=0)
    assert s.duration_s == 10.0
    assert s.due(0.0) == 1  # the first event at once
    assert s.due(0.999) == 1
    assert s.due(1.0) == 3  # an hour of history per second; both events of T0+1h
    assert s.due(1.5, start=3) == 3
    assert s.wait_s(1.5, 3) == pytest.approx(0.5)
    assert s.due(10.0) == 5
    assert [s.offset_s(i) for i in range(5)] == [0.0, 1.0, 1.0, 2.0, 10.0]
    assert s.wait_s(3.0, 5) == 0.0  # nothing left


def test_rebase_without_waiting_ends_the_history_now():
    now = 1_800_000_000_123
    s = make_schedule([T0, T0 + H, T0 + 5 * H], speed=0, rebase=True, now_ms=now)
    assert T0 + 5 * H + s.shift_ms == now
    assert T0 + s.shift_ms == now - 5 * H  # relative times unchanged


def test_rebase_with_speed_ends_the_history_when_the_replay_ends_and_never_sends_the_future():
    now = 1_800_000_000_000
    times = [T0, T0 + H, T0 + 3 * H, T0 + 4 * H]
    s = make_schedule(times, speed=3600, rebase=True, now_ms=now)
    assert times[-1] + s.shift_ms == now + 4_000  # due 4 s after the start, and stamped with that moment
    for i, t in enumerate(times):
        sent_at = now + s.offset_s(i) * 1000
        assert t + s.shift_ms <= sent_at


def test_schedule_rejects_bad_input():
    with pytest.raises(ValueError):
        make_schedule([T0 + 1, T0], speed=1, rebase=False, now_ms=0)
    with pytest.raises(ValueError):
        make_schedule([T0], speed=-1, rebase=False, now_ms=0)
    empty = make_schedule([], speed=60, rebase=True, now_ms=5)
    assert empty.due(100.0) == 0 and empty.duration_s == 0 and empty.shift_ms == 0


def test_order_is_event_time_across_contacts_and_keeps_each_contacts_order():
    a = [ev("a", 0, T0 + 2 * H, "contact.created"), ev("a", 1, T0 + 5 * H), ev("a", 2, T0 + 5 * H)]
    b = [ev("b", 0, T0, "contact.created"), ev("b", 1, T0 + 5 * H), ev("b", 2, T0 + 9 * H)]
    events, times = order(a + b)
    assert [e["event_id"] for e in events] == ["t:b:0", "t:a:0", "t:a:1", "t:a:2", "t:b:1", "t:b:2"]
    assert times == [T0, T0 + 2 * H, T0 + 5 * H, T0 + 5 * H, T0 + 5 * H, T0 + 9 * H]


def test_limit_keeps_the_first_contacts_by_creation_time_with_all_their_events():
    a = [ev("a", 0, T0 + 2 * H, "contact.created"), ev("a", 1, T0 + 50 * H)]
    b = [ev("b", 0, T0, "contact.created"), ev("b", 1, T0 + 90 * H)]
    c = [ev("c", 0, T0 + 3 * H, "contact.created")]
    events, times = order(a + b + c, limit_contacts=2)
    assert [e["event_id"] for e in events] == ["t:b:0", "t:a:0", "t:a:1", "t:b:1"]
    assert times == sorted(times)


def test_shifted_moves_the_time_exactly_and_leaves_the_input_alone():
    e = ev("a", 0, T0)
    moved = shifted(e, T0, 1_234_567)
    assert moved["occurred_at"] == utc_ms_text(T0 + 1_234_567) == "2012-05-02T23:27:14.567Z"
    assert e["occurred_at"] == "2012-05-02T23:06:40.000Z"
    assert shifted(e, T0, 0) is e


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


async def test_loop_sends_due_events_in_order_in_batches_and_waits_between(monkeypatch):
    from services.commands import replay

    clock = FakeClock()
    sleeps = []

    async def fake_wait_for(awaitable, timeout):  # advance the fake clock instead of sleeping
        awaitable.close()
        sleeps.append(timeout)
        clock.now += timeout
        raise TimeoutError

    monkeypatch.setattr(replay.asyncio, "wait_for", fake_wait_for)
    events, times = order([ev("a", i, T0 + i * H // 2) for i in range(7)])
    schedule = make_schedule(times, speed=3600, rebase=False, now_ms=0)  # one event every 0.5 s
    batches = []

    async def send(chunk):
        batches.append(([e["event_id"] for e in chunk], clock.now))
        clock.now += 0.1

    sent = await replay.run_loop(events, schedule, send, batch=2, stop=asyncio.Event(), clock=clock)
    assert sent == 7
    assert [i for ids, _ in batches for i in ids] == [f"t:a:{i}" for i in range(7)]
    assert all(len(ids) <= 2 for ids, _ in batches)
    for ids, at in batches:  # never sent before due
        assert all(schedule.offset_s(int(i.rsplit(":", 1)[1])) <= at + 1e-9 for i in ids)
    assert sleeps and all(s <= 0.5 for s in sleeps)


async def test_loop_stops_when_asked_after_the_batch_in_flight():
    from services.commands import replay

    events, times = order([ev("a", i, T0 + i) for i in range(10)])
    schedule = make_schedule(times, speed=0, rebase=False, now_ms=0)
    stop = asyncio.Event()
    batches = []

    async def send(chunk):
        batches.append(chunk)
        stop.set()  # Ctrl-C while the first batch is in flight

    assert await replay.run_loop(events, schedule, send, batch=3, stop=stop) == 3
    assert len(batches) == 1


async def test_loop_applies_rebase_and_tag():
    from services.commands import replay

    events, times = order([ev("a", 0, T0), ev("a", 1, T0 + H)])
    schedule = make_schedule(times, speed=0, rebase=True, now_ms=T0 + 10 * H)
    out = []

    async def send(chunk):
        out.extend(chunk)

    await replay.run_loop(events, schedule, send, batch=10, stop=asyncio.Event(), tag="run2")
    assert [e["occurred_at"] for e in out] == [utc_ms_text(T0 + 9 * H), utc_ms_text(T0 + 10 * H)]
    assert [e["event_id"] for e in out] == ["t:a:0~run2", "t:a:1~run2"]
    assert {e["contact_id"] for e in out} == {"a~run2"}
    assert events[0]["occurred_at"] == utc_ms_text(T0)  # the imported events are not modified


def test_since_keeps_contacts_created_from_then_and_combines_with_limit():
    a = [ev("a", 0, T0, "contact.created"), ev("a", 1, T0 + 50 * H)]
    b = [ev("b", 0, T0 + 2 * H, "contact.created"), ev("b", 1, T0 + 3 * H)]
    c = [ev("c", 0, T0 + 4 * H, "contact.created")]
    events, _ = order(a + b + c, since_ms=T0 + 2 * H)
    assert [e["event_id"] for e in events] == ["t:b:0", "t:b:1", "t:c:0"]
    events, _ = order(a + b + c, since_ms=T0 + H, limit_contacts=1)
    assert [e["event_id"] for e in events] == ["t:b:0", "t:b:1"]
