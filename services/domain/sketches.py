"""Mergeable, subtractable percentile sketch: counts in logarithmic duration bins.

A duration of ``v`` milliseconds falls in bin ``ceil(log(v) / log(GAMMA))``; every value in a bin is within
±``(GAMMA - 1) / (GAMMA + 1)`` (≈ 4.8 %) of the bin's representative value, the guarantee of DDSketch's
logarithmic mapping. The bins are plain integer counters, so sketches add across partitions and scopes and —
unlike the ``ddsketch`` package, which has no deletion — subtract exactly when a contact's contribution is
replaced. That is why this ~40-line mapping is written here instead of taken from a library.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

GAMMA = 1.1
_LOG_GAMMA = math.log(GAMMA)


def bin_of(value_ms: int) -> int:
    """The bin of a duration; durations under 1 ms share bin 0."""
    if value_ms <= 1:
        return 0
    return math.ceil(math.log(value_ms) / _LOG_GAMMA)


def representative(index: int) -> float:
    """The value (ms) reported for a bin: the midpoint in relative terms of its range."""
    if index <= 0:
        return 0.0
    return 2 * GAMMA**index / (GAMMA + 1)


def quantile(bins: Mapping[int, int], q: float) -> float | None:
    """The ``q`` quantile (0 ≤ q ≤ 1) of the values counted in ``bins``, in ms; ``None`` when empty."""
    total = sum(c for c in bins.values() if c > 0)
    if total == 0:
        return None
    rank = q * (total - 1)
    seen = 0
    for index in sorted(bins):
        count = bins[index]
        if count <= 0:
            continue
        seen += count
        if seen > rank:
            return representative(index)
    return representative(max(bins))
