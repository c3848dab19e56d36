"""Units and scale: conversions through a rule round-trip, and kinds never mix."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory.harmonize import CodeTable, harmonize, parse_rules

UNITS = ["euro", "thousand_euro", "million_euro"]
RATES = ["ratio", "percent", "per_thousand", "per_ten_thousand", "per_hundred_thousand"]


def convert(codes: CodeTable, values: list[float], source: str, target: str) -> list[float]:
    """Values through a rule; one municipality per value keeps the keys distinct."""
    territories = sorted(c for c in codes.territories if len(c) == 6)[: len(values)]
    (rule,) = parse_rules(
        f"""
indicator: {{value: X}}
territory: {{column: t}}
period: {{value: "2023"}}
value: {{column: v}}
unit: {{unit: {source}, to: {target}}}
"""
    )
    result = harmonize(pa.table({"t": territories, "v": values}), rule, codes=codes)
    assert result.ok, result.findings
    assert result.table.column("unit").to_pylist() == [target] * len(values)
    return [float(v) for v in result.table.column("value").to_pylist()]


finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


@given(
    values=st.lists(finite, min_size=1, max_size=5),
    pair=st.sampled_from([(a, b) for group in (UNITS, RATES) for a in group for b in group]),
)
def test_unit_conversions_round_trip(
    codes: CodeTable, values: list[float], pair: tuple[str, str]
) -> None:
    source, target = pair
    there = convert(codes, values, source, target)
    back = convert(codes, there, target, source)
    assert back == pytest.approx(values, rel=1e-12, abs=1e-9)


def test_percent_to_ratio(codes: CodeTable) -> None:
    assert convert(codes, [12.5], "percent", "ratio") == pytest.approx([0.125])
