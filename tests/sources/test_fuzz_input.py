"""Fuzz tests: hostile and broken input through every source type, harmonize and the
configuration loader (issue 18). Two promises are checked on every example:

- only the library's typed errors escape (a ``WelfareObservatoryError``), never a
  traceback from pandas, openpyxl, lxml, sdmx1, json or yaml;
- no value changes without a word: a value cell read as a number holds that number, and a
  cell read as missing is empty, a declared marker, or named in a finding.

Examples are bounded (``max_examples``) so the suite stays fast.
"""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from welfare_observatory.config import load_config
from welfare_observatory.errors import Location, WelfareObservatoryError
from welfare_observatory.harmonize import CodeTable, HarmonizeRule, harmonize
from welfare_observatory.sdk import FetchContext
from welfare_observatory.sources.ckan_datastore import datastore_table
from welfare_observatory.sources.notes import parse_findings
from welfare_observatory.sources.sdmx import SdmxSource
from welfare_observatory.sources.table import TableSource
from welfare_observatory.sources.tabular import read_table
from welfare_observatory.sources.tabular_options import ISTAT_MARKERS, TabularOptions
from welfare_observatory.sources.tabular_values import ERROR_VALUE, NOT_AVAILABLE
from welfare_observatory.sources.tidy import read_tidy

FAST = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Cells of every class the issue lists: plain numbers, numbers in either locale, units and
# percent signs, overflow, error values, markers, "not available" text, empty cells.
PLAIN = st.integers(-999, 999).map(str)
LOCALE = st.sampled_from(["1.234", "1.234,5", "1,234.5", "12,5", "0,5", "1 234", "1'234"])
ODD = st.sampled_from(["12%", "3 kg", "1e999", "-1e999", "NaN", "inf", "n.d.", "N/A", "x"])
ERRORS = st.sampled_from(["#DIV/0!", "#N/A", "#VALUE!", "#REF!", "#NAME?", "#NUM!"])
MARKERS = st.sampled_from(sorted(ISTAT_MARKERS))
NA = st.sampled_from([*sorted(NOT_AVAILABLE), "N.D.", "N/A", "Nd", "N.A."])
PERCENT = st.tuples(st.integers(-999, 999), st.sampled_from(["%", " %"])).map(
    lambda p: f"{p[0]}{p[1]}"
)
CELL = st.one_of(PLAIN, LOCALE, ODD, ERRORS, MARKERS, NA, PERCENT, st.just(""), st.text(max_size=6))


