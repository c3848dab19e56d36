"""Broken table structure is reported, never guessed around (issue 18, item 11): a CSV row
with fewer cells than the header is a finding naming file and row; hidden rows and columns
of a worksheet are a warning."""

from __future__ import annotations

import io

import pytest

from welfare_observatory.sources.notes import parse_findings
from welfare_observatory.sources.tabular import read_table


def codes(table: object) -> dict[str, object]:
    return {f.code: f for f in parse_findings(table)}  # type: ignore[arg-type]


def test_a_short_row_is_a_finding_naming_file_row_and_the_first_missing_column() -> None:
    data = b"Comune;2021;2022;2023\nBiella;1;2;3\nTrento;4;5\nBrescia;6;7;8\n"
    table = read_table(data, file="f.csv", source="s")
    finding = codes(table)["short-row"]
    assert (finding.row, finding.column, finding.source) == (3, "2023", "s")  # type: ignore[attr-defined]
    assert "f.csv" in finding.message and "3 where the header has 4" in finding.message  # type: ignore[attr-defined]
    trento = table.to_pylist()[1]
    # Nothing shifted: the cells it has stay under their headers; the one it lacks is missing.
    assert (trento["2021"], trento["2022"], trento["2023"]) == (4.0, 5.0, None)
    assert trento["2023__status"] == "O"


def test_quoted_separators_and_line_breaks_are_not_short_rows() -> None:
    data = b'Comune;Nota;2023\n"Biella; citta";"a\nb";1\nBrescia;"";2\n'
    assert "short-row" not in codes(read_table(data))


@pytest.mark.parametrize(
    "data",
    [
        b"Titolo della tavola\nComune;2022;2023\nBiella;1;2\nFonte: Istat\n",  # title, footer
        b"Comune;2022;2023\nMASCHI\nBiella;1;2\nFEMMINE\nBiella;3;4\n",  # sections
        b"Comune;2022;2023;\nBiella;1;2\n",  # header ends with a separator: nothing missing
        b"Comune;2022;2023\r\nBiella;1;2\r\n",
    ],
)
def test_titles_sections_notes_and_trailing_separators_are_not_short_rows(data: bytes) -> None:
    assert "short-row" not in codes(read_table(data))


def workbook(hide_row: int | None = None, hide_column: str | None = None) -> bytes:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    for row in [["Comune", "2022", "2023", "nota"], ["Biella", 1, 2, "x"], ["Brescia", 3, 4, "y"]]:
        sheet.append(row)
    if hide_row is not None:
        sheet.row_dimensions[hide_row].hidden = True
    if hide_column is not None:
        sheet.column_dimensions[hide_column].hidden = True
    sheet.row_dimensions[9].hidden = True  # hidden and empty: nothing to see, no finding
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_hidden_rows_and_columns_holding_cells_are_a_warning() -> None:
    table = read_table(workbook(hide_row=3, hide_column="D"), file="w.xlsx", source="s")
    found = codes(table)
    rows, columns = found["hidden-rows"], found["hidden-columns"]
    assert rows.severity.value == "warning" and rows.row == 3 and "w.xlsx" in rows.message  # type: ignore[attr-defined]
    assert columns.column == "D" and columns.source == "s"  # type: ignore[attr-defined]
    assert table.num_rows == 2  # read like the rest: the finding says so


def test_a_workbook_without_hidden_cells_has_no_such_finding() -> None:
    found = codes(read_table(workbook()))
    assert "hidden-rows" not in found and "hidden-columns" not in found
