"""Per-indicator fingerprints of the observations, hashed by numpy instead of DuckDB.

A rebuild reuses the analyses (and the edition's partition files) of every indicator whose
fingerprint is unchanged, so the fast path must tell two tables' indicators apart exactly
when the DuckDB hashing it replaced did: the differential property below checks that on
random tables (text as dictionary or plain, missing values, dates, numbers), and the
invariants the reuse rests on (row order, dictionaries, what the analyses read).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.build import reuse
from welfare_observatory.build.reuse import (
    _duckdb_fingerprints,
    _numpy_fingerprints,
    fingerprints,
)

INDICATORS = ("A", "B", "C", "D")
TEXTS = ("x", "y", "zz", "", "é")


@st.composite
def tables(draw: Any) -> pa.Table:
    """Observation-like tables: indicator and domain, read and unread columns."""
    n = draw(st.integers(1, 40))
    indicator = draw(st.lists(st.sampled_from(INDICATORS), min_size=n, max_size=n))
    text = draw(st.lists(st.one_of(st.none(), st.sampled_from(TEXTS)), min_size=n, max_size=n))
    # No -0.0 and one NaN: DuckDB hashes a value as it compares (0.0 == -0.0), the fast
    # path by its bits, which only ever tells more rows apart.
    number = draw(
        st.lists(
            st.one_of(st.none(), st.just(float("nan")), st.sampled_from([0.0, 1.5, -2.0, 1e300])),
            min_size=n,
            max_size=n,
        )
    )
    day = draw(st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=n, max_size=n))
    flags = draw(st.lists(st.one_of(st.none(), st.sampled_from(TEXTS)), min_size=n, max_size=n))
    table = pa.table(
        {
            "indicator": pa.array(indicator, pa.string()).dictionary_encode(),
            "territory": pa.array(text, pa.string()).dictionary_encode(),
            "period_start": pa.array(day, pa.int32()).cast(pa.date32()),
            "value": pa.array(number, pa.float64()),
            "count": pa.array(day, pa.int64()),
            "flags": pa.array(flags, pa.string()),
            "lineage": pa.array(flags, pa.string()).dictionary_encode(),
            "domain": pa.array([f"d{ord(i) % 2}" for i in indicator], pa.string()),
        }
    )
    return table


def _changed(a: dict[str, str], b: dict[str, str], part: int) -> set[str]:
    """Indicators whose fingerprints differ (``part`` 3: all but the digest of every
    column, as the analyses compare them; 4: the whole fingerprint)."""

    def cut(value: str | None) -> str | None:
        return None if value is None else ":".join(value.split(":")[:part])

    return {i for i in {*a, *b} if cut(a.get(i)) != cut(b.get(i))}


def _edited(table: pa.Table, data: Any) -> pa.Table:
    """``table`` with one cell of one column replaced by another row's cell (or a
    missing value), or with rows shuffled, re-encoded or dropped."""
    how = data.draw(st.sampled_from(["cell", "missing", "shuffle", "plain", "drop"]))
    n = table.num_rows
    if how == "shuffle":
        order = data.draw(st.permutations(range(n)))
        return table.take(pa.array(order, pa.int64()))
    if how == "plain":
        return pa.table(
            [
                c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c
                for c in table.columns
            ],
            names=table.column_names,
        )
    if how == "drop":
        keep = data.draw(st.integers(0, n - 1))
        return table.filter(pa.array([i != keep for i in range(n)]))
    name = data.draw(
        st.sampled_from(["territory", "period_start", "value", "count", "flags", "lineage"])
    )
    row, other = data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, n - 1))
    column = table.column(name)
    values = column.to_pylist()
    values[row] = None if how == "missing" else values[other]
    type_ = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    array = pa.array(values, type_)
    if pa.types.is_dictionary(column.type):
        array = array.dictionary_encode()
    return table.set_column(table.schema.get_field_index(name), name, array)


@settings(max_examples=200, deadline=None)
@given(table=tables(), data=st.data())
def test_the_fast_fingerprints_tell_apart_what_duckdb_told_apart(
    table: pa.Table, data: Any
) -> None:
    """Differential: for any edit of a table, the indicators whose fingerprint changes
    (whole, and the part the analyses read) are those DuckDB's hashing found changed."""
    edited = _edited(table, data)
    fast = _numpy_fingerprints(table), _numpy_fingerprints(edited)
    slow = _duckdb_fingerprints(table), _duckdb_fingerprints(edited)
    for part in (3, 4):
        assert _changed(*fast, part) == _changed(*slow, part)
    # Same domains and row counts per indicator.
    for before, after in zip(fast, slow, strict=True):
        assert {k: v.split(":")[:2] for k, v in before.items()} == {
            k: v.split(":")[:2] for k, v in after.items()
        }


