"""A dictionary column re-encoded for the store keeps its rows' values, on a dictionary of
exactly the distinct values its rows use, sorted.

Reference: the rows decoded to text, their distinct non-missing values sorted. Chunks of
their own dictionaries, unused slots, one text in two slots of a dictionary, missing values.
"""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.store.edition import _sorted_dictionary

_TEXTS = ["096004", "096", "IT", "F", "M", "_T", "b", "a"]


@st.composite
def _chunk(draw: st.DrawFn) -> pa.DictionaryArray:
    # Duplicates allowed: one text in two slots, and slots no row uses.
    dictionary = draw(st.lists(st.sampled_from(_TEXTS), min_size=1, max_size=6))
    slot = st.integers(0, len(dictionary) - 1)
    rows = draw(st.lists(st.none() | slot, max_size=30))
    return pa.DictionaryArray.from_arrays(
        pa.array(rows, pa.int32()), pa.array(dictionary, pa.string())
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(_chunk(), min_size=1, max_size=5))
def test_values_kept_on_a_sorted_dictionary_of_used_values(chunks: list[pa.Array]) -> None:
    column = pa.chunked_array(chunks, pa.dictionary(pa.int32(), pa.string()))
    encoded = _sorted_dictionary(column)

    rows = column.cast(pa.string()).to_pylist()
    assert encoded.cast(pa.string()).to_pylist() == rows
    assert encoded.num_chunks == 1
    dictionary = encoded.chunk(0).dictionary.to_pylist()
    assert dictionary == sorted({r for r in rows if r is not None})
    # An index orders like its value: equal texts get equal indices.
    indices = encoded.chunk(0).indices.to_pylist()
    assert [None if i is None else dictionary[i] for i in indices] == rows
