"""Issue 15 on the shipped Biella example: final releases win, gaps are listed, small rates
are marked low reliability and never compared."""

from __future__ import annotations

from pathlib import Path

import pytest

from welfare_observatory.observatory import load_observatory
from welfare_observatory.store import KnowledgeBase

BIELLA = Path(__file__).resolve().parents[2] / "examples" / "biella" / "src" / "osserva_biella"


def _eurostat(year: str) -> float:
    """Biella's (ITC13) population on 1 January ``year`` in the example's Eurostat file."""
    lines = (BIELLA / "data" / "eurostat_demo_r_gind3_096.tsv").read_text("utf-8").splitlines()
    header = [c.strip() for c in lines[0].split("\t")]
    row = next(line for line in lines if line.startswith("A,JAN,ITC13\t")).split("\t")
    return float(row[header.index(year)].strip().split()[0])


@pytest.fixture(scope="module")
def biella(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("kb") / "kb"
    result = load_observatory(BIELLA).build(out=out, offline=True)
    return result, KnowledgeBase(out)


def test_the_province_total_is_the_final_release_and_the_gap_is_listed(biella) -> None:
    result, kb = biella
    rows = kb.observations(indicator="POP_TOTAL", territory="096")
    total = rows[(rows["period"] == "2023-01-01") & (rows["sex"] == "_T")]
    assert total["value"].tolist() == [_eurostat("2023")]
    conflicts = [f for f in result.report.findings if f.code == "release-conflict"]
    assert [(f.indicator, f.territory, f.period) for f in conflicts] == [
        ("POP_TOTAL", "096", "2023-01-01")
    ]
    assert "-283" in conflicts[0].message


def test_a_rate_reads_the_final_release(biella) -> None:
    _, kb = biella
    rows = kb.observations(indicator="SHARE_FOREIGN", territory="096")
    share = rows[(rows["period"] == "2023-01-01") & (rows["sex"] == "_T")]
    assert share["value"].round(4).tolist() == [5.9312]


def test_provisional_values_carry_status_p(biella) -> None:
    _, kb = biella
    rows = kb.observations(indicator="POP_TOTAL", territory="096004")
    by_period = dict(zip(rows["period"], rows["obs_status"], strict=False))
    assert by_period["2023-01-01"] == "P" and by_period["2022-01-01"] == "A"


def test_small_rates_are_marked_and_left_out_of_early_warnings(biella) -> None:
    result, kb = biella
    rows = kb.observations(indicator="OLD_AGE_INDEX")
    low = rows[rows["obs_status"] == "U"]
    assert len(low) > 0 and low["value"].notna().all()
    assert "low-reliability" in {f.code for f in result.report.findings}
    warnings = kb.analysis("early_warnings")
    marked = set(zip(low["indicator"], low["territory"], strict=True))
    flagged = set(zip(warnings["indicator"], warnings["territory"], strict=True))
    assert not marked & flagged
