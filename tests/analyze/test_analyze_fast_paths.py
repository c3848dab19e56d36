"""Shortcuts of the analyses an edition stores, each against the behaviour it replaces.

- composites filter the rows of neutral indicators out before deduplicating them and
  turning keys into text (was: after);
- whether a panel column varies comes from one pass over the panel (was: ``nunique`` per
  column);
- progress reads the trend table the stage computed for the short horizon (was: computed
  again).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.analyze import domain_composite as dc
from welfare_observatory.analyze import domain_composites, progress_table
from welfare_observatory.analyze._common import stable_order, text, years
from welfare_observatory.analyze.progress_table import _once, _progress_table
from welfare_observatory.analyze.trend import _trend
from welfare_observatory.catalog import catalog
from welfare_observatory.model.indicator import Indicator

IDS = ["LAND_CONSUMED_SHARE", "SEPARATE_COLLECTION_RATE", "POP_TOTAL", "POP_FEMALE"]
TERRITORIES = ["096", "096001", "096002", "096003", "IT"]


def _old_domain_composites(
    frame: pd.DataFrame, *, indicators: Mapping[str, Indicator], references: Sequence[str]
) -> tuple[pd.DataFrame, list[str]]:
    """``domain_composites`` as it was: every total row deduplicated and made text first."""
    data = dc._totals(frame)
    data = data.assign(year=years(data))
    data = data[[c for c in ("indicator", "territory", "period", "year", "value") if c in data]]
    if dc._repeated(data, ["indicator", "territory", "year"]):
        data = stable_order(data, ["indicator", "territory", "year", "period"])
        data = data.drop_duplicates(["indicator", "territory", "year"], keep="last")
    data = data.assign(territory=text(data["territory"]))
    data["indicator"] = text(data["indicator"])
    present = set(data["indicator"].unique().tolist())
    domains: dict[str, list[str]] = {}
    for key, indicator in sorted(indicators.items()):
        if key in present and indicator.polarity.sign != 0:
            domains.setdefault(indicator.domain.value, []).append(key)
    tables, notes = [], []
    for domain in sorted({i.domain.value for k, i in indicators.items() if k in present}):
        ids = domains.get(domain, [])
        signs = {i: indicators[i].polarity.sign for i in ids}
        table, note = dc._one(domain, signs, data[data["indicator"].isin(ids)], references, 2)
        if note:
            notes.append(note)
        if table is not None:
            tables.append(table)
    if not tables:
        return pd.DataFrame(columns=dc.COMPOSITE_COLUMNS), notes
    out = pd.concat(tables, ignore_index=True)
    return stable_order(out, ["domain", "territory", "year"]), notes


def _frame(seed: int, categorical: bool, quarterly_neutral: bool) -> pd.DataFrame:
    """Values for every indicator, territory and year 2016-2021 (some missing, some rows of
    other sexes); the neutral counts also by quarter when asked (repeated keys)."""
    rng = np.random.default_rng(seed)
    rows = []
    for indicator in IDS:
        for territory in TERRITORIES:
            for year in range(2016, 2022):
                periods = [str(year)]
                if quarterly_neutral and indicator.startswith("POP"):
                    periods = [f"{year}-Q{q}" for q in (1, 2, 3, 4)]
                for period in periods:
                    for sex in ("_T", "F"):
                        value = float(rng.uniform(1, 100)) if rng.random() > 0.05 else np.nan
                        rows.append((indicator, territory, period, sex, value))
    frame = pd.DataFrame(rows, columns=["indicator", "territory", "period", "sex", "value"])
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    if categorical:
        for name in ("indicator", "territory", "period", "sex"):
            frame[name] = frame[name].astype("category")
    return frame


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    categorical=st.booleans(),
    quarterly=st.booleans(),
    references=st.sampled_from([["096", "IT"], ["IT"], ["XX", "096001"]]),
)
def test_domain_composites_equal_the_filter_after_text(
    seed: int, categorical: bool, quarterly: bool, references: list[str]
) -> None:
    indicators = {key: catalog().get(key) for key in IDS}
    frame = _frame(seed, categorical, quarterly)
    new, new_notes = domain_composites(frame, indicators=indicators, references=references)
    old, old_notes = _old_domain_composites(frame, indicators=indicators, references=references)
    pd.testing.assert_frame_equal(new, old)
    assert new_notes == old_notes


def test_domain_composites_of_neutral_indicators_only_say_so() -> None:
    indicators = {key: catalog().get(key) for key in ("POP_TOTAL", "POP_FEMALE")}
    frame = _frame(3, categorical=True, quarterly_neutral=True)
    frame = frame[frame["indicator"].isin(list(indicators))]
    new = domain_composites(frame, indicators=indicators, references=["IT"])
    old = _old_domain_composites(frame, indicators=indicators, references=["IT"])
    assert new[0].empty and old[0].empty and new[1] == old[1] and len(new[1]) == 1


_cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, 1.0, np.nan]),
)


@settings(max_examples=200, deadline=None)
@given(columns=st.lists(st.lists(_cells, min_size=4, max_size=4), min_size=1, max_size=5))
def test_varies_equals_nunique(columns: list[list[float]]) -> None:
    panel = pd.DataFrame({f"I{k}": values for k, values in enumerate(columns)}, dtype="float64")
    assert dc._varies(panel) == {c: panel[c].nunique() > 1 for c in panel.columns}


def test_varies_of_other_dtypes_asks_nunique() -> None:
    panel = pd.DataFrame({"A": pd.array([1, 1, None], dtype="Int64"), "B": [1.0, 2.0, 3.0]})
    assert dc._varies(panel) == {"A": False, "B": True}


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), method=st.sampled_from(["eurostat", "istat"]))
def test_progress_with_the_short_trend_given_equals_progress(seed: int, method: str) -> None:
    frame = _frame(seed, categorical=True, quarterly_neutral=False)
    frame = (
        frame[frame["sex"] == "_T"]
        .drop(columns="period")
        .assign(
            year=lambda f: f.groupby(["indicator", "territory"], observed=True).cumcount() + 2010
        )
    )
    polarity = {key: catalog().get(key).polarity for key in IDS}
    prepared = _once(frame)
    short = _trend(frame, prepared, polarity=polarity, window=5, min_span=3, method=method)  # type: ignore[arg-type]
    given_short = _progress_table(
        frame,
        prepared,
        polarity=polarity,
        method=method,  # type: ignore[arg-type]
        horizons=("short", "long"),
        targets=None,
        known={(5, 3): short},
    )
    expected = progress_table(frame, polarity=polarity, method=method)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(given_short, expected)
    assert not short.columns.str.contains("observed_cagr").any()  # read, not written into


def _old_judge(
    out: pd.DataFrame, polarity: Mapping[str, object], method: str
) -> tuple[np.ndarray, pd.Categorical]:
    """``_trend``'s judgement as it was: columns added to the frame, the neutral reason
    written through ``loc``."""
    from welfare_observatory.analyze._common import polarity_map
    from welfare_observatory.analyze.trend import categories

    ids = out["indicator"]
    pols = polarity_map(polarity, [str(i) for i in ids.dropna().unique()])
    sign = ids.map({k: float(p.sign) for k, p in pols.items()}).to_numpy(dtype="float64")
    adjusted = np.where(sign == 0, np.nan, sign * out["cagr"].to_numpy(dtype="float64"))
    out["adjusted_cagr"] = adjusted
    out["category"] = categories(adjusted, method)
    neutral = (sign == 0) & out["reason"].isna().to_numpy()
    if neutral.any():
        text = "neutral polarity: growth is reported without judgement"
        out["reason"] = out["reason"].cat.add_categories([text])
        out.loc[neutral, "reason"] = text
    return adjusted, out["reason"].array


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(IDS),
            st.one_of(st.just(float("nan")), st.floats(-0.5, 0.5)),
            st.integers(-1, 2),
        ),
        min_size=1,
        max_size=30,
    ),
    st.booleans(),
)
def test_judged_per_category_equals_the_columns_added_one_by_one(
    rows: list[tuple[str, float, int]], categorical: bool
) -> None:
    from welfare_observatory.analyze.trend import _judged, _labelled

    ids = pd.Series([r[0] for r in rows], dtype="category" if categorical else "str")
    rate = np.asarray([r[1] for r in rows], dtype="float64")
    labels = ["window spans 0 year(s); 3 needed", "window spans 1 year(s); 3 needed", "x"]
    reason = _labelled(np.asarray([r[2] for r in rows]), labels)
    polarity = {i: catalog().get(i).polarity for i in IDS}
    adjusted, judged = _judged(ids, rate, reason, polarity)
    frame = pd.DataFrame({"indicator": ids, "cagr": rate, "reason": reason})
    old_adjusted, old_reason = _old_judge(frame, polarity, "eurostat")
    np.testing.assert_array_equal(adjusted, old_adjusted)
    assert list(judged.categories) == list(old_reason.categories)
    assert judged.categories.dtype == old_reason.categories.dtype
    np.testing.assert_array_equal(np.asarray(judged.codes), np.asarray(old_reason.codes))


def _old_untargeted(part: pd.DataFrame, keys: list[str], horizon: str, method: str) -> pd.DataFrame:
    """A horizon's progress rows without targets as they were made: the trend table renamed,
    its columns inserted and assigned one by one."""
    from welfare_observatory.analyze.progress_table import _COLUMNS

    part = part.rename(columns={"cagr": "observed_cagr"})
    part.insert(len(keys), "horizon", horizon)
    part.insert(len(keys) + 1, "method", method)
    part["category"] = text(part["category"])
    part["reason"] = text(part["reason"])
    part["target"] = np.nan
    part["target_year"] = pd.arrays.IntegerArray(
        np.zeros(len(part), dtype="int64"), np.ones(len(part), dtype=bool)
    )
    part["required_cagr"] = np.nan
    part["ratio"] = np.nan
    return part[[*keys, *_COLUMNS]]


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    method=st.sampled_from(["eurostat", "istat"]),
    categorical=st.booleans(),
    window=st.sampled_from([5, 10, 10_000]),
)
def test_untargeted_rows_made_at_once_equal_the_columns_added_one_by_one(
    seed: int, method: str, categorical: bool, window: int
) -> None:
    from welfare_observatory.analyze.progress_table import _untargeted
    from welfare_observatory.analyze.trend import series_keys

    frame = _frame(seed, categorical=categorical, quarterly_neutral=False)
    frame = frame.drop(columns="period").assign(
        year=lambda f: f.groupby(["indicator", "territory", "sex"], observed=True).cumcount() + 2010
    )
    polarity = {key: catalog().get(key).polarity for key in IDS}
    part = _trend(frame, _once(frame), polarity=polarity, window=window, min_span=3, method=method)  # type: ignore[arg-type]
    keys = series_keys(frame)
    got = _untargeted(part, keys, "long", method)
    expected = _old_untargeted(part, keys, "long", method)
    pd.testing.assert_frame_equal(got, expected)
    assert list(got.dtypes) == list(expected.dtypes)
