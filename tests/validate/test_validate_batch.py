"""Checks run once over many sources' rows give each source the findings it would get alone."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.model import Finding, Severity
from welfare_observatory.validate import CheckContext, CheckRegistry, default_checks, run_checks
from welfare_observatory.validate.batch import run_checks_by_source
from welfare_observatory.validate.builtin import SOURCE_COLUMN

from .test_validate_checks import POP, table

HIERARCHY = pa.table({"municipality": ["096004", "096021"], "province": ["096", "096"]})


def rates(values: list[float], indicator: str = "RATE") -> list[tuple[str, str, str, float | None]]:
    return [(indicator, f"0960{i:02d}", "2023", v) for i, v in enumerate(values)]


def sources() -> dict[str, pa.Table]:
    outlier = rates([10.0 + i % 3 for i in range(20)] + [95.0])
    jump = [("RATE", "096001", "2021", 3.0), ("RATE", "096001", "2022", 11.0)]
    totals = [
        ("POP_TOTAL", "096004", "2023", 100.0),
        ("POP_TOTAL", "096021", "2023", 100.0),
        ("POP_TOTAL", "096", "2023", 250.0),
    ]
    return {
        "alpha": table(outlier + jump, unit="percent"),
        "beta": table([("SHARE", "096004", "2023", 101.0)], unit="percent"),
        "gamma": table(totals, status=["A", "P", "B"]),
        "delta": table(
            [("POP_TOTAL", "096004", "2019", 1.0), ("POP_TOTAL", "096004", "2022", -1.0)]
        ),
        "empty": table([]),
    }


def as_json(findings: list[Finding]) -> list[str]:
    return sorted(json.dumps(f.model_dump(mode="json"), sort_keys=True) for f in findings)


def one_by_one(tables: dict[str, pa.Table], ctx: CheckContext, registry: Any) -> dict[str, Any]:
    out = {}
    for source, data in tables.items():
        here = CheckContext(
            source=source,
            indicators=ctx.indicators,
            hierarchy=ctx.hierarchy,
            territories=ctx.territories,
        )
        out[source] = as_json(run_checks(data, here, registry, only=_data_checks(registry)))
    return out


def _data_checks(registry: CheckRegistry) -> list[str]:
    return [c for c in registry if c != "schema"]


def test_each_source_gets_the_findings_it_would_get_alone() -> None:
    tables = sources()
    ctx = CheckContext(
        indicators={"POP_TOTAL": POP},
        hierarchy=HIERARCHY,
        territories=["096", "096004", "096021", *(f"0960{i:02d}" for i in range(30))],
    )
    registry = default_checks()
    together = run_checks_by_source(tables, registry, ctx, only=_data_checks(registry))
    expected = one_by_one(tables, ctx, registry)
    assert {s: as_json(f) for s, f in together.items()} == expected
    # The cases above really raise findings, in the right source.
    codes = {s: {f.code for f in found} for s, found in together.items()}
    assert {"outlier", "implausible-jump"} <= codes["alpha"]
    assert codes["beta"] == {"out-of-range"}
    assert {"sum-mismatch", "status-provisional", "status-break"} <= codes["gamma"]
    assert {"out-of-range", "missing-periods"} <= codes["delta"]
    assert together["empty"] == []
    assert all(f.source == s for s, found in together.items() for f in found)


def test_unknown_territories_are_named_per_source() -> None:
    tables = {
        "one": table([("POP_TOTAL", "096999", "2023", 1.0)]),
        "two": table([("POP_TOTAL", "096004", "2023", 1.0), ("POP_TOTAL", "09604", "2023", 1.0)]),
    }
    ctx = CheckContext(territories=["096004", "096021"])
    found = run_checks_by_source(tables, default_checks(), ctx, only=["unknown-territory"])
    assert found["one"][0].territory == "096999" and found["one"][0].source == "one"
    assert found["two"][0].territory == "09604" and found["two"][0].count == 1


def test_plugin_checks_see_one_source_at_a_time_and_their_crashes_name_it() -> None:
    seen: list[tuple[str | None, int, bool]] = []

    def counting(data: pa.Table, ctx: CheckContext) -> list[Finding]:
        seen.append((ctx.source, data.num_rows, SOURCE_COLUMN in data.column_names))
        if ctx.source == "beta":
            raise RuntimeError("boom")
        return []

    registry = CheckRegistry()
    registry.register("demo.count", counting, owner="demo-plugin")
    tables = sources()
    found = run_checks_by_source(tables, registry, CheckContext())
    assert sorted(seen) == sorted((s, t.num_rows, False) for s, t in tables.items() if t.num_rows)
    (failure,) = found["beta"]
    assert failure.code == "check-failed" and failure.severity is Severity.ERROR
    assert failure.source == "beta" and "demo-plugin" in (failure.hint or "")
    assert found["alpha"] == []


def test_a_batched_check_that_crashes_is_retried_per_source() -> None:
    from welfare_observatory.validate import batch

    calls: list[bool] = []

    def fragile(data: pa.Table, ctx: CheckContext) -> list[Finding]:
        calls.append(SOURCE_COLUMN in data.column_names)
        if SOURCE_COLUMN in data.column_names or ctx.source == "gamma":
            raise ValueError("cannot")
        return []

    registry = CheckRegistry()
    registry.register("status", fragile)
    original = batch.BATCHED["status"]
    batch.BATCHED["status"] = fragile
    try:
        found = run_checks_by_source(sources(), registry, CheckContext())
    finally:
        batch.BATCHED["status"] = original
    assert calls[0] is True and not any(calls[1:])
    assert [f.code for f in found["gamma"]] == ["check-failed"]
    assert found["alpha"] == [] and found["empty"] == []


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.lists(st.floats(min_value=-5, max_value=200, allow_nan=False), min_size=0, max_size=14),
        min_size=1,
        max_size=4,
    )
)
def test_batching_never_changes_what_a_source_is_told(columns: list[list[float]]) -> None:
    tables = {}
    for n, values in enumerate(columns):
        rows = [("RATE", f"0960{i:02d}", str(2010 + i % 3), v) for i, v in enumerate(values)]
        # one key per row: periods cycle, territories differ
        tables[f"s{n}"] = table(rows, unit="percent")
    registry = default_checks()
    ctx = CheckContext(indicators={"POP_TOTAL": POP})
    together = run_checks_by_source(tables, registry, ctx, only=_data_checks(registry))
    assert {s: as_json(f) for s, f in together.items()} == one_by_one(tables, ctx, registry)


def in_order(found: dict[str, list[Finding]]) -> dict[str, list[str]]:
    return {s: [json.dumps(f.model_dump(mode="json")) for f in v] for s, v in found.items()}


def test_chunks_of_sources_are_told_what_the_whole_batch_is_told() -> None:
    tables = sources()
    ctx = CheckContext(
        indicators={"POP_TOTAL": POP},
        hierarchy=HIERARCHY,
        territories=["096", "096004", "096021", *(f"0960{i:02d}" for i in range(30))],
    )
    registry = default_checks()
    whole = run_checks_by_source(tables, registry, ctx, only=_data_checks(registry))
    assert sum(map(len, whole.values())) >= 8
    for rows in (1, 3, 24, 26):  # each source alone, then runs of two or more
        chunked = run_checks_by_source(
            tables, registry, ctx, only=_data_checks(registry), chunk_rows=rows
        )
        assert in_order(chunked) == in_order(whole)


def test_chunks_whose_sources_have_other_breakdowns_are_told_the_same() -> None:
    # Each chunk unifies its own sources' breakdown columns: a source with a sex or an age
    # breakdown next to one without must be told what the whole batch tells it.
    tables = sources()
    by_sex = table(rates([10.0 + i % 3 for i in range(20)] + [95.0]), unit="percent")
    tables["by_sex"] = by_sex.append_column("sex", pa.array(["F"] * by_sex.num_rows))
    by_age = table([("SHARE", "096004", "2023", 104.0)], unit="percent")
    tables["by_age"] = by_age.append_column("age", pa.array(["Y15T64"]))
    ctx = CheckContext(
        indicators={"POP_TOTAL": POP},
        hierarchy=HIERARCHY,
        territories=["096", "096004", "096021", *(f"0960{i:02d}" for i in range(30))],
    )
    registry = default_checks()
    whole = run_checks_by_source(tables, registry, ctx, only=_data_checks(registry))
    assert whole["by_sex"] and whole["by_age"]
    for rows in (1, 3, 24, 26):
        chunked = run_checks_by_source(
            tables, registry, ctx, only=_data_checks(registry), chunk_rows=rows
        )
        assert in_order(chunked) == in_order(whole)


def test_a_chunk_is_whole_sources_in_order() -> None:
    from welfare_observatory.validate.batch import _chunks

    tables = {
        s: table([("RATE", "096004", str(2000 + i), 1.0) for i in range(n)])
        for s, n in [("a", 3), ("b", 1), ("c", 5), ("d", 2)]
    }
    ids = list(tables)
    assert list(_chunks(ids, tables, 4)) == [["a", "b"], ["c"], ["d"]]
    assert list(_chunks(ids, tables, 1)) == [["a"], ["b"], ["c"], ["d"]]
    assert list(_chunks(ids, tables, 100)) == [ids]
    # A chunk never grows past the limit to take a large source: that one goes alone.
    assert list(_chunks(["a", "c", "b"], tables, 4)) == [["a"], ["c"], ["b"]]
    assert list(_chunks(["b", "d", "c"], tables, 3)) == [["b", "d"], ["c"]]


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.lists(st.floats(min_value=-5, max_value=200, allow_nan=False), min_size=1, max_size=14),
        min_size=1,
        max_size=5,
    ),
    st.integers(min_value=1, max_value=40),
)
def test_chunking_never_changes_the_findings_or_their_order(
    columns: list[list[float]], chunk_rows: int
) -> None:
    tables = {}
    for n, values in enumerate(columns):
        rows = [("RATE", f"0960{i:02d}", str(2010 + i % 3), v) for i, v in enumerate(values)]
        rows += [("POP_TOTAL", "096004", "2023", values[0]), ("POP_TOTAL", "096", "2023", 7.0)]
        tables[f"s{n}"] = table(rows, unit="percent")
    registry = default_checks()
    ctx = CheckContext(
        indicators={"POP_TOTAL": POP},
        hierarchy=HIERARCHY,
        territories=["096", "096004", *(f"0960{i:02d}" for i in range(14))],
    )
    only = _data_checks(registry)
    whole = run_checks_by_source(tables, registry, ctx, only=only, chunk_rows=10**9)
    chunked = run_checks_by_source(tables, registry, ctx, only=only, chunk_rows=chunk_rows)
    assert in_order(chunked) == in_order(whole)
