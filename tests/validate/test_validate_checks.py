"""Built-in checks and the check registry plugins add to."""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
import pytest

from welfare_observatory.errors import PluginError
from welfare_observatory.model import Finding, Indicator, Severity
from welfare_observatory.model.observation import observation_schema
from welfare_observatory.validate import CheckContext, CheckRegistry, default_checks, run_checks


def table(
    rows: list[tuple[str, str, str, float | None]],
    unit: str = "person",
    status: list[str] | None = None,
) -> pa.Table:
    n = len(rows)
    data: dict[str, Any] = {
        "indicator": [r[0] for r in rows],
        "territory": [r[1] for r in rows],
        "period": [r[2] for r in rows],
        "period_start": [date(int(r[2][:4]), 1, 1) for r in rows],
        "value": [r[3] for r in rows],
        "unit": [unit] * n,
        "obs_status": status or ["A"] * n,
        "conf_status": ["F"] * n,
        "flags": pa.nulls(n, pa.string()),
        "source": ["s"] * n,
        "lineage": ["x"] * n,
    }
    schema = observation_schema(())
    return pa.table(data).select(schema.names).cast(schema)


def codes(findings: list[Finding]) -> set[str]:
    return {f.code for f in findings}


POP = Indicator.model_validate(
    {
        "id": "POP_TOTAL",
        "label": {"en": "Population"},
        "unit": "person",
        "polarity": "neutral",
        "domain": "demography",
        "measure": "stock",
        "reference_point": "jan_1",
        "aggregation": "sum",
        "source": {"publisher": "Istat", "url": "https://demo.istat.it"},
    }
)


def test_a_clean_table_has_no_findings() -> None:
    clean = table([("POP_TOTAL", "096004", "2022", 1.0), ("POP_TOTAL", "096004", "2023", 1.1)])
    assert run_checks(clean, CheckContext(territories={"096004"})) == []


def test_duplicate_keys_are_errors() -> None:
    dupes = table([("POP_TOTAL", "096004", "2023", 1.0)] * 2)
    found = run_checks(dupes)
    assert "duplicate-key" in codes(found) and found[0].severity is Severity.ERROR


def test_unknown_codes_name_the_closest_known_code() -> None:
    found = run_checks(
        table([("POP_TOTAL", "96004", "2023", 1.0)]),
        CheckContext(territories={"096004", "017029"}),
        only={"unknown-territory"},
    )
    (finding,) = found
    assert finding.code == "unknown-territory" and "096004" in (finding.hint or "")


def test_coverage_reports_missing_territories_and_years() -> None:
    rows = [("POP_TOTAL", "096004", "2019", 1.0), ("POP_TOTAL", "096004", "2022", 1.0)]
    ctx = CheckContext(expected_territories=["096004", "096021"])
    found = {f.code: f for f in run_checks(table(rows), ctx, only={"coverage"})}
    assert found["missing-territories"].territory == "096021"
    assert found["missing-periods"].count == 2 and found["missing-periods"].period == "2020"


def test_range_shares_and_negative_counts() -> None:
    shares = table([("SHARE", "096004", "2023", 101.0)], unit="percent")
    negative = table([("POP_TOTAL", "096004", "2023", -1.0)])
    assert codes(run_checks(shares, only={"range"})) == {"out-of-range"}
    found = run_checks(negative, CheckContext(indicators={"POP_TOTAL": POP}), only={"range"})
    assert codes(found) == {"out-of-range"} and found[0].severity is Severity.ERROR


def test_sum_consistency_with_tolerance() -> None:
    hierarchy = pa.table({"municipality": ["096004", "096021"], "province": ["096", "096"]})
    rows = [
        ("POP_TOTAL", "096004", "2023", 100.0),
        ("POP_TOTAL", "096021", "2023", 100.0),
        ("POP_TOTAL", "096", "2023", 250.0),
    ]
    ctx = CheckContext(hierarchy=hierarchy, indicators={"POP_TOTAL": POP})
    (finding,) = run_checks(table(rows), ctx, only={"sum-consistency"})
    assert finding.code == "sum-mismatch" and finding.territory == "096"
    close = [*rows[:2], ("POP_TOTAL", "096", "2023", 200.5)]
    assert run_checks(table(close), ctx, only={"sum-consistency"}) == []


