"""Counter maps and their arithmetic (services/domain/counters.py)."""

from hypothesis import given
from hypothesis import strategies as st

from services.domain.counters import add, add_signed, nonzero, rate, ratio, total

counter_maps = st.dictionaries(st.sampled_from(["created", "resolved", "fr_ms", "frh:12", "replies@email"]),
                               st.integers(-5, 5), max_size=5)


def test_add_sums_into_the_target_and_keeps_names_that_reach_zero():
    target = {"created": 2, "resolved": 1}
    add(target, {"created": 3, "resolved": -1, "fr_ms": 60_000})
    assert target == {"created": 5, "resolved": 0, "fr_ms": 60_000}


def test_add_signed_subtracts_and_drops_names_that_reach_zero():
    target = {"created": 2, "resolved": 1}
    add_signed(target, {"created": 1, "resolved": 1}, -1)
    assert target == {"created": 1}
    add_signed(target, {"created": 1}, -1)
    assert target == {}
    add_signed(target, {"reopened": 0}, +1)  # a zero never appears
    assert target == {}


@given(base=counter_maps, other=counter_maps)
def test_a_map_kept_with_add_signed_never_holds_a_zero_and_a_change_undone_leaves_it_as_it_was(base, other):
    target = nonzero(base)
    before = dict(target)
    add_signed(target, other, +1)
    assert 0 not in target.values()
    assert target == nonzero({n: before.get(n, 0) + other.get(n, 0) for n in before.keys() | other.keys()})
    add_signed(target, other, -1)
    assert target == before


def test_nonzero_drops_zeros_and_leaves_its_input_alone():
    counters = {"created": 0, "resolved": 3}
    assert nonzero(counters) == {"resolved": 3}
    assert counters == {"created": 0, "resolved": 3}
    assert nonzero({}) == {}


@given(many=st.lists(counter_maps, max_size=6))
def test_total_is_the_sum_per_name(many):
    out = total(many)
    for name in {n for m in many for n in m}:
        assert out[name] == sum(m.get(name, 0) for m in many)
    assert set(out) == {n for m in many for n in m}  # zeros kept, like add
    assert total([]) == {}


def test_total_does_not_change_its_inputs():
    first = {"created": 1}
    total([first, {"created": 2}])
    assert first == {"created": 1}


def test_ratio_is_none_without_data_and_rate_is_the_ratio_rounded():
    assert ratio(0, 0) is None and rate(0, 0) is None  # no data is not 0 %
    assert ratio(0, 5) == 0 and rate(0, 5) == 0
    assert ratio(1, 3) == 1 / 3
    assert rate(1, 3) == 0.333333
    assert rate(2, 3) == 0.666667
    assert ratio(3, 2) == 1.5 == rate(3, 2)
