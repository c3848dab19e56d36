"""Benchmarks against comparison territories and the early-warning signal.

Expected values are computed by hand from the definitions in docs/methods.md (difference,
ratio, polarity-aware rank; robust z = (x - median) / (1.4826 * MAD)).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from welfare_observatory.analyze import benchmark, early_warnings
from welfare_observatory.errors import AnalysisError
from welfare_observatory.model import Indicator

# Old-age index (neutral here), NEET rate (negative), employment rate (positive), 2022-2023.
ROWS = [
    ("NEET", "096", "2023", 14.0),
    ("NEET", "01", "2023", 15.0),
    ("NEET", "IT", "2023", 19.0),
    ("NEET", "096", "2022", 16.0),
    ("NEET", "IT", "2022", 19.5),
    ("EMP", "096", "2023", 66.0),
    ("EMP", "01", "2023", 66.0),
    ("EMP", "IT", "2023", 61.5),
    ("EMP", "017", "2023", 68.0),
    ("OLD_AGE", "096", "2023", 283.0),
    ("OLD_AGE", "IT", "2023", 193.0),
]
POLARITY = {"NEET": "negative", "EMP": "positive", "OLD_AGE": "neutral"}


def frame() -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=["indicator", "territory", "period", "value"])


def test_benchmark_differences_ratios_and_wording() -> None:
    result = benchmark(frame(), territory="096", against=["01", "IT"], polarity=POLARITY)
    neet = result[(result["indicator"] == "NEET") & (result["against"] == "IT")].iloc[0]
    assert neet["period"] == "2023"  # the latest period of the territory
    assert neet["difference"] == pytest.approx(-5.0)
    assert neet["ratio"] == pytest.approx(14 / 19)
    assert (neet["comparison"], neet["text_en"], neet["text_it"]) == (
        "better",
        "better than Italy",
        "migliore di Italia",
    )
    emp = result[(result["indicator"] == "EMP") & (result["against"] == "01")].iloc[0]
    assert (emp["comparison"], emp["text_it"]) == ("equal", "pari a Piemonte")
    old = result[result["indicator"] == "OLD_AGE"].iloc[0]
    assert (old["comparison"], old["text_en"]) == ("higher", "higher than Italy")


def test_rank_and_quintile_among_the_peers_present() -> None:
    result = benchmark(frame(), territory="096", against=["01", "IT", "017"], polarity=POLARITY)
    neet = result[result["indicator"] == "NEET"]
    # Peers present for NEET 2023: 01 and IT (017 has no value): 096 is best of 3.
    assert set(neet["against"]) == {"01", "IT"}
    assert neet[["rank", "n_compared", "quintile"]].iloc[0].tolist() == [1, 3, 5]
    emp = result[result["indicator"] == "EMP"].iloc[0]
    # EMP: 68 (017) > 66 (096) = 66 (01) > 61.5 (IT): rank 2 of 4 (ties share the best rank)
    assert (emp["rank"], emp["n_compared"], emp["quintile"]) == (2, 4, 4)


def test_benchmark_accepts_a_catalogue_mapping() -> None:
    def indicator(id_: str, polarity: str) -> Indicator:
        return Indicator.model_validate(
            {
                "id": id_,
                "label": {"en": id_},
                "unit": "percent",
                "polarity": polarity,
                "domain": "labour",
                "measure": "ratio",
                "reference_point": "calendar_year",
                "aggregation": "none",
                "source": {"publisher": "Istat", "document": "test"},
            }
        )

    catalog = {k: indicator(k, v) for k, v in POLARITY.items()}
    result = benchmark(frame(), territory="096", against=["IT"], polarity=catalog)
    assert len(result) == 3


def test_benchmark_for_a_given_period_and_bad_input() -> None:
    result = benchmark(frame(), territory="096", against=["IT"], polarity=POLARITY, period="2022")
    assert result["indicator"].tolist() == ["NEET"]
    with pytest.raises(AnalysisError, match="no values"):
        benchmark(frame(), territory="097", against=["IT"], polarity=POLARITY)
    with pytest.raises(AnalysisError, match="nothing to compare"):
        benchmark(frame(), territory="096", against=["096"], polarity=POLARITY)
    with pytest.raises(AnalysisError, match="no polarity"):
        benchmark(frame(), territory="096", against=["IT"], polarity={"NEET": "negative"})


# --- early warnings ------------------------------------------------------------------------


def warning_frame() -> pd.DataFrame:
    """Ten municipalities, five years; M9 is far worse on NEET and getting worse."""
    rows = []
    for i in range(10):
        for k, year in enumerate(range(2019, 2024)):
            neet = 10.0 + i * 0.2  # peers: 10.0 .. 11.6, flat
            if i == 9:
                neet = 20.0 + 2 * k  # 20 -> 28, rising (worse for a negative indicator)
            if i == 8:
                neet = 30.0 - k  # far worse than peers but improving: no warning
            rows.append(("NEET", f"M{i}", str(year), neet))
            rows.append(("EMP", f"M{i}", str(year), 60.0 + i - (6 * k if i == 9 else 0)))
    return pd.DataFrame(rows, columns=["indicator", "territory", "period", "value"])


def test_early_warnings_flag_worse_and_deteriorating_territories() -> None:
    result = early_warnings(warning_frame(), catalog={"NEET": "negative", "EMP": "positive"})
    assert set(result["territory"]) == {"M9"}
    m9 = result.set_index("indicator")
    # NEET 2023 values: 10.0 .. 11.4 for M0..M7, 26 (M8), 28 (M9); median = 11.1
    values = np.array([10.0 + i * 0.2 for i in range(8)] + [26.0, 28.0])
    median = np.median(values)
    mad = np.median(np.abs(values - median))
    assert m9.loc["NEET", "peer_median"] == pytest.approx(median)
    assert m9.loc["NEET", "robust_z"] == pytest.approx((28.0 - median) / (1.4826 * mad))
    assert m9.loc["NEET", "adjusted_cagr"] == pytest.approx(-((28 / 20) ** 0.25 - 1))
    assert (m9["signals"] == 2).all() and (m9["rank"] == 1).all()


def test_early_warning_thresholds_and_peer_groups_are_configurable() -> None:
    catalog = {"NEET": "negative", "EMP": "positive"}
    strict = early_warnings(warning_frame(), catalog=catalog, z_threshold=1000.0)
    assert strict.empty
    groups = {f"M{i}": ("north" if i < 5 else "south") for i in range(10)}
    grouped = early_warnings(warning_frame(), catalog=catalog, peer_groups=groups)
    assert set(grouped["peer_group"]) <= {"south"}
    # Five peers per group: min_peers above that silences every signal.
    assert early_warnings(warning_frame(), catalog=catalog, peer_groups=groups, min_peers=6).empty
    only = early_warnings(warning_frame(), catalog=catalog, indicators=["EMP"])
    assert set(only["indicator"]) == {"EMP"}


def test_early_warnings_bad_input() -> None:
    with pytest.raises(AnalysisError, match="no polarity"):
        early_warnings(warning_frame(), catalog={"NEET": "negative"})
    with pytest.raises(AnalysisError, match="z_threshold"):
        early_warnings(warning_frame(), catalog={"NEET": -1, "EMP": 1}, z_threshold=0)
    neutral = early_warnings(warning_frame(), catalog={"NEET": "neutral", "EMP": "neutral"})
    assert neutral.empty and "robust_z" in neutral.columns
