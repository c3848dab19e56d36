"""What harmonize does with values a source parsed but a rule did not mention (issue 18
items 10, 13, 14; issue 15 item 5): statuses, empty keys, infinities, repeated rows."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from welfare_observatory.harmonize import CodeTable, HarmonizeRule, harmonize
from welfare_observatory.sources.tabular import read_table
from welfare_observatory.sources.tabular_options import TabularOptions

RULE = {
    "indicator": {"value": "POP"},
    "territory": {"column": "Codice", "scheme": "istat"},
    "period": {"column": "period"},
    "melt": {"pattern": r"\d{4}"},
    "unit": {"unit": "person"},
}


def run(table: pa.Table, rule: dict[str, object], codes: CodeTable):  # type: ignore[no-untyped-def]
    return harmonize(table, HarmonizeRule.model_validate(rule), codes=codes, source="s")


def test_statuses_the_table_source_parsed_reach_the_observations(codes: CodeTable) -> None:
    # ".." is "rounds to zero" (N), ":" confidential: neither may become a plain A number.
    data = b"Codice;2022;2023\n096004;..;:\n096021;5;7\n"
    result = run(read_table(data), RULE, codes)
    rows = {(r["territory"], r["period"]): r for r in result.table.to_pylist()}
    assert rows[("096004", "2022")]["obs_status"] == "N"
    assert rows[("096004", "2023")]["conf_status"] == "C"
    assert rows[("096004", "2023")]["value"] is None
    assert rows[("096021", "2022")]["obs_status"] == "A"


def test_a_rule_default_status_is_kept_for_ordinary_numbers(codes: CodeTable) -> None:
    data = b"Codice;2022\n096004;..\n096021;5\n"
    rule = {**RULE, "status": {"default_obs_status": "P"}}
    rows = {r["territory"]: r for r in run(read_table(data), rule, codes).table.to_pylist()}
    assert rows["096021"]["obs_status"] == "P" and rows["096004"]["obs_status"] == "N"


def test_sdmx_status_columns_are_read_by_default(codes: CodeTable) -> None:
    table = pa.table(
        {
            "REF_AREA": ["096004", "096021"],
            "TIME_PERIOD": ["2022", "2022"],
            "OBS_VALUE": [1.0, 2.0],
            "OBS_STATUS": ["P", None],
            "CONF_STATUS": ["C", None],
        }
    )
    rule = {
        "indicator": {"value": "POP"},
        "territory": {"column": "REF_AREA"},
        "period": {"column": "TIME_PERIOD"},
        "value": {"column": "OBS_VALUE"},
        "unit": {"unit": "person"},
    }
    rows = {r["territory"]: r for r in run(table, rule, codes).table.to_pylist()}
    assert (rows["096004"]["obs_status"], rows["096004"]["conf_status"]) == ("P", "C")
    assert (rows["096021"]["obs_status"], rows["096021"]["conf_status"]) == ("A", "F")


def test_empty_key_cells_are_a_typed_finding_naming_the_row(codes: CodeTable) -> None:
    table = pa.table(
        {"ind": ["X", None, "X"], "terr": ["096004", "096004", None], "v": [1.0, 2.0, 3.0]}
    )
    rule = {
        "indicator": {"column": "ind", "map": {"X": "POP"}},
        "territory": {"column": "terr"},
        "period": {"value": "2020"},
        "value": {"column": "v"},
        "unit": {"unit": "person"},
    }
    result = run(table, rule, codes)
    empty = [f for f in result.findings if f.code == "empty-key"]
    assert [(f.column, f.row, f.severity) for f in empty] == [
        ("ind", 1, "error"),
        ("terr", 2, "error"),
    ]
    assert not result.ok and result.table.num_rows == 1


def test_a_rule_can_map_an_empty_breakdown_cell_to_total(codes: CodeTable) -> None:
    table = pa.table({"terr": ["096004"] * 3, "sex": ["M", None, ""], "v": [1.0, 3.0, 2.0]})
    rule = {
        "indicator": {"value": "POP"},
        "territory": {"column": "terr"},
        "period": {"value": "2020"},
        "value": {"column": "v"},
        "unit": {"unit": "person"},
        "breakdowns": {"sex": {"column": "sex", "map": {"": "_T"}}},
    }
    table = table.slice(0, 2)
    result = run(table, rule, codes)
    assert result.ok, result.findings
    assert sorted(result.table.column("sex").to_pylist()) == ["M", "_T"]
    without = run(table, {**rule, "breakdowns": {"sex": {"column": "sex"}}}, codes)
    assert [f.code for f in without.findings if f.severity == "error"] == ["empty-key"]


def test_non_finite_values_are_refused_naming_source_row_and_column(codes: CodeTable) -> None:
    data = b"Codice;2022\n096004;1e999\n096021;5\n"
    result = run(read_table(data, file="f.csv"), RULE, codes)
    [finding] = [f for f in result.findings if f.code == "non-finite-value"]
    assert (finding.source, finding.row, finding.column) == ("s", 0, "2022")
    assert not result.ok
    assert result.table.column("value").to_pylist() == [5.0]


def test_identical_rows_are_kept_once_with_a_finding(codes: CodeTable) -> None:
    data = b"Codice;2022\n096004;1\n096004;1\n096021;5\n"
    result = run(read_table(data), RULE, codes)
    assert result.ok
    assert result.table.num_rows == 2
    assert [f.code for f in result.findings] == ["duplicate-row"]
    # Same key, different values: still a duplicate-key error, nothing dropped silently.
    clash = run(read_table(b"Codice;2022\n096004;1\n096004;2\n"), RULE, codes)
    assert "duplicate-key" in [f.code for f in clash.findings] and not clash.ok


def test_lost_leading_zeros_are_restored_with_a_finding(codes: CodeTable) -> None:
    table = pa.table({"Codice": [96004.0, 96021.0], "2022": [1.0, 2.0]})
    result = run(table, RULE, codes)
    assert result.table.column("territory").to_pylist() == ["096004", "096021"]
    [finding] = [f for f in result.findings if f.code == "restored-leading-zeros"]
    assert finding.severity == "info" and finding.count == 2


def test_a_value_column_the_melt_misses_is_reported(codes: CodeTable) -> None:
    data = b"Codice;2022;2O23\n096004;1;2\n"
    result = run(read_table(data, _value_columns()), RULE, codes)
    [finding] = [f for f in result.findings if f.code == "value-column-left-out"]
    assert finding.column == "2O23"


def _value_columns() -> TabularOptions:
    return TabularOptions(value_columns=["20*", "2O*"])


def test_a_code_used_after_it_ceased_is_reported(codes: CodeTable) -> None:
    from welfare_observatory.model import Territory, TerritoryLevel

    with_ceased = CodeTable(
        [
            *codes.territories.values(),
            Territory(
                code="096999",
                level=TerritoryLevel.MUNICIPALITY,
                name="Gone",
                parent="096",
                valid_to=date(2018, 12, 31),
            ),
        ]
    )
    table = pa.table({"Codice": ["096999", "096004"], "2017": [1.0, 2.0], "2020": [3.0, 4.0]})
    result = run(table, RULE, with_ceased)
    [finding] = [f for f in result.findings if f.code == "ceased-territory"]
    assert finding.severity == "warning" and finding.count == 1
    assert (finding.row, finding.column) == (0, "Codice")
    assert result.table.num_rows == 4  # kept: reconciliation maps them to the successors


def test_a_duplicate_key_finding_names_the_smallest_key_whatever_the_row_order() -> None:
    from welfare_observatory.harmonize.engine import _duplicates

    keys = ["098001", "098001", "096005", "096005", "097002", "097002"]
    for territories in (keys, keys[::-1]):
        n = len(territories)
        data = pa.table(
            {
                "indicator": pa.array(["POP_TOTAL"] * n).dictionary_encode(),
                "territory": pa.array(territories).dictionary_encode(),
                "period": pa.array(["2023"] * n).dictionary_encode(),
                "value": pa.array([1.0] * n),
            }
        )
        (found,) = _duplicates(data, "s")
        assert found.territory == "096005" and found.count == 3
