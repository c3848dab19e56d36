"""Worksheet cells formatted as percent (issue 18, item 12): a ``0.0%`` cell stores 0.125 and
shows 12.5%. It reads as the 12.5 a person sees, flagged like a text cell with a trailing
``%``, so harmonization keeps it only for an indicator in percent; anywhere else it is
missing with a finding, and the reader's finding names the file, the sheet and the cells."""

from __future__ import annotations

import io
import math
import zipfile
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from welfare_observatory.errors import ParseError
from welfare_observatory.harmonize import CodeTable, HarmonizeRule, harmonize
from welfare_observatory.model import Indicator
from welfare_observatory.sources.notes import parse_findings
from welfare_observatory.sources.tabular import read_table
from welfare_observatory.sources.tabular_options import TabularOptions
from welfare_observatory.sources.xlsx_formats import Percent, hundredfold, percent_kinds

CODES = ["096004", "096021", "096003", "096009", "096013", "096015"]


def book(cells: list[tuple[object, str | None]], header: str = "2022") -> bytes:
    """One sheet ``Dati``: a code column and one value column, each value with its format."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Dati"
    sheet.append(["Codice", header])
    for row, (code, (value, number_format)) in enumerate(zip(CODES, cells, strict=False), 2):
        sheet.append([code, value])
        if number_format is not None:
            sheet.cell(row=row, column=2).number_format = number_format
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def rows(data: bytes, **options: object) -> list[dict[str, Any]]:
    table = read_table(data, TabularOptions.model_validate(options), file="f.xlsx")
    out: list[dict[str, Any]] = table.to_pylist()
    return out


@pytest.mark.parametrize(
    ("stored", "number_format", "shown"),
    [(0.125, "0%", 12.5), (0.125, "0.0%", 12.5), (0.0725, "0.00%", 7.25), (1, "0%", 100.0)],
)
def test_a_percent_cell_reads_as_the_number_shown(
    stored: float, number_format: str, shown: float
) -> None:
    data = book([(stored, number_format), (3.5, None)])
    first, second = rows(data)
    assert (first["2022"], first["2022__percent"]) == (shown, True)
    assert (second["2022"], second["2022__percent"]) == (3.5, False)  # General: as stored


def test_the_reader_finding_names_file_sheet_and_cells() -> None:
    data = book([(0.1, "0%"), (2, None), (0.3, "0.0%")])
    table = read_table(data, file="asl.xlsx", source="asl")
    (finding,) = [f for f in parse_findings(table) if f.code == "percent-format"]
    assert finding.severity.value == "info" and finding.count == 2
    assert (finding.source, finding.column, finding.row) == ("asl", "B", 2)
    assert "'Dati'" in finding.message and "asl.xlsx" in finding.message
    assert "B2, B4" in finding.message


def test_a_mixed_column_reads_each_cell_as_shown() -> None:
    # Percent-formatted numbers, a plain number, text with a % sign, a marker, an error value
    # and a percent-formatted text cell, all in one year column.
    data = book(
        [
            (0.07, "0%"),  # 0.07 * 100 is 7.000000000000001 in binary: the shown 7 is read
            (12.5, "General"),
            ("7,5%", None),
            ("-", "0.0%"),
            ("#DIV/0!", "0.0%"),
            (-0.035, "0.0%"),
        ]
    )
    out = {r["Codice"]: r for r in rows(data)}
    got = [(out[c]["2022"], out[c]["2022__percent"], out[c]["2022__status"]) for c in CODES]
    assert got == [
        (7.0, True, "A"),
        (12.5, False, "A"),
        (7.5, True, "A"),
        (0.0, False, "A"),  # Istat's "-" is a true zero, whatever the cell's format
        (None, False, "O"),
        (-3.5, True, "A"),
    ]


def test_a_quoted_percent_sign_shows_the_number_stored() -> None:
    # 0.0"%" prints 12.5 followed by a literal %: the number shown is the one stored.
    ((value, flagged),) = [(r["2022"], r["2022__percent"]) for r in rows(book([(12.5, '0.0"%"')]))]
    assert (value, flagged) == (12.5, True)


def test_sections_are_taken_by_sign() -> None:
    # Positive numbers as plain numbers, negative ones as percentages.
    data = book([(0.25, "0.00;-0.00%"), (-0.25, "0.00;-0.00%")])
    got = [(r["2022"], r["2022__percent"]) for r in rows(data)]
    assert got == [(0.25, False), (-25.0, True)]


def test_without_percent_formats_nothing_changes() -> None:
    data = book([(0.125, "0.00"), (3, None)])
    table = read_table(data)
    assert "2022__percent" not in table.column_names
    assert table.column("2022").to_pylist() == [0.125, 3.0]
    assert not [f for f in parse_findings(table) if f.code == "percent-format"]


def test_a_percent_cell_read_as_a_code_is_the_number_shown() -> None:
    # A column of codes (by its header) shows the number a person sees, without the sign.
    data = book([(0.5, "0%"), (0.25, "0%")], header="Codice comune")
    assert [r["Codice comune"] for r in rows(data)] == ["50", "25"]


def test_the_markup_guard_still_holds_for_a_workbook_with_percent_formats() -> None:
    data = book([(0.125, "0.0%")])
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/styles.xml":
                content = content.replace(b"<", b'<!DOCTYPE x [<!ENTITY e "boom">]><', 1)
            target.writestr(item, content)
    with pytest.raises(ParseError, match="DOCTYPE"):
        read_table(out.getvalue(), file="t.xlsx")


# -- through harmonization ----------------------------------------------------------------------


def indicator(id_: str, unit: str) -> Indicator:
    return Indicator.model_validate(
        {
            "id": id_,
            "label": {"it": id_, "en": id_},
            "definition": {"it": f"Definizione di {id_}.", "en": f"Definition of {id_}."},
            "unit": unit,
            "polarity": "neutral",
            "domain": "demography",
            "measure": "stock",
            "reference_point": "jan_1",
            "aggregation": "sum" if unit == "person" else "none",
            "source": {"publisher": "Istat", "dataset": "test", "url": "https://www.istat.it/"},
        }
    )


INDICATORS = {
    "SHARE": indicator("SHARE", "percent"),
    "RATE": indicator("RATE", "per_thousand"),
    "POP": indicator("POP", "person"),
}


def harmonized(data: bytes, ind: str):  # type: ignore[no-untyped-def]
    rule = {
        "indicator": {"value": ind},
        "territory": {"column": "Codice", "scheme": "istat"},
        "period": {"column": "period"},
        "melt": {"pattern": r"\d{4}"},
    }
    return harmonize(
        read_table(data, file="f.xlsx"),
        HarmonizeRule.model_validate(rule),
        codes=CodeTable.from_registry(),
        indicators=INDICATORS,
        source="s",
    )


def test_an_indicator_in_percent_keeps_the_number_shown() -> None:
    result = harmonized(book([(0.125, "0.0%"), (8, None)]), "SHARE")
    values = {r["territory"]: r["value"] for r in result.table.to_pylist()}
    assert values == {"096004": 12.5, "096021": 8.0}
    assert not [f for f in result.findings if f.code == "percent-sign"]


@pytest.mark.parametrize("ind", ["RATE", "POP"])
def test_another_unit_reads_the_cell_as_missing_with_a_finding(ind: str) -> None:
    result = harmonized(book([(0.125, "0.0%"), (8, None)]), ind)
    out = {r["territory"]: r for r in result.table.to_pylist()}
    assert out["096004"]["value"] is None and out["096004"]["obs_status"] == "O"
    assert out["096021"]["value"] == 8.0  # cells without a percent format are read
    (finding,) = [f for f in result.findings if f.code == "percent-sign"]
    assert finding.severity.value == "warning" and finding.count == 1
    assert (finding.column, finding.row) == ("2022", 0)


# -- properties ---------------------------------------------------------------------------------

FLOATS = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)


@settings(max_examples=300, deadline=None)
@given(st.lists(FLOATS, min_size=1, max_size=50))
def test_hundredfold_moves_the_decimal_point_of_the_number_stored(values: list[float]) -> None:
    got = hundredfold(np.array(values, dtype="float64"))
    for value, shown in zip(values, got, strict=True):
        assert shown == float(Decimal(repr(value)).scaleb(2))
        # abs_tol: a subnormal float has fewer digits than 100 times it needs
        assert math.isclose(shown, value * 100, rel_tol=1e-15, abs_tol=1e-300)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.lists(FLOATS.filter(lambda v: v != 0), min_size=1, max_size=6),
    st.sampled_from(["0%", "0.0%", "0.00%", "#,##0.0%", "0.0%;[Red]-0.0%"]),
)
def test_a_percent_cell_reads_100_times_the_value_stored(
    values: list[float], number_format: str
) -> None:
    data = book([(v, number_format) for v in values])
    out = rows(data, value_columns=["2022"])
    for value, row in zip(stored(data), out, strict=True):
        assert row["2022"] == float(Decimal(repr(value)).scaleb(2))
        assert math.isclose(row["2022"], value * 100, rel_tol=1e-15, abs_tol=1e-300)
        assert row["2022__percent"] is True


def stored(data: bytes) -> list[float]:
    """The values the workbook holds (openpyxl writes floats with 16 significant digits)."""
    workbook = load_workbook(io.BytesIO(data), read_only=True)
    try:
        sheet: Any = workbook.active
        return [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    finally:
        workbook.close()


@given(st.text(alphabet="0#.,;%- ", max_size=20))
def test_a_percent_sign_scales_unless_it_is_quoted(code: str) -> None:
    sections = code.split(";")
    positive = sections[0]
    negative = sections[1] if len(sections) > 1 else positive
    expected = tuple(Percent.SCALED if "%" in s else Percent.NONE for s in (positive, negative))
    assert percent_kinds(code)[:2] == expected
    quoted = percent_kinds(code.replace("%", '"%"'))[:2]
    assert quoted == tuple(Percent.LITERAL if k else Percent.NONE for k in expected)
