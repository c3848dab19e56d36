"""The build report as people read it: every source named in full, data never read as markup."""

from __future__ import annotations

import pytest

from welfare_observatory.build.report import BuildReport, SkippedIndicator, SourceReport


def test_the_report_prints_ids_and_errors_as_they_are(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    report = BuildReport(
        observatory="biella",
        edition="2025",
        build="b-0",
        knowledge_base="kb",
        sources=(
            SourceReport(
                id="consorzio_iris_servizi_sociali_domiciliari",
                type="table",
                status="failed",
                error="[Errno 2] [bold]x[/bold]",
            ),
        ),
        skipped=tuple(
            SkippedIndicator(id=f"IND_{n}", reason="no source", cause="no-source")
            for n in range(30)
        ),
        selected=30,
    )
    report.render()
    out = capsys.readouterr().out
    assert "[bold]x[/bold]" in out and "[Errno 2]" in out
    assert "consorzio_iris_servizi_sociali_domiciliari" in out
    assert "30 not built in all (30 no-source)" in out
