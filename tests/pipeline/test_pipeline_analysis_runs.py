"""The runs of equal text a rebuild splices analyses by (``reuse._runs``), found in Arrow,
equal those of the numpy comparison of Python strings they replace."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pyarrow as pa
from hypothesis import example, given
from hypothesis import strategies as st

from welfare_observatory.build.reuse import _runs


def numpy_runs(table: pa.Table, lead: str) -> list[tuple[str, int, int]] | None:
    """The previous implementation: every row as a Python string."""
    if not table.num_rows:
        return []
    column = table.column(lead)
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if column.null_count:
        return None
    values = column.to_numpy(zero_copy_only=False)
    starts = [0, *(np.flatnonzero(values[1:] != values[:-1]) + 1).tolist(), len(values)]
    runs = [(str(values[a]), a, b) for a, b in pairwise(starts)]
    if any(x[0] >= y[0] for x, y in pairwise(runs)):
        return None
    return runs


texts = st.one_of(st.none(), st.sampled_from(["", "a", "ab", "b", "B", "é", "z\u0301", "ζ"]))


@given(
    values=st.lists(texts, max_size=30),
    sort=st.booleans(),
    cuts=st.lists(st.integers(0, 30), max_size=3),
    dictionary=st.booleans(),
    large=st.booleans(),
)
@example(values=["a", "a", "b"], sort=True, cuts=[], dictionary=False, large=False)
@example(values=["b", "a"], sort=False, cuts=[], dictionary=False, large=False)
@example(values=["a", "b", "a"], sort=False, cuts=[1], dictionary=True, large=False)
def test_runs_found_in_arrow_equal_those_of_numpy_strings(
    values: list[str | None], sort: bool, cuts: list[int], dictionary: bool, large: bool
) -> None:
    if sort:
        values = sorted(values, key=lambda v: (v is None, v or ""))
    kind = pa.large_string() if large else pa.string()
    bounds = sorted({0, len(values), *(c for c in cuts if c <= len(values))})
    chunks = [pa.array(values[a:b], kind) for a, b in pairwise(bounds)] or [pa.array([], kind)]
    column = pa.chunked_array(chunks, kind)
    if dictionary:
        column = pa.chunked_array([c.dictionary_encode() for c in column.chunks])
    table = pa.table({"indicator": column})
    assert _runs(table, "indicator") == numpy_runs(table, "indicator")


def test_a_column_that_is_not_text_has_no_runs() -> None:
    assert _runs(pa.table({"indicator": [1, 1, 2]}), "indicator") is None


def one_slice_a_run(
    old: pa.Table, new: pa.Table | None, lead: str, redo: set[str]
) -> pa.Table | None:
    """The previous splice: one slice per run of either table."""
    kept, added = _runs(old, lead), (_runs(new, lead) if new is not None else [])
    if kept is None or added is None or any(v not in redo for v, _, _ in added):
        return None
    pieces = [(v, old, a, b) for v, a, b in kept if v not in redo]
    pieces += [(v, new, a, b) for v, a, b in added if new is not None]
    pieces.sort(key=lambda piece: piece[0])
    if not pieces:
        return old.slice(0, 0)
    return pa.concat_tables([t.slice(a, b - a) for _, t, a, b in pieces])


names = st.sampled_from(["a", "b", "c", "d", "e"])


@given(
    old=st.lists(st.tuples(names, st.integers(1, 3)), max_size=6),
    new=st.none() | st.lists(st.tuples(names, st.integers(1, 3)), max_size=3),
    redo=st.sets(names),
)
@example(old=[("a", 1), ("b", 2), ("c", 1)], new=[("b", 1)], redo={"b"})
def test_a_splice_of_few_slices_equals_one_slice_a_run(
    old: list[tuple[str, int]], new: list[tuple[str, int]] | None, redo: set[str]
) -> None:
    from welfare_observatory.build.reuse import _spliced

    def table(runs: list[tuple[str, int]], offset: int) -> pa.Table:
        values = sorted(dict(runs).items())
        indicator = [v for v, n in values for _ in range(n)]
        return pa.table({"indicator": indicator, "x": list(range(offset, offset + len(indicator)))})

    before = table(old, 0)
    after = table(new, 100) if new is not None else None
    if after is not None:
        redo = redo | {str(v) for v in after.column("indicator").to_pylist()}
    got = _spliced(before, after, "indicator", redo)
    expected = one_slice_a_run(before, after, "indicator", redo)
    assert (got is None) == (expected is None)
    if got is not None and expected is not None:
        assert got.equals(expected)
        assert got.column("indicator").num_chunks <= 2 * len(redo) + 1
