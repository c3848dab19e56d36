"""Sums that are a function of the values alone: whatever their order, DuckDB's threads or
the other values summed beside them, the same bits; correctly rounded where it can."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory._summing import (
    adds_exactly,
    ordered_sum_sql,
    scaled_sum_sql,
    shift_of,
    shifts_by,
    sum_sql,
)

finite = st.floats(allow_nan=False, allow_infinity=False)
cents = st.integers(-(10**9), 10**9).map(lambda c: c / 100)
# What sources give (counts, money, rates): within 2**52 of each other's totals, where
# the sum is exact before its one rounding.
sized = st.floats(1e-3, 1e9)
amounts = st.one_of(cents, sized, sized.map(lambda v: -v), st.integers(-(10**6), 10**6).map(float))


_CONNECTION = duckdb.connect()
_CONNECTION.execute("SET threads = 1")


def _sum(values: list[float | None], order: list[int]) -> float | None:
    """DuckDB's :func:`sum_sql` of ``values`` taken in ``order`` (one thread)."""
    con = _CONNECTION.cursor()
    table = pa.table({"v": pa.array([values[i] for i in order], pa.float64())})
    con.register("t", table)
    found = con.sql(f"SELECT {sum_sql('v', table.column('v'))} AS s FROM t").fetchall()
    result: float | None = found[0][0]
    return result


def _bits(value: float | None) -> str | None:
    return None if value is None else value.hex()


@settings(max_examples=200, deadline=None)
@given(finite)
def test_the_shift_is_the_least_that_makes_a_value_whole(value: float) -> None:
    least = Fraction(value).denominator.bit_length() - 1  # the denominator is 2**least
    # The scaled way takes it while the bound on its sums, the next power of two above
    # the value times that above the count (1: 2), scaled, stays within 2**104, and
    # 2**-least is a normal float64 with room for 53 bits.
    above = 0 if value == 0 else math.frexp(abs(value))[1]
    fits = least <= 969 and (value == 0 or above + 1 + least <= 104)
    assert shift_of(pa.array([value])) == (least if fits else None)


@settings(max_examples=80, deadline=None)
@given(st.lists(amounts, min_size=1, max_size=40), st.randoms(use_true_random=False))
def test_any_order_gives_the_correctly_rounded_sum(values: list[float], rng: random.Random) -> None:
    order = list(range(len(values)))
    first = _sum(list(values), order)
    rng.shuffle(order)
    assert _bits(_sum(list(values), order)) == _bits(first)
    assert shift_of(pa.array(values)) is not None
    assert first == math.fsum(values)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(finite, st.sampled_from([math.inf, -math.inf, math.nan])), min_size=1),
    st.randoms(use_true_random=False),
)
def test_values_too_wide_or_not_finite_are_added_in_one_order(
    values: list[float], rng: random.Random
) -> None:
    order = list(range(len(values)))
    first = _sum(list(values), order)
    rng.shuffle(order)
    again = _sum(list(values), order)
    assert (
        first is not None and math.isnan(first) and again is not None and math.isnan(again)
    ) or (_bits(again) == _bits(first))


def test_whole_numbers_add_plainly_below_two_to_the_53() -> None:
    """The bound is the largest value times their number (exact in any order, unlike a
    float total of them): below 2**53, every partial sum is exact."""
    assert adds_exactly(pa.array([1.0, None, -3.0, 2.0**50]))  # 3 x 2**50 < 2**53
    assert not adds_exactly(pa.array([2.0**51, 1.0, 1.0, 1.0]))  # 4 x 2**51 = 2**53
    assert not adds_exactly(pa.array([0.5]))
    assert adds_exactly(pa.array([0.5, 1.0]), pa.array([False, True]))  # only 1.0 is summed
    assert not adds_exactly(pa.array([math.nan]))
    assert not adds_exactly(pa.array([math.inf]))
    assert adds_exactly(pa.array([], pa.float64()))
    assert sum_sql("v", pa.array([1.0, 2.0])) == "sum(v)"


def test_large_whole_numbers_are_added_exactly() -> None:
    values = [2.0**60, 1.0, -(2.0**60), 1.0]
    assert not adds_exactly(pa.array(values))
    assert shift_of(pa.array(values)) == 0
    assert _sum(values, [0, 1, 2, 3]) == 2.0
    assert _sum(values, [0, 2, 1, 3]) == 2.0


def test_a_span_too_wide_is_added_in_order() -> None:
    values = [2.0**-60, 2.0**50]
    assert shift_of(pa.array(values)) is None
    assert sum_sql("v", pa.array(values)) == ordered_sum_sql("v")
    assert _sum(values, [0, 1]) == _sum(values, [1, 0])


def test_nulls_are_skipped_and_all_nulls_give_null() -> None:
    assert _sum([None, 0.25, None, 0.5], [0, 1, 2, 3]) == 0.75
    assert _sum([None, None], [0, 1]) is None


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["A", "B", "C"]), st.lists(amounts, min_size=1, max_size=15), min_size=1
    )
)
def test_a_key_is_added_by_its_own_values(groups: dict[str, list[float]]) -> None:
    """Each key's way and sum are those of its values alone: an indicator summed with
    others (a fresh build) and alone (a rebuild of its group) gives the same bits."""
    keys = [k for k, values in groups.items() for _ in values]
    values = [v for vs in groups.values() for v in vs]
    table = pa.table({"k": keys, "v": pa.array(values, pa.float64())})
    ways = shifts_by(table.column("k"), table.column("v")).rename_columns(["k", "up", "down"])
    con = duckdb.connect()
    con.register("t", table)
    con.register("s", ways)
    scaled = scaled_sum_sql("t.v", "s.up", "min(s.down)")
    found = dict(
        con.sql(f"SELECT t.k, {scaled} FROM t JOIN s ON s.k = t.k GROUP BY t.k").fetchall()
    )
    for key, own in groups.items():
        alone = shift_of(pa.array(own))
        assert alone is not None
        row = ways.filter(pa.compute.equal(ways.column("k"), key)).to_pylist()[0]
        assert (row["up"], row["down"]) == (math.ldexp(1.0, alone), math.ldexp(1.0, -alone))
        assert _bits(found[key]) == _bits(math.fsum(own))


def test_the_threads_of_duckdb_do_not_change_a_sum() -> None:
    """Several threads add partial sums in the order they finish (a plain ``sum`` of
    600,000 amounts can differ from run to run); the scaled one is their exact sum."""
    rng = random.Random(5)
    values = [round(rng.lognormvariate(8, 2), 2) for _ in range(600_000)]
    table = pa.table({"g": [i % 7 for i in range(len(values))], "v": values})
    expected = {g: math.fsum(v for i, v in enumerate(values) if i % 7 == g) for g in range(7)}
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.register("t", table)
    for _ in range(3):
        found = dict(
            con.sql(f"SELECT g, {sum_sql('v', table.column('v'))} FROM t GROUP BY g").fetchall()
        )
        assert found == expected
