"""The lineage table is built from the records' fields directly; reference: the way it was
built before, from ``model_dump(mode="json")`` of every record. The same table, value for
value, for JSON parameters and for values JSON cannot hold as they are (dates, sets,
numbers that are not finite), which go through pydantic's serialisation."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.lineage import LineageGraph, StepRecord, canonical_json


def _before(graph: LineageGraph) -> pa.Table:
    rows = graph.to_records()
    return pa.table(
        {
            "id": [r["id"] for r in rows],
            "kind": [r["kind"] for r in rows],
            "inputs": pa.array([r["inputs"] for r in rows], pa.list_(pa.string())),
            "parameters_digest": [r["parameters_digest"] for r in rows],
            "parameters": [canonical_json(r["parameters"]) for r in rows],
            "versions": [canonical_json(r["versions"]) for r in rows],
            "outputs": pa.array([r["outputs"] for r in rows], pa.list_(pa.string())),
            "source": pa.array([r["source"] for r in rows], pa.string()),
        }
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=10,
)
odd_values = st.sampled_from([date(2024, 1, 1), {"a", "b"}, math.inf, math.nan, (1, 2), b"x"])
parameters = st.dictionaries(st.text(max_size=6), json_values | odd_values, max_size=4)
versions = st.dictionaries(
    st.sampled_from(["welfare-observatory", "plugin-a", "plugin-b"]),
    st.sampled_from(["0.1.0", "1.2"]),
    max_size=3,
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=8),
            parameters,
            versions,
            st.lists(st.text(max_size=4), max_size=3),
            st.none() | st.text(max_size=4),
        ),
        max_size=6,
        unique_by=lambda r: r[0],
    )
)
def test_lineage_table_equals_the_one_built_from_model_dumps(records: list[Any]) -> None:
    graph = LineageGraph(
        StepRecord(
            id=ident,
            kind="parse",
            inputs=tuple(inputs),
            parameters_digest="d",
            parameters=params,
            versions=vers,
            outputs=tuple(reversed(inputs)),
            source=source,
        )
        for ident, params, vers, inputs, source in records
    )
    got, expected = graph.to_arrow(), _before(graph)
    assert got.schema == expected.schema
    assert got.to_pylist() == expected.to_pylist()


def test_records_made_by_create_serialise_as_before() -> None:
    graph = LineageGraph(
        StepRecord.create("parse", ["sha256:x"], {"rules": [{"b": 1, "a": [1.5, None]}], "é": "ü"})
        for _ in range(2)
    )
    assert graph.to_arrow().equals(_before(graph))


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
        ),
        max_leaves=12,
    )
)
def test_canonical_json_is_the_text_json_dumps_gives(value: Any) -> None:
    """One encoder made once gives what ``json.dumps`` with the same settings gives (also
    for a float that is not finite)."""
    import json

    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(value) == expected


def test_canonical_json_refuses_what_json_dumps_refuses() -> None:
    import json

    import pytest

    for odd in ({"a", "b"}, {"k": b"x"}, {1: "a", "b": 2}):
        with pytest.raises(TypeError):
            json.dumps(odd, sort_keys=True)
        with pytest.raises(TypeError):
            canonical_json(odd)
