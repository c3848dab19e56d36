"""A header that does not parse where the layout expects a period (``2O23`` for 2023) is a
finding naming the column under ``layout: tidy`` too (issues 18 item 11, 19 item 4), as
with the detecting reader: same table, same findings."""

from __future__ import annotations

import pytest

from welfare_observatory.harmonize import CodeTable, HarmonizeRule, harmonize
from welfare_observatory.sources.table import TableOptions
from welfare_observatory.sources.tabular import read_table
from welfare_observatory.sources.tidy import read_tidy

RULE = HarmonizeRule.model_validate(
    {
        "indicator": {"value": "POP"},
        "territory": {"column": "Codice", "scheme": "istat"},
        "period": {"column": "period"},
        "melt": {"pattern": r"\d{4}"},
        "unit": {"unit": "person"},
    }
)


@pytest.mark.parametrize("declared", [True, False])
def test_a_period_header_that_does_not_parse_is_reported_on_both_paths(
    codes: CodeTable, declared: bool
) -> None:
    data = b"Codice;2022;2O23\n096004;1;2\n096021;3;4\n"
    extra = {"value_columns": ["20*", "2O*"]} if declared else {}
    options = TableOptions.model_validate({"path": "f.csv", "layout": "tidy", **extra})
    results = [
        harmonize(read(data, options, file="f.csv", source="s"), RULE, codes=codes, source="s")
        for read in (read_table, read_tidy)
    ]
    detected, tidy = (
        [f.model_dump() for f in r.findings if f.code == "value-column-left-out"] for r in results
    )
    assert tidy == detected and len(tidy) == 1
    assert tidy[0]["column"] == "2O23" and tidy[0]["source"] == "s"
    assert results[1].table.equals(results[0].table)
