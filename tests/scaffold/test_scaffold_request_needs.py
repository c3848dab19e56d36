"""A data request asks a provider only for what no installed source gives, says what it left
out and why, speaks Italian, and an unfilled one is called empty on --check."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from welfare_observatory.cli.main import cli
from welfare_observatory.errors import ConfigError
from welfare_observatory.scaffold.request_template import (
    HEADER_ROW,
    LEFT_OUT,
    write_request_template,
)

OBSERVATORY = """\
id: test_needs
name: {it: Prova bisogni, en: Needs test}
edition: "2025"
territory: {code: "096", reference_date: 2024-01-01}
indicators:
  add: [BIRTHS, DEATHS, FOREIGN_PUPILS]
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "obs" / "data").mkdir(parents=True)
    (tmp_path / "obs" / "observatory.yaml").write_text(OBSERVATORY, "utf-8")
    return tmp_path / "obs"


def test_what_istat_publishes_by_municipality_is_left_out_with_the_reason(folder: Path) -> None:
    result = write_request_template(folder, "comune", folder / "data" / "comuni.xlsx")
    assert list(result.sheets.values()) == ["FOREIGN_PUPILS"]
    assert set(result.left_out) >= {"BIRTHS", "DEATHS"}
    assert "Istat" in result.left_out["BIRTHS"] and "22_315" in result.left_out["BIRTHS"]
    book = load_workbook(result.path, read_only=True)
    listed = [row for row in book[LEFT_OUT].iter_rows(values_only=True) if row and row[0]]
    assert ("BIRTHS" in {r[0] for r in listed}) and any("sdmx" in str(r[-1]) for r in listed)
    asked_anyway = write_request_template(
        folder, "comune", folder / "data" / "tutto.xlsx", ask_covered=True
    )
    assert {"BIRTHS", "DEATHS", "FOREIGN_PUPILS"} <= set(asked_anyway.sheets.values())
    assert asked_anyway.left_out == {}


def test_nothing_left_to_ask_says_the_rest_is_covered(folder: Path) -> None:
    (folder / "observatory.yaml").write_text(
        OBSERVATORY.replace("[BIRTHS, DEATHS, FOREIGN_PUPILS]", "[BIRTHS]"), "utf-8"
    )
    with pytest.raises(ConfigError, match="covered by installed sources"):
        write_request_template(folder, "comune", folder / "data" / "x.xlsx")


def test_the_sheet_speaks_italian(folder: Path) -> None:
    result = write_request_template(folder, "comune", folder / "data" / "comuni.xlsx")
    sheet = load_workbook(result.path, read_only=True)["FOREIGN_PUPILS"]
    titles = [row[0] for row in sheet.iter_rows(max_row=HEADER_ROW - 1, values_only=True)]
    unit_line = next(t for t in titles if t and str(t).startswith("Unità"))
    assert unit_line.startswith("Unità: persone;") and "person;" not in unit_line


def test_check_calls_an_unfilled_request_empty_and_a_filled_one_valid(folder: Path) -> None:
    out = folder / "data" / "comuni.xlsx"
    runner = CliRunner()
    made = runner.invoke(
        cli,
        [
            "request-template",
            "--provider",
            "comune",
            "--observatory",
            str(folder),
            "--out",
            str(out),
        ],
    )
    assert made.exit_code == 0, made.output
    assert "BIRTHS" in made.output  # listed as not asked, with the reason
    empty = runner.invoke(cli, ["request-template", "--check", str(out)])
    assert empty.exit_code == 1 and "empty" in empty.output and "every cell" not in empty.output
    book = load_workbook(out)
    sheet = book["FOREIGN_PUPILS"]
    header = [c.value for c in sheet[HEADER_ROW]]
    sheet.cell(HEADER_ROW + 1, header.index("Valore") + 1).value = 12
    book.save(out)
    filled = runner.invoke(cli, ["request-template", "--check", str(out)])
    assert filled.exit_code == 0, filled.output
    assert "every cell is valid (1 of" in filled.output
