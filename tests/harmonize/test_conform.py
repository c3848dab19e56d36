"""The harmonizer's cast to the observation schema casts only the columns that need it, with
``Table.cast``'s result and errors (issue 19)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.harmonize.engine import _conform

SCHEMA = pa.schema(
    [
        pa.field("indicator", pa.dictionary(pa.int32(), pa.string()), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("flags", pa.string()),
    ],
    metadata={b"kind": b"observations"},
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["A", "B"]),
            st.one_of(st.none(), st.integers(-5, 5)),
            st.one_of(st.none(), st.just("x")),
        ),
        max_size=12,
    ),
    st.booleans(),
    st.booleans(),
)
def test_conform_gives_what_table_cast_gives(
    rows: list[tuple[str, int | None, str | None]], encoded: bool, as_int: bool
) -> None:
    indicator = pa.array([r[0] for r in rows], pa.string())
    table = pa.table(
        {
            "indicator": indicator.dictionary_encode() if encoded else indicator,
            "value": pa.array([r[1] for r in rows], pa.int64() if as_int else pa.float64()),
            "flags": pa.array([r[2] for r in rows], pa.string()),
        }
    )
    fast = _conform(table, SCHEMA)
    slow = table.cast(SCHEMA)
    assert fast.schema.equals(slow.schema, check_metadata=True)
    assert fast.equals(slow)
    assert [c.num_chunks for c in fast.columns] == [c.num_chunks for c in slow.columns]


def test_conform_refuses_what_table_cast_refuses() -> None:
    nulls = pa.table(
        {
            "indicator": pa.array(["A", None]).dictionary_encode(),
            "value": [1.0, 2.0],
            "flags": pa.array([None, None], pa.string()),
        }
    )
    with pytest.raises(ValueError, match="non-nullable"):
        nulls.cast(SCHEMA)
    with pytest.raises(ValueError, match="non-nullable"):
        _conform(nulls, SCHEMA)
    renamed = nulls.rename_columns(["indicator", "flags", "value"])
    with pytest.raises(ValueError, match="names"):
        _conform(renamed, SCHEMA)
