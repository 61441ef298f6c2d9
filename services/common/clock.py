"""The wall clock as a dependency.

Every figure that depends on "now" (the read model's stream time, ``today``, the periods of outliers and trends,
the staffing window, the aggregator's stream clock, ingest's bound on event times from the future) asks a
``Clock`` for it rather than calling ``time.time()``: production passes :func:`wall_ms`, tests pass a
:class:`FixedClock`, so no test depends on the day it runs (CI also runs the unit tier a year ahead to prove it).
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], int]
"""Returns the current time in epoch milliseconds."""


def wall_ms() -> int:
    """The machine's wall clock, in epoch milliseconds."""
    return time.time_ns() // 1_000_000


class FixedClock:
    """A clock that stands still until told to move: ``clock()`` returns ``now_ms``; ``advance`` moves it."""

    __slots__ = ("now_ms",)

    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, ms: int) -> int:
        self.now_ms += ms
        return self.now_ms

    def __repr__(self) -> str:
        return f"FixedClock({self.now_ms})"
