"""Shortcuts of the derive stage give what the direct computation gives.

``on_values`` computes a function once per distinct value of each dictionary chunk;
``_shared_indicators`` decides from (indicator, source) pairs whether release conflicts are
possible at all. Both are checked against the plain computation on tables whose chunks
carry different dictionaries (as the concatenated sources of a build do).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.derive._common import on_values
from welfare_observatory.derive.releases import SourceRank, _shared_indicators, resolve_releases

CODES = ["096001", "096", "IT", "017029", "01", "ITC"]
INDICATORS = ["A", "B", "C", "D"]
SOURCES = ["s1", "s2", "s3"]


def _chunked(values: list[list[str | None]], *, dictionary: bool) -> pa.ChunkedArray:
    chunks = [pa.array(v, pa.string()) for v in values]
    if dictionary:
        chunks = [c.dictionary_encode() for c in chunks]  # each chunk its own dictionary
        return pa.chunked_array(chunks, pa.dictionary(pa.int32(), pa.string()))
    return pa.chunked_array(chunks, pa.string())


chunk_lists = st.lists(
    st.lists(st.one_of(st.none(), st.sampled_from(CODES)), max_size=8), min_size=0, max_size=4
)


@given(chunk_lists, st.booleans())
@settings(max_examples=80, deadline=None)
def test_on_values_equals_the_function_on_decoded_rows(values, dictionary) -> None:
    column = _chunked(values, dictionary=dictionary)
    plain = pa.chunked_array(
        [c.cast(pa.string()) for c in column.chunks] or [pa.array([], pa.string())]
    )
    kept = pa.array(["IT", "096"], pa.string())
    functions = [
        lambda v: pc.equal(pc.utf8_length(v), 6),
        lambda v: pc.index_in(v, value_set=kept),
        lambda v: pc.is_in(v, value_set=kept),
    ]
    for function in functions:
        got = on_values(column, function)
        assert got.type == function(plain.combine_chunks()).type
        expected = function(plain.combine_chunks()).to_pylist()
        observed = got.to_pylist()
        # A null row gives a null (is_in says False on a null, filters drop both alike).
        assert [False if o is None else o for o in observed] == [
            False if o is None or r is None else o
            for o, r in zip(expected, plain.to_pylist(), strict=True)
        ]


rows = st.lists(st.tuples(st.sampled_from(INDICATORS), st.sampled_from(SOURCES)), max_size=30)


@given(rows, st.integers(min_value=1, max_value=4))
@settings(max_examples=80, deadline=None)
def test_shared_indicators_are_those_two_sources_give(pairs, n_chunks) -> None:
    size = max(1, -(-len(pairs) // n_chunks))
    parts = [pairs[i : i + size] for i in range(0, len(pairs), size)]
    table = pa.table(
        {
            "indicator": _chunked([[p[0] for p in part] for part in parts], dictionary=True),
            "source": _chunked([[p[1] for p in part] for part in parts], dictionary=True),
        }
    )
    by_indicator: dict[str, set[str]] = {}
    for indicator, source in pairs:
        by_indicator.setdefault(indicator, set()).add(source)
    expected = sorted(i for i, s in by_indicator.items() if len(s) > 1)
    assert _shared_indicators(table) == expected


def test_a_conflict_among_indicators_given_once_is_still_resolved(obs, by_key) -> None:
    # POP_TOTAL comes from two sources (a conflict); the other indicator from one only.
    table = obs(
        [
            ("POP_TOTAL", "096", "2023-01-01", 168823.0),
            ("POP_TOTAL", "096", "2023-01-01", 169106.0),
            ("POP_FEMALE", "096", "2023-01-01", 86000.0),
        ]
    )
    index = table.schema.get_field_index("source")
    sources = pa.array(["istat", "eurostat", "istat"], pa.string()).dictionary_encode()
    table = table.set_column(
        index, table.schema.field(index), sources.cast(table.schema.field(index).type)
    )
    result = resolve_releases(table, {"eurostat": SourceRank(priority=1)})
    assert by_key(result.table) == {
        ("POP_TOTAL", "096", "2023-01-01"): 169106.0,
        ("POP_FEMALE", "096", "2023-01-01"): 86000.0,
    }
    assert [f.code for f in result.findings].count("release-conflict") == 1
