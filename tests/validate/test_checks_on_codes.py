"""The checks that hand DuckDB integer codes of the texts find exactly what they found on
the texts themselves (the reference: ``_text_checks``, the code of main 81f024c)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from welfare_observatory.model import Finding
from welfare_observatory.model.observation import observation_schema, unify_breakdowns
from welfare_observatory.validate import CheckContext, default_checks
from welfare_observatory.validate.batch import run_checks_by_source
from welfare_observatory.validate.builtin import SOURCE_COLUMN

from . import _text_checks as text
from .test_validate_checks import POP

MUNICIPALITIES = [f"0960{i:02d}" for i in range(1, 13)]
HIERARCHY = pa.table({"municipality": MUNICIPALITIES, "province": ["096"] * 12})
TERRITORIES = ["096", *MUNICIPALITIES, "999999", "09"]
PERIODS = ["2019", "2020", "2021", "2022", "2023"]
VALUES = [0.0, 1.0, 2.0, 10.0, 11.0, 12.0, 13.5, 95.0, 150.0, -3.0, 600.0, None]
CHECKS = {
    "unknown-territory": text.check_unknown_territories,
    "coverage": text.check_coverage,
    "range": text.check_range,
    "sum-consistency": text.check_sum_consistency,
    "outliers": text.check_outliers,
    "status": text.check_status,
}


def observations(rows: list[tuple[Any, ...]], breakdown: bool) -> pa.Table:
    n = len(rows)
    data: dict[str, Any] = {
        "indicator": [r[0] for r in rows],
        "territory": [r[1] for r in rows],
        "period": [r[2] for r in rows],
        "period_start": [date(int(r[2]), 1, 1) for r in rows],
        "value": [r[3] for r in rows],
        "unit": [r[4] for r in rows],
        "obs_status": [r[5] for r in rows],
        "conf_status": ["F"] * n,
        "flags": pa.nulls(n, pa.string()),
        "source": ["s"] * n,
        "lineage": ["x"] * n,
    }
    names = ("sex",) if breakdown else ()
    if breakdown:
        data["sex"] = [r[6] for r in rows]
    schema = observation_schema(names)
    return pa.table(data).select(schema.names).cast(schema)


@st.composite
def source_tables(draw: st.DrawFn) -> dict[str, pa.Table]:
    tables = {}
    for source in draw(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=4, unique=True)):
        breakdown = draw(st.booleans())
        rows = []
        for indicator, unit in draw(
            st.lists(
                st.sampled_from(
                    [("POP_TOTAL", "person"), ("RATE", "percent"), ("SHARE", "percent")]
                ),
                min_size=1,
                max_size=3,
                unique=True,
            )
        ):
            for sex in ["F", "M"] if breakdown else [None]:
                for territory in draw(
                    st.lists(st.sampled_from(TERRITORIES), min_size=1, unique=True)
                ):
                    for period in draw(st.lists(st.sampled_from(PERIODS), min_size=1, unique=True)):
                        value = draw(st.sampled_from(VALUES))
                        status = draw(st.sampled_from(["A", "A", "A", "P", "B", "E", "U", "F"]))
                        rows.append((indicator, territory, period, value, unit, status, sex))
        tables[source] = observations(rows, breakdown)
    return tables


def as_json(findings: list[Finding]) -> list[str]:
    return [json.dumps(f.model_dump(mode="json"), sort_keys=True) for f in findings]


def on_texts(tables: dict[str, pa.Table], ctx: CheckContext) -> dict[str, list[str]]:
    """The reference: each check of main over the batch with plain text columns."""
    ids = [s for s, t in tables.items() if t.num_rows]
    combined = unify_breakdowns([tables[s] for s in ids])
    lengths = np.array([tables[s].num_rows for s in ids])
    which = pa.DictionaryArray.from_arrays(
        pa.array(np.repeat(np.arange(len(ids), dtype=np.int32), lengths)), pa.array(ids)
    )
    batch = text.plain(combined.append_column(SOURCE_COLUMN, which))
    found: dict[str, list[Finding]] = {s: [] for s in tables}
    for check in CHECKS.values():
        for finding in check(batch, ctx):
            found[str(finding.source)].append(finding)
    order = {"error": 0, "warning": 1, "info": 2}
    return {s: as_json(sorted(f, key=lambda x: order[x.severity.value])) for s, f in found.items()}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source_tables())
def test_checks_on_codes_find_what_they_found_on_texts(tables: dict[str, pa.Table]) -> None:
    ctx = CheckContext(
        indicators={"POP_TOTAL": POP},
        hierarchy=HIERARCHY,
        territories=TERRITORIES[:-2],
        expected_territories=None,
    )
    got = run_checks_by_source(tables, default_checks(), ctx, only=list(CHECKS))
    assert {s: as_json(f) for s, f in got.items()} == on_texts(tables, ctx)


def test_the_cases_raise_every_finding() -> None:
    """The generator above reaches each check (the comparison is not between two empties)."""
    rows = [
        ("RATE", m, "2023", 10.0 + i % 3, "percent", "A", None)
        for i, m in enumerate(MUNICIPALITIES)
    ]
    rows[0] = ("RATE", MUNICIPALITIES[0], "2023", 95.0, "percent", "A", None)
    rows += [("RATE", MUNICIPALITIES[1], "2022", 2.0, "percent", "P", None)]
    rows += [("POP_TOTAL", m, "2023", 10.0, "person", "A", None) for m in MUNICIPALITIES]
    rows += [("POP_TOTAL", "096", "2023", 500.0, "person", "A", None)]
    rows += [("POP_TOTAL", "999999", "2023", -1.0, "person", "A", None)]
    rows += [("SHARE", "096001", "2021", 150.0, "percent", "A", None)]
    rows += [("SHARE", "096001", "2019", 5.0, "percent", "A", None)]
    tables = {"a": observations(rows, False)}
    ctx = CheckContext(
        indicators={"POP_TOTAL": POP}, hierarchy=HIERARCHY, territories=TERRITORIES[:-2]
    )
    got = run_checks_by_source(tables, default_checks(), ctx, only=list(CHECKS))
    assert {s: as_json(f) for s, f in got.items()} == on_texts(tables, ctx)
    assert {f.code for f in got["a"]} >= {
        "unknown-territory",
        "out-of-range",
        "sum-mismatch",
        "outlier",
        "implausible-jump",
        "status-provisional",
        "missing-periods",
    }
