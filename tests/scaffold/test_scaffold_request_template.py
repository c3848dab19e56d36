"""Data requests: which indicators, the workbook, and a filled one read back by ``table``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from openpyxl import load_workbook

from welfare_observatory.catalog import catalog
from welfare_observatory.cli.main import cli
from welfare_observatory.errors import ConfigError
from welfare_observatory.observatory import load_observatory
from welfare_observatory.scaffold.providers import providers_of, requested_indicators
from welfare_observatory.scaffold.request_template import (
    HEADER_ROW,
    check_filled_template,
    write_request_template,
)
from welfare_observatory.store import KnowledgeBase

OBSERVATORY = """\
id: test_requests
name: {it: Prova richieste, en: Request test}
edition: "2025"
territory: {code: "096", reference_date: 2024-01-01}
indicators:
  add: [RESIDENTIAL_CARE_FACILITIES_RATE, BIRTHS, OLD_AGE_INDEX, AT_RISK_OF_POVERTY_RATE]
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "obs" / "data").mkdir(parents=True)
    (tmp_path / "obs" / "observatory.yaml").write_text(OBSERVATORY, "utf-8")
    return tmp_path / "obs"


def fill(path: Path, value: object = 7) -> None:
    """Fill every Valore cell with ``value`` plus its row number (a test's own figures)."""
    book = load_workbook(path)
    for sheet in book.worksheets[1:]:
        header = [c.value for c in sheet[HEADER_ROW]]
        column = header.index("Valore") + 1
        for row in range(HEADER_ROW + 1, sheet.max_row + 1):
            sheet.cell(row, column).value = value if not isinstance(value, int) else value + row
    book.save(path)


def test_providers_are_derived_from_domains_and_counts_only_are_requested(folder: Path) -> None:
    cat = catalog()
    assert providers_of(cat.get("BIRTHS")) == {"comune"}
    assert providers_of(cat.get("HOSPITAL_BEDS")) == {"asl"}
    assert providers_of(cat.get("RESIDENTIAL_CARE_FACILITIES")) == {"consortium"}
    assert providers_of(cat.get("AT_RISK_OF_POVERTY_RATE")) == set()
    observatory = load_observatory(folder)
    # the rate's numerator is asked for; its denominator and the poverty survey are not
    assert [i.id for i in requested_indicators(observatory, "consortium")] == [
        "RESIDENTIAL_CARE_FACILITIES"
    ]
    # no source delivers the population yet: the registry office is asked for it too
    assert [i.id for i in requested_indicators(observatory, "comune")] == [
        "POP_TOTAL",
        "BIRTHS",
        "POP_65_PLUS",
        "POP_0_14",
    ]


def test_the_workbook_has_a_sheet_per_indicator_with_rows_and_validation(folder: Path) -> None:
    result = write_request_template(
        folder, "comune", folder / "data" / "comuni.xlsx", ask_covered=True
    )
    book = load_workbook(result.path)
    assert book.sheetnames == ["Istruzioni", "POP_TOTAL", "BIRTHS", "POP_65_PLUS", "POP_0_14"]
    sheet = book["BIRTHS"]
    assert [c.value for c in sheet[HEADER_ROW]] == [
        "Codice",
        "Territorio",
        "Periodo",
        "Sesso",
        "Valore",
        "Stato",
    ]
    # 74 municipalities x 2 years x (Maschi, Femmine, Totale)
    assert sheet.max_row - HEADER_ROW == 74 * 2 * 3
    assert result.rows == 4 * 74 * 2 * 3
    assert [c.value for c in sheet[HEADER_ROW + 1]][:4] == ["096001", "Ailoche", "2023", "Maschi"]
    kinds = {v.type for v in sheet.data_validations.dataValidation}
    assert kinds == {"whole", "list"}
    assert "Definizione" in str(sheet["A2"].value)


