"""A trailing percent sign is read only for an indicator in percent (issue 18, item 12):
checked against the unit in harmonize; anywhere else the value is missing with a finding
naming the cell, never a number."""

from __future__ import annotations

import pyarrow as pa
import pytest

from welfare_observatory.harmonize import CodeTable, HarmonizeRule, harmonize
from welfare_observatory.model import Indicator
from welfare_observatory.sources.tabular import read_table
from welfare_observatory.sources.tabular_options import TabularOptions
from welfare_observatory.sources.tidy import read_tidy


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


def run(table: pa.Table, ind: str, unit: str | None = None):  # type: ignore[no-untyped-def]
    codes = CodeTable.from_registry()
    rule = {
        "indicator": {"value": ind},
        "territory": {"column": "Codice", "scheme": "istat"},
        "period": {"column": "period"},
        "melt": {"pattern": r"\d{4}"},
        **({"unit": {"unit": unit}} if unit else {}),
    }
    return harmonize(
        table, HarmonizeRule.model_validate(rule), codes=codes, indicators=INDICATORS, source="s"
    )


DATA = b"Codice;2022;2023\n096004;12,5%;13\n096021;7 %;8,25\n"


@pytest.mark.parametrize("reader", [read_table, read_tidy])
def test_a_percent_cell_is_read_for_an_indicator_in_percent(reader: object) -> None:
    result = run(reader(DATA, TabularOptions(), file="f.csv"), "SHARE")  # type: ignore[operator]
    rows = {(r["territory"], r["period"]): r for r in result.table.to_pylist()}
    assert rows[("096004", "2022")]["value"] == 12.5
    assert rows[("096021", "2022")]["value"] == 7.0
    assert rows[("096021", "2023")]["value"] == 8.25
    assert not [f for f in result.findings if f.code == "percent-sign"]


@pytest.mark.parametrize("ind", ["RATE", "POP"])
def test_a_percent_cell_is_missing_with_a_finding_elsewhere(ind: str) -> None:
    result = run(read_table(DATA, file="f.csv"), ind)
    rows = {(r["territory"], r["period"]): r for r in result.table.to_pylist()}
    for cell in (("096004", "2022"), ("096021", "2022")):
        assert rows[cell]["value"] is None and rows[cell]["obs_status"] == "O"
    assert rows[("096004", "2023")]["value"] is not None  # cells without % are read
    (finding,) = [f for f in result.findings if f.code == "percent-sign"]
    assert finding.severity.value == "warning" and finding.count == 2
    assert (finding.column, finding.row) == ("2022", 0)  # the wide column and source row


def test_the_rule_source_unit_decides_and_converts() -> None:
    # The source says percent; the catalogue keeps per thousand: 12.5 % is 125 per thousand.
    result = run(read_table(DATA), "RATE", unit="percent")
    rows = {(r["territory"], r["period"]): r for r in result.table.to_pylist()}
    assert rows[("096004", "2022")]["value"] == pytest.approx(125.0)
    assert not [f for f in result.findings if f.code == "percent-sign"]


def test_a_repeated_row_keeps_the_build_units() -> None:
    # Rows repeated exactly are harmonized again without the repeat: with the build's
    # units (a plugin's), not the library's default registry.
    from welfare_observatory.units import make_registry

    registry = make_registry(["hundred_persons = 100 * person"])
    data = b"Codice;2022\n096004;12\n096004;12\n096021;3\n"
    rule = {
        "indicator": {"value": "POP"},
        "territory": {"column": "Codice", "scheme": "istat"},
        "period": {"column": "period"},
        "melt": {"pattern": r"\d{4}"},
        "unit": {"unit": "hundred_persons"},
    }
    result = harmonize(
        read_table(data),
        HarmonizeRule.model_validate(rule),
        codes=CodeTable.from_registry(),
        indicators=INDICATORS,
        source="s",
        units=registry,
    )
    assert [f.code for f in result.findings if f.severity.value == "error"] == []
    rows = {r["territory"]: r["value"] for r in result.table.to_pylist()}
    assert rows == {"096004": 1200.0, "096021": 300.0}
