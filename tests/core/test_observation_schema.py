"""validate_observations: typed findings for every way a table can be wrong."""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory import Indicator, Severity, observation_schema, validate_observations


def table(rows: list[dict[str, Any]], breakdowns: tuple[str, ...] = ("sex",)) -> pa.Table:
    base = {
        "indicator": "POP_TOTAL",
        "territory": "096004",
        "period": "2023-01-01",
        "period_start": date(2023, 1, 1),
        "sex": "_T",
        "value": 42619.0,
        "unit": "person",
        "obs_status": "A",
        "conf_status": "F",
        "flags": None,
        "source": "istat",
        "lineage": "step-1",
    }
    full = [{**base, **row} for row in rows]
    return pa.Table.from_pylist(full, schema=observation_schema(breakdowns))


def codes(findings: list[Any]) -> list[str]:
    return [f.code for f in findings]


def test_a_canonical_table_has_no_findings() -> None:
    rows = [{"sex": "_T"}, {"sex": "F", "value": 22000.0}, {"sex": "M", "value": 20619.0}]
    assert validate_observations(table(rows)) == []


def test_duplicate_keys_are_one_grouped_error() -> None:
    findings = validate_observations(
        table([{}, {}, {"territory": "096005"}, {"territory": "096005"}])
    )
    assert codes(findings) == ["duplicate-key"]
    assert findings[0].severity is Severity.ERROR
    assert findings[0].count == 2


def test_the_duplicate_key_named_is_the_smallest_whatever_the_row_order() -> None:
    # The grouping may return groups in any order (threads): the example must not follow it.
    rows = [{"territory": t} for t in ("098001", "098001", "096005", "096005", "097002")]
    rows += [{"territory": "097002"}]
    for ordered in (rows, rows[::-1]):
        found = validate_observations(table(ordered))
        assert found[0].territory == "096005" and found[0].count == 3


def test_unknown_status_codes_are_named() -> None:
    findings = validate_observations(table([{"obs_status": "Z"}, {"sex": "F", "obs_status": "p"}]))
    assert codes(findings) == ["unknown-code"]
    assert "'Z'" in findings[0].message and "'p'" in findings[0].message


def test_a_missing_value_needs_a_missing_status() -> None:
    findings = validate_observations(table([{"value": None}]))
    assert codes(findings) == ["silent-missing"]
    assert validate_observations(table([{"value": None, "obs_status": "O"}])) == []
    findings = validate_observations(table([{"obs_status": "O"}]))
    assert codes(findings) == ["value-with-missing-status"]


def test_infinite_values_are_errors() -> None:
    assert codes(validate_observations(table([{"value": float("inf")}]))) == ["not-finite"]


def test_missing_columns_and_wrong_types() -> None:
    bad = pa.table({"indicator": ["X"], "territory": ["096004"], "period": ["2023"]})
    assert set(codes(validate_observations(bad))) == {"missing-column"}
    numeric_codes = pa.table(
        {
            "indicator": ["X"],
            "territory": [96004],
            "period": ["2023"],
            "value": ["12"],
            "unit": ["person"],
            "obs_status": ["A"],
        }
    )
    found = validate_observations(numeric_codes)
    assert codes(found) == ["wrong-type", "wrong-type"]
    assert "leading zeros" in (found[0].hint or "")


def test_pandas_frames_are_accepted() -> None:
    frame = table([{}]).to_pandas()
    assert validate_observations(frame) == []


def test_breakdowns_the_indicator_does_not_declare() -> None:
    indicator = Indicator.model_validate(
        {
            "id": "POP_TOTAL",
            "label": {"en": "Resident population"},
            "unit": "person",
            "polarity": "neutral",
            "domain": "demography",
            "measure": "stock",
            "reference_point": "jan_1",
            "aggregation": "sum",
            "source": {"publisher": "Istat", "url": "https://demo.istat.it/"},
        }
    )
    findings = validate_observations(table([{"sex": "F"}]), indicators={"POP_TOTAL": indicator})
    assert codes(findings) == ["undeclared-breakdown"]
    findings = validate_observations(
        table([{"indicator": "POP_TOTL"}]), indicators={"POP_TOTAL": indicator}
    )
    assert codes(findings) == ["unknown-indicator"]
    assert "POP_TOTAL" in (findings[0].hint or "")


def test_a_bad_status_does_not_hide_a_duplicate_key() -> None:
    findings = validate_observations(table([{"obs_status": "Z"}, {}]))
    assert sorted(codes(findings)) == ["duplicate-key", "unknown-code"]


def test_the_shipped_catalogue_can_be_given_as_the_indicators() -> None:
    from welfare_observatory.catalog import Catalog

    catalog = Catalog.shipped()
    assert validate_observations(table([{}]), indicators=catalog) == []
    findings = validate_observations(table([{"indicator": "POP_TOTL"}]), indicators=catalog)
    assert codes(findings) == ["unknown-indicator"]


@given(st.lists(st.sampled_from(["096004", "096005", "017029"]), min_size=1, max_size=12))
def test_duplicates_are_found_exactly_when_keys_repeat(territories: list[str]) -> None:
    findings = validate_observations(table([{"territory": t} for t in territories]))
    has_duplicates = len(set(territories)) < len(territories)
    assert ("duplicate-key" in codes(findings)) is has_duplicates


@pytest.mark.parametrize("breakdowns", [(), ("sex",), ("sex", "age")])
def test_schema_puts_breakdowns_between_period_start_and_value(breakdowns: tuple[str, ...]) -> None:
    names = observation_schema(breakdowns).names
    assert names[4 : 4 + len(breakdowns)] == list(breakdowns)
    assert names[4 + len(breakdowns)] == "value"
