"""Orders the analyses no longer sort for, each against the sort or filter it replaces.

- the series of ``trend`` are listed by their keys' ranks as text once prepared (was: the
  trend table sorted by ``stable_order``);
- a window's first year is found by a binary search over the series (was: a comparison
  per row and a sum per series);
- the progress table is its horizons' trend tables woven together (was: concatenated,
  then sorted by ``stable_order``), and the stage does not sort it, nor trends, again;
- the polarities progress reads come from a categorical's categories (was: its values);
- early warnings of a build read each series' latest row (was: every row);
- a categorical's rows tested by code one code at a time when few codes are in (or out)
  (was: a look-up per row).
"""

from __future__ import annotations

from pathlib import Path
from unittest.mock import patch

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.analyze import progress_table, trend
from welfare_observatory.analyze._common import (
    by_code,
    column_polarities,
    polarity_map,
    stable_order,
    strictly_ordered,
    text_ranks,
)
from welfare_observatory.analyze.early_warning import _early_warnings
from welfare_observatory.analyze.trend import _first_at_least, _latest, _prepare, series_keys
from welfare_observatory.build.analyze import (
    SORT_KEYS,
    _analyze_frame,
    _frame,
    storable,
)
from welfare_observatory.build.environment import make_environment
from welfare_observatory.errors import AnalysisError
from welfare_observatory.observatory import load_observatory
from welfare_observatory.store import KnowledgeBase

_texts = st.one_of(st.none(), st.sampled_from(["a", "B", "b", "ab", "À", "10", "9", "_T"]))


def _plain_order(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """The straightforward order: the columns as pandas text, sorted stably, missing last."""
    texts = pd.DataFrame({c: frame[c].astype("string") for c in columns})
    return texts.sort_values(columns, kind="stable", na_position="last").index.to_numpy()


def _column(values: list[str | None], kind: str) -> pd.Series:
    if kind == "categorical":  # unused categories too, in no particular order
        categories = sorted({"zz", "A", *[v for v in values if v is not None]}, reverse=True)
        return pd.Series(pd.Categorical(values, categories=categories))
    return pd.Series(values, dtype="str" if kind == "str" else object)


@settings(max_examples=100, deadline=None)
@given(values=st.lists(_texts, max_size=30), kind=st.sampled_from(["categorical", "str", "object"]))
def test_text_ranks_order_rows_as_their_text(values: list[str | None], kind: str) -> None:
    column = _column(values, kind)
    ranked = text_ranks(column)
    assert ranked is not None
    ranks, size = ranked
    assert len(ranks) == len(values)
    assert (ranks < size).all() and (ranks >= 0).all()
    frame = pd.DataFrame({"k": column})
    np.testing.assert_array_equal(np.argsort(ranks, kind="stable"), _plain_order(frame, ["k"]))
    for i in range(len(values)):  # equal ranks exactly for equal values
        for j in range(len(values)):
            assert (ranks[i] == ranks[j]) == (values[i] == values[j])


def test_text_ranks_leave_numbers_and_ambiguous_texts_to_the_sort() -> None:
    assert text_ranks(pd.Series([3, 1, 2])) is None
    assert text_ranks(pd.Series([1, "1"], dtype=object)) is None  # one text, two values
    ranked = text_ranks(pd.Series(pd.Categorical(["10", "9", None])))
    assert ranked is not None
    assert list(ranked[0]) == [0, 1, 2]  # as text: "10" < "9", missing last


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(st.tuples(_texts, _texts), max_size=12),
    kind=st.sampled_from(["categorical", "str", "object"]),
    sort_first=st.booleans(),
)
def test_strictly_ordered_says_whether_the_sort_keeps_every_row(
    rows: list[tuple[str | None, str | None]], kind: str, sort_first: bool
) -> None:
    frame = pd.DataFrame(
        {"a": _column([r[0] for r in rows], kind), "b": _column([r[1] for r in rows], kind)}
    )
    if sort_first:
        frame = frame.iloc[_plain_order(frame, ["a", "b"])].reset_index(drop=True)
    expected = bool(
        (_plain_order(frame, ["a", "b"]) == np.arange(len(frame))).all()
        and not frame.astype(object).duplicated(["a", "b"]).any()
    )
    assert strictly_ordered(frame, ["a", "b"]) == expected


@settings(max_examples=150, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 12), min_size=1, max_size=20),
    data=st.data(),
)
def test_first_at_least_equals_counting_the_years_before(
    lengths: list[int], data: st.DataObject
) -> None:
    years, lower = [], []
    for n in lengths:
        own = sorted(data.draw(st.sets(st.integers(1990, 2030), min_size=n, max_size=n)))
        years.extend(own)
        lower.append(data.draw(st.integers(1900, own[-1])))
    year = np.asarray(years, dtype=np.int16)
    counts = np.asarray(lengths)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    ends = starts + counts - 1
    low = np.asarray(lower, dtype="int64")
    # Series listed in any order: the bounds say where each one is.
    perm = np.asarray(data.draw(st.permutations(range(len(lengths)))), dtype=np.intp)
    starts, ends, low, counts = starts[perm], ends[perm], low[perm], counts[perm]
    got = _first_at_least(year, starts, ends, low)
    # The replaced computation, over rows kept series after series.
    expected = np.asarray(
        [s + int((year[s : e + 1] < b).sum()) for s, e, b in zip(starts, ends, low, strict=True)]
    )
    np.testing.assert_array_equal(got, expected)


