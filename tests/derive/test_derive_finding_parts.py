"""Derive's finding parts are saved as JSON lines; a part read back is written again as the
very line it was read from, and a part changed since (a new slot) is written anew."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory.derive._parts import (
    COUNT,
    FindingPart,
    nested,
    part_to,
    parts_from_lines,
    parts_to_lines,
)
from welfare_observatory.model.finding import Finding, Severity

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@st.composite
def parts(draw: st.DrawFn) -> FindingPart:
    kind = draw(st.sampled_from(["sum", "least", "item", "once"]))
    finding = Finding(
        code=draw(st.sampled_from(["partial-aggregate", "release-conflict"])),
        severity=draw(st.sampled_from(list(Severity))),
        message=draw(texts),
        indicator=draw(st.none() | texts),
        territory=draw(st.none() | texts),
        count=draw(st.integers(1, 10_000)),
    )
    order = draw(
        st.lists(st.tuples(st.integers(0, 1), st.integers() | st.floats(allow_nan=False) | texts))
    )
    return FindingPart(
        slot=tuple(draw(st.lists(st.integers(0, 9), min_size=1, max_size=3))),
        kind=kind,
        finding=finding,
        indicator=finding.indicator,
        order=tuple(order),
        template=draw(texts) + COUNT,
        cap=draw(st.none() | st.integers(1, 1000)),
        members=tuple(draw(st.lists(texts, max_size=3))),
    )


@given(st.lists(parts(), max_size=8))
def test_parts_read_back_equal_those_saved_and_save_to_the_same_bytes(
    saved: list[FindingPart],
) -> None:
    data = parts_to_lines(saved)
    back = parts_from_lines(data)
    assert back == saved
    assert [part_to(p) for p in back] == [part_to(p) for p in saved]
    assert parts_to_lines(back) == data
    assert all(p.saved is not None for p in back)


@given(st.lists(parts(), min_size=1, max_size=4))
def test_a_part_changed_after_reading_is_saved_as_it_is_now(saved: list[FindingPart]) -> None:
    back = parts_from_lines(parts_to_lines(saved))
    moved = [*nested(back, 7), replace(back[0], template="other " + COUNT)]
    assert all(p.saved is None for p in moved)
    again = parts_from_lines(parts_to_lines(moved))
    assert [p.slot for p in again] == [(7, *p.slot) for p in saved] + [saved[0].slot]
    assert again[-1].template == "other " + COUNT


@pytest.mark.parametrize(
    "line",
    [
        '{"slot":[1],"kind":"item","finding":%s,"indicator":"A","order":[],"template":"",'
        '"cap":"x","members":[]}',
        '{"slot":["1"],"kind":"item","finding":%s,"indicator":"A","order":[],"template":"",'
        '"cap":null,"members":[]}',
        '{"slot":[1],"kind":"other","finding":%s,"indicator":"A","order":[],"template":"",'
        '"cap":null,"members":[]}',
        '{"slot":[1],"kind":"sum","finding":%s,"indicator":"A","order":[],"template":"",'
        '"cap":null,"members":[1]}',
        "[1, 2]",
    ],
)
def test_a_saved_part_of_the_wrong_shape_is_refused(line: str) -> None:
    finding = Finding(code="c", severity=Severity.INFO, message="m").model_dump_json()
    text = line % finding if "%s" in line else line
    with pytest.raises(ValueError, match=r"parts file|part of the wrong shape"):
        parts_from_lines(text.encode())
