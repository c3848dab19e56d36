"""Per-source shortcuts of the build's source runner (issue 19): each gives what the
general code gives, checked against it."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.build.sources import _indicators, _one_conformed, distinct
from welfare_observatory.model.observation import observation_schema, unify_breakdowns

_row = st.tuples(
    st.sampled_from(["I1", "I2", "I3"]),
    st.sampled_from(["017", "017001"]),
    st.sampled_from(["_T", "F", "M"]),
    st.one_of(st.none(), st.floats(-5, 5)),
)


def _table(rows: list[tuple[str, str, str, float | None]], breakdowns: tuple[str, ...]) -> pa.Table:
    n = len(rows)
    columns = {
        "indicator": [r[0] for r in rows],
        "territory": [r[1] for r in rows],
        "period": ["2020"] * n,
        "period_start": pa.array([0] * n, pa.int32()).cast(pa.date32()),
        **{name: [r[2] for r in rows] for name in breakdowns},
        "value": [r[3] for r in rows],
        "unit": ["count"] * n,
        "obs_status": ["A"] * n,
        "conf_status": ["F"] * n,
        "flags": pa.nulls(n, pa.string()),
        "source": ["s"] * n,
        "lineage": ["harmonize-1"] * n,
    }
    schema = observation_schema(breakdowns)
    return pa.table(columns).select(schema.names).cast(schema)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(_row, max_size=12),
    st.sampled_from([(), ("sex",), ("age", "sex"), ("sex", "age")]),
    st.integers(1, 3),
    st.booleans(),
)
def test_one_conformed_table_is_what_unify_breakdowns_gives(
    rows: list[tuple[str, str, str, float | None]],
    breakdowns: tuple[str, ...],
    chunks: int,
    metadata: bool,
) -> None:
    table = _table(rows, breakdowns)
    if chunks > 1:
        table = pa.concat_tables([table] * chunks)
    if metadata:
        table = table.replace_schema_metadata({b"k": b"v"})
    expected = unify_breakdowns([table])
    got = _one_conformed([table])
    if got is None:  # not the shortcut's case: breakdowns out of order, chunks, metadata
        assert breakdowns == ("sex", "age") or chunks > 1 or metadata
        return
    assert got.schema.equals(expected.schema, check_metadata=True)
    assert got.equals(expected)
    for mine, theirs in zip(got.columns, expected.columns, strict=True):
        for a, b in zip(mine.chunks, theirs.chunks, strict=True):
            if pa.types.is_dictionary(a.type):  # the same codes in the same order
                assert a.dictionary.equals(b.dictionary)
    assert _one_conformed([table, table]) is None


@settings(max_examples=60, deadline=None)
@given(st.lists(_row, max_size=12), st.integers(0, 4), st.integers(1, 3))
def test_the_indicators_of_a_source_are_the_distinct_ones(
    rows: list[tuple[str, str, str, float | None]], start: int, chunks: int
) -> None:
    # Slices and several chunks: dictionary entries no row uses are not indicators.
    table = _table(rows, ())
    table = pa.concat_tables([table.slice(min(start, len(rows)))] * chunks)
    assert _indicators(table) == tuple(distinct(table, "indicator"))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@settings(max_examples=80, deadline=None)
@given(
    st.sampled_from(["fetch", "parse", "harmonize"]),
    st.lists(st.text(alphabet="abc:0123", max_size=8), max_size=3),
    _json,
    st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=2),
)
def test_a_step_record_has_the_id_and_digest_step_id_and_digest_give(
    kind: str, inputs: list[str], parameters: object, versions: dict[str, str]
) -> None:
    # StepRecord.create canonicalises the parameters once; the id is step_id's all the same.
    from welfare_observatory.lineage import StepRecord, digest, step_id

    record = StepRecord.create(kind, inputs, parameters, versions=versions)
    assert record.id == step_id(kind, inputs, parameters, versions)
    assert record.parameters_digest == digest(parameters)
    assert list(record.inputs) == sorted(inputs)
