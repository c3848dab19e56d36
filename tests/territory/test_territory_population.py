"""The shipped population baseline: sums, cross-checks with Eurostat, breakdowns, errors."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from welfare_observatory.errors import UnknownIdError, UnknownTerritoryError
from welfare_observatory.territory import AGE_CODES, UnavailableBreakdownError, population
from welfare_observatory.territory._population import age_code, population_years

PROVINCES = {"096": 170_027, "017": 1_253_157, "022": 540_958}


def as_dict(table: pa.Table) -> dict[str, int]:
    return dict(zip(table["territory"].to_pylist(), table["population"].to_pylist(), strict=True))


def test_years_shipped() -> None:
    assert population_years() == [2022, 2023]


def test_municipal_sums_equal_province_totals_2022() -> None:
    municipal = population(2022)
    assert municipal.column_names == ["territory", "year", "population"]
    for province, expected in PROVINCES.items():
        inside = pc.starts_with(municipal["territory"], province)
        assert pc.sum(municipal.filter(inside)["population"]).as_py() == expected
    summed = as_dict(population(2022, level="province"))
    assert {p: summed[p] for p in PROVINCES} == PROVINCES


def test_province_totals_match_eurostat(shared_data: Path) -> None:
    lines = (shared_data / "eurostat_demo_r_gind3_JAN_italy_excerpt.tsv").read_text().splitlines()
    header = [cell.strip() for cell in lines[0].split("\t")]
    column = header.index("2022")
    eurostat = {
        line.split("\t")[0].split(",")[-1]: int(line.split("\t")[column].split()[0])
        for line in lines[1:]
    }
    summed = as_dict(population(2022, level="province"))
    assert summed["096"] == eurostat["ITC13"]
    assert summed["017"] == eurostat["ITC47"]
    assert summed["022"] == eurostat["ITH20"]


def test_capoluoghi_2023() -> None:
    table = as_dict(population(2023))
    assert (table["017029"], table["022205"], table["096004"]) == (196_446, 118_046, 42_619)


def test_italy_and_region_totals() -> None:
    assert as_dict(population(2022, level="country")) == {"IT": 59_019_317}
    assert as_dict(population(2023, level="country")) == {"IT": 58_840_177}
    regions = population(2022, level="region")
    assert regions.num_rows == 20
    assert pc.sum(regions["population"]).as_py() == 59_019_317


def test_by_sex_everywhere() -> None:
    table = population(2022, by=("sex",), of="096004")
    assert table.column_names == ["territory", "year", "sex", "population"]
    by_sex = dict(zip(table["sex"].to_pylist(), table["population"].to_pylist(), strict=True))
    total = as_dict(population(2022, of="096004"))["096004"]
    assert set(by_sex) == {"F", "M"} and sum(by_sex.values()) == total


def test_by_age_and_sex_for_the_three_provinces() -> None:
    table = population(2023, by=("sex", "age"), level="province", of="017")
    assert table.column_names == ["territory", "year", "sex", "age", "population"]
    assert table.num_rows == 2 * 101
    assert set(table["age"].to_pylist()) == set(AGE_CODES)
    assert pc.sum(table["population"]).as_py() == 1_253_993
    assert age_code(100) == age_code(104) == "Y_GE100"
    assert age_code(0) == "Y0"


def test_age_where_not_shipped_is_a_typed_error() -> None:
    with pytest.raises(UnavailableBreakdownError) as info:
        population(2022, by=("age",), of="001")
    assert info.value.hint is not None and "Biella" in info.value.hint
    with pytest.raises(UnavailableBreakdownError):
        population(2022, by=("age",), level="region")


def test_bad_requests() -> None:
    with pytest.raises(UnavailableBreakdownError, match="2019"):
        population(2019)
    with pytest.raises(UnknownIdError):
        population(2022, by=("citizenship",))
    with pytest.raises(UnknownTerritoryError):
        population(2022, of="999999")
    with pytest.raises(UnavailableBreakdownError):
        population(2022, level="district")
