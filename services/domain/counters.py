"""Counters: the integer figures every scope keeps (``{"created": 12, "fr_ms": 93000, …}``), and their sums.

One home for the arithmetic both sides repeat: the aggregator adds and subtracts contributions, the API sums
buckets and partials. ``ratio`` is the one division of KPIS.md §8 (no data is ``None``, never 0); ``rate`` is
the same figure rounded for a response body.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

Counters = dict[str, int]


def add(target: Counters, counters: Mapping[str, int]) -> None:
    """``target += counters``, keeping names that sum to 0 (bulk sums drop them once, with ``nonzero``)."""
    for name, value in counters.items():
        target[name] = target.get(name, 0) + value


def add_signed(target: Counters, counters: Mapping[str, int], sign: int) -> None:
    """``target += sign × counters``, dropping a name whose sum reaches 0 so a kept scope stays small."""
    for name, value in counters.items():
        new = target.get(name, 0) + sign * value
        if new:
            target[name] = new
        else:
            target.pop(name, None)


def nonzero(counters: Counters) -> Counters:
    """``counters`` without its zeros (itself when it has none)."""
    return counters if all(counters.values()) else {k: v for k, v in counters.items() if v}


def total(many: Iterable[Mapping[str, int]]) -> Counters:
    """Sum of several counter maps."""
    out: Counters = {}
    for counters in many:
        add(out, counters)
    return out


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or ``None`` (no data) when the denominator is 0 (KPIS.md §8)."""
    return numerator / denominator if denominator else None


def rate(numerator: float, denominator: float) -> float | None:
    """``ratio`` rounded to 6 digits, as response bodies carry it."""
    return round(numerator / denominator, 6) if denominator else None
