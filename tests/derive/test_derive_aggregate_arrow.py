"""Aggregation of a small input in Arrow (a rebuild's changed group) gives what DuckDB
gives: the same rows, coverage, findings and step, whatever the rows."""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory._arrow import plain
from welfare_observatory.derive import aggregate
from welfare_observatory.derive import aggregation as ag
from welfare_observatory.model.observation import observation_schema

MUNICIPALITIES = ["096004", "096021", "096025", "001272", "017029", "017001"]
LARGER = ["096", "01", "IT", "district:T01024", "017"]
INDICATORS = ["POP_TOTAL", "POP_65_PLUS", "BIRTHS", "MEDIAN_AGE", "OLD_AGE_SHARE"]
PERIODS = ["2022", "2023"]
SEXES = ["_T", "F", "M"]

# Halves up to a million: every sum of a few of them is exact in any order, so the two
# engines agree to the bit (DuckDB itself adds in no fixed order on several threads).
values = st.one_of(st.none(), st.integers(0, 2 * 10**6).map(lambda v: v / 2))
row = st.tuples(
    st.sampled_from(INDICATORS),
    st.sampled_from(MUNICIPALITIES + LARGER),
    st.sampled_from(PERIODS),
    st.sampled_from(SEXES),
    values,
    st.sampled_from("APEFUBDINO"),
    st.sampled_from("FN"),
    st.sampled_from(["istat", "other"]),
)


def _table(rows: list[tuple[Any, ...]]) -> pa.Table:
    unique = {r[:4]: r for r in rows}  # one row per key, as after resolving sources
    rows = list(unique.values())
    n = len(rows)
    data: dict[str, Any] = {
        "indicator": [r[0] for r in rows],
        "territory": [r[1] for r in rows],
        "period": [r[2] for r in rows],
        "period_start": [date(int(r[2]), 1, 1) for r in rows],
        "sex": [r[3] for r in rows],
        "value": pa.array([r[4] for r in rows], pa.float64()),
        "unit": ["person"] * n,
        "obs_status": [r[5] for r in rows],
        "conf_status": [r[6] for r in rows],
        "flags": pa.nulls(n, pa.string()),
        "source": [r[7] for r in rows],
        "lineage": ["harmonize-0000000000000000"] * n,
    }
    schema = observation_schema(("sex",))
    return pa.table(data, schema=schema.remove_metadata()).cast(schema)


def _sorted(table: pa.Table) -> pa.Table:
    table = plain(table)
    return table.sort_by([(n, "ascending") for n in table.column_names if n != "flags"])


def _both(monkeypatch: pytest.MonkeyPatch, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    with monkeypatch.context() as m:
        m.setattr(ag, "SMALL", -1)  # every input is too large: DuckDB
        reference = aggregate(*args, **kwargs)
    return aggregate(*args, **kwargs), reference


def _municipal(table: pa.Table) -> pa.Table:
    import pyarrow.compute as pc

    territory = table.column("territory").cast(pa.string())
    return table.filter(pc.equal(pc.utf8_length(territory), 6))


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(row, max_size=60), min_coverage=st.sampled_from([1.0, 0.5]))
def test_arrow_aggregation_equals_duckdb(
    catalog, hierarchy, rows: list[tuple[Any, ...]], min_coverage: float
) -> None:
    published = _table(rows)
    observations = _municipal(published)
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast, reference = _both(
            monkeypatch,
            observations,
            catalog,
            hierarchy,
            min_coverage=min_coverage,
            published=published,
            inputs=["harmonize-0000000000000000"],
        )
    assert fast.table.schema == reference.table.schema
    assert _sorted(fast.table).equals(_sorted(reference.table))
    assert fast.coverage is not None and reference.coverage is not None
    assert fast.coverage.schema == reference.coverage.schema
    assert _sorted(fast.coverage).equals(_sorted(reference.coverage))
    assert fast.findings == reference.findings
    assert fast.parts == reference.parts
    assert fast.step == reference.step


def test_a_small_input_is_not_sent_to_duckdb(catalog, hierarchy, monkeypatch) -> None:
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("DuckDB was asked")

    monkeypatch.setattr(ag, "_summed_in_duckdb", refused)
    monkeypatch.setattr(ag, "_covered_in_duckdb", refused)
    rows = [("POP_TOTAL", m, "2023", "_T", 10.0, "A", "F", "istat") for m in MUNICIPALITIES]
    rows.append(("POP_TOTAL", "096", "2023", "_T", 31.0, "A", "F", "istat"))
    published = _table(rows)
    result = aggregate(_municipal(published), catalog, hierarchy, published=published)
    got = {(r["territory"]): r["value"] for r in result.table.to_pylist()}
    assert got["IT"] == 60.0 and "096" not in got  # the published total wins
    assert [f.code for f in result.findings] == ["release-conflict"]


def test_a_hierarchy_with_a_municipality_twice_goes_to_duckdb(catalog, hierarchy) -> None:
    doubled = pa.concat_tables([hierarchy, hierarchy.slice(0, 1)])
    rows = [("POP_TOTAL", m, "2023", "_T", 10.0, "A", "F", "istat") for m in MUNICIPALITIES]
    table = _table(rows)
    found = ag._summed_in_arrow(
        table, doubled, ag.LEVELS, ["POP_TOTAL"], ["sex"], "aggregate-0000000000000000"
    )
    assert found is None
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast, reference = _both(monkeypatch, table, catalog, doubled)
    assert _sorted(fast.table).equals(_sorted(reference.table))


def test_a_key_published_twice_goes_to_duckdb(catalog, hierarchy) -> None:
    rows = [("POP_TOTAL", m, "2023", "_T", 10.0, "A", "F", "istat") for m in MUNICIPALITIES]
    table = _table(rows)
    twice = _table([("POP_TOTAL", "096", "2023", "_T", 31.0, "A", "F", "istat")])
    published = pa.concat_tables([table, twice, twice])
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast, reference = _both(monkeypatch, table, catalog, hierarchy, published=published)
    assert _sorted(fast.table).equals(_sorted(reference.table))
    assert fast.findings == reference.findings
