"""CAGR and the progress assessment (Eurostat's and Istat's classes).

Unless a test says otherwise, numbers are computed from the formulas in Eurostat,
"Sustainable development in the European Union - Monitoring report" (methodology annex) and
Istat, "Rapporto SDGs 2019", pp. 37-38, as summarised in docs/methods.md.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from welfare_observatory.analyze import (
    Assessment,
    IstatCategory,
    ProgressCategory,
    assess_progress,
    cagr,
)
from welfare_observatory.errors import AnalysisError
from welfare_observatory.model import Polarity

P = ProgressCategory
I = IstatCategory  # noqa: E741


def yearly(values: list[float], start: int = 2015) -> pd.Series:
    return pd.Series(values, index=range(start, start + len(values)), dtype="float64")


def grown(rate: float, years: int = 5, start: float = 100.0) -> pd.Series:
    """A series growing at exactly ``rate`` a year (only the end points matter to CAGR)."""
    return yearly([start * (1 + rate) ** k for k in range(years + 1)])


# --- cagr -------------------------------------------------------------------------------


def test_cagr_of_a_doubling_over_ten_years() -> None:
    # 2 ** (1/10) - 1 = 0.0717734625...
    assert cagr(50.0, 100.0, 10) == pytest.approx(0.0717734625, abs=1e-10)


def test_cagr_is_zero_for_a_constant_and_minus_one_for_a_drop_to_zero() -> None:
    assert cagr(7.0, 7.0, 3) == 0.0
    assert cagr(7.0, 0.0, 3) == -1.0


@pytest.mark.parametrize(
    ("start", "end", "years"),
    [(0.0, 5.0, 3), (-2.0, 5.0, 3), (2.0, -1.0, 3), (2.0, 3.0, 0), (math.nan, 3.0, 2)],
)
def test_cagr_refuses_undefined_rates_with_a_typed_error(
    start: float, end: float, years: float
) -> None:
    with pytest.raises(AnalysisError) as info:
        cagr(start, end, years)
    assert info.value.location is not None


@given(st.floats(0.001, 1e9), st.integers(1, 40))
def test_cagr_of_a_constant_series_is_zero(value: float, years: int) -> None:
    assert cagr(value, value, years) == pytest.approx(0.0, abs=1e-15)


# --- Eurostat, no target ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        (0.02, P.SIGNIFICANT_PROGRESS),
        (0.0100001, P.SIGNIFICANT_PROGRESS),
        (0.01, P.MODERATE_PROGRESS),  # exactly 1 %: "0 < CAGR <= 1 %"
        (0.0001, P.MODERATE_PROGRESS),
        (0.0, P.MODERATE_MOVEMENT_AWAY),  # exactly 0: "-1 % <= CAGR <= 0"
        (-0.01, P.MODERATE_MOVEMENT_AWAY),  # exactly -1 %
        (-0.0100001, P.SIGNIFICANT_MOVEMENT_AWAY),
        (-0.05, P.SIGNIFICANT_MOVEMENT_AWAY),
    ],
)
def test_eurostat_classes_and_their_boundaries(rate: float, expected: ProgressCategory) -> None:
    result = assess_progress(grown(rate), polarity="positive")
    assert result.category is expected
    assert result.observed_cagr == pytest.approx(rate, abs=1e-12)
    assert result.years_used == (2015, 2020)


def test_negative_polarity_turns_the_sign() -> None:
    falling = grown(-0.03)  # e.g. early leavers from education falling 3 % a year
    result = assess_progress(falling, polarity=Polarity.NEGATIVE)
    assert result.category is P.SIGNIFICANT_PROGRESS
    assert result.adjusted_cagr == pytest.approx(0.03)


_MIRROR = {
    P.SIGNIFICANT_PROGRESS: P.SIGNIFICANT_MOVEMENT_AWAY,
    P.MODERATE_PROGRESS: P.MODERATE_MOVEMENT_AWAY,
    P.MODERATE_MOVEMENT_AWAY: P.MODERATE_PROGRESS,
    P.SIGNIFICANT_MOVEMENT_AWAY: P.SIGNIFICANT_PROGRESS,
}


@given(st.floats(-0.2, 0.2).filter(lambda r: abs(r) > 1e-6))
def test_the_class_flips_with_polarity(rate: float) -> None:
    series = grown(rate)
    up = assess_progress(series, polarity="positive").category
    down = assess_progress(series, polarity="negative").category
    assert down is _MIRROR[up]  # type: ignore[index]


# --- Eurostat, with a target --------------------------------------------------------------


def test_target_ratio_worked_example() -> None:
    # 2015: 60, 2020: 63 -> observed CAGR (63/60)**(1/5) - 1 = 0.0098057...
    # required from 2015 to reach 75 in 2030: (75/60)**(1/15) - 1 = 0.0149896...
    # ratio 0.6541... -> moderate progress (60-95 %)
    series = yearly([60, 61, 61.5, 62, 62.5, 63])
    result = assess_progress(series, polarity="positive", target=75, target_year=2030)
    assert result.required_cagr == pytest.approx((75 / 60) ** (1 / 15) - 1)
    assert result.ratio == pytest.approx(((63 / 60) ** 0.2 - 1) / ((75 / 60) ** (1 / 15) - 1))
    assert result.category is P.MODERATE_PROGRESS


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        (100 * 1.02**5, P.SIGNIFICANT_PROGRESS),  # ratio 1.0
        (100 * 1.019**5, P.SIGNIFICANT_PROGRESS),  # ratio 0.95
        (100 * 1.0189**5, P.MODERATE_PROGRESS),  # ratio 0.945
        (100 * 1.012**5, P.MODERATE_PROGRESS),  # ratio 0.60 exactly
        (100 * 1.0119**5, P.INSUFFICIENT_PROGRESS),  # ratio 0.595
        (100.0, P.INSUFFICIENT_PROGRESS),  # ratio 0
        (95.0, P.MOVEMENT_AWAY),  # ratio < 0
    ],
)
def test_target_ratio_boundaries(end: float, expected: ProgressCategory) -> None:
    # The required rate is exactly 2 % a year: target 100 * 1.02**15 in 2030 from 100 in 2015.
    series = yearly([100, 100, 100, 100, 100, end])
    result = assess_progress(series, polarity="positive", target=100 * 1.02**15, target_year=2030)
    assert result.required_cagr == pytest.approx(0.02)
    assert result.category is expected


def test_a_target_already_met_is_significant_progress_even_when_falling_back() -> None:
    series = yearly([40, 42, 41, 40, 39, 38])  # poverty rate, negative polarity, target 38.5
    result = assess_progress(series, polarity="negative", target=38.5, target_year=2030)
    assert result.category is P.SIGNIFICANT_PROGRESS
    assert result.reason == "target already met"


def test_losing_a_target_met_at_the_start_is_movement_away() -> None:
    series = yearly([30, 31, 32, 33, 34, 35])  # negative polarity, target 32 was met in 2015
    result = assess_progress(series, polarity="negative", target=32, target_year=2030)
    assert result.category is P.MOVEMENT_AWAY


@given(
    st.floats(1, 1000),
    st.floats(-0.1, 0.1),
    st.floats(0.5, 3.0),
    st.floats(1e-3, 1e4),
)
def test_the_target_ratio_does_not_depend_on_the_unit(
    start: float, rate: float, target_factor: float, k: float
) -> None:
    series = grown(rate, start=start)
    target = start * target_factor
    assume(abs(target - start) / start > 1e-3)
    a = assess_progress(series, polarity="positive", target=target, target_year=2030)
    b = assess_progress(series * k, polarity="positive", target=target * k, target_year=2030)
    assert a.category is b.category
    if a.ratio is not None:
        assert b.ratio == pytest.approx(a.ratio, rel=1e-6, abs=1e-9)


# --- Istat --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        (0.06, I.CLEAR_IMPROVEMENT),
        (0.05, I.SLIGHT_IMPROVEMENT),  # "<= 0.05 and > 0.01"
        (0.0100001, I.SLIGHT_IMPROVEMENT),
        (0.01, I.STABLE),  # "<= 0.01 and > -0.01"
        (0.0, I.STABLE),
        (-0.0099999, I.STABLE),
        (-0.01, I.SLIGHT_WORSENING),  # "<= -0.01 and > -0.05"
        (-0.0499999, I.SLIGHT_WORSENING),
        (-0.05, I.CLEAR_WORSENING),  # "<= -0.05"
    ],
)
def test_istat_classes_and_their_boundaries(rate: float, expected: IstatCategory) -> None:
    result = assess_progress(grown(rate), polarity="positive", method="istat")
    assert result.category is expected


def test_istat_full_horizon_starts_at_the_first_year() -> None:
    series = yearly([100.0] + [110.0] * 19 + [200.0])  # 2015..2035
    result = assess_progress(series, polarity="positive", method="istat", horizon="full")
    assert result.years_used == (2015, 2035)
    assert result.observed_cagr == pytest.approx(2 ** (1 / 20) - 1)
    assert result.category is I.SLIGHT_IMPROVEMENT  # 3.53 % a year


# --- windows and what cannot be assessed --------------------------------------------------


def test_long_window_and_nearest_later_start_year() -> None:
    series = pd.Series({2003: 10.0, 2006: 12.0, 2012: 13.0, 2020: 15.0})
    long = assess_progress(series, polarity="positive", horizon="long")
    assert long.years_used == (2006, 2020)  # 2005 missing: the nearest later year
    short = assess_progress(series, polarity="positive", horizon="short")
    assert short.category is P.NOT_ASSESSABLE  # 2015 missing, nearest later is 2020 itself
    assert "spans 0 year" in (short.reason or "")


@pytest.mark.parametrize(
    ("series", "reason"),
    [
        (pd.Series([], dtype="float64"), "too few values"),
        (yearly([float("nan")] * 6), "too few values"),
        (yearly([5.0]), "too few values"),
        (yearly([1.0, 2.0, 3.0]), "spans 2 year"),
        (yearly([0.0, 1, 2, 3, 4, 5]), "undefined"),
        (yearly([-3.0, -2, -1, 1, 2, 3]), "undefined"),
    ],
)
def test_not_assessable_with_a_reason_never_an_exception(series: pd.Series, reason: str) -> None:
    for method in ("eurostat", "istat"):
        result = assess_progress(series, polarity="positive", method=method)  # type: ignore[arg-type]
        assert not result.assessable
        assert result.category.value == "not_assessable"
        assert reason in (result.reason or "")


def test_nan_values_are_skipped_not_read_as_zero() -> None:
    series = yearly([100, float("nan"), 102, 103, float("nan"), 110])
    assert assess_progress(series, polarity="positive").observed_cagr == pytest.approx(1.1**0.2 - 1)


def test_neutral_polarity_reports_growth_without_judgement() -> None:
    result = assess_progress(grown(0.03), polarity="neutral")
    assert result.category is P.NOT_ASSESSABLE
    assert result.observed_cagr == pytest.approx(0.03)
    assert result.adjusted_cagr is None
    assert "neutral" in (result.reason or "")


def test_date_and_string_indexes_are_read_as_years() -> None:
    dates = pd.Series([1.0, 2.0], index=pd.to_datetime(["2015-01-01", "2020-01-01"]))
    texts = pd.Series([1.0, 2.0], index=["2015", "2020"])
    for series in (dates, texts):
        assert assess_progress(series, polarity="positive").years_used == (2015, 2020)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"polarity": "up"},
        {"polarity": 2},
        {"polarity": "positive", "horizon": "medium"},
        {"polarity": "positive", "method": "sdsn"},
        {"polarity": "positive", "target": 10.0},
        {"polarity": "positive", "target": 10.0, "target_year": 2030, "method": "istat"},
    ],
)
def test_caller_mistakes_raise_analysis_error_with_a_hint(kwargs: dict[str, object]) -> None:
    with pytest.raises(AnalysisError) as info:
        assess_progress(grown(0.01), **kwargs)  # type: ignore[arg-type]
    assert info.value.hint


def test_unknown_polarity_suggests_the_closest() -> None:
    with pytest.raises(AnalysisError, match="unknown polarity") as info:
        assess_progress(grown(0.01), polarity="positve")
    assert "positive" in (info.value.hint or "")


def test_duplicate_years_text_values_and_non_year_index_are_errors() -> None:
    with pytest.raises(AnalysisError, match="not a number"):
        assess_progress(pd.Series([1.0, "n.d.", 3.0], index=[2015, 2016, 2020]), polarity=1)
    with pytest.raises(AnalysisError, match="more than once"):
        assess_progress(pd.Series([1.0, 2.0, 3.0], index=[2015, 2015, 2020]), polarity=1)
    with pytest.raises(AnalysisError, match="must be years"):
        assess_progress(pd.Series([1.0, 2.0], index=["a", "b"]), polarity=1)


def test_the_assessment_is_frozen_and_serialisable() -> None:
    result = assess_progress(grown(0.02), polarity="positive")
    assert isinstance(result, Assessment)
    with pytest.raises(ValueError):
        result.category = P.MOVEMENT_AWAY  # type: ignore[misc]
    dumped = result.model_dump(mode="json")
    assert dumped["category"] == "significant_progress"
    assert dumped["polarity"] == "positive"
    assert Assessment.model_validate(dumped) == result
    istat = assess_progress(yearly([1.0]), polarity="positive", method="istat")
    again = Assessment.model_validate_json(istat.model_dump_json())
    assert again.category is I.NOT_ASSESSABLE


@pytest.mark.shared
def test_real_population_series_italy(shared_data: object) -> None:
    """Eurostat demo_r_gind3 (population on 1 January), Italy, 2018 -> 2023: a decline."""
    from pathlib import Path

    path = Path(str(shared_data)) / "eurostat_demo_r_gind3_JAN_italy_excerpt.tsv"
    table = pd.read_csv(path, sep="\t", dtype="string")
    row = table[table.iloc[:, 0].str.endswith(",IT")].iloc[0, 1:]
    values = pd.to_numeric(row.str.replace(r"[^0-9]", "", regex=True), errors="coerce")
    series = pd.Series(values.to_numpy(), index=[int(c.strip()) for c in row.index])
    result = assess_progress(series, polarity="neutral")
    # 60,483,973 (2018) -> 58,997,201 (2023), as published by Eurostat
    assert result.years_used == (2018, 2023)
    assert result.observed_cagr == pytest.approx((58997201 / 60483973) ** 0.2 - 1)
