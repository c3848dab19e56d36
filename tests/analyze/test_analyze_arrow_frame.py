"""The stage's frame is built column by column from Arrow (no whole-table ``to_pandas``),
each shortcut against what it replaces:

- keys as categoricals of the narrowest codes, categories in the order ``to_pandas`` gives
  (was: ``table.to_pandas()`` of the dictionary-encoded table);
- ``period_start`` read as Arrow's 16-bit ``year`` (was: ``datetime64`` and numpy's year);
- trends read an integer ``year`` column as it is (was: widened to 64 bits first);
- ``stable_order`` of rows already in order makes no copy (was: ``iloc`` of every row);
- composites pivot each domain from the keys' codes (was: ``DataFrame.pivot`` of text keys).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.analyze import domain_composite as dc
from welfare_observatory.analyze import trend
from welfare_observatory.analyze._common import stable_order, text, years
from welfare_observatory.build.analyze import _frame

KEYS = ["BS_1", "BS_2", "IT", "017001", "_T", "F", "M"]


def _old_frame(table: pa.Table) -> pd.DataFrame:
    """The stage's frame as it was: text keys dictionary-encoded, then ``to_pandas``."""
    columns = [
        c
        if pa.types.is_dictionary(c.type) or not pa.types.is_string(c.type)
        else c.dictionary_encode()
        for c in table.columns
    ]
    return pa.table(columns, names=table.column_names).to_pandas(date_as_object=False)


@st.composite
def _tables(draw: st.DrawFn) -> pa.Table:
    """A table of a few chunks, each with its own dictionaries (Arrow unifies them), keys
    sometimes missing, dates sometimes missing or far from today, values sometimes NaN."""
    chunks = []
    nulls_in_dates = draw(st.booleans())
    for _ in range(draw(st.integers(1, 4))):
        n = draw(st.integers(0, 12))
        key = st.one_of(st.none(), st.sampled_from(KEYS))
        ids = draw(st.lists(key, min_size=n, max_size=n))
        plain_text = draw(st.lists(key, min_size=n, max_size=n))
        day = st.integers(-800_000, 2_900_000)  # years from about -220 to 9900
        days = draw(st.lists(day, min_size=n, max_size=n))
        dates = [None if nulls_in_dates and d % 7 == 0 else _date(d) for d in days]
        values = draw(st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), min_size=n, max_size=n))
        chunks.append(
            pa.table(
                {
                    "indicator": pa.array(ids, pa.string()).dictionary_encode(),
                    "territory": pa.array(plain_text, pa.string()),
                    "period_start": pa.array(dates, pa.date32()),
                    "value": pa.array(values, pa.float64()),
                }
            )
        )
    return pa.concat_tables(chunks, promote_options="permissive")


def _date(days: int) -> dt.date | None:
    try:
        return dt.date(1970, 1, 1) + dt.timedelta(days=days)
    except OverflowError:
        return None


@settings(max_examples=150, deadline=None)
@given(table=_tables())
def test_frame_equals_the_whole_table_conversion(table: pa.Table) -> None:
    new = _frame(table)
    old = _old_frame(table)
    for name in ("indicator", "territory"):
        # Same categories in the same order, same codes (categories a function of them).
        assert list(new[name].cat.categories) == list(old[name].cat.categories), name
        assert new[name].cat.categories.dtype == old[name].cat.categories.dtype, name
        assert np.array_equal(new[name].cat.codes.to_numpy(), old[name].cat.codes.to_numpy())
    assert np.array_equal(new["value"].to_numpy(), old["value"].to_numpy(), equal_nan=True)
    if table.column("period_start").null_count:
        assert "year" not in new
        assert new["period_start"].equals(old["period_start"])
    else:
        assert "period_start" not in new
        assert list(new.columns) == ["indicator", "territory", "year", "value"]
        assert years(new).equals(years(old))


def test_frame_keeps_a_year_column_of_its_own() -> None:
    """A table with its own ``year`` keeps it and its ``period_start``."""
    table = pa.table(
        {
            "period_start": pa.array([dt.date(2020, 1, 1)], pa.date32()),
            "year": pa.array([2019], pa.int64()),
        }
    )
    frame = _frame(table)
    assert list(frame.columns) == ["period_start", "year"]
    assert frame["year"].tolist() == [2019]


@pytest.mark.parametrize("day", [2_932_897, -719_163, 40_000 * 366])
def test_frame_of_dates_beyond_year_9999_or_before_year_1_keeps_them(day: int) -> None:
    """Arrow's year is not numpy's there: the dates are converted as before."""
    days = pa.array([day, 0], pa.int32()).cast(pa.date32())  # beyond Python's dates
    table = pa.table({"period_start": days})
    new, old = _frame(table), _old_frame(table)
    assert "year" not in new
    assert years(new).equals(years(old))


def test_frame_of_16_bit_years_is_16_bit() -> None:
    table = pa.table({"period_start": pa.array([dt.date(2020, 5, 1), dt.date(1999, 1, 1)])})
    frame = _frame(table)
    assert frame["year"].dtype == np.int16
    assert frame["year"].tolist() == [2020, 1999]


