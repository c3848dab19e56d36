"""Derive's finding parts are saved a part a line (a JSON head, a tab, the finding); a part
read back is written again as the very line it was read from, a part changed since (a new
slot) is written anew, and a part's finding is decoded only when it is used."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory.derive._parts import (
    COUNT,
    FindingPart,
    combine,
    nested,
    parts_from_lines,
    parts_to_lines,
)
from welfare_observatory.model.finding import Finding, Severity

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


ANY_KEY = st.integers() | st.floats(allow_nan=False) | texts
"""A sort key's value in a saved part: any JSON scalar a producer may rank by."""


@st.composite
def parts(draw: st.DrawFn, keys: st.SearchStrategy[Any] = ANY_KEY) -> FindingPart:
    """A part; ``keys``: the values its sort key is made of (``combine`` compares the keys
    of one slot, which a producer makes alike)."""
    kind = draw(st.sampled_from(["sum", "least", "item", "once"]))
    finding = Finding(
        code=draw(st.sampled_from(["partial-aggregate", "release-conflict"])),
        severity=draw(st.sampled_from(list(Severity))),
        message=draw(texts),
        indicator=draw(st.none() | texts),
        territory=draw(st.none() | texts),
        count=draw(st.integers(1, 10_000)),
    )
    order = draw(st.lists(st.tuples(st.integers(0, 1), keys)))
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
    assert parts_to_lines(back) == data
    assert all(p.saved is not None for p in back)
    assert back == saved
    assert [type(p.order) for p in back] == [tuple for _ in saved]
    assert parts_to_lines(replace(p) for p in back) == data  # written anew: the same line


@given(st.lists(parts(keys=st.integers() | st.floats(allow_nan=False)), max_size=8))
def test_parts_read_back_combine_to_the_findings_of_those_saved(
    saved: list[FindingPart],
) -> None:
    assert combine(parts_from_lines(parts_to_lines(saved))) == combine(saved)


def test_a_part_read_back_decodes_its_finding_only_when_asked() -> None:
    finding = Finding(code="c", severity=Severity.INFO, message="m", indicator="A")
    [part] = parts_from_lines(parts_to_lines([FindingPart((1,), "item", finding, "A")]))
    assert "finding" not in vars(part)
    assert part.finding == finding
    assert vars(part)["finding"] is part.finding  # decoded once


@given(st.lists(parts(), min_size=1, max_size=4))
def test_a_part_changed_after_reading_is_saved_as_it_is_now(saved: list[FindingPart]) -> None:
    back = parts_from_lines(parts_to_lines(saved))
    moved = [*nested(back, 7), replace(back[0], template="other " + COUNT)]
    assert all(p.saved is None for p in moved)
    again = parts_from_lines(parts_to_lines(moved))
    assert [p.slot for p in again] == [(7, *p.slot) for p in saved] + [saved[0].slot]
    assert again[-1].template == "other " + COUNT


FINDING = Finding(code="c", severity=Severity.INFO, message="m").model_dump_json()


@pytest.mark.parametrize(
    "line",
    [
        '[[1],"item","A",[],"","x",[]]\t' + FINDING,
        '[["1"],"item","A",[],"",null,[]]\t' + FINDING,
        '[[true],"item","A",[],"",null,[]]\t' + FINDING,
        '[[1],"other","A",[],"",null,[]]\t' + FINDING,
        '[[1],"sum","A",[],"",null,[1]]\t' + FINDING,
        '[[1],"sum","A",[],"",null]\t' + FINDING,
        '[[1],"sum","A",[],"",null,[]]',
        '[[1],"sum","A",[],"",null,[]]\t[1, 2]',
        '{"slot":[1],"kind":"item","indicator":"A","order":[],"template":"","cap":null,'
        '"members":[],"finding":' + FINDING + "}",
        "[1, 2]",
        # A head is the whole text before the tab, as parts_to_lines writes it.
        '[[1],"item","A",[],"",null,[]][2]\t' + FINDING,
        ' [[1],"item","A",[],"",null,[]]\t' + FINDING,
        '[[1],"item","A",[],"",null,[]] \t' + FINDING,
    ],
)
def test_a_saved_part_of_the_wrong_shape_is_refused(line: str) -> None:
    with pytest.raises(ValueError, match=r"parts file|part of the wrong shape"):
        parts_from_lines(line.encode())


def test_a_saved_finding_that_is_no_finding_is_refused_when_used() -> None:
    [part] = parts_from_lines(b'[[1],"item","A",[],"",null,[]]\t{"code":"c"}')
    with pytest.raises(ValueError, match="severity"):
        combine([part])
