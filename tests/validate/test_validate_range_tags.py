"""The range check lets through what a catalogue entry's tags say is legitimate:
'balance' values may be negative (births - deaths), 'unbounded' percentages may pass 100
(prison occupancy). Untagged entries are still checked (see test_validate_checks.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory.model import Finding, Indicator
from welfare_observatory.model.observation import observation_schema
from welfare_observatory.validate import CheckContext, run_checks


def table(rows: list[tuple[str, str, str, float]], unit: str = "person") -> pa.Table:
    n = len(rows)
    data: dict[str, Any] = {
        "indicator": [r[0] for r in rows],
        "territory": [r[1] for r in rows],
        "period": [r[2] for r in rows],
        "period_start": [date(int(r[2][:4]), 1, 1) for r in rows],
        "value": [r[3] for r in rows],
        "unit": [unit] * n,
        "obs_status": ["A"] * n,
        "conf_status": ["F"] * n,
        "flags": pa.nulls(n, pa.string()),
        "source": ["s"] * n,
        "lineage": ["x"] * n,
    }
    schema = observation_schema(())
    return pa.table(data).select(schema.names).cast(schema)


def codes(findings: list[Finding]) -> set[str]:
    return {f.code for f in findings}


def entry(ident: str, unit: str, tags: tuple[str, ...], **extra: Any) -> Indicator:
    data = {
        "id": ident,
        "label": {"en": ident},
        "unit": unit,
        "polarity": "neutral",
        "domain": "demography",
        "measure": "stock",
        "reference_point": "calendar_year",
        "aggregation": "sum",
        "source": {"publisher": "Istat", "url": "https://demo.istat.it"},
        "tags": tags,
    }
    return Indicator.model_validate(data | extra)


BALANCE = entry("NATURAL_BALANCE", "person", ("balance",), measure="flow")
OCCUPANCY = entry(
    "PRISON_OCCUPANCY", "percent", ("unbounded",), measure="ratio", aggregation="none"
)


@given(st.floats(min_value=-1e6, max_value=-0.5))
def test_a_negative_balance_is_not_an_error(value: float) -> None:
    rows = table([("NATURAL_BALANCE", "096004", "2023", value)])
    ctx = CheckContext(indicators={"NATURAL_BALANCE": BALANCE})
    assert "out-of-range" not in codes(run_checks(rows, ctx, only={"range"}))


def test_an_unbounded_percentage_may_pass_100_but_not_go_negative() -> None:
    ctx = CheckContext(indicators={"PRISON_OCCUPANCY": OCCUPANCY})
    over = table([("PRISON_OCCUPANCY", "096004", "2023", 254.6)], unit="percent")
    assert "out-of-range" not in codes(run_checks(over, ctx, only={"range"}))
    negative = table([("PRISON_OCCUPANCY", "096004", "2023", -1.0)], unit="percent")
    assert codes(run_checks(negative, ctx, only={"range"})) == {"out-of-range"}


def test_without_the_tag_the_same_values_are_errors() -> None:
    untagged = entry("NATURAL_BALANCE", "person", (), measure="flow")
    rows = table([("NATURAL_BALANCE", "096004", "2023", -5.0)])
    ctx = CheckContext(indicators={"NATURAL_BALANCE": untagged})
    found = run_checks(rows, ctx, only={"range"})
    assert codes(found) == {"out-of-range"} and "balance" in (found[0].hint or "")