_rows = st.lists(
    st.tuples(
        st.sampled_from(["i1", "i2", "I0"]),
        st.sampled_from(["096004", "096", "IT", "096010"]),
        st.sampled_from(["_T", "F", None]),
        st.integers(1995, 2024),
        st.one_of(st.floats(0.5, 100), st.just(-1.0), st.just(float("nan"))),
        st.sampled_from(["A", "A", "B"]),
    ),
    max_size=60,
    unique_by=lambda r: (r[0], r[1], r[2], r[3]),
)
_POLARITY = {"i1": "positive", "i2": "negative", "I0": "neutral"}


def _rows_frame(rows: list[tuple[object, ...]], kind: str, seed: int) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["indicator", "territory", "sex", "period", "value", "obs_status"]
    ).astype({"period": "str"})
    if kind == "categorical":
        for key in ("indicator", "territory", "sex", "period", "obs_status"):
            frame[key] = frame[key].astype("category")
    if kind == "object":
        for key in ("indicator", "territory", "sex"):
            frame[key] = frame[key].astype(object)
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


@settings(max_examples=60, deadline=None)
@given(
    rows=_rows,
    kind=st.sampled_from(["categorical", "str", "object"]),
    seed=st.integers(0, 100),
    window=st.sampled_from([1, 5, 10]),
)
def test_trends_of_series_listed_by_text_equal_the_sorted_table(
    rows: list[tuple[object, ...]], kind: str, seed: int, window: int
) -> None:
    frame = _rows_frame(rows, kind, seed)
    fast = trend(frame, polarity=_POLARITY, window=window, min_span=2)
    with patch("welfare_observatory.analyze.trend._text_order", return_value=None):
        sorted_after = trend(frame, polarity=_POLARITY, window=window, min_span=2)
    pd.testing.assert_frame_equal(fast, sorted_after)
    if len(fast):
        assert strictly_ordered(fast, series_keys(frame))


@settings(max_examples=40, deadline=None)
@given(
    rows=_rows,
    kind=st.sampled_from(["categorical", "str", "object"]),
    seed=st.integers(0, 100),
    method=st.sampled_from(["eurostat", "istat"]),
    horizons=st.lists(st.sampled_from(["short", "long", "full"]), min_size=1, max_size=3),
)
def test_progress_woven_equals_the_sorted_concatenation(
    rows: list[tuple[object, ...]], kind: str, seed: int, method: str, horizons: list[str]
) -> None:
    frame = _rows_frame(rows, kind, seed)
    woven = progress_table(frame, polarity=_POLARITY, method=method, horizons=horizons)  # type: ignore[arg-type]
    with patch("welfare_observatory.analyze.progress_table._aligned", return_value=False):
        concatenated = progress_table(
            frame,
            polarity=_POLARITY,
            method=method,  # type: ignore[arg-type]
            horizons=horizons,
        )
    pd.testing.assert_frame_equal(woven, concatenated)
    # The stored bytes depend on pandas' dtypes: those of the woven table are the same.
    as_arrow = pa.Table.from_pandas(storable(woven), preserve_index=False)
    expected = pa.Table.from_pandas(storable(concatenated), preserve_index=False)
    assert as_arrow.equals(expected, check_metadata=True)


def test_progress_with_targets_is_sorted_as_before() -> None:
    frame = pd.DataFrame(
        {
            "indicator": ["i1"] * 6 + ["i2"] * 6,
            "territory": ["IT"] * 12,
            "period": [str(y) for y in range(2015, 2021)] * 2,
            "value": [float(v) for v in range(10, 22)],
        }
    )
    targets = {"i1": (30.0, 2030)}
    got = progress_table(frame, polarity=_POLARITY, targets=targets)
    assert list(got["horizon"]) == ["long", "short", "long", "short"]
    assert got.loc[0, "target"] == 30.0


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.sampled_from(["i1", "i2", "I0", "x9", None]), max_size=20),
    extra=st.lists(st.sampled_from(["i1", "x8", "y7"]), max_size=3),
)
def test_column_polarities_equal_those_of_the_values(
    values: list[str | None], extra: list[str]
) -> None:
    categories = list(dict.fromkeys([*[v for v in values if v is not None], *extra]))
    ids = pd.Series(pd.Categorical(values, categories=categories))
    try:
        expected = polarity_map(_POLARITY, [str(i) for i in ids.dropna().unique()])
    except AnalysisError as error:
        with pytest.raises(AnalysisError) as raised:
            column_polarities(_POLARITY, ids)
        assert str(raised.value) == str(error)
        assert raised.value.hint == error.hint
        return
    got = column_polarities(_POLARITY, ids)
    assert {k: got[k] for k in expected} == expected  # read by id: others may be there


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    kind=st.sampled_from(["categorical", "str"]),
    gaps=st.floats(0, 0.3),
)
def test_early_warnings_of_the_latest_rows_equal_those_of_every_row(
    seed: int, kind: str, gaps: float
) -> None:
    rng = np.random.default_rng(seed)
    rows = []
    for indicator in ("i1", "i2"):
        for t in range(1, 10):
            code = f"0960{t:02d}"
            level = rng.uniform(5, 10) * (4 if t == 9 else 1)
            for sex in ("_T", "F"):
                last = int(rng.integers(2019, 2024))
                for year in range(2012, last + 1):
                    if rng.random() < gaps:
                        continue
                    value = level * (1.08 if indicator == "i2" else 0.93) ** (year - 2012)
                    value = float("nan") if rng.random() < 0.05 else value
                    rows.append((indicator, code, sex, str(year), value, "A"))
    frame = _rows_frame(rows, kind, seed)
    trends = trend(frame, polarity=_POLARITY, window=5, min_span=3)
    every_row = _early_warnings(frame, catalog=_POLARITY, trends=trends)
    latest = _latest(_prepare(frame))
    assert len(latest) == len(trends)
    from_latest = _early_warnings(latest, catalog=_POLARITY, trends=trends)
    pd.testing.assert_frame_equal(from_latest, every_row)


