"""Long work on the event loop in slices, so requests are served in between."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable


class Slices:
    """``await slices.pause()`` between items hands the loop to other work once ``slice_s`` has passed since the
    last hand-over, and returns at once otherwise."""

    __slots__ = ("_deadline", "slice_s")

    def __init__(self, slice_s: float) -> None:
        self.slice_s = slice_s
        self._deadline = time.monotonic() + slice_s

    async def pause(self) -> None:
        if time.monotonic() > self._deadline:
            await asyncio.sleep(0)
            self._deadline = time.monotonic() + self.slice_s


class Turns:
    """``await turns.wait()`` lets at most ``per_turn`` waiters through per turn of the event loop, first come
    first served. Tasks that wait here are not on the loop's ready queue, so however many there are, a turn
    holds at most ``per_turn`` of their steps; a request arriving meanwhile waits for those, not for all."""

    def __init__(self, per_turn: int) -> None:
        self.per_turn = per_turn
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._scheduled = False

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        turn = loop.create_future()
        self._waiting.append(turn)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._let_through)
        await turn

    def _let_through(self) -> None:
        let = 0
        while self._waiting and let < self.per_turn:
            turn = self._waiting.popleft()
            if not turn.done():  # a waiter cancelled meanwhile takes no place
                turn.set_result(None)
                let += 1
        if self._waiting:
            asyncio.get_running_loop().call_soon(self._let_through)
        else:
            self._scheduled = False


async def _next_turn() -> None:
    await asyncio.sleep(0)


async def in_chunks(
    data: bytes, size: int, pause: Callable[[], Awaitable[None]] = _next_turn
) -> AsyncIterator[memoryview]:
    """``data`` in pieces of ``size`` bytes, ``pause`` (default: other work's turn) between two: a body of
    megabytes written at once holds the loop while all of it is copied (15 MB of ``/metrics``: 70-90 ms on a
    busy 2-core machine), and a slow reader holds one piece, not the whole body."""
    view = memoryview(data)
    for start in range(0, len(data), size):
        if start:
            await pause()
        yield view[start : start + size]
