"""An aggregate is a function of its parts' values: the order of rows, DuckDB's threads,
Arrow or DuckDB, and the indicators derived beside it change none of its bits. A rebuild
that aggregates one indicator group gives what a fresh build of everything gives."""

from __future__ import annotations

import math
import random

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory._arrow import plain
from welfare_observatory._summing import shift_of
from welfare_observatory.derive import aggregate

from .conftest import make_indicator, observations

MUNICIPALITIES = ["096004", "096021", "096025", "001272", "017029", "017001"]
PERIODS = ["2022", "2023"]

cents = st.integers(0, 10**9).map(lambda c: c / 100)


def _shuffled(table: pa.Table, rng: random.Random) -> pa.Table:
    order = list(range(table.num_rows))
    rng.shuffle(order)
    return table.take(pa.array(order, pa.int64()))


def _bits(table: pa.Table, columns: list[str]) -> dict[tuple[str, ...], tuple[str | None, ...]]:
    """Each row's key and the exact bits of ``columns`` (hex), for comparing two tables."""
    rows = plain(table).to_pylist()
    return {
        (r["indicator"], r["territory"], r["period"]): tuple(
            None if r[c] is None else float(r[c]).hex() for c in columns
        )
        for r in rows
    }


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(cents, min_size=len(MUNICIPALITIES) * 2, max_size=len(MUNICIPALITIES) * 2),
    weights=st.one_of(st.none(), st.lists(cents, min_size=6, max_size=6)),
    rng=st.randoms(use_true_random=False),
)
def test_the_order_of_rows_changes_no_bit(
    catalog, hierarchy, values: list[float], weights: list[float] | None, rng: random.Random
) -> None:
    keys = [(m, p) for m in MUNICIPALITIES for p in PERIODS]
    rows = [("POP_TOTAL", m, p, v) for (m, p), v in zip(keys, values, strict=True)]
    table = observations(rows)
    weight_table = None
    if weights is not None:
        weight_table = pa.table(
            {
                "territory": [m for m in MUNICIPALITIES for _ in PERIODS],
                "year": [int(p) for _ in MUNICIPALITIES for p in PERIODS],
                "population": [w + 1 for w in weights for _ in PERIODS],
            }
        )
    first = aggregate(table, catalog, hierarchy, weights=weight_table, min_coverage=0.0)
    again = aggregate(
        _shuffled(table, rng),
        catalog,
        hierarchy,
        weights=None if weight_table is None else _shuffled(weight_table, rng),
        min_coverage=0.0,
    )
    assert _bits(again.table, ["value"]) == _bits(first.table, ["value"])
    assert first.coverage is not None and again.coverage is not None
    assert _bits(again.coverage, ["coverage"]) == _bits(first.coverage, ["coverage"])
    # And the sum is the correctly rounded one.
    members = {"096": ["096004", "096021", "096025"], "017": ["017029", "017001"]}
    got = _bits(first.table, ["value"])
    for area, inside in members.items():
        for period in PERIODS:
            parts = [
                v for (m, p), v in zip(keys, values, strict=True) if p == period and m in inside
            ]
            assert got[("POP_TOTAL", area, period)] == (math.fsum(parts).hex(),)


def test_an_indicator_sums_the_same_alone_or_with_others(catalog, hierarchy) -> None:
    """A rebuild derives the changed group's indicators only: their sums must not depend
    on what else is summed in the same call. Here births are too fine to be added exactly
    (fractions near 2**-50 beside a million) and are added in order; amounts of
    another indicator are still added exactly, as when they are summed alone."""
    rng = random.Random(11)
    rows = [
        ("POP_TOTAL", m, p, round(rng.uniform(0, 1e6), 2)) for m in MUNICIPALITIES for p in PERIODS
    ]
    births = [("BIRTHS", m, p, rng.uniform(0, 1e-15)) for m in MUNICIPALITIES for p in PERIODS]
    births[0] = ("BIRTHS", MUNICIPALITIES[0], PERIODS[0], 2.0**20)
    assert shift_of(pa.array([b[3] for b in births])) is None  # added in order
    alone = aggregate(observations(rows), catalog, hierarchy)
    together = aggregate(observations(rows + births), catalog, hierarchy)
    mine = pc.equal(pc.cast(together.table.column("indicator"), pa.string()), "POP_TOTAL")
    assert _bits(together.table.filter(mine), ["value"]) == _bits(alone.table, ["value"])


def _large() -> tuple[pa.Table, pa.Table, dict[str, object]]:
    """300,000 municipal amounts in 100 provinces: DuckDB, on several threads."""
    municipalities = [f"{i:06d}" for i in range(10_000)]
    hierarchy = pa.table(
        {
            "municipality": municipalities,
            "province": [f"P{i // 100:03d}" for i in range(10_000)],
            "region": [f"R{i // 1000:02d}" for i in range(10_000)],
            "country": ["IT"] * 10_000,
        }
    )
    rng = random.Random(3)
    periods = [str(y) for y in range(1995, 2025)]
    rows = [
        ("SPENDING", m, p, round(rng.lognormvariate(8, 2), 2))
        for m in municipalities
        for p in periods
    ]
    catalog = {"SPENDING": make_indicator("SPENDING", "sum", "EUR")}
    return observations(rows), hierarchy, catalog


def test_duckdb_threads_change_no_bit_of_a_large_aggregation() -> None:
    table, hierarchy, catalog = _large()
    assert shift_of(table.column("value")) is not None
    runs = [
        aggregate(table, catalog, hierarchy, levels=["province", "region", "country"], threads=2),
        aggregate(
            _shuffled(table, random.Random(1)),
            catalog,
            hierarchy,
            levels=["province", "region", "country"],
            threads=2,
        ),
        aggregate(table, catalog, hierarchy, levels=["province", "region", "country"]),
    ]
    first = _bits(runs[0].table, ["value"])
    assert len(first) == (100 + 10 + 1) * 30
    for run in runs[1:]:
        assert _bits(run.table, ["value"]) == first
    # Italy in 2024 is the correctly rounded sum of its 10,000 municipalities.
    in_2024 = pc.equal(pc.cast(table.column("period"), pa.string()), "2024")
    last = table.filter(in_2024).column("value").to_pylist()
    assert first[("SPENDING", "IT", "2024")] == (math.fsum(last).hex(),)


def test_counts_beside_values_not_summed_keep_the_plain_sum(
    catalog, hierarchy, monkeypatch
) -> None:
    """Only the rows aggregation adds decide the way: a median age beside the counts is
    not summed, and must not send the counts to the scaled way (national scale's indices
    once tripled the time of aggregating its counts)."""
    from welfare_observatory.derive import aggregation as ag

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("the counts were not summed plainly")

    monkeypatch.setattr(ag, "shifts_by", refused)
    rows = [("POP_TOTAL", m, "2023", 10.0) for m in MUNICIPALITIES]
    rows += [("MEDIAN_AGE", m, "2023", 47.25) for m in MUNICIPALITIES]
    monkeypatch.setattr(ag, "SMALL", -1)  # DuckDB, where the way is chosen
    result = aggregate(observations(rows), catalog, hierarchy)
    assert _bits(result.table, ["value"])[("POP_TOTAL", "IT", "2023")] == ((60.0).hex(),)
