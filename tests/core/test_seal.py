"""Sealed records (``welfare_observatory._seal``): plain JSON objects that carry the digest
of their own bytes, so a change that still parses is caught on reading."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory._seal import KEY, seal, unseal

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=12,
)
RECORDS = st.dictionaries(st.text().filter(lambda k: k != KEY), JSON, max_size=5)


@given(record=RECORDS)
def test_a_sealed_record_reads_back_as_itself_and_as_plain_json(record: dict[str, Any]) -> None:
    raw = seal(record)
    assert unseal(raw) == json.dumps(record).encode("utf-8")
    as_json = json.loads(raw)
    assert next(iter(as_json)) == KEY
    assert {k: v for k, v in as_json.items() if k != KEY} == json.loads(json.dumps(record))


@given(record=RECORDS, where=st.floats(0, 1), flip=st.integers(1, 255))
def test_any_changed_byte_breaks_the_seal(record: dict[str, Any], where: float, flip: int) -> None:
    raw = bytearray(seal(record))
    at = round(where * (len(raw) - 1))
    raw[at] ^= flip
    assert unseal(bytes(raw)) is None


@given(record=RECORDS, cut=st.floats(0, 1))
def test_a_record_cut_short_or_unsealed_is_refused(record: dict[str, Any], cut: float) -> None:
    raw = seal(record)
    assert unseal(raw[: round(cut * (len(raw) - 1))]) is None
    assert unseal(json.dumps(record).encode("utf-8")) is None


def test_a_record_holding_the_seals_key_is_refused() -> None:
    with pytest.raises(ValueError, match=KEY):
        seal({KEY: "mine"})
