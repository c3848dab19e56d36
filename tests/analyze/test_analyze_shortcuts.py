"""The analysis stage's shortcuts give what the direct pandas computation gives.

Series numbered from the keys' integer codes against ``groupby(...).ngroup()``, text sort
keys of categoricals from their categories against the per-row factorization, and the
municipal rows found from the distinct territory codes against the per-row levels.
"""

from __future__ import annotations

from unittest.mock import patch

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.analyze._common import stable_order, text, text_isin, years
from welfare_observatory.analyze.levels import territory_levels
from welfare_observatory.analyze.trend import _by_series_then_year, _series_ids, trend
from welfare_observatory.build.analyze import _decoded, _municipal

_VALUES = st.sampled_from(["a", "b", "B", "096004", "IT", "", None])


def _column(values: list[str | None], categorical: bool, extra: list[str]) -> pd.Series:
    if categorical:  # categories in an arbitrary order, some never used
        present = {v for v in values if v is not None}
        return pd.Series(pd.Categorical(values, categories=sorted({*extra, *present})[::-1]))
    return pd.Series(values, dtype="string")


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(_VALUES, _VALUES, _VALUES), min_size=1, max_size=40),
    categorical=st.tuples(st.booleans(), st.booleans(), st.booleans()),
)
def test_series_ids_number_groups_as_ngroup_does(
    rows: list[tuple[str | None, str | None, str | None]], categorical: tuple[bool, bool, bool]
) -> None:
    keys = ["indicator", "territory", "sex"]
    frame = pd.DataFrame(
        {
            key: _column([r[i] for r in rows], categorical[i], ["zz", "unused"])
            for i, key in enumerate(keys)
        }
    )
    expected = frame.groupby(keys, sort=False, observed=True, dropna=False).ngroup().to_numpy()
    np.testing.assert_array_equal(_series_ids(frame, keys), expected)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 5), st.integers(-3000, 3000)), min_size=1, max_size=60)
)
def test_series_then_year_order_is_lexsort(rows: list[tuple[int, int]]) -> None:
    gid = np.asarray([r[0] for r in rows], dtype="int64")
    year = np.asarray([r[1] for r in rows], dtype="int64")
    np.testing.assert_array_equal(_by_series_then_year(gid, year), np.lexsort((year, gid)))


_CODES = st.sampled_from(["096004", "096", "01", "IT", "ITC", "district:x", "9604", "_T", None])


@settings(max_examples=200, deadline=None)
@given(values=st.lists(_CODES, min_size=1, max_size=40), categorical=st.booleans())
def test_category_shortcuts_equal_the_per_row_answers(
    values: list[str | None], categorical: bool
) -> None:
    column = _column(values, categorical, ["unused", "096005"])
    municipal = territory_levels(column) == "municipality"
    np.testing.assert_array_equal(
        _municipal(column).to_numpy(dtype=bool), municipal.fillna(False).to_numpy(dtype=bool)
    )
    wanted = ["096004", "_T", "absent"]
    np.testing.assert_array_equal(
        text_isin(column, wanted).to_numpy(dtype=bool), text(column).isin(wanted).to_numpy()
    )
    if categorical:
        pd.testing.assert_series_equal(_decoded(column), column.astype(column.cat.categories.dtype))
    frame = pd.DataFrame({"key": column, "n": range(len(values))})
    as_text = frame.assign(key=text(column))
    np.testing.assert_array_equal(
        stable_order(frame, ["key", "n"])["n"].to_numpy(),
        stable_order(as_text, ["key", "n"])["n"].to_numpy(),
    )


@settings(max_examples=100, deadline=None)
@given(days=st.lists(st.integers(-200_000, 200_000), min_size=1, max_size=30))
def test_years_of_plain_datetimes_equal_the_calendar(days: list[int]) -> None:
    start = pd.Series(np.asarray(days, dtype="int64").astype("datetime64[D]")).astype(
        "datetime64[ms]"
    )
    expected = pd.to_datetime(start.astype(object)).dt.year.astype("int64")
    got = years(pd.DataFrame({"period_start": start, "period": "x"}))
    np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["i1", "i2"]),
            st.sampled_from(["096004", "096", "IT"]),
            st.sampled_from(["_T", "F", None]),
            st.integers(1990, 2030),
            st.floats(0.5, 100),
            st.sampled_from(["A", "B"]),
        ),
        min_size=1,
        max_size=50,
        unique_by=lambda r: (r[0], r[1], r[2], r[3]),
    ),
    categorical=st.booleans(),
)
def test_trends_of_the_one_sort_equal_those_of_group_numbers(
    rows: list[tuple[str, str, str | None, int, float, str]], categorical: bool
) -> None:
    frame = pd.DataFrame(
        {
            "indicator": [r[0] for r in rows],
            "territory": [r[1] for r in rows],
            "sex": [r[2] for r in rows],
            "period": [str(r[3]) for r in rows],
            "value": [r[4] for r in rows],
            "obs_status": [r[5] for r in rows],
        }
    )
    if categorical:
        for key in ("indicator", "territory", "sex", "period", "obs_status"):
            frame[key] = frame[key].astype("category")
    fast = trend(frame, polarity={"i1": "positive", "i2": "negative"}, window=5, min_span=2)
    with patch("welfare_observatory.analyze.trend._sorted_by_keys", return_value=None):
        slow = trend(frame, polarity={"i1": "positive", "i2": "negative"}, window=5, min_span=2)
    pd.testing.assert_frame_equal(fast, slow)
