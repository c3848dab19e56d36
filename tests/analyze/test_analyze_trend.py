"""Trends over whole canonical frames: windows, breaks in series, consistency with one series.

Numbers are computed from the CAGR formula (Eurostat SDG monitoring methodology); the real
series is Eurostat's demo_r_gind3 (population on 1 January), which flags a break in 2019.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory.analyze import assess_progress, trend
from welfare_observatory.errors import AnalysisError


def observations(rows: list[tuple[str, str, int, float, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["indicator", "territory", "period", "value", "obs_status"]
    ).astype({"period": "string"})


def series_rows(
    indicator: str,
    territory: str,
    values: list[float],
    start: int = 2015,
    breaks: tuple[int, ...] = (),
) -> list[tuple[str, str, int, float, str]]:
    return [
        (indicator, territory, start + k, v, "B" if start + k in breaks else "A")
        for k, v in enumerate(values)
    ]


def test_one_row_per_series_with_the_window_and_its_rate() -> None:
    frame = observations(
        series_rows("NEET", "096", [20, 19, 18, 17, 16, 15])
        + series_rows("NEET", "IT", [22, 22, 22, 22, 22, 22])
        + series_rows("POP", "096", [100, 110])
    )
    result = trend(frame, polarity={"NEET": "negative", "POP": "neutral"}).set_index(
        ["indicator", "territory"]
    )
    neet = result.loc[("NEET", "096")]
    assert (neet["start_year"], neet["end_year"], neet["span"]) == (2015, 2020, 5)
    assert neet["cagr"] == pytest.approx((15 / 20) ** 0.2 - 1)
    assert neet["direction"] == "down"
    assert neet["adjusted_cagr"] == pytest.approx(-((15 / 20) ** 0.2 - 1))
    assert neet["category"] == "significant_progress"
    assert result.loc[("NEET", "IT"), "direction"] == "flat"
    assert result.loc[("NEET", "IT"), "category"] == "moderate_movement_away"  # 0 exactly
    pop = result.loc[("POP", "096")]
    assert np.isnan(pop["cagr"]) and "spans 1 year" in pop["reason"]


def test_a_break_in_series_starts_the_window() -> None:
    frame = observations(series_rows("X", "A", [10, 11, 30, 31, 32, 33], breaks=(2017,)))
    row = trend(frame).iloc[0]
    assert (row["start_year"], row["break_year"]) == (2017, 2017)
    assert row["cagr"] == pytest.approx((33 / 30) ** (1 / 3) - 1)


def test_a_break_in_the_latest_year_leaves_nothing_to_compare() -> None:
    frame = observations(series_rows("X", "A", [10, 11, 12, 13, 14, 50], breaks=(2020,)))
    row = trend(frame).iloc[0]
    assert np.isnan(row["cagr"]) and "spans 0 year" in row["reason"]


def test_breakdown_columns_make_separate_series() -> None:
    frame = observations(
        series_rows("EMP", "A", [50, 51, 52, 53]) + series_rows("EMP", "A", [40, 42, 44, 46])
    )
    frame["sex"] = ["M"] * 4 + ["F"] * 4
    result = trend(frame)
    assert sorted(result["sex"]) == ["F", "M"]
    assert len(result) == 2


def test_nonpositive_values_give_a_reason_not_a_number() -> None:
    frame = observations(series_rows("BAL", "A", [-5, -3, -1, 2, 4, 6]))
    row = trend(frame).iloc[0]
    assert np.isnan(row["cagr"]) and "undefined" in row["reason"]
    assert pd.isna(row["direction"])


def test_duplicate_years_are_a_typed_error() -> None:
    frame = observations(series_rows("X", "A", [1, 2, 3]) + series_rows("X", "A", [1], 2016))
    with pytest.raises(AnalysisError, match="more than one value"):
        trend(frame)


def test_missing_columns_and_empty_frames() -> None:
    with pytest.raises(AnalysisError, match="lacks column"):
        trend(pd.DataFrame({"indicator": ["X"], "value": [1.0]}))
    empty = observations([])
    assert trend(empty, polarity={}).empty


def test_unknown_indicator_polarity_is_an_error_with_hint() -> None:
    frame = observations(series_rows("NEET_RATE", "A", [1, 2, 3, 4]))
    with pytest.raises(AnalysisError, match="no polarity") as info:
        trend(frame, polarity={"NEET_RAT": "negative"})
    assert "NEET_RAT" in (info.value.hint or "")


@given(
    st.lists(st.one_of(st.none(), st.floats(0.5, 500.0)), min_size=1, max_size=12),
    st.sampled_from(["positive", "negative"]),
)
def test_the_frame_trend_agrees_with_the_single_series_assessment(
    values: list[float | None], polarity: str
) -> None:
    rows = [("X", "A", 2010 + k, v, "A") for k, v in enumerate(values) if v is not None]
    frame = observations(rows)
    if frame.empty:
        return
    row = trend(frame, polarity={"X": polarity}).iloc[0]
    series = pd.Series([v for *_, v, _ in rows], index=[y for _, _, y, _, _ in rows])
    single = assess_progress(series, polarity=polarity)
    assert row["category"] == single.category.value
    if single.assessable:
        assert row["cagr"] == pytest.approx(single.observed_cagr)
        assert (row["start_year"], row["end_year"]) == single.years_used


@pytest.mark.shared
def test_real_series_with_a_break_in_2019(shared_data: Path) -> None:
    """Eurostat flags 2019 'b' (break in series) in demo_r_gind3: the window starts there."""
    table = pd.read_csv(
        shared_data / "eurostat_demo_r_gind3_JAN_italy_excerpt.tsv", sep="\t", dtype="string"
    )
    key = table.columns[0]
    long = table.melt(id_vars=key, var_name="period", value_name="cell")
    long["territory"] = long[key].str.split(",").str[-1]
    long["period"] = long["period"].str.strip()
    cell = long["cell"].str.strip()
    long["value"] = pd.to_numeric(cell.str.replace(r"[^0-9]", "", regex=True), errors="coerce")
    long["obs_status"] = np.where(cell.str.endswith("b"), "B", "A")
    long["indicator"] = "POP_TOTAL"
    frame = long[["indicator", "territory", "period", "value", "obs_status"]]
    result = trend(frame, polarity={"POP_TOTAL": "neutral"}).set_index("territory")
    brescia = result.loc["ITC47"]  # 1,254,419 (2019, break) -> 1,257,326 (2023)
    assert (brescia["start_year"], brescia["end_year"]) == (2019, 2023)
    assert brescia["cagr"] == pytest.approx((1257326 / 1254419) ** 0.25 - 1)
    assert result.loc["ITC13", "direction"] == "down"  # Biella keeps shrinking
