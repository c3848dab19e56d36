"""Shortcuts of aggregation over a whole build's table give what the plain way gives.

Derive hands aggregation only the municipal rows of summed indicators and the columns it
reads (``derive.aggregation.aggregated_input``); the coverage step looks up published values
among the rows of the aggregates' indicators and territories only
(``aggregation._candidates``); ``on_values`` takes once over chunks sharing a dictionary.
DuckDB sums on the keys' dictionary codes (``aggregation._coded``) where each key column
is on one dictionary of distinct texts. Each is compared with what it replaces, on
DuckDB's path (the one large builds take).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.derive import aggregate
from welfare_observatory.derive import aggregation as ag
from welfare_observatory.derive._common import on_values
from welfare_observatory.derive.aggregation import aggregated_input

from .test_derive_aggregate_arrow import _municipal, _sorted, _table, row


def _same(a: Any, b: Any) -> None:
    assert a.table.schema == b.table.schema
    assert _sorted(a.table).equals(_sorted(b.table))
    assert a.coverage is not None and b.coverage is not None
    assert a.coverage.schema == b.coverage.schema
    assert _sorted(a.coverage).equals(_sorted(b.coverage))
    assert a.findings == b.findings
    assert a.parts == b.parts
    assert a.step == b.step


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(row, max_size=60), min_coverage=st.sampled_from([1.0, 0.5]))
def test_narrowed_input_and_candidates_give_the_whole_tables_result(
    catalog, hierarchy, rows: list[tuple[Any, ...]], min_coverage: float
) -> None:
    published = _table(rows)
    municipal = _municipal(published)
    six = pc.equal(pc.utf8_length(published.column("territory").cast(pa.string())), 6)
    narrowed = aggregated_input(published, catalog, six)
    kwargs = {"min_coverage": min_coverage, "published": published, "inputs": ["h-0"]}
    with pytest.MonkeyPatch.context() as m:
        m.setattr(ag, "SMALL", -1)  # DuckDB, where the candidates are looked up
        fast = aggregate(narrowed, catalog, hierarchy, **kwargs)
        m.setattr(ag, "_candidates", lambda rows, table: rows)
        reference = aggregate(municipal, catalog, hierarchy, **kwargs)
    _same(fast, reference)


def test_candidates_keep_every_row_a_key_can_match() -> None:
    published = _table(
        [
            ("POP_TOTAL", "096", "2023", "_T", 31.0, "A", "F", "istat"),
            ("POP_TOTAL", "096004", "2023", "_T", 1.0, "A", "F", "istat"),
            ("BIRTHS", "096", "2023", "_T", 2.0, "A", "F", "istat"),
            ("POP_TOTAL", "IT", "2022", "M", 5.0, "A", "F", "istat"),
        ]
    )
    aggregates = _table([("POP_TOTAL", "096", "2022", "_T", 3.0, "A", "F", "derive")])
    aggregates = pa.concat_tables(
        [aggregates, _table([("POP_TOTAL", "IT", "2023", "F", 3.0, "A", "F", "derive")])]
    )
    found = ag._candidates(published, aggregates)
    assert [(r["indicator"], r["territory"]) for r in found.to_pylist()] == [
        ("POP_TOTAL", "096"),
        ("POP_TOTAL", "IT"),
    ]
    assert ag._candidates(published, aggregates.slice(0, 0)).num_rows == 0


values = st.lists(st.one_of(st.none(), st.sampled_from(["096001", "096", "IT", "017029"])))


@given(st.lists(values, max_size=5), st.booleans())
@settings(max_examples=80, deadline=None)
def test_on_values_over_one_dictionary_equals_chunk_by_chunk(chunks, unified) -> None:
    column = pa.chunked_array(
        [pa.array(c, pa.string()).dictionary_encode() for c in chunks],
        pa.dictionary(pa.int32(), pa.string()),
    )
    if unified:  # every chunk on one dictionary, as a build's unified table
        column = pa.table({"c": column}).unify_dictionaries().column(0)
    kept = pa.array(["IT", "096"], pa.string())
    functions = [
        lambda v: pc.equal(pc.utf8_length(v), 6),
        lambda v: pc.fill_null(pc.is_in(v, value_set=kept), False),
        lambda v: pc.index_in(v, value_set=kept),
    ]
    for function in functions:
        got = on_values(column, function)
        expected = [function(c.dictionary).take(c.indices) for c in column.chunks]
        assert [len(c) for c in got.chunks] == [len(c) for c in expected]
        assert got.to_pylist() == [v for c in expected for v in c.to_pylist()]


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(row, max_size=60), split=st.integers(0, 60), unified=st.booleans())
def test_sums_on_codes_equal_sums_on_texts(
    catalog, hierarchy, rows: list[tuple[Any, ...]], split: int, unified: bool
) -> None:
    published = _table(rows)
    municipal = _municipal(published)
    # Two chunks, each on its own dictionary (texts then), or on one (codes then).
    municipal = pa.concat_tables([municipal.slice(0, split), municipal.slice(split)])
    if unified:
        municipal = municipal.unify_dictionaries()
    kwargs = {"published": published, "inputs": ["h-0"]}
    with pytest.MonkeyPatch.context() as m:
        m.setattr(ag, "SMALL", -1)
        fast = aggregate(municipal, catalog, hierarchy, **kwargs)
        m.setattr(ag, "_coded", lambda table, names: None)
        reference = aggregate(municipal, catalog, hierarchy, **kwargs)
    _same(fast, reference)


def test_codes_only_for_one_dictionary_of_distinct_texts() -> None:
    one = pa.array(["a", "b", "a"]).dictionary_encode()
    table = pa.table({"k": pa.chunked_array([one, one.slice(1)])})
    coded = ag._coded(table, ["k"])
    assert coded is not None
    assert coded[0].column("k").to_pylist() == [0, 1, 0, 1, 0]
    assert coded[1]["k"].to_pylist() == ["a", "b"]
    twice = pa.DictionaryArray.from_arrays(pa.array([0, 1], pa.int32()), pa.array(["a", "a"]))
    assert ag._coded(pa.table({"k": twice}), ["k"]) is None  # one text, two codes
    other = pa.array(["b", "a"]).dictionary_encode()
    assert ag._coded(pa.table({"k": pa.chunked_array([one, other])}), ["k"]) is None
    missing = pa.DictionaryArray.from_arrays(
        pa.array([0], pa.int32()), pa.array([None], pa.string())
    )
    assert ag._coded(pa.table({"k": missing}), ["k"]) is None
    assert ag._coded(pa.table({"k": pa.array(["a"])}), ["k"]) is None  # not a dictionary


names = st.one_of(st.none(), st.sampled_from(["POP_TOTAL", "BIRTHS", "MEDIAN_AGE", "NOT_DEFINED"]))


@given(
    st.lists(st.lists(names, max_size=6), max_size=4),
    st.sampled_from(["own", "one", "plain", "null slot"]),
)
@settings(max_examples=60, deadline=None)
def test_domain_column_equals_the_lookup_row_by_row(catalog, chunks, dictionaries) -> None:
    """Each row's domain is its indicator's, whether the indicator column's chunks have
    dictionaries of their own, one unified dictionary, none, or dictionaries whose first
    slot is a null (a missing indicator read through it); each chunk's domains come on a
    dictionary of the distinct texts it holds."""
    from welfare_observatory.build.derive import _with_domain
    from welfare_observatory.harmonize._columns import zeros
    from welfare_observatory.model.indicator import Domain

    # Three domains besides "other", so that a chunk's may be any few of them.
    moved = {"BIRTHS": Domain.HEALTH, "MEDIAN_AGE": Domain.EDUCATION}
    catalog = {
        k: v.model_copy(update={"domain": moved[k]}) if k in moved else v
        for k, v in catalog.items()
    }
    # A missing indicator is "other", never the entry a text "None" would name.
    catalog["None"] = catalog["BIRTHS"]
    if dictionaries == "plain":
        column = pa.chunked_array([pa.array(c, pa.string()) for c in chunks], pa.string())
    elif dictionaries == "null slot":
        parts = []
        for c in chunks:
            texts = sorted({v for v in c if v is not None})
            slots = pa.array([0 if v is None else 1 + texts.index(v) for v in c], pa.int32())
            values = pa.array([None, *texts], pa.string())
            parts.append(pa.DictionaryArray.from_arrays(slots, values))
        column = pa.chunked_array(parts, pa.dictionary(pa.int32(), pa.string()))
    else:
        column = pa.chunked_array(
            [pa.array(c, pa.string()).dictionary_encode() for c in chunks],
            pa.dictionary(pa.int32(), pa.string()),
        )
    table = pa.table({"indicator": column})
    if dictionaries == "one":
        table = table.unify_dictionaries()
    rows = table.column("indicator").cast(pa.string()).to_pylist()
    expected = [str(catalog[r].domain) if r in catalog else "other" for r in rows]
    got = _with_domain(table, catalog).column("domain")
    assert got.type == pa.dictionary(pa.int32(), pa.string())
    assert got.num_chunks == column.num_chunks
    assert got.null_count == 0
    assert got.cast(pa.string()).to_pylist() == expected
    for chunk in got.chunks:  # each on the domains it holds, sorted
        held = chunk.cast(pa.string()).to_pylist()
        assert chunk.dictionary.to_pylist() == sorted(set(held))
        if len(set(held)) == 1:  # no byte a row: the buffer source tables share
            assert chunk.indices.buffers()[1].address == zeros(0).address
