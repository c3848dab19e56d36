"""The range and outlier checks' statistics in numpy (``validate/_grouped.py``, issue 19) give
the rows their DuckDB queries gave, value for value and in the same order. The reference is
the replaced code, kept in ``builtin`` for the values numpy does not take (NaN, infinities,
magnitudes that could overflow): ``_outliers_sql`` and ``_range_sql``."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any
from unittest import mock

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from welfare_observatory.validate import CheckContext, builtin, default_checks
from welfare_observatory.validate._grouped import (
    InexactError,
    fast_values,
    outlier_rows,
    range_rows,
)
from welfare_observatory.validate.batch import run_checks_by_source

from .test_checks_on_codes import CHECKS, HIERARCHY, TERRITORIES, source_tables
from .test_validate_checks import POP

# Values with ties, zeros, negatives, large and tiny magnitudes and NULLs: medians of two
# middle values, zero MADs, jumps from and to zero, counts under min_events.
VALUES = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, 2.0, 10.0, 10.5, 11.0, 12.0, 95.0, 150.0, -3.0, 1e-310]),
    st.floats(min_value=-1e12, max_value=1e12, allow_nan=False),
    st.none(),
)
CODES = st.one_of(st.integers(min_value=0, max_value=3), st.none())
FLAGS = st.one_of(st.booleans(), st.none())
LITERALS = st.sampled_from(["3.5", "0.5", "1.0", "0.1", "0.30000000000000004", "2", "20.0", "0.0"])


@st.composite
def outlier_data(draw: st.DrawFn) -> pa.Table:
    """The table ``check_outliers`` hands DuckDB: codes (NULL too), flags, group and
    series ids; at most one row per series and date, as harmonize leaves them."""
    n = draw(st.integers(min_value=1, max_value=120))
    series = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    days: list[date | None] = []
    seen: set[tuple[int, date]] = set()
    for s in series:
        day = draw(
            st.one_of(
                st.none(),
                st.builds(
                    lambda y, q: date(y, 1, 1) + timedelta(days=91 * q),
                    st.integers(2018, 2023),
                    st.sampled_from([0, 0, 0, 1, 3]),
                ),
            )
        )
        if day is not None and (s, day) in seen:
            day = None
        if day is not None:
            seen.add((s, day))
        days.append(day)
    # Groups of ten and more rows, so medians and MADs are taken.
    g = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    # Series ids as large as packed ids get: renumbered before they are packed with dates.
    spread = draw(st.sampled_from([1, 2**55]))
    return pa.table(
        {
            "src": pa.array(draw(st.lists(CODES, min_size=n, max_size=n)), pa.int32()),
            "indicator": pa.array(draw(st.lists(CODES, min_size=n, max_size=n)), pa.int32()),
            "territory": pa.array(draw(st.lists(CODES, min_size=n, max_size=n)), pa.int32()),
            "period": pa.array(draw(st.lists(CODES, min_size=n, max_size=n)), pa.int32()),
            "period_start": pa.array(days, pa.date32()),
            "value": pa.array(draw(st.lists(VALUES, min_size=n, max_size=n)), pa.float64()),
            "rate": pa.array(draw(st.lists(FLAGS, min_size=n, max_size=n)), pa.bool_()),
            "count_unit": pa.array(draw(st.lists(FLAGS, min_size=n, max_size=n)), pa.bool_()),
            "reliable": pa.array(draw(st.lists(FLAGS, min_size=n, max_size=n)), pa.bool_()),
            "g": pa.array(g, pa.int64()),
            "series": pa.array([x * spread for x in series], pa.int64()),
        }
    )


def as_json(rows: list[dict[str, Any]]) -> list[str]:
    # repr of the floats: equal to the last bit, -0.0 apart from 0.0 only where it shows
    return [json.dumps({k: repr(v) for k, v in r.items()}, sort_keys=True) for r in rows]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(outlier_data(), LITERALS, LITERALS, LITERALS)
def test_outlier_rows_are_the_querys_rows(
    data: pa.Table, outlier_z: str, change: str, events: str
) -> None:
    ctx = mock.Mock(outlier_z=outlier_z, max_yearly_change=change, min_events=events)
    try:
        got = outlier_rows(data, outlier_z=outlier_z, max_yearly_change=change, min_events=events)
    except InexactError:  # subnormal medians: the check asks DuckDB
        assume(False)
    assert as_json(got) == as_json(builtin._outliers_sql(data, ctx))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(outlier_data(), st.integers(min_value=0, max_value=119), st.booleans())
def test_jumps_of_rows_in_runs_of_series_and_dates_are_the_querys(
    data: pa.Table, shift: int, flip: bool
) -> None:
    # Every row usable (dated and reliable) and the rows in runs of one series by date, as
    # a build's tables come: the jump check's fast path (no copy, one merge sort).
    data = data.filter(pc.is_valid(data.column("period_start")))
    assume(data.num_rows > 0)
    data = data.set_column(
        data.column_names.index("reliable"), "reliable", pa.repeat(True, data.num_rows)
    )
    data = data.sort_by(
        [("series", "descending" if flip else "ascending"), ("period_start", "ascending")]
    )
    cut = shift % data.num_rows
    data = pa.concat_tables([data.slice(cut), data.slice(0, cut)])
    ctx = mock.Mock(outlier_z="3.5", max_yearly_change="0.5", min_events="20.0")
    kwargs = {"outlier_z": "3.5", "max_yearly_change": "0.5", "min_events": "20.0"}
    try:
        got = outlier_rows(data, **kwargs)
    except InexactError:
        assume(False)
    assert as_json(got) == as_json(builtin._outliers_sql(data, ctx))


@st.composite
def range_data(draw: st.DrawFn) -> pa.Table:
    n = draw(st.integers(min_value=1, max_value=80))
    return pa.table(
        {
            "src": pa.array(draw(st.lists(CODES, min_size=n, max_size=n)), pa.int32()),
            "indicator": pa.array(draw(st.lists(CODES, min_size=n, max_size=n)), pa.int32()),
            "territory": pa.array(draw(st.lists(CODES, min_size=n, max_size=n)), pa.int32()),
            "unit": pa.array(draw(st.lists(CODES, min_size=n, max_size=n)), pa.int32()),
            "value": pa.array(draw(st.lists(VALUES, min_size=n, max_size=n)), pa.float64()),
            "percent": pa.array(draw(st.lists(FLAGS, min_size=n, max_size=n)), pa.bool_()),
        }
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(range_data())
def test_range_rows_are_the_querys_rows_that_can_give_a_finding(data: pa.Table) -> None:
    # Rows without a negative value or a percent over 100 give no finding: numpy skips them.
    expected = [r for r in builtin._range_sql(data) if r["negative"] or r["over"]]
    assert as_json(range_rows(data)) == as_json(expected)


def findings(tables: dict[str, pa.Table], ctx: CheckContext) -> dict[str, list[str]]:
    got = run_checks_by_source(tables, default_checks(), ctx, only=list(CHECKS))
    return {
        s: [json.dumps(f.model_dump(mode="json"), sort_keys=True) for f in found]
        for s, found in got.items()
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source_tables())
def test_the_checks_find_what_the_duckdb_queries_found(tables: dict[str, pa.Table]) -> None:
    ctx = CheckContext(
        indicators={"POP_TOTAL": POP}, hierarchy=HIERARCHY, territories=TERRITORIES[:-2]
    )
    with mock.patch.object(builtin, "fast_values", lambda _: False):
        reference = findings(tables, ctx)
    assert findings(tables, ctx) == reference


@pytest.mark.parametrize(
    ("values", "fast"),
    [
        ([1.0, None, -2.5], True),
        ([None, None], True),
        ([1e300, -1e300], True),
        ([float("nan"), 1.0], False),
        ([float("inf")], False),
        ([1.0, -float("inf")], False),
        ([1e301], False),
        ([-1e301, None], False),
    ],
)
def test_only_finite_moderate_values_leave_duckdb(values: list[Any], fast: bool) -> None:
    assert fast_values(pa.chunked_array([pa.array(values, pa.float64())])) is fast


def test_a_nan_value_is_checked_by_duckdb() -> None:
    """NaN compares above every number in DuckDB: such a table keeps the query's findings."""
    rows = [
        ("RATE", f"0960{i:02d}", "2023", 10.0 + i % 3, "percent", "A", None) for i in range(1, 13)
    ]
    rows[0] = ("RATE", "096001", "2023", float("nan"), "percent", "A", None)
    from .test_checks_on_codes import observations

    tables = {"a": observations(rows, False)}
    ctx = CheckContext(hierarchy=HIERARCHY, territories=TERRITORIES[:-2])
    with mock.patch.object(builtin, "outlier_rows", side_effect=AssertionError("numpy path")):
        found = findings(tables, ctx)
    assert any('"out-of-range"' in f for f in found["a"])


