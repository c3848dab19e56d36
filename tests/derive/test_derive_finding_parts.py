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
    items_part,
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


@given(parts(keys=ANY_KEY | st.floats() | st.none() | st.booleans()))
def test_a_parts_line_is_its_head_as_json_dumps_writes_it_a_tab_and_its_finding(
    part: FindingPart,
) -> None:
    import json

    def lists(value: Any) -> Any:
        return [lists(v) for v in value] if isinstance(value, tuple | list) else value

    head = [list(part.slot), part.kind, part.indicator, lists(part.order), part.template]
    head += [part.cap, list(part.members)]
    expected = json.dumps(head, ensure_ascii=False, separators=(",", ":"))
    assert parts_to_lines([part]).decode() == expected + "\t" + part.finding.model_dump_json()


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


# --- An indicator's list in one part: ``items`` ------------------------------------------

FIELDS = st.fixed_dictionaries(
    {
        "code": st.just("release-conflict"),
        "severity": st.sampled_from([s.value for s in Severity]),
        "message": texts,
        "territory": st.none() | texts,
        "period": st.none() | texts,
        "count": st.just(1),
    }
)


@st.composite
def listings(draw: st.DrawFn) -> list[tuple[str, list[tuple[Any, dict[str, Any]]]]]:
    """Indicators, each with its listed findings: (place, fields), places in order."""
    out = []
    for indicator in draw(st.lists(st.sampled_from("ABCDE"), unique=True, max_size=4)):
        # A place is unique within its indicator (a key and the losing source, for a
        # release conflict): parts of equal places would be listed in the order given.
        places = sorted(
            draw(st.lists(st.tuples(st.integers(0, 9), texts), min_size=1, unique=True))
        )
        out.append((indicator, [(p, {**draw(FIELDS), "indicator": indicator}) for p in places]))
    return out


@given(listings(), st.integers(1, 12), st.data())
def test_an_indicators_list_in_one_part_lists_what_a_part_each_lists(
    listing: list[tuple[str, list[tuple[Any, dict[str, Any]]]]], cap: int, data: st.DataObject
) -> None:
    # Per indicator: a part per finding, or one items part, or (as a rebuild may keep an
    # earlier build's parts beside new ones) both kinds in one slot.
    single = [
        FindingPart((1,), "item", Finding.model_validate(f), i, p, cap=cap)
        for i, entries in listing
        for p, f in entries
    ]
    lists = []
    for indicator, entries in listing:
        if data.draw(st.booleans(), label=f"items for {indicator}"):
            places = [p for p, _ in entries]
            lists.append(items_part((1,), indicator, places, [f for _, f in entries], cap=cap))
        else:
            lists += [
                FindingPart((1,), "item", Finding.model_validate(f), indicator, p, cap=cap)
                for p, f in entries
            ]
    shuffled = data.draw(st.permutations(lists), label="parts in any order")
    assert combine(shuffled) == combine(single)
    back = parts_from_lines(parts_to_lines(shuffled))
    assert combine(back) == combine(single)
    assert parts_to_lines(back) == parts_to_lines(shuffled)
    assert combine(nested(back, 3)) == combine(nested(single, 3))


def test_a_read_back_list_is_decoded_only_when_asked_and_findings_made_only_when_listed() -> None:
    entries = [
        {"code": "c", "severity": "info", "message": f"m{n}", "indicator": "A"} for n in range(3)
    ]
    made = items_part((1,), "A", [(n,) for n in range(3)], entries, cap=2)
    [part] = parts_from_lines(parts_to_lines([made]))
    assert "listed" not in vars(part) and "finding" not in vars(part)
    assert [f.message for f in combine([part])] == ["m0", "m1"]
    assert part.listed == tuple(((n,), e) for n, e in enumerate(entries))
    assert part == made


@pytest.mark.parametrize(
    "line",
    [
        # The places go with the findings, none in the head.
        '[[1],"items","A",[[0],[1]],"",2,[]]\t[[[0],' + FINDING + "],[[1]," + FINDING + "]]",
        # A list where one finding is (and one finding where a list is).
        '[[1],"item","A",[0],"",2,[]]\t[[[0],' + FINDING + "]]",
        '[[1],"items","A",[],"",2,[]]\t' + FINDING,
        # A list of no findings, of findings without their places, of places that are none.
        '[[1],"items","A",[],"",2,[]]\t[]',
        '[[1],"items","A",[],"",2,[]]\t[' + FINDING + "]",
        '[[1],"items","A",[],"",2,[]]\t[[0,' + FINDING + "]]",
        '[[1],"items","A",[],"",2,[]]\t[[[0],' + FINDING + ",1]]",
    ],
)
def test_a_saved_list_of_the_wrong_shape_is_refused(line: str) -> None:
    with pytest.raises(ValueError, match=r"parts file|part of the wrong shape"):
        combine(parts_from_lines(line.encode()))


def test_an_items_part_needs_a_place_for_each_of_at_least_one_finding() -> None:
    with pytest.raises(ValueError, match="a place for each"):
        items_part((1,), "A", [(0,)], [], cap=1)
