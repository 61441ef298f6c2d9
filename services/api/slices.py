"""Long work on the event loop in slices, so requests are served in between."""

from __future__ import annotations

import asyncio
import time


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
