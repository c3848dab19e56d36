"""Damaged cells and messages end in typed errors, wide rows in a narrow grid (a second
fuzz campaign, issue 19: every source type answers hostile input with a finding or a typed
error, never a traceback, and never in time or memory that grows past the file's size)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
from pydantic import ValidationError

from welfare_observatory.errors import Location, ParseError
from welfare_observatory.sources.notes import parse_findings
from welfare_observatory.sources.sdmx_read import MessageError, read_csv, read_message
from welfare_observatory.sources.table import TableOptions
from welfare_observatory.sources.tabular import read_table
from welfare_observatory.sources.tabular_grid import read_csv_grid
from welfare_observatory.sources.tabular_options import MAX_COLUMNS
from welfare_observatory.sources.tidy import read_tidy


def _workbook(cell: bytes) -> bytes:
    """A small workbook whose cell B2 is replaced by the XML ``cell``."""
    book = Workbook()
    sheet = book.active
    sheet.append(["Comune", "2020"])
    sheet.append(["a", 1])
    sheet.append(["b", 2])
    buffer = io.BytesIO()
    book.save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = content.replace(b'<c r="B2" t="n"><v>1</v></c>', cell, 1)
            target.writestr(item, content)
    return out.getvalue()


@pytest.mark.parametrize(
    "cell",
    [
        b'<c r="B2" t="n"><v>abc</v></c>',  # a number cell holding text
        b'<c r="B2" t="s"><v>999</v></c>',  # a shared string past the table
        b'<c r="B2" t="d"><v>2020-13-45</v></c>',  # a date that does not exist
        b'<c r="ZZZZZZ2" t="n"><v>1</v></c>',  # a column past XFD
    ],
)
def test_a_damaged_workbook_cell_is_a_parse_error_naming_the_file(cell: bytes) -> None:
    with pytest.raises(ParseError, match="cannot read the sheet") as caught:
        read_table(_workbook(cell), file="w.xlsx", source="s")
    assert caught.value.location is not None and caught.value.location.file == "w.xlsx"
    assert caught.value.hint


def test_a_row_of_separators_makes_no_grid_as_wide_as_itself() -> None:
    # 18 KB: the grid was 2,002 x 10,001 cells (15 s, 1.2 GB in both readers).
    data = b"A;B\n" + b"x;1\n" * 2000 + b";" * 10000 + b"\n"
    grid = read_csv_grid(data, encoding="utf-8", separator=";", where=Location())
    assert grid.cells.shape == (2002, 2)
    assert grid.widths is not None and int(grid.widths.max()) == 10001
    options = TableOptions.model_validate({"path": "f.csv", "layout": "tidy"})
    fast, slow = read_tidy(data, options), read_table(data, options)
    assert fast.combine_chunks().equals(slow)
    assert fast.num_rows == 2000


def test_a_wide_row_with_a_cell_at_its_end_is_still_refused_by_the_tidy_reader() -> None:
    data = b"A;B\n" + b"x;1\n" * 200 + b";" * 300 + b"z\n"
    options = TableOptions.model_validate({"path": "f.csv", "layout": "tidy"})
    with pytest.raises(ParseError, match="301 cells where the header has 2"):
        read_tidy(data, options)


def test_a_table_wider_than_the_limit_is_refused_by_both_readers() -> None:
    names = ",".join(f"c{i}" for i in range(MAX_COLUMNS + 1))
    data = (names + "\n" + ",".join("1" for _ in range(MAX_COLUMNS + 1)) + "\n").encode()
    with pytest.raises(ParseError, match=f"{MAX_COLUMNS + 1} columns"):
        read_table(data)
    options = TableOptions.model_validate({"path": "f.csv", "layout": "tidy"})
    with pytest.raises(ParseError, match="columns"):
        read_tidy(data, options)


def test_a_bom_before_a_blank_first_line_is_no_header_for_the_tidy_reader() -> None:
    options = TableOptions.model_validate({"path": "f.csv", "layout": "tidy"})
    with pytest.raises(ParseError, match="header row is empty"):
        read_tidy(b"\xef\xbb\xbf\nA,B\nx,1\n", options)


@pytest.mark.parametrize("data", [b"A,B", b"A;B", b'"A","B"'])
def test_a_header_without_a_line_end_is_an_empty_table_in_both_readers(data: bytes) -> None:
    options = TableOptions.model_validate({"path": "f.csv", "layout": "tidy"})
    for table in (read_tidy(data, options), read_table(data, options)):
        assert table.num_rows == 0 and table.column_names == ["A", "B"]
        assert [f.code for f in parse_findings(table)] == ["no-rows"]


def test_zero_padding_keeps_a_sign_first_in_both_readers() -> None:
    options = TableOptions.model_validate(
        {"path": "f.csv", "layout": "tidy", "zero_pad": {"A": 6}, "value_columns": ["Value"]}
    )
    data = b"A;Value\n-1;5\n+7;6\n42;7\n"
    for table in (read_tidy(data, options), read_table(data, options)):
        assert table.column("A").to_pylist() == ["-00001", "+00007", "000042"]


def test_an_sdmx_observation_that_is_no_number_is_a_typed_error(shared_data: Path) -> None:
    data = (shared_data / "sdmx_istat_22_289.xml").read_bytes()
    structure = (shared_data / "sdmx_istat_22_289-structure.xml").read_bytes()
    first = data.index(b'OBS_VALUE="') + len(b'OBS_VALUE="')
    end = data.index(b'"', first)
    for value in (b"abc", b""):
        broken = data[:first] + value + data[end:]
        with pytest.raises(MessageError, match=r"observations .* cannot be read"):
            read_message(broken, "xml", structure)


def test_an_sdmx_csv_exported_twice_with_its_bom_reads_as_once(shared_data: Path) -> None:
    data = (shared_data / "sdmx_istat_41_983_data.csv").read_bytes()
    once = read_csv(data)
    assert read_csv(b"\xef\xbb\xbf\xef\xbb\xbf" + data.removeprefix(b"\xef\xbb\xbf")).equals(once)


@pytest.mark.parametrize("sign", ["0", "-1", "1.234", " 7 "])
def test_a_marker_written_as_a_number_is_refused_with_the_options(sign: str) -> None:
    # A number cell is read as its number first: such a marker would never apply.
    with pytest.raises(ValidationError, match="is a number"):
        TableOptions.model_validate(
            {"path": "f.csv", "markers": {sign: {"value": None, "obs_status": "M"}}}
        )
    TableOptions.model_validate(
        {"path": "f.csv", "markers": {"-": {"value": None, "obs_status": "M"}}}
    )


def _saved(book: Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _sheet_of_two_columns() -> Workbook:
    book = Workbook()
    sheet = book.active
    sheet.append(["Comune", "2020"])
    sheet.append(["a", 1])
    sheet.append(["b", 2])
    return book


def test_a_value_in_a_far_column_is_refused_without_a_grid_that_wide() -> None:
    book = _sheet_of_two_columns()
    book.active.cell(row=3, column=16384, value=1)  # column XFD
    with pytest.raises(ParseError, match="16384 columns; tables are read up to 4096"):
        read_table(_saved(book), file="w.xlsx")


def test_a_far_cell_with_a_style_and_no_value_is_no_column() -> None:
    book = _sheet_of_two_columns()
    book.active.cell(row=2, column=5000).number_format = "0.00"
    table = read_table(_saved(book), file="w.xlsx")
    assert table.column_names[:2] == ["Comune", "2020"]
    assert table.column("2020").to_pylist() == [1.0, 2.0]


def test_a_formula_without_a_saved_value_past_the_last_value_is_refused() -> None:
    # openpyxl saves no value for a formula: its column is empty in the cached grid.
    book = _sheet_of_two_columns()
    book.active["C2"] = "=B2*2"
    with pytest.raises(ParseError, match="C2 holds a formula"):
        read_table(_saved(book), file="w.xlsx")


def test_a_wide_row_and_a_quote_never_closed_are_refused_as_pandas_refuses_them() -> None:
    data = b"A;B\n" + b"x;1\n" * 20 + b";" * 500 + b'\n"y;2\nz;3\n'
    with pytest.raises(ParseError, match="never closed"):
        read_csv_grid(data, encoding="utf-8", separator=";", where=Location())
