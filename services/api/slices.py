"""Long work on the event loop in slices, so requests are served in between."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator


class Foreground:
    """Held while latency-bound work runs in a thread (a ``/metrics`` render); bulk work on the event loop that
    pauses with ``Slices(..., behind=foreground)`` waits at its next pause until nothing holds it, for at most
    ``longest_s`` at a time, so it never starves.

    The thread and the loop share one GIL: with both busy, CPython hands it over every switch interval, so a
    render of 150 ms of CPU took 300-450 ms while 200 unfiltered clients' snapshot was being built on the loop.
    Bulk work stepping aside lets the render have the GIL; requests go on being served meanwhile."""

    def __init__(self, longest_s: float = 1.0) -> None:
        self.longest_s = longest_s
        self._held = 0
        self._free = asyncio.Event()
        self._free.set()

    @property
    def held(self) -> bool:
        return self._held > 0

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        self._held += 1
        self._free.clear()
        try:
            yield
        finally:
            self._held -= 1
            if not self._held:
                self._free.set()

    async def wait(self) -> None:
        """Returns once nothing holds it, or after ``longest_s``."""
        if self._held:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.longest_s):
                    await self._free.wait()


class Slices:
    """Long work on the event loop in slices of at most ``slice_s``, one slice per turn of the loop however many
    tasks share it: ``await slices.pause()`` between items returns at once while the current slice lasts; once
    it is over, the task waits its turn, and one waiting task per turn of the loop starts the next slice (first
    come first served). With ``behind``, the next slice waits while that is held.

    Shared, not one per task: when a shared snapshot was ready, every stream that opened with it built the
    hundreds of updates since, each in slices of its own, so one turn of the loop held a slice of each of them
    (40-70 ms) and every request waited behind them all."""

    __slots__ = ("_deadline", "_turns", "behind", "slice_s")

    def __init__(self, slice_s: float, behind: Foreground | None = None) -> None:
        self.slice_s = slice_s
        self.behind = behind
        self._deadline = time.monotonic() + slice_s
        self._turns = Turns(1)

    async def pause(self) -> None:
        if time.monotonic() <= self._deadline:
            return
        await self._turns.wait()
        if self.behind is not None and self.behind.held:
            await self.behind.wait()
            await self._turns.wait()  # those that waited start again one per turn, not all at once
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
