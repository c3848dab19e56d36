"""Rates are computed in batches of formulas with a bounded number of operand rows
(``derive.formulas.ROWS_PER_QUERY``), so that one query over a national table does not hold
every denominator row at once: the batches change how much memory the join takes, never the
rows or the findings."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from welfare_observatory._arrow import counts
from welfare_observatory.derive import derive_rates, formulas

from .conftest import observations

OPERANDS = ("POP_TOTAL", "POP_65_PLUS", "BIRTHS")
KEYS = st.tuples(
    st.sampled_from(OPERANDS),
    st.sampled_from(["096004", "096021", "001272"]),
    st.sampled_from(["2022-01-01", "2023-01-01"]),
    st.sampled_from(["_T", "F", "M"]),
)
CELLS = st.tuples(
    st.one_of(st.none(), st.just(0.0), st.floats(1, 1e6, allow_nan=False)),
    st.sampled_from(["A", "P", "E"]),
)


def _rows(result: Any) -> list[tuple[Any, ...]]:
    rows = result.table.to_pylist()
    return sorted(tuple(sorted(r.items(), key=lambda kv: kv[0])) for r in rows)


def _findings(result: Any) -> list[tuple[str, str, int]]:
    return sorted((f.code, f.message, f.count) for f in result.findings)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(KEYS, CELLS, min_size=1, max_size=40))
def test_rates_in_batches_of_one_formula_are_the_rates_of_one_query(
    catalog: Any, cells: dict[tuple[str, str, str, str], tuple[float | None, str]]
) -> None:
    keys = sorted(cells)
    table = observations(
        [(k[0], k[1], k[2], cells[k][0]) for k in keys],
        breakdowns={"sex": [k[3] for k in keys]},
        status=[cells[k][1] if cells[k][0] is not None else "O" for k in keys],
    )
    whole = derive_rates(table, catalog)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(formulas, "ROWS_PER_QUERY", 1)
        batched = derive_rates(table, catalog)
    assert _rows(batched) == _rows(whole)
    assert _findings(batched) == _findings(whole)
    assert batched.step.id == whole.step.id
    assert batched.table.schema == whole.table.schema


def test_formulas_go_in_runs_of_at_most_the_limit_of_operand_rows() -> None:
    rates = [
        {"target": "A", "numerator": "N1", "denominator": "D"},
        {"target": "B", "numerator": "N2", "denominator": "D"},
        {"target": "C", "numerator": "N3", "denominator": "D"},
    ]
    rows = {"N1": 30, "N2": 30, "N3": 500, "D": 40}
    runs = formulas._batches(rates, rows, 150)
    # A and B hold 140 rows together; C alone is over the limit, a run of its own.
    assert [[f["target"] for f in run] for run in runs] == [["A", "B"], ["C"]]
    assert formulas._batches(rates, rows, 10**9) == [rates]
    assert formulas._batches([], rows, 1) == []


@given(
    st.lists(st.integers(0, 50), max_size=12),
    st.integers(1, 120),
)
def test_runs_keep_every_formula_in_order_within_the_limit(weights: list[int], limit: int) -> None:
    rates = [
        {"target": f"T{i}", "numerator": f"N{i}", "denominator": "NONE"}
        for i in range(len(weights))
    ]
    rows = {f"N{i}": w for i, w in enumerate(weights)}
    runs = formulas._batches(rates, rows, limit)
    assert [f for run in runs for f in run] == rates
    for run in runs:
        assert run, "no empty run"
        held = sum(rows[str(f["numerator"])] for f in run)
        assert held <= limit or len(run) == 1


TEXTS = st.sampled_from(["a", "b", "c", "017001", ""])


@given(st.lists(st.lists(st.one_of(st.none(), TEXTS), max_size=8), min_size=1, max_size=4))
def test_counts_are_the_rows_per_text_plain_or_dictionary_encoded(
    chunks: list[list[str | None]],
) -> None:
    expected = Counter(v for chunk in chunks for v in chunk if v is not None)
    plain = pa.chunked_array([pa.array(c, pa.string()) for c in chunks], pa.string())
    # Each chunk on a dictionary of its own, in its own order (as DuckDB and concat give).
    encoded = pa.chunked_array(
        [pa.array(c, pa.string()).dictionary_encode() for c in chunks],
        pa.dictionary(pa.int32(), pa.string()),
    )
    assert counts(pa.table({"c": plain}), "c") == dict(expected)
    assert counts(pa.table({"c": encoded}), "c") == dict(expected)


def test_one_text_in_two_slots_of_a_dictionary_is_counted_once_with_both() -> None:
    chunk = pa.DictionaryArray.from_arrays(
        pa.array([0, 1, 1, None, 2], pa.int32()), pa.array(["x", "x", "y"])
    )
    assert counts(pa.table({"c": pa.chunked_array([chunk])}), "c") == {"x": 3, "y": 1}
