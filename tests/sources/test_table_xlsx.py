"""XLSX tables: titles, merged header cells, cached formulas, numbers typed as text, bombs."""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import Workbook

from welfare_observatory.errors import ParseError
from welfare_observatory.sources.tabular import read_table
from welfare_observatory.sources.tabular_options import TabularOptions


def _workbook(formula: str | None = None) -> bytes:
    """A sheet as an ASL publishes it: title, note, merged year header over sex columns."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Tavola 1"
    sheet["A1"] = "Tavola 1 - Assistiti per comune e sesso"
    sheet["A2"] = "Anni 2022-2023"
    sheet.append([])
    sheet.append(["Codice comune", "Comune", "2022", None, "2023", None])
    sheet.append([None, None, "Maschi", "Femmine", "Maschi", "Femmine"])
    sheet.merge_cells("C4:D4")
    sheet.merge_cells("E4:F4")
    sheet.append(["096004", "Biella", 1200, 1300.5, "1.253.157", "-"])
    sheet.append(["096001", "Ailoche", 12, 11, 999, "...."])
    sheet.append([])
    sheet.append(["Fonte: elaborazione su dati ASL"])
    buffer = io.BytesIO()
    book.save(buffer)
    data = buffer.getvalue()
    if formula is not None:
        data = _rewrite_sheet(data, b"<v>999</v>", formula.encode())
    return data


def _rewrite_sheet(data: bytes, old: bytes, new: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                assert old in content
                content = content.replace(old, new)
            target.writestr(item, content)
    return out.getvalue()


def test_titles_merged_headers_and_notes_are_recognised() -> None:
    table = read_table(_workbook(), file="asl.xlsx")
    assert table.column_names[:5] == [
        "Codice comune",
        "Comune",
        "2022 | Maschi",
        "2022 | Maschi__status",
        "2022 | Maschi__conf",
    ]
    rows = table.to_pylist()
    assert len(rows) == 2  # the source note is not a row
    biella, ailoche = rows
    assert biella["Codice comune"] == "096004"
    assert biella["2022 | Femmine"] == 1300.5  # a true number is never re-read as Italian
    assert biella["2023 | Maschi"] == 1253157.0  # a number typed as Italian text
    assert (biella["2023 | Femmine"], biella["2023 | Femmine__status"]) == (0.0, "A")
    assert ailoche["2023 | Femmine"] is None and ailoche["2023 | Femmine__status"] == "O"


def test_sheet_by_name_number_and_a_wrong_name() -> None:
    data = _workbook()
    assert read_table(data, TabularOptions(sheet="Tavola 1")).equals(read_table(data))
    assert read_table(data, TabularOptions(sheet=1)).equals(read_table(data))
    with pytest.raises(ParseError) as info:
        read_table(data, TabularOptions(sheet="Tavola1"))
    assert "Tavola 1" in (info.value.hint or "")
    with pytest.raises(ParseError):
        read_table(data, TabularOptions(sheet=3))


def test_a_formula_is_read_from_its_saved_value_never_evaluated() -> None:
    data = _workbook(formula='<f>WEBSERVICE("http://127.0.0.1:9/x")</f><v>7</v>')
    rows = read_table(data).to_pylist()
    assert rows[1]["2023 | Maschi"] == 7.0


def test_a_formula_without_a_saved_value_is_an_error_naming_the_cell() -> None:
    data = _workbook(formula="<f>SUM(C6:D6)</f>")
    with pytest.raises(ParseError) as info:
        read_table(data, file="asl.xlsx", source="asl")
    assert info.value.location is not None
    assert info.value.location.key == "E7" and info.value.location.sheet == "Tavola 1"
    assert "never evaluated" in info.value.message


def test_a_zip_bomb_is_refused_before_it_is_inflated() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b" " * 30_000_000)
    with pytest.raises(ParseError) as info:
        read_table(out.getvalue(), file="bomb.xlsx")
    assert "zip bomb" in info.value.message


def test_total_size_is_bounded_too() -> None:
    with pytest.raises(ParseError) as info:
        read_table(_workbook(), TabularOptions(max_uncompressed_bytes=1000))
    assert "expand" in info.value.message


@pytest.mark.parametrize(
    "data", [b"PK\x03\x04truncated", _workbook()[:2000]], ids=["garbage", "truncated"]
)
def test_broken_workbooks_are_parse_errors(data: bytes) -> None:
    with pytest.raises(ParseError) as info:
        read_table(data, file="broken.xlsx", source="s")
    assert info.value.location is not None and info.value.location.file == "broken.xlsx"
