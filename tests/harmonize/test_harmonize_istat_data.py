"""Real Istat and Eurostat extracts: municipal populations summed to provinces match NUTS 3."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyarrow import csv

from welfare_observatory.derive import aggregate
from welfare_observatory.harmonize import CodeTable, harmonize, parse_rules
from welfare_observatory.model import Indicator

pytestmark = pytest.mark.shared

MUNICIPAL = """
name: resident population by municipality
filters: [{column: year, in: ["2022"]}]
indicator: {value: POP_TOTAL}
territory: {column: municipality_code, scheme: istat, level: municipality}
period: {column: year, reference_date: jan_1}
value: {column: tot}
unit: {unit: person}
"""

EUROSTAT = """
name: Eurostat demo_r_gind3, population on 1 January
indicator: {value: POP_TOTAL}
territory: {column: geo, scheme: nuts}
melt: {pattern: '\\s*(\\d{4})\\s*', names_to: year, values_to: cell}
filters: [{column: geo, in: [ITC13, ITC47, ITH20]}]
period: {column: year, reference_date: jan_1}
value: {column: cell, trailing_flags: true}
unit: {unit: person}
status: {flags_scheme: eurostat}
"""

POP_TOTAL = Indicator.model_validate(
    {
        "id": "POP_TOTAL",
        "label": {"en": "Resident population"},
        "unit": "person",
        "polarity": "neutral",
        "domain": "demography",
        "measure": "stock",
        "reference_point": "jan_1",
        "aggregation": "sum",
        "source": {"publisher": "Istat", "url": "https://demo.istat.it"},
    }
)


@pytest.fixture(scope="module")
def real_codes() -> CodeTable:
    return CodeTable.from_registry()


def read_municipal(folder: Path) -> pa.Table:
    path = folder / "istat_pop_total_all_municipalities_2022_2023.csv"
    options = csv.ConvertOptions(
        column_types={"municipality_code": pa.string(), "year": pa.string()}
    )
    table = csv.read_csv(path, convert_options=options)
    # The outer join with the registry leaves rows without population (see SOURCES.md).
    return table.filter(pc.is_valid(table["tot"]))


def read_eurostat(folder: Path) -> pa.Table:
    """What the table source hands over: the comma-joined first column split into dimensions."""
    path = folder / "eurostat_demo_r_gind3_JAN_italy_excerpt.tsv"
    table = csv.read_csv(
        path,
        parse_options=csv.ParseOptions(delimiter="\t"),
        convert_options=csv.ConvertOptions(strings_can_be_null=False, column_types={}),
        read_options=csv.ReadOptions(),
    )
    first = table.column_names[0]
    years = [c for c in table.column_names if c != first]
    dims = pc.split_pattern(table[first], ",")
    return pa.table(
        {"geo": pc.list_element(dims, 2), **{y: table[y].cast(pa.string()) for y in years}}
    )


def test_municipal_population_sums_to_eurostat_nuts3(
    shared_data: Path, real_codes: CodeTable
) -> None:
    (municipal_rule,) = parse_rules(MUNICIPAL)
    (eurostat_rule,) = parse_rules(EUROSTAT)
    municipal = harmonize(
        read_municipal(shared_data), municipal_rule, codes=real_codes, source="istat"
    )
    assert municipal.ok, [str(f) for f in municipal.findings]
    eurostat = harmonize(
        read_eurostat(shared_data), eurostat_rule, codes=real_codes, source="estat"
    )
    assert eurostat.ok, [str(f) for f in eurostat.findings]

    from welfare_observatory.territory import population, registry

    hierarchy = registry().hierarchy(date(2022, 1, 1))
    baseline = population(2022)
    provinces = aggregate(
        municipal.table, [POP_TOTAL], hierarchy, levels=("province",), weights=baseline
    )
    coverage = {r["territory"]: r["coverage"] for r in provinces.coverage.to_pylist()}
    assert coverage["096"] == coverage["017"] == coverage["022"] == 1.0
    ours = {(r["territory"], r["period"]): r["value"] for r in provinces.table.to_pylist()}
    theirs = {
        (r["territory"], r["period"]): r["value"]
        for r in eurostat.table.to_pylist()
        if r["period"] == "2022-01-01"
    }
    assert theirs == {
        ("096", "2022-01-01"): 170027.0,
        ("017", "2022-01-01"): 1253157.0,
        ("022", "2022-01-01"): 540958.0,
    }
    for key, value in theirs.items():
        assert ours[key] == value


def test_eurostat_flags_become_statuses(shared_data: Path, real_codes: CodeTable) -> None:
    (rule,) = parse_rules(EUROSTAT)
    table = harmonize(read_eurostat(shared_data), rule, codes=real_codes).table
    rows = {(r["territory"], r["period"]): r for r in table.to_pylist()}
    assert rows[("096", "2019-01-01")]["obs_status"] == "B"
    assert rows[("096", "2019-01-01")]["flags"] == "b"
    assert rows[("096", "2001-01-01")]["value"] is None
    assert rows[("096", "2001-01-01")]["obs_status"] == "O"