def test_a_missing_value_differs_from_every_value() -> None:
    base = pa.table(
        {
            "indicator": pa.array(["A", "A"]).dictionary_encode(),
            "value": pa.array([0.0, 1.0]),
            "domain": pa.array(["d", "d"]),
        }
    )
    missing = base.set_column(1, "value", pa.array([None, 1.0], pa.float64()))
    zero_bits = base.set_column(1, "value", pa.array([0.0, 1.0]))
    assert fingerprints(base) == fingerprints(zero_bits) != fingerprints(missing)


def test_text_is_hashed_as_text_whatever_its_encoding_and_order() -> None:
    rng = np.random.default_rng(7)
    words = np.array(["alpha", "beta", "gamma", "delta"])
    n = 5000
    plain = pa.table(
        {
            "indicator": pa.array(rng.choice(["I1", "I2", "I3"], n)),
            "territory": pa.array(rng.choice(words, n)),
            "value": pa.array(rng.normal(size=n)),
            "domain": pa.array(["dom"] * n),
        }
    )
    encoded = pa.table(
        [c.dictionary_encode() if pa.types.is_string(c.type) else c for c in plain.columns],
        names=plain.column_names,
    )
    # Two chunks with different dictionaries, rows in another order.
    order = rng.permutation(n)
    shuffled = encoded.take(pa.array(order))
    chunked = pa.concat_tables([shuffled.slice(0, 1234), shuffled.slice(1234)])
    assert fingerprints(plain) == fingerprints(encoded) == fingerprints(chunked)
    assert fingerprints(plain) == _numpy_fingerprints(plain)
    moved = plain.set_column(
        1,
        "territory",
        pc.if_else(
            pc.and_(
                pc.equal(plain.column("indicator"), "I2"),
                pc.equal(plain.column("territory"), "beta"),
            ),
            "gamma",
            plain.column("territory"),
        ),
    )
    before, after = fingerprints(plain), fingerprints(moved)
    assert {i for i in before if before[i] != after[i]} == {"I2"}


def test_columns_of_other_types_are_hashed_by_duckdb() -> None:
    table = pa.table(
        {
            "indicator": pa.array(["A", "B"]),
            "value": pa.array([1.0, 2.0]),
            "tags": pa.array([["x"], ["y"]], pa.list_(pa.string())),
            "domain": pa.array(["d", "d"]),
        }
    )
    assert fingerprints(table) == _duckdb_fingerprints(table)
    assert fingerprints(table.slice(0, 0)) == {}


def test_rows_hashed_in_batches_give_the_fingerprints_of_one_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(3)
    n = 1000
    indicator = rng.choice(["I1", "I2", "I3"], n)
    table = pa.table(
        {
            "indicator": pa.array(indicator).dictionary_encode(),
            "territory": pa.array(rng.choice(["a", "b", None], n)),
            "value": pa.array(np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n))),
            "lineage": pa.array(rng.choice(["l1", "l2"], n)).dictionary_encode(),
            "domain": pa.array(np.where(indicator == "I1", "d1", "d2")),
        }
    )
    whole = _numpy_fingerprints(table)
    monkeypatch.setattr(reuse, "_BATCH", 7)
    assert _numpy_fingerprints(table) == whole
    assert {k: v.split(":")[:2] for k, v in whole.items()} == {
        k: v.split(":")[:2] for k, v in _duckdb_fingerprints(table).items()
    }
