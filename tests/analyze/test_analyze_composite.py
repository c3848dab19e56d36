"""AMPI and MPI.

Expected numbers are computed by hand from the formulas in Mazziotta & Pareto (2016), "On a
generalized non-compensatory composite index for measuring socio-economic phenomena", Social
Indicators Research 127(3), 983-1003 (AMPI), and De Muro, Mazziotta & Pareto (2011), Social
Indicators Research 104(1), 1-18 (MPI); the working is in the comments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory.analyze import ampi, ampi_components, ampi_normalized, mpi
from welfare_observatory.errors import AnalysisError


def panel() -> pd.DataFrame:
    """Three territories x two years; x is positive (higher is better), y negative."""
    index = pd.MultiIndex.from_product(
        [["IT", "A", "B"], [2010, 2011]], names=["territory", "year"]
    )
    return pd.DataFrame({"x": [10.0, 11, 8, 9, 12, 14], "y": [5.0, 4, 6, 6, 3, 2]}, index=index)


POLARITY = {"x": "positive", "y": "negative"}


def test_ampi_worked_example() -> None:
    # x: min 8, max 14 -> Delta 3; reference (IT, 2010) x = 10 -> goalposts 7 and 13.
    # y: min 2, max 6 -> Delta 2; reference y = 5 -> goalposts 3 and 7 (negative: reversed).
    # (A, 2010): r_x = (8 - 7) / 6 * 60 + 70 = 80; r_y = (7 - 6) / 4 * 60 + 70 = 85
    #   M = 82.5, S = 2.5 (divide by 2), cv = 2.5 / 82.5, AMPI- = 82.5 - 2.5 * cv = 82.424242...
    # (B, 2011): r_x = (14 - 7) / 6 * 60 + 70 = 140; r_y = (7 - 2) / 4 * 60 + 70 = 145
    #   M = 142.5, S = 2.5, AMPI- = 142.5 - 2.5 ** 2 / 142.5 = 142.456140...
    result = ampi(panel(), polarity=POLARITY, reference=("IT", 2010))
    assert result[("IT", 2010)] == pytest.approx(100.0)
    assert result[("A", 2010)] == pytest.approx(82.5 - 2.5**2 / 82.5)
    assert result[("B", 2011)] == pytest.approx(142.5 - 2.5**2 / 142.5)
    plus = ampi(panel(), polarity=POLARITY, reference=("IT", 2010), penalty="positive")
    assert plus[("A", 2010)] == pytest.approx(82.5 + 2.5**2 / 82.5)


def test_ampi_components_are_transparent() -> None:
    parts = ampi_components(panel(), polarity=POLARITY, reference=("IT", 2010))
    assert list(parts.columns) == ["mean", "sd", "cv", "penalty", "ampi"]
    row = parts.loc[("A", 2010)]
    assert (row["mean"], row["sd"]) == pytest.approx((82.5, 2.5))
    assert row["penalty"] == pytest.approx(row["sd"] * row["cv"])
    normalized = ampi_normalized(panel(), polarity=POLARITY, reference=("IT", 2010))
    assert normalized.loc[("A", 2010)].tolist() == pytest.approx([80.0, 85.0])


def test_polarity_accepts_signs_and_enum_values() -> None:
    from welfare_observatory.model import Polarity

    a = ampi(panel(), polarity={"x": 1, "y": -1}, reference=("IT", 2010))
    b = ampi(panel(), polarity={"x": Polarity.POSITIVE, "y": "negative"}, reference=("IT", 2010))
    pd.testing.assert_series_equal(a, b)


def test_a_row_with_a_missing_indicator_gets_no_score() -> None:
    frame = panel()
    frame.loc[("A", 2011), "y"] = np.nan
    result = ampi(frame, polarity=POLARITY, reference=("IT", 2010))
    assert np.isnan(result[("A", 2011)])
    # The other rows keep the scores they get from the values present (goalposts unchanged).
    assert result[("A", 2010)] == pytest.approx(82.5 - 2.5**2 / 82.5)


def test_mpi_worked_example() -> None:
    # Cross-section 2010: x = 10, 8, 12 (mean 10, population sd sqrt(8/3));
    # y = 5, 6, 3 (mean 14/3, population sd sqrt(14/9)).
    # IT: z_x = 100, z_y = 100 - 10 * (5 - 14/3) / sqrt(14/9) = 97.3273...
    #   M_z = 98.6637, cv = 1.33631 / 98.6637, MPI- = M_z * (1 - cv**2) = 98.6456...
    cross = panel().xs(2010, level="year")
    result = mpi(cross, polarity=POLARITY)
    z_y = 100 - 10 * (5 - 14 / 3) / np.sqrt(14 / 9)
    m = (100 + z_y) / 2
    cv = abs(100 - z_y) / 2 / m
    assert result["IT"] == pytest.approx(m * (1 - cv**2))
    assert mpi(cross, polarity=POLARITY, penalty="positive")["IT"] == pytest.approx(m * (1 + cv**2))


# --- properties ----------------------------------------------------------------------------

values = st.floats(1.0, 1000.0, allow_nan=False)


@st.composite
def frames(draw: st.DrawFn, min_indicators: int = 2, max_indicators: int = 6) -> pd.DataFrame:
    m = draw(st.integers(min_indicators, max_indicators))
    n = draw(st.integers(2, 6))
    columns = [f"I{j}" for j in range(m)]
    data = [[draw(values) for _ in columns] for _ in range(n)]
    index = pd.MultiIndex.from_tuples([(f"T{i}", 2020) for i in range(n)])
    frame = pd.DataFrame(data, columns=columns, index=index)
    if not (frame.max() > frame.min()).all():  # a constant indicator is refused (tested below)
        frame.iloc[0] = frame.iloc[0] + 1.0
    return frame


@given(frames(), st.lists(st.sampled_from([1, -1]), min_size=6, max_size=6))
def test_the_reference_row_scores_100(frame: pd.DataFrame, signs: list[int]) -> None:
    polarity = dict(zip(frame.columns, signs, strict=False))
    for penalty in ("negative", "positive"):
        result = ampi(frame, polarity=polarity, reference=("T0", 2020), penalty=penalty)  # type: ignore[arg-type]
        assert result[("T0", 2020)] == pytest.approx(100.0, abs=1e-9)


@given(
    st.integers(2, 4),
    st.lists(st.floats(1.0, 199.0), min_size=4, max_size=4),
    st.integers(0, 3),
    st.floats(0.01, 1.0),
    st.lists(st.sampled_from([1, -1]), min_size=4, max_size=4),
)
def test_ampi_is_monotonic_in_each_indicator_with_its_polarity(
    m: int, levels: list[float], which: int, step: float, signs: list[int]
) -> None:
    # Rows "a" and "b" are equal except on one indicator, which is better in "b" (in the
    # direction of its polarity). Anchor rows at 0 and 200 around the reference 100 put the
    # goalposts at 0 and 200, so every normalised value is inside the 70-130 band. There,
    # with up to four indicators, the penalty can never outweigh the gain (docs/methods.md);
    # the next test shows where it can.
    which = which % m
    columns = [f"I{j}" for j in range(m)]
    base = levels[:m]
    better = list(base)
    better[which] = base[which] + step * signs[which]  # stays within 0..200
    rows = {"ref": [100.0] * m, "lo": [0.0] * m, "hi": [200.0] * m, "a": base, "b": better}
    index = pd.MultiIndex.from_tuples([(name, 0) for name in rows])
    frame = pd.DataFrame(list(rows.values()), columns=columns, index=index)
    polarity = dict(zip(columns, signs, strict=False))
    result = ampi(frame, polarity=polarity, reference=("ref", 0))
    assert result[("b", 0)] > result[("a", 0)]


def test_with_many_indicators_the_penalty_can_outweigh_one_improvement() -> None:
    # Nine indicators at 70 and one at 127 (normalised): raising the outlier to 128.5 lowers
    # AMPI-, since m * dAMPI/dr_k = 3 + cv**2 - 2 r_k / M < 0 when r_k / M is large
    # (here 127 / 75.7 = 1.68 > (3 + 0.051) / 2); see docs/methods.md. The mean still rises.
    columns = [f"I{j}" for j in range(10)]
    index = pd.MultiIndex.from_tuples([("ref", 0), ("lo", 0), ("hi", 0), ("a", 0), ("b", 0)])
    rows = [[100.0] * 10, [0.0] * 10, [200.0] * 10, [0.0] * 9 + [190.0], [0.0] * 9 + [195.0]]
    frame = pd.DataFrame(rows, columns=columns, index=index)
    polarity = dict.fromkeys(columns, 1)
    normalized = ampi_normalized(frame, polarity=polarity, reference=("ref", 0))
    assert normalized.loc[("a", 0)].tolist() == pytest.approx([70.0] * 9 + [127.0])
    result = ampi(frame, polarity=polarity, reference=("ref", 0))
    assert result[("b", 0)] < result[("a", 0)]
    parts = ampi_components(frame, polarity=polarity, reference=("ref", 0))
    assert parts.loc[("b", 0), "mean"] > parts.loc[("a", 0), "mean"]


# --- bad input -----------------------------------------------------------------------------


def test_reference_row_absent_is_a_typed_error_with_hint() -> None:
    with pytest.raises(AnalysisError, match="not in the frame") as info:
        ampi(panel(), polarity=POLARITY, reference=("IT", 2009))
    assert info.value.hint


@pytest.mark.parametrize(
    ("polarity", "message"),
    [
        ({"x": 1}, "no polarity for indicator 'y'"),
        ({"x": 1, "y": "sideways"}, "unknown polarity"),
        ({"x": 1, "y": "neutral"}, "neutral polarity"),
    ],
)
def test_polarity_problems(polarity: dict[str, object], message: str) -> None:
    with pytest.raises(AnalysisError, match=message):
        ampi(panel(), polarity=polarity, reference=("IT", 2010))  # type: ignore[arg-type]


def test_other_bad_frames() -> None:
    frame = panel()
    with pytest.raises(AnalysisError, match="at least two"):
        ampi(frame[["x"]], polarity=POLARITY, reference=("IT", 2010))
    constant = frame.assign(y=5.0)
    with pytest.raises(AnalysisError, match="same value"):
        ampi(constant, polarity=POLARITY, reference=("IT", 2010))
    gap = frame.copy()
    gap.loc[("IT", 2010), "x"] = np.nan
    with pytest.raises(AnalysisError, match="reference row"):
        ampi(gap, polarity=POLARITY, reference=("IT", 2010))
    doubled = pd.concat([frame, frame.iloc[:1]])
    with pytest.raises(AnalysisError, match="more than once"):
        ampi(doubled, polarity=POLARITY, reference=("IT", 2010))
    with pytest.raises(AnalysisError, match="unknown penalty"):
        ampi(frame, polarity=POLARITY, reference=("IT", 2010), penalty="both")  # type: ignore[arg-type]
    with pytest.raises(AnalysisError, match="no variation"):
        mpi(constant.xs(2010, level="year"), polarity=POLARITY)
