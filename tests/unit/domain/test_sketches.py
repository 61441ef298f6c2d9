"""The percentile sketch (services/domain/sketches.py): logarithmic bins that add and subtract exactly."""

import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.domain.sketches import GAMMA, bin_of, quantile, representative

ALPHA = (GAMMA - 1) / (GAMMA + 1)  # the relative error bound of the mapping, ~4.8 %
durations = st.integers(2, 30 * 86_400_000)  # 2 ms to 30 days


def sketch(values) -> dict[int, int]:
    return dict(Counter(bin_of(v) for v in values))


def exact(values, q: float) -> int:
    """The exact ``q`` quantile without interpolation: the sorted values' element at ``floor(q (n - 1))``."""
    ordered = sorted(values)
    return ordered[math.floor(q * (len(ordered) - 1))]


@given(value=durations)
def test_every_value_is_within_the_relative_error_of_its_bins_representative(value):
    assert abs(representative(bin_of(value)) - value) <= ALPHA * value * (1 + 1e-12)


@settings(max_examples=200)
@given(values=st.lists(durations, min_size=1, max_size=300), q=st.sampled_from([0, 0.25, 0.5, 0.9, 0.95, 0.99, 1]))
def test_quantiles_are_within_the_relative_error_of_the_exact_quantiles(values, q):
    estimate = quantile(sketch(values), q)
    truth = exact(values, q)
    assert abs(estimate - truth) <= ALPHA * truth * (1 + 1e-12), (estimate, truth)


def test_a_known_distribution():
    values = list(range(1_000, 101_000, 1_000))  # 1 s .. 100 s
    bins = sketch(values)
    assert quantile(bins, 0.5) == pytest.approx(50_000, rel=ALPHA)
    assert quantile(bins, 0.9) == pytest.approx(90_000, rel=ALPHA)
    assert quantile(bins, 0) == pytest.approx(1_000, rel=ALPHA)
    assert quantile(bins, 1) == pytest.approx(100_000, rel=ALPHA)


@given(a=durations, b=durations)
def test_bins_and_representatives_are_monotone(a, b):
    lo, hi = min(a, b), max(a, b)
    assert bin_of(lo) <= bin_of(hi)
    assert representative(bin_of(lo)) <= representative(bin_of(hi))


@given(values=st.lists(durations, min_size=1, max_size=100))
def test_quantiles_grow_with_q(values):
    bins = sketch(values)
    estimates = [quantile(bins, q) for q in (0, 0.1, 0.5, 0.9, 0.99, 1)]
    assert estimates == sorted(estimates)


def test_no_values_is_no_quantile_not_zero():
    assert quantile({}, 0.5) is None
    assert quantile({12: 0, 30: 0}, 0.9) is None  # bins emptied by subtraction


@given(kept=st.lists(durations, max_size=60), removed=st.lists(durations, max_size=60))
def test_adding_then_subtracting_a_sketch_leaves_the_one_before(kept, removed):
    """Sketches add across partitions and subtract when a contact's contribution is replaced."""
    merged = Counter(sketch(kept))
    merged.update(sketch(removed))
    merged.subtract(sketch(removed))
    for q in (0, 0.5, 0.95, 1):
        assert quantile(dict(merged), q) == quantile(sketch(kept), q)


def test_durations_under_two_ms_share_the_zero_bin():
    assert bin_of(0) == bin_of(1) == 0 and representative(0) == 0.0
    assert bin_of(2) > 0
    assert quantile({0: 3}, 0.5) == 0.0
