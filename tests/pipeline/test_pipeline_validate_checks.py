"""The validate stage of a build has the territory hierarchy: consistency checks run.

Biella's municipal resident population (Istat, 1 January 2023) with a province row whose
value is wrong by two orders of magnitude: the build must say so.
"""

from __future__ import annotations

from pathlib import Path

from welfare_observatory.build.strategies.sample import population_observatory
from welfare_observatory.observatory import load_observatory


def test_a_province_total_far_from_its_municipalities_is_a_warning_in_the_build(
    tmp_path: Path,
) -> None:
    folder = population_observatory(tmp_path / "obs", "096")
    data = folder / "data" / "popolazione_2023.csv"
    lines = data.read_text(encoding="utf-8").splitlines()
    # A transcription slip: the province's total typed as 500 instead of its ~170,000.
    lines.append("096;Totale;500")
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")

    report = load_observatory(folder).build(out=tmp_path / "kb", offline=True).report
    [mismatch] = [f for f in report.findings if f.code == "sum-mismatch"]
    assert mismatch.source == "population"
    assert mismatch.territory == "096"
    assert mismatch.indicator == "POP_TOTAL"
    assert "reports 500" in mismatch.message


def test_consistent_data_gives_no_mismatch(tmp_path: Path) -> None:
    folder = population_observatory(tmp_path / "obs", "096")
    report = load_observatory(folder).build(out=tmp_path / "kb", offline=True).report
    assert not [f for f in report.findings if f.code in ("sum-mismatch", "unknown-territory")]
