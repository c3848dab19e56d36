"""Real Istat SDMX-CSV (foreign residents by province): duplicates found, totals consistent."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from pyarrow import csv

from welfare_observatory.harmonize import CodeTable, harmonize, parse_rules
from welfare_observatory.model import Severity
from welfare_observatory.validate import CheckContext, run_checks

pytestmark = pytest.mark.shared

RULE = """
indicator: {column: DATA_TYPE, map: {FJAN: POP_FOREIGN}, drop_unmapped: true}
territory: {column: REF_AREA, scheme: nuts}
period: {column: TIME_PERIOD, reference_date: jan_1}
breakdowns:
  sex: {column: SEX}
value: {column: OBS_VALUE}
unit: {unit: person}
status: {obs_status_column: OBS_STATUS}
"""


@pytest.fixture(scope="module")
def source(shared_data: Path) -> pa.Table:
    path = shared_data / "sdmx_istat_29_316_DCIS_POPSTRBIL1_foreigners_balance.csv"
    types = {"SEX": pa.string(), "TIME_PERIOD": pa.string(), "OBS_STATUS": pa.string()}
    return csv.read_csv(path, convert_options=csv.ConvertOptions(column_types=types))


def test_nuts2_and_nuts3_of_the_same_province_are_caught_as_duplicates(source: pa.Table) -> None:
    codes = CodeTable.from_registry()
    (rule,) = parse_rules(RULE)
    result = harmonize(source, rule, codes=codes, source="istat")
    duplicate = next(f for f in result.findings if f.code == "duplicate-key")
    # Bolzano is both ITD1 (NUTS 2) and ITD10 (NUTS 3) in Istat's legacy codes.
    assert duplicate.severity is Severity.ERROR and duplicate.territory in ("021", "022")


def test_province_totals_add_up_to_regions(source: pa.Table) -> None:
    from welfare_observatory.territory import registry

    codes = CodeTable.from_registry()
    (rule,) = parse_rules(
        RULE.replace(
            "breakdowns:", "filters: [{column: REF_AREA, not_in: [ITD1, ITD2]}]\nbreakdowns:"
        )
    )
    result = harmonize(source, rule, codes=codes, source="istat")
    assert result.ok, [str(f) for f in result.findings]
    rows = {(r["territory"], r["period"], r["sex"]): r["value"] for r in result.table.to_pylist()}
    # SOURCES.md: foreigners on 1 January 2023, Biella, Brescia, Trento (ITD20).
    assert rows[("096", "2023-01-01", "_T")] == 10030
    assert rows[("017", "2023-01-01", "_T")] == 150383
    assert rows[("022", "2023-01-01", "_T")] == 45620
    provinces = (
        registry()
        .hierarchy()
        .group_by(["province", "region", "nuts1", "country"])
        .aggregate([])
        .rename_columns(["municipality", "region", "nuts1", "country"])
    )
    findings = run_checks(result.table, CheckContext(hierarchy=provinces, source="istat"))
    assert [f for f in findings if f.severity is not Severity.INFO] == []
