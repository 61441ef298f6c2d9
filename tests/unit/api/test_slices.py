"""Long work on the event loop in slices (services/api/slices.py): turns for many waiters, bodies in pieces, bulk
work stepping aside for a render in a thread."""

import asyncio

from services.api.slices import Foreground, Slices, Turns, in_chunks


async def test_turns_let_a_few_waiters_through_per_turn_of_the_loop_first_come_first_served():
    turns, passed = Turns(3), []

    async def waiter(i: int) -> None:
        await turns.wait()
        passed.append(i)

    tasks = [asyncio.create_task(waiter(i)) for i in range(11)]
    await asyncio.sleep(0)  # every waiter queued
    tasks[4].cancel()  # one leaves before its turn: it takes no place
    seen = [0]  # how many had passed, once per turn of the loop
    while len(passed) < 10:
        await asyncio.sleep(0)
        seen.append(len(passed))
    assert passed == [0, 1, 2, 3, 5, 6, 7, 8, 9, 10]
    steps = [b - a for a, b in zip(seen, seen[1:]) if b != a]
    assert steps == [3, 3, 3, 1]
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_turns_stay_ready_for_later_waiters_once_the_queue_ran_dry():
    turns = Turns(2)
    await turns.wait()
    await asyncio.wait_for(turns.wait(), 1)  # a new round is scheduled for a waiter that comes later


async def test_in_chunks_gives_every_byte_in_pieces_and_pauses_between_them():
    data = bytes(range(256)) * 40  # 10,240 bytes
    pauses = 0

    async def pause() -> None:
        nonlocal pauses
        pauses += 1

    pieces = [bytes(p) async for p in in_chunks(data, 1_000, pause)]
    assert b"".join(pieces) == data
    assert [len(p) for p in pieces] == [1_000] * 10 + [240]
    assert pauses == 10  # between two pieces, not before the first
    assert [bytes(p) async for p in in_chunks(b"", 1_000)] == []


async def test_slices_behind_a_held_foreground_wait_at_their_pauses_until_it_is_let_go():
    foreground = Foreground(longest_s=60)
    slices = Slices(-1.0, foreground)  # every pause hands the loop over
    done = []

    async def bulk() -> None:
        for i in range(3):
            await slices.pause()
            done.append(i)

    with foreground.hold():
        with foreground.hold():  # two renders at once
            task = asyncio.create_task(bulk())
            for _ in range(50):
                await asyncio.sleep(0)
            assert done == [] and foreground.held
        for _ in range(50):
            await asyncio.sleep(0)
        assert done == [] and foreground.held  # one still renders
    await asyncio.wait_for(task, 5)
    assert done == [0, 1, 2] and not foreground.held


async def test_slices_with_nothing_in_the_foreground_hand_over_for_a_turn_or_two_only():
    foreground, turns = Foreground(), 0
    slices = Slices(-1.0, foreground)

    async def count() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    counter = asyncio.create_task(count())
    await asyncio.sleep(0)
    before = turns
    for _ in range(10):
        await slices.pause()
    counter.cancel()
    assert turns - before <= 2 * 10 + 1


async def test_tasks_sharing_slices_do_one_slice_per_turn_of_the_loop_between_them():
    slices, turn, items = Slices(-1.0), 0, []  # every slice is over after one item

    async def ticker() -> None:
        nonlocal turn
        while True:
            turn += 1
            await asyncio.sleep(0)

    async def bulk(name: str) -> None:
        for _ in range(4):
            items.append((turn, name))
            await slices.pause()

    clock = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    await asyncio.gather(*(bulk(name) for name in "abcde"))
    clock.cancel()
    first = items[0][0]
    assert sorted(n for t, n in items if t == first) == list("abcde")  # each began before its first pause
    later = [t for t, _ in items if t != first]
    assert len(later) == 15 and len(set(later)) == 15  # then one item of one task per turn, not one of each
    assert [n for t, n in items if t != first][:5] == list("abcde")  # taking turns, first come first served


async def test_bulk_work_steps_aside_for_at_most_longest_s_so_it_never_starves():
    foreground = Foreground(longest_s=0.05)
    loop = asyncio.get_running_loop()
    with foreground.hold():  # held for longer than bulk work waits
        started = loop.time()
        await asyncio.wait_for(foreground.wait(), 5)
        assert loop.time() - started >= 0.04 and foreground.held
