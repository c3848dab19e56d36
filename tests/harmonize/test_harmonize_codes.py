"""Territory code lookup: properties on the fixture, and the real registry once installed."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory.harmonize import CodeTable, harmonize, parse_rules
from welfare_observatory.harmonize.codes import default_normalize

RULE = parse_rules(
    """
indicator: {value: POP_TOTAL}
territory: {column: code}
period: {value: "2023", reference_date: jan_1}
value: {column: v}
unit: {unit: person}
"""
)[0]


def mapped(codes: CodeTable, values: list[str]) -> list[str]:
    table = pa.table({"code": values, "v": [1.0] * len(values)})
    return [str(c) for c in harmonize(table, RULE, codes=codes).table["territory"].to_pylist()]


@given(data=st.data())
def test_code_mapping_is_idempotent(codes: CodeTable, data: st.DataObject) -> None:
    known = sorted(codes.territories)
    values = data.draw(st.lists(st.sampled_from(known), min_size=1, max_size=5, unique=True))
    once = mapped(codes, values)
    assert mapped(codes, once) == once


@given(data=st.data())
def test_leading_zeros_may_be_missing(codes: CodeTable, data: st.DataObject) -> None:
    municipal = sorted(c for c in codes.territories if c.isdigit() and len(c) == 6)
    code = data.draw(st.sampled_from(municipal))
    assert mapped(codes, [str(int(code))]) == [code]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Sant'Antonino di Susa", "S. Antonino di Susa"),
        ("Fiavè", "FIAVE'"),
        ("San Michele all'Adige", "S.Michele all' Adige"),
    ],
)
def test_fallback_name_key(a: str, b: str) -> None:
    assert default_normalize(a) == default_normalize(b)


@pytest.fixture(scope="module")
def real_codes() -> CodeTable:
    return CodeTable.from_registry()


@pytest.mark.parametrize(
    ("text", "scheme", "expected"),
    [
        ("ITD20", "auto", "022"),
        ("ITH20", "nuts", "022"),
        ("ITC13", "auto", "096"),
        ("96004", "istat", "096004"),
        ("A859", "auto", "096004"),
        ("S. Antonino di Susa", "name", "001256"),
        ("Bolzano/Bozen", "name", "021008"),
        ("Montecopiolo", "name", "099030"),
        ("041033", "istat", "041033"),
    ],
)
def test_the_real_registry(real_codes: CodeTable, text: str, scheme: str, expected: str) -> None:
    assert real_codes.resolve(text, scheme=scheme).code == expected


def test_real_homonyms_need_a_province(real_codes: CodeTable) -> None:
    assert real_codes.resolve("Samone", scheme="name").problem == "ambiguous"
    assert real_codes.resolve("Samone", scheme="name", province="022").code == "022165"
