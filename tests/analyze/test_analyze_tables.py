"""The whole-frame analyses an edition stores: progress_table, domain_composites, levels.

Expected values are computed from the formulas in docs/methods.md (Eurostat's classes with
and without a target; AMPI's reference scores 100); the fixtures are synthetic.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.analyze import (
    assess_progress,
    benchmark,
    domain_composites,
    early_warnings,
    progress_table,
    territory_levels,
    trend,
)
from welfare_observatory.catalog import catalog
from welfare_observatory.errors import AnalysisError


def frame_of(series: dict[tuple[str, str], list[float]], start: int = 2010) -> pd.DataFrame:
    rows = [
        (indicator, territory, str(start + k), value)
        for (indicator, territory), values in series.items()
        for k, value in enumerate(values)
        if not math.isnan(value)
    ]
    return pd.DataFrame(rows, columns=["indicator", "territory", "period", "value"])


# -- territory levels ----------------------------------------------------------------------


def test_levels_come_from_the_shape_of_the_id() -> None:
    codes = pd.Series(["IT", "ITC", "01", "096", "096004", "district:T01024", "grouping:x", "?"])
    assert territory_levels(codes).tolist() == [
        "country", "nuts1", "region", "province", "municipality", "district", "grouping",
        "other",
    ]  # fmt: skip


def test_peer_groups_given_for_some_territories_fall_back_to_the_level() -> None:
    values = {(f"09600{i}", 10.0 + i * 0.1) for i in range(8)} | {("096008", 30.0)}
    rows = []
    for code, value in sorted(values):
        for k, year in enumerate(range(2018, 2024)):
            grow = 1.1**k if code == "096008" else 1.0
            rows.append(("NEET", code, str(year), value * grow))
    for k, year in enumerate(range(2018, 2024)):
        rows.append(("NEET", "IT", str(year), 99.0 + k))  # far off, but not a municipality
    frame = pd.DataFrame(rows, columns=["indicator", "territory", "period", "value"])
    out = early_warnings(frame, catalog={"NEET": "negative"}, peer_groups={"IT": "country"})
    assert out["territory"].tolist() == ["096008"]
    assert out["peer_group"].tolist() == ["level:municipality"]


# -- progress_table = assess_progress on every series ----------------------------------------

values_strategy = st.lists(
    st.one_of(st.floats(0.5, 200.0), st.just(float("nan"))), min_size=1, max_size=18
)


@given(
    values=values_strategy,
    polarity=st.sampled_from(["positive", "negative", "neutral"]),
    horizon=st.sampled_from(["short", "long", "full"]),
    method=st.sampled_from(["eurostat", "istat"]),
)
def test_progress_table_agrees_with_assess_progress(
    values: list[float], polarity: str, horizon: str, method: str
) -> None:
    frame = frame_of({("X", "IT"): values})
    if frame.empty:
        return
    table = progress_table(frame, polarity={"X": polarity}, method=method, horizons=[horizon])  # type: ignore[arg-type]
    series = pd.Series(values, index=range(2010, 2010 + len(values)))
    expected = assess_progress(series, polarity=polarity, horizon=horizon, method=method)  # type: ignore[arg-type]
    row = table.iloc[0]
    assert row["category"] == expected.category.value
    if expected.observed_cagr is not None and expected.category.value != "not_assessable":
        assert row["observed_cagr"] == pytest.approx(expected.observed_cagr)


@given(
    values=st.lists(st.floats(1.0, 100.0), min_size=4, max_size=12),
    polarity=st.sampled_from(["positive", "negative"]),
    target=st.floats(1.0, 150.0),
    target_year=st.integers(2012, 2035),
)
def test_progress_table_with_a_target_agrees_with_assess_progress(
    values: list[float], polarity: str, target: float, target_year: int
) -> None:
    frame = frame_of({("X", "IT"): values})
    table = progress_table(
        frame, polarity={"X": polarity}, horizons=["full"], targets={"X": (target, target_year)}
    )
    series = pd.Series(values, index=range(2010, 2010 + len(values)))
    expected = assess_progress(
        series, polarity=polarity, horizon="full", target=target, target_year=target_year
    )  # type: ignore[arg-type]
    row = table.iloc[0]
    assert row["category"] == expected.category.value
    assert row["target"] == target and row["target_year"] == target_year


def test_progress_table_with_a_target_worked_by_hand() -> None:
    # 60 -> 66 in 5 years is a CAGR of 1.92 %; reaching 78 by 2030 from 60 in 2015 needs
    # (78/60)^(1/15) - 1 = 1.76 % a year; ratio 1.09 >= 95 %: significant progress.
    frame = frame_of({("EMP", "IT"): [60.0, 61.0, 62.0, 63.5, 64.5, 66.0]}, start=2015)
    row = progress_table(frame, polarity={"EMP": "positive"}, targets={"EMP": (78, 2030)})
    short = row[row["horizon"] == "short"].iloc[0]
    assert short["required_cagr"] == pytest.approx((78 / 60) ** (1 / 15) - 1)
    assert short["ratio"] == pytest.approx(((66 / 60) ** (1 / 5) - 1) / ((78 / 60) ** (1 / 15) - 1))
    assert short["category"] == "significant_progress"


def test_progress_table_refuses_an_unknown_horizon_or_method() -> None:
    frame = frame_of({("X", "IT"): [1.0, 2.0]})
    with pytest.raises(AnalysisError, match="horizon"):
        progress_table(frame, polarity={"X": "positive"}, horizons=["medium"])
    with pytest.raises(AnalysisError, match="method"):
        progress_table(frame, polarity={"X": "positive"}, method="oecd")  # type: ignore[arg-type]


# -- stable order --------------------------------------------------------------------------


@settings(max_examples=10)
@given(seed=st.integers(0, 2**32 - 1))
def test_trend_rows_do_not_depend_on_the_input_order(seed: int) -> None:
    rng = np.random.default_rng(0)
    series = {
        (ind, f"0960{t:02d}"): list(rng.uniform(1, 100, 6))
        for ind in ("B", "A", "C")
        for t in (3, 1, 2)
    }
    frame = frame_of(series)
    shuffled = frame.sample(frac=1.0, random_state=seed % (2**32 - 1))
    first = trend(frame, polarity=dict.fromkeys("ABC", "positive"))
    second = trend(shuffled, polarity=dict.fromkeys("ABC", "positive"))
    pd.testing.assert_frame_equal(first, second)
    assert first["indicator"].tolist() == sorted(first["indicator"].tolist())


# -- benchmark of counts ---------------------------------------------------------------------


def test_benchmark_size_dependent_ids_can_be_given() -> None:
    frame = frame_of({("N", "096"): [216.0], ("N", "IT"): [107118.0], ("R", "096"): [1.0],
                      ("R", "IT"): [2.0]})  # fmt: skip
    pol = {"N": "neutral", "R": "positive"}
    out = benchmark(frame, territory="096", against=["IT"], polarity=pol, size_dependent=["N"])
    assert out["indicator"].tolist() == ["R"]
    flagged = benchmark(
        frame, territory="096", against=["IT"], polarity=pol, size_dependent=["N"], counts="flag"
    )
    assert flagged.set_index("indicator")["size_dependent"].to_dict() == {"N": True, "R": False}
    with pytest.raises(AnalysisError, match="counts"):
        benchmark(frame, territory="096", against=["IT"], polarity=pol, counts="keep")  # type: ignore[arg-type]


# -- composites per domain ---------------------------------------------------------------------


def test_domain_composites_fall_back_to_italy_and_say_what_they_skip() -> None:
    ids = ["LAND_CONSUMED_SHARE", "SEPARATE_COLLECTION_RATE", "POP_TOTAL"]
    indicators = {key: catalog().get(key) for key in ids}
    series = {
        ("LAND_CONSUMED_SHARE", "IT"): [7.0, 7.1],
        ("LAND_CONSUMED_SHARE", "096001"): [5.0, 5.2],
        ("SEPARATE_COLLECTION_RATE", "IT"): [60.0, 62.0],
        ("SEPARATE_COLLECTION_RATE", "096001"): [70.0, 71.0],
        ("POP_TOTAL", "IT"): [59e6, 58.9e6],
    }
    table, notes = domain_composites(
        frame_of(series, start=2022), indicators=indicators, references=["096", "IT"]
    )
    assert set(table["reference_territory"]) == {"IT"}  # 096 has no values
    assert table.set_index(["territory", "year"]).loc[("IT", 2022), "ampi"] == pytest.approx(100)
    assert table[["domain", "territory", "year"]].values.tolist() == [
        ["environment", "096001", 2022], ["environment", "096001", 2023],
        ["environment", "IT", 2022], ["environment", "IT", 2023],
    ]  # fmt: skip
    assert len(notes) == 1 and "'demography'" in notes[0]