def only_typed(call, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Call; a typed library error is an answer, anything else fails the test."""
    try:
        return call(*args, **kwargs)
    except WelfareObservatoryError as exc:
        assert str(exc)  # readable
        return None


# -- arbitrary bytes through every reader ---------------------------------------------------


@FAST
@given(st.binary(max_size=400))
def test_arbitrary_bytes_through_the_table_reader(data: bytes) -> None:
    only_typed(read_table, data, file="x", source="s")
    only_typed(read_table, b"PK\x03\x04" + data, file="x.xlsx", source="s")


@FAST
@given(st.binary(max_size=400))
def test_arbitrary_bytes_through_the_datastore_reader(data: bytes) -> None:
    only_typed(datastore_table, data, TabularOptions(), Location(source="c"))


@FAST
@given(st.binary(max_size=400) | st.text(max_size=200).map(lambda t: ("<" + t).encode()))
def test_arbitrary_bytes_through_every_source_type(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "obs").mkdir(exist_ok=True)
    (tmp_path / "obs" / "f").write_bytes(data)
    ctx = FetchContext.create(tmp_path / "cache", base_dir=tmp_path / "obs")
    for source in (TableSource("t", {"path": "f"}), SdmxSource("s", {"path": "f"})):
        [payload] = source.fetch(ctx.for_source(source.id))
        only_typed(source.parse, payload)


def test_arbitrary_bytes_through_a_plugin_source(tmp_path: Path) -> None:
    plugin = pytest.importorskip("welfare_observatory_eurostat_tsv")

    @FAST
    @given(st.binary(max_size=300))
    def check(data: bytes) -> None:
        (tmp_path / "obs").mkdir(exist_ok=True)
        (tmp_path / "obs" / "f.tsv").write_bytes(data)
        ctx = FetchContext.create(tmp_path / "cache", base_dir=tmp_path / "obs")
        source = plugin.EurostatTsvSource("e", {"path": "f.tsv"})
        [payload] = source.fetch(ctx.for_source("e"))
        only_typed(source.parse, payload)

    check()


# -- broken structure, other locales, error cells, markers -----------------------------------


def csv_of(rows: list[list[str]]) -> bytes:
    return "\n".join(";".join(row) for row in rows).encode("utf-8")


@FAST
@given(
    st.lists(st.lists(CELL.filter(lambda c: ";" not in c and '"' not in c), max_size=5), max_size=6)
)
def test_ragged_tables_of_any_cells_end_in_a_table_or_a_typed_error(rows: list[list[str]]) -> None:
    data = csv_of([["Comune", "2020", "2021"], *[["Biella", *row] for row in rows]])
    only_typed(read_table, data, file="f.csv", source="s")


@FAST
@given(st.lists(st.tuples(CELL, CELL), min_size=1, max_size=8))
def test_no_value_changes_without_a_finding(cells: list[tuple[str, str]]) -> None:
    assume(all(";" not in a + b and '"' not in a + b and "\n" not in a + b for a, b in cells))
    rows = [["Comune", "2020", "2021"]] + [[f"c{i}", a, b] for i, (a, b) in enumerate(cells)]
    table = only_typed(read_table, csv_of(rows), file="f.csv", source="s")
    if table is None:
        return
    codes = {(f.code, f.column) for f in parse_findings(table)}
    out = table.to_pylist()
    # No row lost and none shifted: only trailing rows with no value at all may go, as
    # notes after the table (the reader's footer rule).
    assert [r["Comune"] for r in out] == [f"c{i}" for i in range(len(out))]
    assert all(not "".join(texts).strip() for texts in cells[len(out) :])
    for record, texts in zip(out, cells[: len(out)], strict=True):
        for column, text in zip(("2020", "2021"), texts, strict=True):
            value, status = record[column], record[column + "__status"]
            cell = " ".join(text.split())
            if re.fullmatch(r"-?\d{1,3}", cell):
                assert (value, status) == (float(cell), "A")
            elif cell == "":
                assert value is None and status == "O"
            elif cell in ISTAT_MARKERS:
                marker = ISTAT_MARKERS[cell]
                assert status == marker.obs_status.value
                assert value == marker.value or (value is None and marker.value is None)
            elif re.fullmatch(ERROR_VALUE, cell):
                assert value is None and ("error-cell", column) in codes
            elif cell.casefold() in NOT_AVAILABLE:
                assert value is None and status == "O" and ("not-available", column) in codes
            elif re.fullmatch(r"-?\d{1,3} ?%", cell):
                # Read as written and flagged: harmonize decides by the unit (tested below).
                assert value == float(cell.rstrip("% ")) and record[column + "__percent"]
            if value is not None and not math.isfinite(value):
                # Only an overflowing number gets here; harmonize refuses it (tested below).
                assert re.fullmatch(r"[+-]?[\d.,]*[eE][+-]?\d+", cell), cell


@FAST
@given(
    st.lists(
        st.lists(st.one_of(PLAIN, NA, PERCENT, ERRORS, st.just("")), min_size=0, max_size=3),
        min_size=1,
        max_size=8,
    )
)
def test_short_rows_are_named_and_nothing_is_shifted(rows: list[list[str]]) -> None:
    """Rows of any length under a four-column header: a data row (two or more cells) with
    fewer than four is named in a short-row finding; its cells stay under their headers."""
    lines = [["Comune", "2019", "2020", "2021"]] + [[f"c{i}", *row] for i, row in enumerate(rows)]
    table = only_typed(read_table, csv_of(lines), file="f.csv", source="s")
    if table is None:
        return
    found = {f.code: f for f in parse_findings(table)}
    out = {r["Comune"]: r for r in table.to_pylist()}
    short = [i for i, row in enumerate(rows) if len(row) < 3 and sum(bool(c) for c in row) >= 1]
    if short:
        assert "short-row" in found and found["short-row"].row == short[0] + 2
        assert found["short-row"].count == len(short)
    else:
        assert "short-row" not in found
    for i, row in enumerate(rows):
        record = out.get(f"c{i}")
        if record is None:
            continue  # a row without values after the last data row: the footer rule
        for column, cell in zip(("2019", "2020", "2021"), [*row, "", "", ""], strict=False):
            if re.fullmatch(r"-?\d{1,3}", cell) and column in record:
                assert record[column] == float(cell)  # never shifted into another column


@FAST
@given(st.lists(st.tuples(st.one_of(PLAIN, NA, PERCENT, ERRORS), PLAIN), min_size=1, max_size=6))
def test_the_tidy_reader_reads_signs_and_percent_cells_as_the_detecting_reader(
    cells: list[tuple[str, str]],
) -> None:
    data = csv_of(
        [["Comune", "2020", "2021"]] + [[f"c{i}", a, b] for i, (a, b) in enumerate(cells)]
    )
    detected = read_table(data, TabularOptions(value_columns=["2020", "2021"]))
    tidy = read_tidy(data, TabularOptions(value_columns=["2020", "2021"]))
    assert tidy.to_pylist() == detected.to_pylist()
    assert {(f.code, f.column, f.row) for f in parse_findings(tidy)} == {
        (f.code, f.column, f.row) for f in parse_findings(detected)
    }


PRINTABLE = CELL.filter(lambda c: not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", c))


@settings(FAST, max_examples=10)
@given(st.lists(st.tuples(PLAIN, PRINTABLE), min_size=1, max_size=5), st.booleans())
def test_workbooks_with_error_cells_and_hidden_sheets(
    cells: list[tuple[str, str]], hide_first: bool
) -> None:
    book = Workbook()
    first = book.active
    assert first is not None
    first.append(["lookup"])
    sheet = book.create_sheet("data") if hide_first else first
    if hide_first:
        first.sheet_state = "hidden"
    else:
        sheet.delete_rows(1)
    sheet.append(["Comune", "2020", "2021"])
    for i, (a, b) in enumerate(cells):
        sheet.append([f"c{i}", int(a), b])
    buffer = io.BytesIO()
    book.save(buffer)
    table = only_typed(read_table, buffer.getvalue(), file="w.xlsx", source="s")
    if table is not None:
        assert table.column("Comune").to_pylist()[0] == "c0"
        assert table.column("2020").to_pylist() == [float(a) for a, _ in cells]


# -- markup, JSON ------------------------------------------------------------------------------

MESSAGE = (
    b'<?xml version="1.0"?><m:GenericData xmlns:m="http://www.sdmx.org/resources/sdmxml/'
    b'schemas/v2_1/message"><m:Header><m:ID>x</m:ID></m:Header></m:GenericData>'
)


@FAST
@given(
    st.integers(0, len(MESSAGE)),
    st.sampled_from(
        [
            b'<!DOCTYPE x [<!ENTITY a "b">]>',
            b'<!ENTITY e SYSTEM "file:///etc/passwd">',
            b"<!doctype x>",
            b"<! ENTITY x 'y'>",
        ]
    ),
)
def test_markup_anywhere_in_an_sdmx_message_is_refused(
    tmp_path: Path, where: int, markup: bytes
) -> None:
    (tmp_path / "obs").mkdir(exist_ok=True)
    (tmp_path / "obs" / "m.xml").write_bytes(MESSAGE[:where] + markup + MESSAGE[where:])
    ctx = FetchContext.create(tmp_path / "cache", base_dir=tmp_path / "obs")
    source = SdmxSource("s", {"path": "m.xml"})
    [payload] = source.fetch(ctx.for_source("s"))
    with pytest.raises(WelfareObservatoryError) as info:
        source.parse(payload)
    assert info.value.location is not None and info.value.location.source == "s"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)


@FAST
@given(JSON_VALUES, st.sampled_from(["", "NaN", "Infinity", "-Infinity", "deep"]))
def test_any_json_answer_through_the_datastore_reader(value: object, token: str) -> None:
    records = [{"v": value, "n": 1}]
    body = json.dumps(
        {"result": {"fields": [{"id": "v"}, {"id": "n", "type": "int"}], "records": records}}
    )
    if token == "deep":
        body = "[" * 3000 + body + "]" * 3000
    elif token:
        body = body.replace('"n": 1', f'"n": {token}')
    only_typed(datastore_table, body.encode(), TabularOptions(), Location(source="c"))


# -- harmonize -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def codes() -> CodeTable:
    from welfare_observatory.territory import registry

    return CodeTable.from_registry(registry())


@settings(FAST, max_examples=20)
@given(
    st.lists(st.one_of(PLAIN, PERCENT, NA), min_size=1, max_size=6),
    st.sampled_from(["percent", "per_thousand", "person"]),
)
def test_percent_cells_keep_their_number_only_in_percent(
    codes: CodeTable, cells: list[str], unit: str
) -> None:
    rows = [["Codice", "2021"]] + [[code, cell] for code, cell in zip(_CODES, cells, strict=False)]
    table = read_table(csv_of(rows), TabularOptions(value_columns=["2021"]))
    rule = HarmonizeRule.model_validate(
        {
            "indicator": {"value": "X"},
            "territory": {"column": "Codice", "scheme": "istat"},
            "period": {"value": "2021"},
            "value": {"column": "2021"},
            "unit": {"unit": unit},
        }
    )
    result = harmonize(table, rule, codes=codes, source="s")
    out = {r["territory"]: r for r in result.table.to_pylist()}
    flagged = [f for f in result.findings if f.code == "percent-sign"]
    for code, cell in zip(_CODES, cells, strict=False):
        value = out[code]["value"]
        if cell.endswith("%"):
            number = float(cell.rstrip("% "))
            if unit == "percent":
                assert value == number
            else:
                assert value is None and out[code]["obs_status"] == "O" and flagged
        elif re.fullmatch(r"-?\d{1,3}", cell):
            assert value is not None
    if not any(c.endswith("%") for c in cells) or unit == "percent":
        assert not flagged


_CODES = ["096004", "096021", "096003", "096009", "096013", "096015"]


@settings(FAST, max_examples=25)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["096004", "96004", "", "999999", "Biella", "096021"]),
            st.sampled_from(["2020", "", "20x0", "2021"]),
            st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
            st.sampled_from(["M", "F", "", "T"]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_harmonize_answers_with_findings_never_with_a_traceback(
    codes: CodeTable, rows: list[tuple[str, str, float | None, str]]
) -> None:
    table = pa.table(
        {
            "terr": [r[0] or None for r in rows],
            "year": [r[1] for r in rows],
            "v": pa.array([r[2] for r in rows], pa.float64()),
            "sex": [r[3] or None for r in rows],
        }
    )
    rule = HarmonizeRule.model_validate(
        {
            "indicator": {"value": "POP"},
            "territory": {"column": "terr"},
            "period": {"column": "year"},
            "value": {"column": "v"},
            "unit": {"unit": "person"},
            "breakdowns": {"sex": {"column": "sex", "map": {"": "_T"}}},
        }
    )
    result = only_typed(harmonize, table, rule, codes=codes, source="s")
    if result is None:
        return
    values = result.table.column("value").to_pylist()
    assert all(v is None or math.isfinite(v) for v in values)
    assert result.table.num_rows <= table.num_rows
    # Every row left out is accounted for by an error or a repeated-row warning.
    if result.table.num_rows < table.num_rows:
        assert any(f.severity == "error" or f.code == "duplicate-row" for f in result.findings)


# -- configuration -------------------------------------------------------------------------------

CONFIG_HEAD = """\
id: biella
name: {it: OsservaBiella, en: Biella observatory}
edition: "2025"
territory:
  code: "096"
  reference_date: 2024-01-01
indicators:
  profile: mature
"""

FRAGMENTS = st.sampled_from(
    [
        "x: &a [1, 2]\ny: *a\n",
        "edition: '2026'\n",
        "sources:\n  s:\n    type: sdmx\n    options: {service: istat, dataflow: X,"
        " start_period: '2024', end_period: '2020'}\n",
        "sources:\n  s:\n    type: table\n    options: {path: ../../etc/passwd}\n",
        "sources:\n  s:\n    type: table\n    options: {path: a.csv, decimal: ';'}\n",
        "sources:\n  s:\n    type: table\n    rules: {indicator: {value: X}}\n",
        "deep: " + "[" * 200 + "]" * 200 + "\n",
        "report: {languages: [fr]}\n",
        "\t- broken: [\n",
        "!!python/object:os.system {}\n",
    ]
)


@FAST
@given(st.lists(FRAGMENTS, max_size=3), st.text(max_size=40))
def test_the_configuration_loader_answers_only_with_config_errors(
    tmp_path: Path, fragments: list[str], noise: str
) -> None:
    text = CONFIG_HEAD + "".join(fragments) + ("# " + noise.replace("\n", " ") + "\n")
    (tmp_path / "observatory.yaml").write_text(text, encoding="utf-8")
    only_typed(load_config, tmp_path)


@FAST
@given(st.binary(max_size=300))
def test_arbitrary_bytes_as_a_configuration_file(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "observatory.yaml").write_bytes(data)
    only_typed(load_config, tmp_path)