def test_the_worst_sum_mismatch_is_named_by_key_when_gaps_tie() -> None:
    # Two provinces off by the same share: the query's row order must not pick the example.
    hierarchy = pa.table(
        {"municipality": ["096004", "098001"], "province": ["096", "098"]},
    )
    rows = [
        ("POP_TOTAL", "096004", "2023", 100.0),
        ("POP_TOTAL", "098001", "2023", 100.0),
        ("POP_TOTAL", "098", "2023", 200.0),
        ("POP_TOTAL", "096", "2023", 200.0),
    ]
    ctx = CheckContext(hierarchy=hierarchy, indicators={"POP_TOTAL": POP})
    for ordered in (rows, rows[::-1]):
        (finding,) = run_checks(table(ordered), ctx, only={"sum-consistency"})
        assert finding.territory == "096" and finding.count == 2


def test_outliers_across_territories_and_yearly_jumps() -> None:
    rows = [("RATE", f"0960{i:02d}", "2023", 10.0 + i % 3) for i in range(20)]
    rows.append(("RATE", "096099", "2023", 95.0))
    rows += [("RATE", "096001", "2022", 11.0), ("RATE", "096001", "2021", 3.0)]
    found = {f.code: f for f in run_checks(table(rows, unit="percent"), only={"outliers"})}
    assert found["outlier"].territory == "096099"
    assert found["implausible-jump"].territory == "096001"


def test_tied_worst_jumps_are_named_by_territory_whatever_the_row_order() -> None:
    # Brescia has such ties (POP_0_4 grows by the same share in three municipalities): the
    # example named must not follow DuckDB's scan order, or two builds' findings differ.
    rows = [
        (ind, t, y, v)
        for ind in ("POP_0_4", "RATE")
        for t in ("096099", "096004", "096021")
        for y, v in (("2022", 40.0), ("2023", 100.0))
    ]
    for ordered in (rows, rows[::-1], rows[1::2] + rows[::2]):
        found = run_checks(table(ordered), only={"outliers"})
        assert [(f.code, f.indicator, f.territory, f.period) for f in found] == [
            ("implausible-jump", "POP_0_4", "096099", "2023"),
            ("implausible-jump", "RATE", "096099", "2023"),
        ]


def test_statuses_are_carried_through_as_information() -> None:
    rows = [("POP_TOTAL", "096004", "2022", 1.0), ("POP_TOTAL", "096004", "2023", 1.0)]
    found = run_checks(table(rows, status=["B", "P"]), only={"status"})
    assert codes(found) == {"status-break", "status-provisional"}
    assert {f.severity for f in found} == {Severity.INFO}


def test_plugins_register_checks_and_a_crashing_check_is_a_finding() -> None:
    registry = default_checks()

    def asl_totals(data: pa.Table, context: CheckContext) -> list[Finding]:
        return [Finding(code="asl-total", severity=Severity.WARNING, message="ASL total differs")]

    def broken(data: pa.Table, context: CheckContext) -> list[Finding]:
        raise RuntimeError("bug")

    registry.register("asl.totals", asl_totals, owner="osserva-biella")
    registry.register("asl.broken", broken, owner="osserva-biella")
    found = registry.run(table([("POP_TOTAL", "096004", "2023", 1.0)]))
    assert codes(found) == {"asl-total", "check-failed"}
    assert found[0].code == "check-failed" and "osserva-biella" in (found[0].hint or "")
    with pytest.raises(PluginError):
        registry.register("asl.totals", asl_totals)
    with pytest.raises(PluginError):
        CheckRegistry().register("Not Kebab", asl_totals)


def test_plugin_checks_join_the_built_ins_through_default_checks() -> None:
    from welfare_observatory.validate import accept_check

    def totals(data: pa.Table, context: CheckContext) -> list[Finding]:
        return []

    assert accept_check("asl.totals", totals) == ("asl.totals", totals)
    with pytest.raises(ValueError):
        accept_check("asl totals", totals)
    registry = default_checks({"asl.totals": totals}, owners={"asl.totals": "osserva-biella"})
    assert list(registry)[-1] == "asl.totals" and registry.owner("asl.totals") == "osserva-biella"