def test_medians_round_as_duckdbs_or_are_left_to_duckdb() -> None:
    """Two middle values are averaged as DuckDB does, to the last bit, over magnitudes up
    to 1e300 (three ways of writing the mean differ there); subnormal medians, which
    DuckDB rounds its own way, raise ``InexactError`` (the check then asks DuckDB)."""
    import numpy as np

    from welfare_observatory.validate._grouped import _grouped_median

    rng = np.random.default_rng(19)
    sizes = rng.integers(1, 9, size=2000)
    groups = np.repeat(np.arange(len(sizes)), sizes)
    scale = 10.0 ** rng.integers(-320, 300, size=len(groups)).astype(float)
    values = rng.normal(size=len(groups)) * scale
    values[::7] = rng.integers(1, 2**53, size=len(values[::7])) * 2.0 ** rng.integers(-60, 60)
    table = pa.table({"g": groups, "v": values})
    rows = builtin._sql("SELECT g, median(v) AS m FROM t GROUP BY g", t=table)
    expected = {r["g"]: r["m"] for r in rows}
    exact = inexact = 0
    for g in range(len(sizes)):
        mine = values[groups == g]
        try:
            got = _grouped_median(np.zeros(len(mine), dtype=np.int64), mine, 1)[0]
        except InexactError:
            inexact += 1
            continue
        exact += 1
        assert repr(float(got)) == repr(expected[g]), (g, sorted(mine))
    assert exact > 1500 and inexact > 10


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(min_value=0, max_value=300), min_size=1, max_size=12),
    st.sampled_from([12, 70_000]),
    st.randoms(use_true_random=False),
)
def test_medians_of_many_groups_at_once_are_duckdbs(
    sizes: list[int], spread: int, rng: Any
) -> None:
    """Medians of groups of very different sizes (each sorted in a matrix of its width
    class), groups left empty, and group ids past 2**16, taken at once and in any row
    order: DuckDB's ``median`` of each group, NaN for an empty one; and so are the
    medians of the absolute deviations from them (the outlier check's MAD)."""
    import numpy as np

    from welfare_observatory.validate._grouped import _grouped_median, _grouped_median_and_mad

    ids = rng.sample(range(spread), len(sizes))
    groups = np.repeat(np.array(ids, dtype=np.int64), sizes)
    values = np.array([rng.choice([1.0, 2.5, -3.0, 0.0]) * rng.randint(0, 40) for _ in groups])
    shuffled = np.array(rng.sample(range(len(groups)), len(groups)), dtype=np.int64)
    groups, values = groups[shuffled], values[shuffled]
    got = _grouped_median(groups, values, spread)
    table = pa.table({"g": groups, "v": values})
    rows = builtin._sql("SELECT g, median(v) AS m FROM t GROUP BY g", t=table)
    expected = np.full(spread, np.nan)
    for r in rows:
        expected[r["g"]] = r["m"]
    assert np.array_equal(got, expected, equal_nan=True)
    deviations = builtin._sql(
        "SELECT g, median(abs(v - m)) AS d FROM t"
        " JOIN (SELECT g, median(v) AS m FROM t GROUP BY g) USING (g) GROUP BY g",
        t=table,
    )
    expected_mad = np.full(spread, np.nan)
    for r in deviations:
        expected_mad[r["g"]] = r["d"]
    median, mad = _grouped_median_and_mad(groups, values, spread)
    assert np.array_equal(median, expected, equal_nan=True)
    assert np.array_equal(mad, expected_mad, equal_nan=True)


