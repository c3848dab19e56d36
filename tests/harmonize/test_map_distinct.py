"""``map_distinct`` maps every row through one call per distinct value, null rows to the
extra last slot, with or without nulls in the column (issue 19: no fill without nulls)."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.harmonize._arrow import map_distinct


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "017001", " c"])), max_size=20),
    st.sampled_from(["plain", "dictionary", "chunked"]),
)
def test_each_row_gets_the_result_of_its_value(values: list[str | None], kind: str) -> None:
    column: pa.Array | pa.ChunkedArray = pa.array(values, pa.string())
    if kind == "dictionary":
        column = column.dictionary_encode()
    elif kind == "chunked":
        column = pa.chunked_array([column[: len(values) // 2], column[len(values) // 2 :]])
    calls: list[str] = []

    def fn(value: str) -> str:
        calls.append(value)
        return value.upper()

    results, indices, distinct = map_distinct(
        column if isinstance(column, pa.ChunkedArray) else pa.chunked_array([column]), fn
    )
    assert indices.type == pa.int32() and indices.null_count == 0
    assert [results[i] for i in indices.to_pylist()] == [
        None if v is None else v.upper() for v in values
    ]
    assert [distinct[i] for i in indices.to_pylist()] == values
    assert sorted(calls) == sorted({v for v in values if v is not None})
