"""The integer ids the outlier check groups and partitions on (issue 19): two rows share an
id exactly when every key column is equal, NULL equal to NULL, as SQL's ``IS NOT DISTINCT
FROM`` compares them; also when the ids are renumbered to stay within int64."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.validate import builtin

_text = st.one_of(st.none(), st.sampled_from(["", "a", "b", "096004", "IT"]))
_number = st.one_of(st.none(), st.integers(min_value=0, max_value=3))


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(_text, _text, _number), min_size=1, max_size=40),
    st.booleans(),
    st.booleans(),
)
def test_rows_share_an_id_exactly_when_their_keys_are_equal(
    rows: list[tuple[str | None, str | None, int | None]], encoded: bool, renumber: bool
) -> None:
    columns = [
        pa.chunked_array([pa.array([r[0] for r in rows], pa.string())]),
        pa.chunked_array([pa.array([r[1] for r in rows], pa.string())]),
        pa.chunked_array([pa.array([r[2] for r in rows], pa.int32())]),
    ]
    if encoded:
        columns[0] = pa.chunked_array([columns[0].combine_chunks().dictionary_encode()])
    with pytest.MonkeyPatch.context() as patch:
        if renumber:
            patch.setattr(builtin, "_PACK_LIMIT", 8)
        ids = builtin._group_ids(columns).to_pylist()
    for i, left in enumerate(rows):
        for j, right in enumerate(rows):
            assert (ids[i] == ids[j]) == (left == right)
