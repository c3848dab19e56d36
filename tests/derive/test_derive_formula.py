"""Rates from numerator, denominator and multiplier, as the catalogue declares them."""

from __future__ import annotations

import pytest

from welfare_observatory.derive import derive_rates
from welfare_observatory.validate.schema import validate_observations

Y = "2023-01-01"


def test_a_rate_is_numerator_over_denominator_times_multiplier(catalog, obs, by_key) -> None:
    table = obs([("POP_65_PLUS", "096004", Y, 11000.0), ("POP_TOTAL", "096004", Y, 44000.0)])
    result = derive_rates(table, catalog)
    assert by_key(result.table) == {("OLD_AGE_SHARE", "096004", Y): 25.0}
    assert result.table.column("unit").to_pylist() == ["percent"]
    assert result.table.column("lineage").to_pylist() == [result.step.id]
    assert validate_observations(result.table) == []


def test_zero_or_missing_denominators_are_missing_values_with_findings(catalog, obs) -> None:
    table = obs(
        [
            ("POP_65_PLUS", "096004", Y, 1.0),
            ("POP_TOTAL", "096004", Y, 0.0),
            ("POP_65_PLUS", "096021", Y, 1.0),
        ]
    )
    result = derive_rates(table, catalog)
    rows = {r["territory"]: r for r in result.table.to_pylist()}
    assert rows["096004"]["value"] is None and rows["096004"]["obs_status"] == "O"
    assert rows["096021"]["value"] is None
    assert {f.code for f in result.findings} == {"zero-denominator", "missing-denominator"}


def test_statuses_of_the_operands_carry_through(catalog, obs) -> None:
    table = obs(
        [("POP_65_PLUS", "096004", Y, 1.0), ("POP_TOTAL", "096004", Y, 4.0)], status=["A", "P"]
    )
    assert derive_rates(table, catalog).table.column("obs_status").to_pylist() == ["P"]


def test_breakdowns_are_kept(catalog, obs, by_key) -> None:
    table = obs(
        [
            ("POP_65_PLUS", "096004", Y, 1.0),
            ("POP_65_PLUS", "096004", Y, 3.0),
            ("POP_TOTAL", "096004", Y, 10.0),
            ("POP_TOTAL", "096004", Y, 20.0),
        ],
        breakdowns={"sex": ["F", "M", "F", "M"]},
    )
    rows = {r["sex"]: r["value"] for r in derive_rates(table, catalog).table.to_pylist()}
    assert rows == {"F": 10.0, "M": 15.0}


def test_a_denominator_never_split_by_a_dimension_gives_only_the_total(catalog, obs) -> None:
    # Women aged 15-49 are not split by sex: children per woman exists for the total only,
    # and the numerator's M and F rows give no rate at all, not a missing one.
    table = obs(
        [
            ("POP_65_PLUS", "096004", Y, 6000.0),
            ("POP_65_PLUS", "096004", Y, 5000.0),
            ("POP_65_PLUS", "096004", Y, 11000.0),
            ("POP_TOTAL", "096004", Y, 44000.0),
        ],
        breakdowns={"sex": ["F", "M", "_T", "_T"]},
    )
    result = derive_rates(table, catalog)
    rows = result.table.to_pylist()
    assert [(r["sex"], r["value"]) for r in rows] == [("_T", 25.0)]
    assert result.findings == []


def test_a_missing_split_denominator_is_still_reported(catalog, obs) -> None:
    # When the denominator is split by sex, a missing code is a missing value with a finding.
    table = obs(
        [
            ("POP_65_PLUS", "096004", Y, 6000.0),
            ("POP_65_PLUS", "096004", Y, 5000.0),
            ("POP_TOTAL", "096004", Y, 23000.0),
        ],
        breakdowns={"sex": ["F", "M", "F"]},
    )
    result = derive_rates(table, catalog)
    values = {r["sex"]: r["value"] for r in result.table.to_pylist()}
    assert values["M"] is None and values["F"] == pytest.approx(600000 / 23000)
    assert {f.code for f in result.findings} == {"missing-denominator"}


def test_a_flow_over_the_stock_on_1_january_with_year_alignment(catalog, obs) -> None:
    table = obs([("BIRTHS", "096004", "2023", 300.0), ("POP_TOTAL", "096004", Y, 42000.0)])
    assert derive_rates(table, catalog).table.num_rows == 1
    assert derive_rates(table, catalog).table.column("value").to_pylist() == [None]
    aligned = derive_rates(table, catalog, align="year").table
    assert aligned.column("period").to_pylist() == ["2023"]
    assert aligned.column("value").to_pylist() == [pytest.approx(300 / 42000 * 1000)]
