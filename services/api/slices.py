"""Long work on the event loop in slices, so requests are served in between."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator


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


async def in_chunks(data: bytes, size: int) -> AsyncIterator[memoryview]:
    """``data`` in pieces of ``size`` bytes, other work let in between two: a body of megabytes written at once
    holds the loop while all of it is copied (15 MB of ``/metrics``: 70-90 ms on a busy 2-core machine), and a
    slow reader holds one piece, not the whole body."""
    view = memoryview(data)
    for start in range(0, len(data), size):
        if start:
            await asyncio.sleep(0)
        yield view[start : start + size]
