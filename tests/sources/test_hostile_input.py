"""Hostile and broken input through the readers: markup, JSON, error cells, ragged rows,
hidden sheets, ambiguous separators, contradictory options (issue 18 items 8, 9, 11-13)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from openpyxl import Workbook

from welfare_observatory.errors import ConfigError, Location, ParseError
from welfare_observatory.sources.ckan_datastore import datastore_table
from welfare_observatory.sources.json_text import JsonError, loads
from welfare_observatory.sources.markup import find_markup
from welfare_observatory.sources.notes import parse_findings
from welfare_observatory.sources.sdmx import SdmxSource
from welfare_observatory.sources.sdmx_read import MessageError, screen_xml
from welfare_observatory.sources.tabular import read_table
from welfare_observatory.sources.tabular_options import TabularOptions


def _book(*, hidden_first: bool = False) -> bytes:
    book = Workbook()
    first = book.active
    assert first is not None
    first.title = "lookup" if hidden_first else "data"
    if hidden_first:
        first.append(["code", "label"])
        first.append(["X", "secret lookup"])
        first.sheet_state = "hidden"
        sheet = book.create_sheet("data")
    else:
        sheet = first
    sheet.append(["Comune", "2022", "2023"])
    sheet.append(["Biella", 10, "#DIV/0!"])
    sheet.append(["Cossato", 5, 7])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _with_part(data: bytes, name: str, old: bytes, new: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == name:
                assert old in content
                content = content.replace(old, new, 1)
            target.writestr(item, content)
    return out.getvalue()


DOCTYPE = b'<!DOCTYPE x [<!ENTITY e "boom">]>'


@pytest.mark.parametrize("part", ["xl/worksheets/sheet1.xml", "xl/workbook.xml", "xl/styles.xml"])
def test_a_doctype_in_any_workbook_part_is_a_typed_error_naming_the_source(part: str) -> None:
    data = _book()
    data = _with_part(data, part, b"<", DOCTYPE + b"<")
    with pytest.raises(ParseError, match="DOCTYPE") as info:
        read_table(data, file="t.xlsx", source="asl")
    assert info.value.location is not None
    assert (info.value.location.source, info.value.location.file) == ("asl", "t.xlsx")
    assert part in str(info.value)


def test_an_entity_hidden_behind_a_long_comment_is_found() -> None:
    message = b'<?xml version="1.0"?><!--' + b"x" * 100_000 + b"-->" + DOCTYPE + b"<a/>"
    with pytest.raises(MessageError, match="DOCTYPE"):
        screen_xml(message)
    assert find_markup("<a>&e;</a><!ENTITY e 'x'>".encode("utf-16")) == "ENTITY"
    assert find_markup(b"<a>plain &amp; data</a>") is None


def test_error_cells_become_missing_with_status_and_a_finding_naming_the_cell() -> None:
    table = read_table(_book(), file="t.xlsx", source="asl")
    rows = table.to_pylist()
    assert rows[0]["2023"] is None and rows[0]["2023__status"] == "O"  # missing
    [finding] = [f for f in parse_findings(table) if f.code == "error-cell"]
    assert (finding.column, finding.row, finding.source) == ("2023", 2, "asl")
    assert "#DIV/0!" in finding.message and "t.xlsx" in finding.message


def test_a_hidden_first_sheet_is_skipped_with_a_finding() -> None:
    table = read_table(_book(hidden_first=True), file="t.xlsx")
    assert table.column("Comune").to_pylist() == ["Biella", "Cossato"]
    assert any(f.code == "hidden-sheet" for f in parse_findings(table))
    named = read_table(_book(hidden_first=True), TabularOptions(sheet="lookup"))
    [finding] = [f for f in parse_findings(named) if f.code == "hidden-sheet"]
    assert finding.severity == "warning"


def test_a_row_longer_than_the_header_is_an_error_naming_row_and_column() -> None:
    data = b"Comune;2022;2023\nBiella;1;2\nCossato;3;4;5\nTrento;5;6\n"
    with pytest.raises(ParseError, match="more cells than the header") as info:
        read_table(data, file="r.csv")
    assert info.value.location is not None
    assert (info.value.location.row, info.value.location.column) == (3, 4)
    assert info.value.location.file == "r.csv"


def test_a_header_without_rows_is_a_warning_finding() -> None:
    table = read_table(b"Comune;2022;2023\n", file="h.csv")
    assert table.num_rows == 0
    assert [f.code for f in parse_findings(table)] == ["no-rows"]


def test_an_ambiguous_separator_is_a_finding_naming_the_cell() -> None:
    table = read_table(b"Comune;2023\nBiella;1.234\nCossato;5.678\n", file="a.csv")
    [finding] = [f for f in parse_findings(table) if f.code == "ambiguous-number"]
    assert (finding.column, finding.row) == ("2023", 2)
    # One cell that settles the convention, or a declaration, removes the doubt.
    settled = read_table(b"Comune;2023\nBiella;1.234\nCossato;1.234.567\n")
    assert not [f for f in parse_findings(settled) if f.code == "ambiguous-number"]
    declared = read_table(
        b"Comune;2023\nBiella;1.234\n", TabularOptions(decimal=",", thousands=".")
    )
    assert not parse_findings(declared)
    assert declared.column("2023").to_pylist() == [1234.0]


@pytest.mark.parametrize(
    "body",
    [
        b'{"result": {"fields": [], "records": [NaN]}}',
        b'{"a": Infinity}',
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_non_standard_or_deep_json_is_a_typed_error(body: bytes) -> None:
    with pytest.raises(JsonError):
        loads(body)
    with pytest.raises(ParseError) as info:
        datastore_table(body, TabularOptions(), Location(source="ckan", file="x.json"))
    assert info.value.location is not None and info.value.location.source == "ckan"


def test_an_overflowing_json_number_reaches_the_table_as_infinity_for_harmonize() -> None:
    body = json.dumps(
        {"result": {"fields": [{"id": "v", "type": "numeric"}], "records": [{"v": 1}]}}
    ).replace('"v": 1}', '"v": 1e999}')
    table = datastore_table(body.encode(), TabularOptions(), Location(source="ckan"))
    assert table.column("v").to_pylist() == [float("inf")]


def test_a_period_range_that_starts_after_it_ends_is_refused() -> None:
    with pytest.raises(ConfigError, match="start_period"):
        SdmxSource(
            "s", {"service": "istat", "dataflow": "X", "start_period": "2023", "end_period": "2019"}
        )
    SdmxSource(
        "s",
        {"service": "istat", "dataflow": "X", "start_period": "2019-Q3", "end_period": "2019-06"},
    )