def test_frame_of_an_empty_chunked_column() -> None:
    table = pa.table({"indicator": pa.chunked_array([], pa.dictionary(pa.int32(), pa.string()))})
    frame = _frame(table)
    assert len(frame) == 0
    assert isinstance(frame["indicator"].dtype, pd.CategoricalDtype)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    width=st.sampled_from(["int16", "int32", "int64"]),
    breaks=st.booleans(),
)
def test_trend_over_narrow_years_equals_trend_over_dates(
    seed: int, width: str, breaks: bool
) -> None:
    """Trends over an integer ``year`` column of any width (the stage's is 16-bit) equal
    those over the ``period_start`` the years come from; with breaks in series too."""
    rng = np.random.default_rng(seed)
    rows = []
    for territory in ("017001", "017002", "IT"):
        for sex in ("_T", "F"):
            chosen = rng.choice(np.arange(2000, 2024), size=rng.integers(1, 12), replace=False)
            for year in sorted(chosen):
                status = "B" if breaks and rng.random() < 0.2 else "A"
                value = float(rng.uniform(-5, 100))
                rows.append(("BS_1", territory, sex, int(year), value, status))
    columns = ["indicator", "territory", "sex", "y", "value", "obs_status"]
    frame = pd.DataFrame(rows, columns=columns)
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    dated = frame.assign(period_start=pd.to_datetime(frame["y"].astype(str) + "-01-01"))
    dated = dated.drop(columns="y")
    narrow = frame.rename(columns={"y": "year"}).astype({"year": width})
    expected = trend(dated, polarity={"BS_1": "positive"})
    got = trend(narrow, polarity={"BS_1": "positive"})
    pd.testing.assert_frame_equal(got, expected)
    assert got["start_year"].dtype == got["end_year"].dtype == np.int64


@settings(max_examples=100, deadline=None)
@given(
    keys=st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 3)), max_size=20),
    presorted=st.booleans(),
)
def test_stable_order_of_ordered_rows_equals_the_sorted_copy(
    keys: list[tuple[str, int]], presorted: bool
) -> None:
    frame = pd.DataFrame(keys, columns=["k", "n"]).astype({"k": "category"})
    frame = frame.assign(v=np.arange(len(frame), dtype="float64"))
    if presorted:
        frame = frame.sort_values(["k", "n"], kind="stable").reset_index(drop=True)
    got = stable_order(frame, ["k", "n"])
    expected = frame.sort_values(["k", "n"], kind="stable").reset_index(drop=True)
    expected["k"] = expected["k"].astype(frame["k"].dtype)
    pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize("rows", [0, 1])
def test_stable_order_of_tiny_frames(rows: int) -> None:
    frame = pd.DataFrame({"k": ["x"] * rows}, index=[5] * rows)
    assert stable_order(frame, ["k"]).index.tolist() == list(range(rows))


_PLACES = ["017001", "017002", "IT", "03", "é-1"]
_IDS = ["B", "a", "C_2", "b"]


@settings(max_examples=200, deadline=None)
@given(
    cells=st.lists(
        st.tuples(
            st.sampled_from(_PLACES),
            st.integers(1990, 2030),
            st.sampled_from(_IDS),
            st.floats(allow_nan=True, allow_infinity=False, width=64),
        ),
        max_size=30,
    ),
    categorical=st.booleans(),
    unused_category=st.booleans(),
    missing=st.sampled_from([None, "territory", "indicator"]),
)
def test_pivot_from_codes_equals_pandas_pivot(
    cells: list[tuple[str, int, str, float]],
    categorical: bool,
    unused_category: bool,
    missing: str | None,
) -> None:
    """Same frame (labels, their dtypes and order, values), or the same error for a
    repeated cell; missing keys go through pandas itself."""
    data = pd.DataFrame(cells, columns=["territory", "year", "indicator", "value"])
    data = data.astype({"year": "int64", "territory": object, "indicator": object})
    if missing and len(data):
        data.loc[0, missing] = None
    if categorical:
        places = [*_PLACES, "zz-unused"] if unused_category else _PLACES
        data["territory"] = pd.Categorical(data["territory"], categories=places[::-1])
        data["indicator"] = pd.Categorical(data["indicator"], categories=_IDS)
    else:
        data = data.astype({"territory": "string", "indicator": "string"})
    as_text = data.assign(territory=text(data["territory"]), indicator=text(data["indicator"]))
    try:
        expected = as_text.pivot(index=["territory", "year"], columns="indicator", values="value")
    except ValueError as error:
        with pytest.raises(ValueError, match=str(error)[:20]):
            dc._pivot(data)
        return
    got = dc._pivot(data)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert got.index.names == expected.index.names
    assert [got.index.get_level_values(i).dtype for i in range(2)] == [
        expected.index.get_level_values(i).dtype for i in range(2)
    ]


def test_pivot_of_sparse_years_asks_pandas() -> None:
    """Years far apart: the dense grid of codes would be mostly empty."""
    data = pd.DataFrame(
        {
            "territory": pd.Categorical(["IT", "IT"]),
            "year": [1, 2_000_000],
            "indicator": pd.Categorical(["a", "b"]),
            "value": [1.0, 2.0],
        }
    )
    expected = data.assign(territory=text(data["territory"]), indicator=text(data["indicator"]))
    expected = expected.pivot(index=["territory", "year"], columns="indicator", values="value")
    pd.testing.assert_frame_equal(dc._pivot(data), expected)
