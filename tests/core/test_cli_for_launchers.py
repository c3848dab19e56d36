"""The command line as a launcher meets it: a short build summary, URLs that copy and paste,
Italian by default."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from welfare_observatory.build.report import BuildReport, SkippedIndicator, SourceReport
from welfare_observatory.cli.build import ERRORS_SHOWN, summary_lines
from welfare_observatory.cli.main import cli
from welfare_observatory.model.finding import Finding, Severity

LONG_ID = "ABSOLUTE_POVERTY_HOUSEHOLDS_WITH_MINORS_IN_THE_NORTH_WEST"


def report() -> BuildReport:
    errors = [
        Finding(code="range", severity=Severity.ERROR, message=f"value {n} out of range")
        for n in range(ERRORS_SHOWN + 2)
    ]
    warnings = [Finding(code="gap", severity=Severity.WARNING, message="gap") for _ in range(300)]
    return BuildReport(
        observatory="vercelli",
        edition="2026",
        build="b-1",
        knowledge_base="/tmp/kb",
        sources=(
            SourceReport(id="popolazione", type="csv", status="ok"),
            SourceReport(
                id="istat-sdmx", type="sdmx", status="failed", error="HTTP 503 from Istat"
            ),
        ),
        findings=(*errors, *warnings),
        selected=200,
        built=("POP_TOTAL",) * 5,
        skipped=tuple(
            SkippedIndicator(id=f"{LONG_ID}_{n}", reason="no source", cause="no-source")
            for n in range(195)
        ),
        observations=1162,
    )


def test_the_summary_is_short_says_what_failed_and_where_the_edition_is() -> None:
    lines = summary_lines(report(), observatory="vercelli", out=Path("kb"))
    text = "\n".join(lines)
    assert len(lines) <= 16
    assert "FAILED istat-sdmx: HTTP 503 from Istat" in text
    assert "indicators built: 5 of 200 selected; 1,162 observations" in text
    assert "not built: 195 (195 no-source)" in text
    assert f"{ERRORS_SHOWN + 2} errors, 300 warnings" in text
    assert "... and 2 more errors" in text
    assert (
        "/tmp/kb" in text and "welfare-observatory report --out site --observatory vercelli" in text
    )
    assert "--verbose" in text
    other = summary_lines(report(), observatory="vercelli", out=Path("elsewhere"))
    assert "--kb elsewhere" in other[-2]


def test_catalog_show_prints_a_url_as_written() -> None:
    shown = CliRunner().invoke(cli, ["catalog", "show", "OLD_AGE_INDEX"], env={"COLUMNS": "300"})
    assert shown.exit_code == 0, shown.output
    assert "user_100ind_pi1[id_pagina]=22" in shown.output
    assert "\\[" not in shown.output


def test_catalog_coverage_speaks_italian_by_default_as_catalog_list() -> None:
    args = ["catalog", "coverage", "--missing", "--indicators", "UNEMPLOYMENT_RATE", "--goal", "8"]
    italian = CliRunner().invoke(cli, [*args, "--json"])
    english = CliRunner().invoke(cli, [*args, "--json", "--lang", "en"])
    assert italian.exit_code == english.exit_code == 0
    assert italian.output != english.output
    assert italian.output == CliRunner().invoke(cli, [*args, "--json", "--lang", "it"]).output
