"""Declared groupings are summed like any level; findings name the same example every time."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.derive import aggregate, derive_rates, with_groupings
from welfare_observatory.model import Indicator

Y = "2023-01-01"


def test_each_grouping_is_a_column_holding_its_id_for_members(hierarchy: pa.Table) -> None:
    table, levels = with_groupings(
        hierarchy, {"valle": ["096004", "096025"], "cross": ["096004", "017001"]}
    )
    assert levels == ["grouping:cross", "grouping:valle"]
    codes = table["municipality"].to_pylist()
    valle = dict(zip(codes, table["grouping:valle"].to_pylist(), strict=True))
    assert valle["096004"] == "grouping:valle" and valle["096025"] == "grouping:valle"
    assert valle["096021"] is None
    # A municipality may be in several groupings, across provinces.
    cross = dict(zip(codes, table["grouping:cross"].to_pylist(), strict=True))
    assert cross["017001"] == "grouping:cross" and cross["096004"] == "grouping:cross"


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=6, max_size=6))
def test_a_grouping_total_is_the_sum_of_its_members(
    hierarchy: pa.Table,
    catalog: dict[str, Indicator],
    obs: Callable[..., pa.Table],
    people: list[int],
) -> None:
    codes = hierarchy["municipality"].to_pylist()
    table = obs([("POP_TOTAL", c, Y, float(p)) for c, p in zip(codes, people, strict=True)])
    members = ["096004", "001272", "017029"]
    extended, levels = with_groupings(hierarchy, {"mixed": members})
    result = aggregate(table, catalog, extended, levels=levels)
    rows = {r["territory"]: r["value"] for r in result.table.to_pylist()}
    expected = sum(p for c, p in zip(codes, people, strict=True) if c in members)
    assert rows == {"grouping:mixed": float(expected)}


def test_the_example_row_of_a_finding_does_not_depend_on_row_order(
    catalog: dict[str, Indicator], obs: Callable[..., pa.Table]
) -> None:
    rows = [
        ("POP_65_PLUS", code, p, 1.0) for code in ("017001", "096004") for p in (Y, "2022-01-01")
    ]
    rows.append(("POP_TOTAL", "096021", Y, 10.0))  # a denominator elsewhere: the rate is due
    for order in (rows, rows[::-1], rows[1::2] + rows[::2]):
        [finding] = derive_rates(obs(order), catalog).findings
        assert finding.code == "missing-denominator"
        assert (finding.territory, finding.period) == ("017001", "2022-01-01")
