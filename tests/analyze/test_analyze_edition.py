"""What a build stores under ``analyses/`` and the ``analyze`` commands over an edition.

The edition is the small synthetic observatory of ``conftest.py``; expected classes and
scores are computed from the formulas in docs/methods.md (Eurostat's classes without a
target, AMPI with the reference scoring 100, robust z-scores among the peers).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from welfare_observatory.analyze import assess_progress, benchmark, early_warnings
from welfare_observatory.catalog import catalog
from welfare_observatory.cli.main import cli
from welfare_observatory.errors import WelfareObservatoryError
from welfare_observatory.store import KnowledgeBase

STORED = {"trend", "progress", "benchmark", "composite", "early_warnings"}


def invoke(*args: str) -> tuple[int, str]:
    """Exit code and output (with the library error's message and hint, which the
    installed entry point prints as one line)."""
    result = CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["analyze", *args])
    error = result.exception
    if isinstance(error, WelfareObservatoryError):
        return 1, f"{result.output}{error} {error.hint or ''}"
    return result.exit_code, result.output


def test_an_edition_stores_every_analysis(edition_kb: Path) -> None:
    kb = KnowledgeBase.open(edition_kb)
    folder = Path(kb.edition("2025").path) / "analyses"
    # Each one a folder of part files (format 2 of the edition).
    assert {p.parent.name for p in folder.glob("*/part-*.parquet")} >= STORED


def test_stored_progress_is_what_assess_progress_says(edition_kb: Path) -> None:
    kb = KnowledgeBase.open(edition_kb)
    stored = kb.analysis("progress")
    assert set(stored["method"]) == {"eurostat"}  # report.progress_method of the config
    assert set(stored["horizon"]) == {"short", "long"}
    row = stored[
        (stored["indicator"] == "LAND_CONSUMED_SHARE")
        & (stored["territory"] == "096008")
        & (stored["horizon"] == "short")
    ].iloc[0]
    values = kb.observations(indicator="LAND_CONSUMED_SHARE", territory="096008")
    series = pd.Series(
        values["value"].to_numpy(dtype=float), index=values["period"].astype(int).to_numpy()
    )
    expected = assess_progress(series, polarity="negative", method="eurostat")
    # 5 % more land consumed a year, lower is better: significant movement away.
    assert row["category"] == expected.category.value == "significant_movement_away"
    assert row["observed_cagr"] == pytest.approx(expected.observed_cagr)
    assert (row["start_year"], row["end_year"]) == expected.years_used == (2018, 2023)
    long = stored[(stored["territory"] == "096008") & (stored["horizon"] == "long")]
    assert set(long["category"]) == {"not_assessable"}  # 2016-2023 spans 7 of 10 years


def test_stored_composite_scores_the_reference_100(edition_kb: Path) -> None:
    kb = KnowledgeBase.open(edition_kb)
    composite = kb.analysis("composite")
    assert set(composite["domain"]) == {"environment"}
    reference = composite[(composite["territory"] == "096") & (composite["year"] == 2016)]
    assert reference["ampi"].iloc[0] == pytest.approx(100.0)
    assert set(composite["reference_territory"]) == {"096"}
    assert set(composite["indicators"]) == {"LAND_CONSUMED_SHARE,SEPARATE_COLLECTION_RATE"}
    # Demography has only residents (neutral): no composite, and a finding says why.
    findings = kb.findings()
    skipped = findings[findings["code"] == "composite-skipped"]["message"].tolist()
    assert any("'demography'" in text for text in skipped)


def test_stored_benchmark_leaves_out_counts(edition_kb: Path) -> None:
    stored = KnowledgeBase.open(edition_kb).analysis("benchmark")
    assert "POP_TOTAL" not in set(stored["indicator"])
    assert set(stored["indicator"]) == {"LAND_CONSUMED_SHARE", "SEPARATE_COLLECTION_RATE"}
    assert not stored["size_dependent"].any()


def test_benchmark_flags_counts_when_asked(edition_kb: Path) -> None:
    frame = KnowledgeBase.open(edition_kb).observations().astype({"value": float})
    frame = frame.drop(columns=["domain"]).astype(dict.fromkeys(("indicator", "sex"), "string"))
    indicators = {key: catalog().get(key) for key in frame["indicator"].unique()}
    out = benchmark(frame, territory="096", against=["IT"], polarity=indicators, counts="flag")
    residents = out[out["indicator"] == "POP_TOTAL"]
    assert len(residents) == 3  # M, F, _T
    assert residents["size_dependent"].all()
    assert not out.loc[out["indicator"] != "POP_TOTAL", "size_dependent"].any()


def test_early_warnings_compare_territories_of_the_same_level(edition_kb: Path) -> None:
    frame = KnowledgeBase.open(edition_kb).observations().drop(columns=["domain"])
    frame = frame.astype({"value": float, "territory": "string", "indicator": "string"})
    # The whole edition (Italy, the province and the municipalities) in one call.
    out = early_warnings(frame, catalog=catalog(), indicators=["LAND_CONSUMED_SHARE"])
    assert out["territory"].tolist() == ["096008"]
    assert out["peer_group"].tolist() == ["level:municipality"]
    assert out["n_peers"].tolist() == [8]  # the eight municipalities, not IT nor 096
    stored = KnowledgeBase.open(edition_kb).analysis("early_warnings")
    assert stored["territory"].tolist() == ["096008"]


def test_two_builds_write_identical_analyses(
    edition_kb: Path, build_edition: Callable[[Path], Path], tmp_path: Path
) -> None:
    again = build_edition(tmp_path)

    def digests(root: Path) -> dict[str, str]:
        folder = Path(KnowledgeBase.open(root).edition("2025").path) / "analyses"
        return {
            str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.parquet"))
        }

    assert len(digests(edition_kb)) >= len(STORED)
    assert digests(again) == digests(edition_kb)


def test_stored_trend_rows_are_sorted_by_their_keys(edition_kb: Path) -> None:
    trend = KnowledgeBase.open(edition_kb).analysis("trend")
    keys = trend[["indicator", "territory", "sex"]].astype(str)
    assert keys.equals(keys.sort_values(list(keys.columns)).reset_index(drop=True))


# -- the command line over an edition ----------------------------------------------------


def test_benchmark_command_reads_an_edition_and_shows_breakdowns(edition_kb: Path) -> None:
    code, out = invoke(
        "benchmark", "--kb", str(edition_kb), "--edition", "2025", "--territory", "096",
        "--against", "IT", "--counts", "flag",
    )  # fmt: skip
    assert code == 0, out
    assert "sex" in out and "size_dependent" in out
    residents = [line for line in out.splitlines() if "POP_TOTAL" in line]
    # M, F and _T each on their own labelled row: nothing looks duplicated.
    assert len(residents) == 3
    assert all(any(f" {s} " in line for s in ("M", "F", "_T")) for line in residents)


def test_benchmark_command_leaves_out_counts_by_default(edition_kb: Path) -> None:
    code, out = invoke(
        "benchmark", "--kb", str(edition_kb), "--territory", "096", "--against", "IT", "--json"
    )
    assert code == 0, out
    assert {row["indicator"] for row in json.loads(out)} == {
        "LAND_CONSUMED_SHARE",
        "SEPARATE_COLLECTION_RATE",
    }


def test_progress_command_picks_a_breakdown(edition_kb: Path) -> None:
    args = ["progress", "--kb", str(edition_kb), "--indicator", "POP_TOTAL"]
    code, out = invoke(*args, "--territory", "096001", "--breakdown", "sex=F", "--json")
    assert code == 0, out
    result = json.loads(out)
    assert result["sex"] == "F"
    assert result["start_value"] == 1050 + 2 * 2  # women in 096001 on 1 January 2018
    code, out = invoke(*args, "--territory", "096001", "--breakdown", "age=Y5", "--json")
    assert code == 1 and "age" in out


def test_warnings_and_composite_commands_over_an_edition(edition_kb: Path) -> None:
    code, out = invoke("warnings", "--kb", str(edition_kb), "--json")
    assert code == 0, out
    assert [row["territory"] for row in json.loads(out)] == ["096008"]
    code, out = invoke(
        "composite", "--kb", str(edition_kb), "--reference-territory", "096",
        "--reference-year", "2016", "--indicator", "LAND_CONSUMED_SHARE",
        "--indicator", "SEPARATE_COLLECTION_RATE", "--json",
    )  # fmt: skip
    assert code == 0, out
    rows = {(r["territory"], r["year"]): r["ampi"] for r in json.loads(out)}
    assert rows[("096", 2016)] == pytest.approx(100.0)


def test_bad_sources_are_refused_with_a_hint(edition_kb: Path, tmp_path: Path) -> None:
    data = tmp_path / "obs.csv"
    data.write_text("indicator,territory,period,value\nX,IT,2020,1\n", encoding="utf-8")
    code, out = invoke("warnings", "--data", str(data), "--kb", str(edition_kb))
    assert code == 1 and "--data cannot be combined" in out
    code, out = invoke("warnings", "--kb", str(edition_kb), "--edition", "2052")
    assert code == 1 and "2025" in out  # the hint names the editions there are
    code, out = invoke("warnings", "--kb", str(tmp_path / "nowhere"))
    assert code == 1 and "no knowledge base" in out