# The stage, over the small edition of conftest.py cut to edge cases.


def _observations(kb: Path) -> pa.Table:
    folder = Path(KnowledgeBase.open(kb).edition("2025").path) / "observations"
    table = pq.read_table(folder)
    return table.drop_columns(
        [
            c
            for c in ("domain", "unit", "conf_status", "flags", "source", "lineage")
            if c in table.column_names
        ]
    )


def _replaced_stage(frame: pd.DataFrame, env: object) -> tuple[dict[str, pa.Table], list[object]]:
    """The stage with the sorts and the rows it replaced: trends and progress sorted after
    they are made, early warnings over every row."""
    with (
        patch("welfare_observatory.analyze.trend._text_order", return_value=None),
        patch("welfare_observatory.analyze.progress_table._aligned", return_value=False),
        patch("welfare_observatory.analyze.trend._latest", side_effect=lambda _: frame),
        patch("welfare_observatory.build.analyze._MADE_IN_ORDER", frozenset()),
    ):
        return _analyze_frame(frame, env)  # type: ignore[arg-type]


_CUTS = {
    "whole": lambda t: t,
    "one territory": lambda t: t.filter(
        pa.compute.equal(t.column("territory").cast(pa.string()), "096003")
    ),
    "one year": lambda t: t.filter(pa.compute.equal(t.column("period").cast(pa.string()), "2023")),
    "nulls": lambda t: t.set_column(
        t.schema.get_field_index("value"),
        "value",
        pa.compute.if_else(
            pa.array(np.arange(t.num_rows) % 3 == 0),
            pa.scalar(None, pa.float64()),
            t.column("value"),
        ),
    ),
    "municipalities only": lambda t: t.filter(
        pa.compute.equal(pa.compute.utf8_length(t.column("territory").cast(pa.string())), 6)
    ),
    "empty": lambda t: t.slice(0, 0),
}


@pytest.mark.parametrize("cut", list(_CUTS))
def test_stage_equals_the_stage_with_the_replaced_sorts(edition_kb: Path, cut: str) -> None:
    env = make_environment(load_observatory(edition_kb.parent / "obs"))
    table = _CUTS[cut](_observations(edition_kb))
    frame = _frame(table)
    new, new_findings = _analyze_frame(frame, env)
    old, old_findings = _replaced_stage(frame, env)
    assert list(new) == list(old)
    for name in old:
        assert new[name].equals(old[name], check_metadata=True), name
    assert new_findings == old_findings
    for name in ("trend", "progress"):  # made in the order the stage stores
        if name in new and new[name].num_rows:
            stored = new[name].to_pandas()
            keys = [*SORT_KEYS[name], "sex", "horizon"]
            np.testing.assert_array_equal(
                stable_order(stored.assign(_row=np.arange(len(stored))), keys)["_row"],
                np.arange(len(stored)),
            )


@settings(max_examples=300, deadline=None)
@given(
    ins=st.integers(0, 20),
    outs=st.integers(0, 20),
    missing=st.booleans(),
    picks=st.lists(st.integers(-1, 200), max_size=60),
    dtype=st.sampled_from(["int8", "int16", "int64"]),
    seed=st.integers(0, 1000),
)
def test_by_code_equals_the_look_up_per_row(
    ins: int, outs: int, missing: bool, picks: list[int], dtype: str, seed: int
) -> None:
    """Few codes in, few out, many of both; code -1 (missing) in or out."""
    of_category = np.r_[np.ones(ins, dtype=bool), np.zeros(outs, dtype=bool)]
    table = np.r_[np.random.default_rng(seed).permutation(of_category), missing]
    codes = np.asarray([p % len(table) - 1 for p in picks], dtype=dtype)
    np.testing.assert_array_equal(by_code(table, codes), table[codes])