def test_a_filled_request_is_read_back_with_the_generated_sources(folder: Path) -> None:
    result = write_request_template(folder, "consortium", folder / "data" / "consorzio.xlsx")
    fill(result.path)
    book = load_workbook(result.path)
    book["RESIDENTIAL_CARE_FACILITIES"].cell(HEADER_ROW + 2, 5).value = "provvisorio"
    book.save(result.path)
    assert check_filled_template(result.path) == []
    config = yaml.safe_load((folder / "observatory.yaml").read_text("utf-8"))
    config["sources"] = yaml.safe_load(result.snippet.read_text("utf-8"))
    (folder / "observatory.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    report = load_observatory(folder).build(out=folder / "kb", offline=True).report
    assert [s.status for s in report.sources] == ["ok"]
    kb = KnowledgeBase.open(folder / "kb")
    rows = kb.observations("RESIDENTIAL_CARE_FACILITIES", "096001")
    # 31 December 2023 is dated 1 January 2024, the canonical date of stocks
    assert dict(zip(rows["period"].astype(str), rows["value"], strict=True)) == {
        "2024-01-01": 7.0 + HEADER_ROW + 1,
        "2025-01-01": 7.0 + HEADER_ROW + 2,
    }
    assert sorted(rows["obs_status"].astype(str)) == ["A", "P"]
    assert "RESIDENTIAL_CARE_FACILITIES_RATE" in report.built or report.skipped


def test_a_bad_cell_is_named_by_sheet_row_and_column(folder: Path) -> None:
    result = write_request_template(folder, "consortium", folder / "data" / "consorzio.xlsx")
    fill(result.path)
    book = load_workbook(result.path)
    book["RESIDENTIAL_CARE_FACILITIES"]["D9"] = "tre"
    book["RESIDENTIAL_CARE_FACILITIES"]["E12"] = "forse"
    book.save(result.path)
    [value, status] = check_filled_template(result.path)
    assert value.location is not None and status.location is not None
    assert (value.location.sheet, value.location.row, value.location.column) == (
        "RESIDENTIAL_CARE_FACILITIES",
        9,
        "D",
    )
    assert (status.location.row, status.location.column) == (12, "E")
    # the table source, reading the same file, names the source, the row and the column
    config = yaml.safe_load((folder / "observatory.yaml").read_text("utf-8"))
    config["sources"] = yaml.safe_load(result.snippet.read_text("utf-8"))
    (folder / "observatory.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    report = load_observatory(folder).build(out=folder / "kb", offline=True).report
    [source] = report.sources
    assert source.status == "failed"
    assert "row 9" in str(source.error) and "column 'Valore'" in str(source.error)


def test_bad_requests_are_refused(folder: Path) -> None:
    with pytest.raises(ConfigError, match="provider"):
        write_request_template(folder, "prefettura")
    with pytest.raises(ConfigError, match="no indicator"):
        write_request_template(folder, "third_sector")


def test_the_command_writes_and_checks(folder: Path) -> None:
    runner = CliRunner()
    out = folder / "data" / "asl.xlsx"
    done = runner.invoke(
        cli,
        [
            "request-template",
            "--provider",
            "comune",
            "--observatory",
            str(folder),
            "--out",
            str(out),
            "--ask-covered",
        ],
    )
    assert done.exit_code == 0, done.output
    assert out.exists() and out.with_name("asl.xlsx.sources.yaml").exists()
    fill(out, value="molti")
    checked = runner.invoke(cli, ["request-template", "--check", str(out)])
    assert checked.exit_code == 1
    assert "sheet 'POP_TOTAL', row 7, column 'E'" in checked.output


def _value_cell(sheet: Any, row: int) -> str:
    header = [c.value for c in sheet[HEADER_ROW]]
    return f"{'ABCDEFG'[header.index('Valore')]}{row}"


def test_negative_or_fractional_counts_are_refused_by_the_sheets_own_rule(
    folder: Path,
) -> None:
    """Excel's validation only guards typing; a file edited elsewhere is checked on reading."""
    result = write_request_template(
        folder, "comune", folder / "data" / "comuni.xlsx", ask_covered=True
    )
    fill(result.path)
    book = load_workbook(result.path)
    births = book["BIRTHS"]
    births[_value_cell(births, HEADER_ROW + 2)] = -1
    births[_value_cell(births, HEADER_ROW + 5)] = 2.5
    births[_value_cell(births, HEADER_ROW + 6)] = 0  # zero births is a real figure
    book.save(result.path)
    problems = check_filled_template(result.path)
    assert [(p.location.sheet, p.location.row) for p in problems if p.location] == [
        ("BIRTHS", HEADER_ROW + 2),
        ("BIRTHS", HEADER_ROW + 5),
    ]
    assert "-1 is not a whole number >= 0" in str(problems[0])
    assert "2.5 is not a whole number >= 0" in str(problems[1])


def test_without_the_sheets_validation_the_catalogue_rule_applies(folder: Path) -> None:
    result = write_request_template(
        folder, "comune", folder / "data" / "comuni.xlsx", ask_covered=True
    )
    fill(result.path)
    book = load_workbook(result.path)
    births = book["BIRTHS"]
    births.data_validations.dataValidation = []  # as after a copy into another program
    births[_value_cell(births, HEADER_ROW + 1)] = 3.25
    book.save(result.path)
    [problem] = check_filled_template(result.path)
    assert problem.location is not None and problem.location.row == HEADER_ROW + 1
    assert "whole number" in str(problem)


def test_the_rule_is_read_from_the_validation(folder: Path) -> None:
    from welfare_observatory.scaffold.request_check import ValueRule, value_rule

    result = write_request_template(
        folder, "comune", folder / "data" / "comuni.xlsx", ask_covered=True
    )
    births = load_workbook(result.path)["BIRTHS"]
    column = _value_cell(births, HEADER_ROW + 1)[0]
    assert value_rule(births, column) == ValueRule(whole=True, low=0.0)
    assert value_rule(births, "A") is None