def test_the_groups_are_sorted_in_fewer_cells_than_twice_the_values() -> None:
    """However the group sizes spread (one group of 100,000 rows, thousands of 1 to 3),
    the matrices the groups are sorted in hold fewer than twice as many cells as there
    are values, and each row holds its group's values in order, then infinities."""
    import numpy as np

    from welfare_observatory.validate._grouped import _sorted_by_group

    rng = np.random.default_rng(7)
    sizes = np.r_[100_000, rng.integers(1, 4, size=5000), 0, 17]
    groups = np.repeat(np.arange(len(sizes)), sizes)
    values = rng.normal(size=len(groups))
    counts = np.bincount(groups, minlength=len(sizes))
    cells = 0
    seen = set()
    for members, rows in _sorted_by_group(groups, values, counts):
        cells += rows.size
        for k, group in enumerate(members.tolist()):
            seen.add(group)
            n = counts[group]
            assert np.array_equal(rows[k, :n], np.sort(values[groups == group]))
            assert np.isinf(rows[k, n:]).all()
    assert cells < 2 * len(values)
    assert seen == set(np.flatnonzero(counts).tolist())


def test_ties_name_the_territory_and_period_as_duckdb() -> None:
    """Equal z-scores: the worst row is the one with the larger territory code, a NULL
    ranking above every code, and a row whose territory or period is NULL is left out of
    the ``arg_max`` that returns it."""
    n = 14
    values = [10.0, 11.0] * 5 + [100.0, 100.0, 100.0, 10.0]
    data = pa.table(
        {
            "src": pa.array([0] * n, pa.int32()),
            "indicator": pa.array([0] * n, pa.int32()),
            "territory": pa.array([5] * 10 + [None, 1, 2, 5], pa.int32()),
            "period": pa.array([0] * 10 + [3, 2, None, 0], pa.int32()),
            "period_start": pa.array([None] * n, pa.date32()),
            "value": pa.array(values, pa.float64()),
            "rate": pa.array([True] * n),
            "count_unit": pa.array([False] * n),
            "reliable": pa.array([True] * n),
            "g": pa.array([0] * n, pa.int64()),
            "series": pa.array(range(n), pa.int64()),
        }
    )
    ctx = mock.Mock(outlier_z="3.5", max_yearly_change="0.5", min_events="20.0")
    got = outlier_rows(data, outlier_z="3.5", max_yearly_change="0.5", min_events="20.0")
    assert as_json(got) == as_json(builtin._outliers_sql(data, ctx))
    assert (got[0]["territory"], got[0]["period"], got[0]["n"]) == (2, 3, 3)


def test_a_threshold_duckdb_cannot_read_fails_as_the_query_failed() -> None:
    """``min_events=inf`` is no SQL number: the check fails with the query's own error,
    as before (the batch then reports ``check-failed`` per source)."""
    rows = [
        ("RATE", f"0960{i:02d}", str(y), 10.0 + i % 3, "percent", "A", None)
        for i in range(1, 13)
        for y in (2022, 2023)
    ]
    from .test_checks_on_codes import observations

    table = observations(rows, False)
    ctx = CheckContext(min_events=float("inf"))
    with pytest.raises(Exception) as fast:
        builtin.check_outliers(table, ctx)
    with (
        mock.patch.object(builtin, "fast_values", lambda _: False),
        pytest.raises(Exception) as reference,
    ):
        builtin.check_outliers(table, ctx)
    assert (type(fast.value), str(fast.value)) == (type(reference.value), str(reference.value))
