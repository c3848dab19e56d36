"""The UN SDG framework shipped as package data: counts, lookups, repeated indicators."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory.errors import UnknownSdgError
from welfare_observatory.model import SdgLink
from welfare_observatory.sdg import (
    Framework,
    Goal,
    SdgIndicator,
    Target,
    UnknownSdgVersionError,
    framework,
    is_sdg_id,
    normalize_id,
)

FW = framework()
ALL_IDS = FW.ids()


def _source_rows(shared_data: Path) -> list[dict[str, str]]:
    path = shared_data / "sdg_target_indicator_unsd_2023.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def _clean(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split())


# --- what is shipped ---------------------------------------------------------------------


def test_version_and_metadata() -> None:
    assert FW.version == "2023"
    assert "UNSD" in FW.publisher
    assert FW.licence
    assert FW.url.startswith("https://unstats.un.org/")
    assert FW.translations["it"]["url"] == "https://github.com/open-sdg/sdg-translations"


def test_counts() -> None:
    assert len(FW.goals) == 17
    assert len(FW.targets) == 169
    assert len(FW.indicators) == 248  # listings; the CSV's 249th row is 11.c's placeholder
    assert len(FW.unique_indicators) == 248 - sum(
        1 for i in FW.indicators if any(_sort(other) < _sort(i.id) for other in i.repeated_in)
    )


def _sort(sdg_id: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(p), "") if p.isdigit() else (0, p) for p in sdg_id.split("."))


@pytest.mark.shared
def test_counts_match_the_source_file(shared_data: Path) -> None:
    rows = _source_rows(shared_data)
    assert len(rows) == 249
    assert {r["SDGNumber"] for r in rows} == {g.id for g in FW.goals}
    assert [t.id for t in FW.targets] == list(dict.fromkeys(r["TargetsNumber"] for r in rows))
    listed = [r["IndicatorsNumber"] for r in rows if r["IndicatorsNumber"] != "0"]
    assert [i.id for i in FW.indicators] == listed


@pytest.mark.shared
def test_titles_and_codes_match_the_source_file(shared_data: Path) -> None:
    by_id = {i.id: i for i in FW.indicators}
    for row in _source_rows(shared_data):
        if row["IndicatorsNumber"] == "0":
            continue
        indicator = by_id[row["IndicatorsNumber"]]
        assert indicator.code == row["UNSDIndicatorCodes"]
        # the shipped title drops only a trailing footnote call ("by speed5")
        assert _clean(row["Indicators"]).startswith(indicator.title.en)
        assert len(_clean(row["Indicators"])) - len(indicator.title.en) <= 1


def test_target_11c_has_no_indicator_and_says_why() -> None:
    target = FW.resolve("11.c")
    assert isinstance(target, Target)
    assert target.indicators == ()
    assert "No suitable replacement indicator" in target.note
    assert [t.id for t in FW.targets if not t.indicators] == ["11.c"]


def test_every_indicator_has_a_unsd_code() -> None:
    assert all(re.fullmatch(r"C[0-9]{3}[0-9a-z][0-9]{2}", i.code) for i in FW.indicators)


def test_footnote_calls_are_not_part_of_titles() -> None:
    goal = FW.resolve("13")
    assert goal.title.en.endswith("its impacts")
    assert "United Nations Framework Convention on Climate Change" in goal.note


# --- titles in Italian and English -------------------------------------------------------


def test_italian_and_english_titles_for_every_goal_and_target() -> None:
    for node in (*FW.goals, *FW.targets):
        assert node.title.it, node.id
        assert node.title.en, node.id
    assert FW.resolve("1").short.it == "Nessuna povertà"
    assert FW.resolve("1").short.en == "No Poverty"


def test_english_titles_for_every_indicator() -> None:
    assert all(i.title.en for i in FW.indicators)


def test_every_indicator_has_an_italian_title_with_its_origin() -> None:
    origins = FW.translations["it"]["origins"]
    for node in (*FW.goals, *FW.targets, *FW.indicators):
        assert node.title.it, node.id
        assert node.origin.get("it") in origins, node.id
    # a repeated indicator reads the same in Italian wherever it is listed
    for indicator in FW.indicators:
        for other in indicator.repeated_in:
            assert FW.resolve(other).title.it == indicator.title.it, (indicator.id, other)


def test_italian_title_falls_back_to_english_for_indicators(
    framework_without_italian: Callable[..., Framework],
) -> None:
    # no shipped indicator lacks an Italian title any more: build such a case
    fw = framework_without_italian("14.1.1")
    indicator = fw.resolve("14.1.1")
    assert not indicator.title.it
    assert indicator.title.get("it") == indicator.title.en
    assert "it" not in indicator.origin
    # the shipped framework itself is untouched
    assert FW.resolve("14.1.1").title.get("it") != indicator.title.en


# --- repeated indicators -----------------------------------------------------------------


@pytest.mark.parametrize(
    "group",
    [
        {"1.5.1", "11.5.1", "13.1.1"},
        {"4.7.1", "12.8.1", "13.3.1"},
        {"8.4.1", "12.2.1"},
        {"10.3.1", "16.b.1"},
        {"15.a.1", "15.b.1"},
    ],
)
def test_repeated_indicators_point_at_each_other(group: set[str]) -> None:
    for sdg_id in group:
        indicator = FW.resolve(sdg_id)
        assert isinstance(indicator, SdgIndicator)
        assert set(indicator.repeated_in) == group - {sdg_id}
        assert indicator.is_repeated


def test_a_unique_indicator_is_not_marked() -> None:
    assert FW.resolve("8.5.2").repeated_in == ()


@pytest.mark.shared
def test_repeated_marks_agree_with_identical_codes_in_the_source(shared_data: Path) -> None:
    by_code: dict[str, set[str]] = defaultdict(set)
    for row in _source_rows(shared_data):
        if row["IndicatorsNumber"] != "0":
            by_code[row["UNSDIndicatorCodes"]].add(row["IndicatorsNumber"])
    for indicator in FW.indicators:
        assert set(indicator.repeated_in) == by_code[indicator.code] - {indicator.id}


def test_by_code_returns_every_listing() -> None:
    assert [i.id for i in FW.by_code("c200303")] == ["1.5.1", "11.5.1", "13.1.1"]
    with pytest.raises(UnknownSdgError):
        FW.by_code("C999999")


# --- resolve -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("17", Goal, "17"),
        ("10.2", Target, "10.2"),
        ("8.5.2", SdgIndicator, "8.5.2"),
        ("1-a-1", SdgIndicator, "1.a.1"),
        (" 8.5.2 ", SdgIndicator, "8.5.2"),
        ("16.10", Target, "16.10"),
        ("16-10-2", SdgIndicator, "16.10.2"),
        ("11.C", Target, "11.c"),
        ("SDG 8", Goal, "8"),
    ],
)
def test_resolve_accepts_every_id_form(text: str, kind: type, expected: str) -> None:
    node = FW.resolve(text)
    assert isinstance(node, kind)
    assert node.id == expected
    assert text in FW


def test_children_and_parents() -> None:
    goal = FW.resolve("10")
    assert isinstance(goal, Goal)
    assert [t.id for t in goal.targets][:2] == ["10.1", "10.2"]
    target = FW.resolve("10.2")
    assert isinstance(target, Target)
    assert [i.id for i in target.indicators] == ["10.2.1"]
    assert target.goal == "10"
    indicator = FW.resolve("10.2.1")
    assert isinstance(indicator, SdgIndicator)
    assert (indicator.target, indicator.goal) == ("10.2", "10")
    assert FW.parent("10.2.1") == target
    assert FW.parent("10.2") == goal
    assert FW.parent("10") is None


@pytest.mark.parametrize(
    ("text", "suggestion"), [("8.5.9", "8.5.2"), ("18", "8"), ("10.22", "10.2"), ("1.b.3", "1.b.1")]
)
def test_unknown_id_raises_with_closest_ids_as_hint(text: str, suggestion: str) -> None:
    with pytest.raises(UnknownSdgError) as info:
        FW.resolve(text)
    assert suggestion in info.value.suggestions
    assert info.value.hint and suggestion in info.value.hint
    assert isinstance(info.value, LookupError)  # callers may catch the built-in


@pytest.mark.parametrize("text", ["", "goal", "8..5", "x"])
def test_garbage_is_an_unknown_id_not_a_crash(text: str) -> None:
    with pytest.raises(UnknownSdgError):
        FW.resolve(text)


def test_unknown_version() -> None:
    with pytest.raises(UnknownSdgVersionError) as info:
        framework("2017")
    assert info.value.hint == "shipped versions: 2023"


def test_framework_is_cached_and_frozen() -> None:
    assert framework() is FW
    assert framework("2023") is FW
    assert framework(version="2023") is FW
    with pytest.raises(ValueError, match="frozen"):
        FW.resolve("1").id = "2"  # type: ignore[misc]


def test_fresh_instance_from_json_equals_the_cached_one() -> None:
    again = Framework.model_validate_json(FW.model_dump_json())
    assert again.ids() == FW.ids()
    assert again.resolve("13.1.1") == FW.resolve("13.1.1")


def test_every_shipped_id_is_a_valid_sdg_link() -> None:
    for sdg_id in ALL_IDS:
        assert SdgLink(id=sdg_id).id == sdg_id
        assert is_sdg_id(sdg_id)


# --- properties --------------------------------------------------------------------------


@given(st.sampled_from(ALL_IDS), st.sampled_from([".", "-"]), st.booleans())
def test_every_id_round_trips_dotted_and_dashed(sdg_id: str, sep: str, upper: bool) -> None:
    text = sdg_id.replace(".", sep)
    text = text.upper() if upper else text
    assert FW.resolve(f" {text} ").id == sdg_id
    assert normalize_id(text) == sdg_id


@given(st.text(max_size=12))
def test_resolve_either_finds_or_raises_unknown(text: str) -> None:
    try:
        node = FW.resolve(text)
    except UnknownSdgError:
        assert normalize_id(text) not in ALL_IDS
    else:
        assert node.id == normalize_id(text)


# --- where Italian titles come from -------------------------------------------------------


def test_every_italian_title_records_its_origin() -> None:
    origins = FW.translations["it"]["origins"]
    for node in (*FW.goals, *FW.targets, *FW.indicators):
        if node.title.it:
            assert node.origin.get("it") in origins, node.id
        else:
            assert "it" not in node.origin, node.id
    assert FW.resolve("8.5.2").origin == {"it": "project"}
    assert FW.resolve("1.3").origin == {"it": "open_sdg_corrected"}


def test_known_mistranslations_are_gone() -> None:
    texts = " ".join(n.title.it for n in (*FW.goals, *FW.targets, *FW.indicators))
    assert "pavimenti" not in texts and "DeepL" not in texts
    assert "livelli minimi di protezione sociale" in FW.resolve("1.3").title.it
    # calques and words read in the wrong sense, corrected by the project
    for wrong in ("dare potere", "Prendere azioni", "costruzione di capacità", "concussione"):
        assert wrong not in texts, wrong
    assert "resistenti" not in FW.resolve("11").title.it
    for sdg_id in ("5", "11", "13", "2.2", "16.5", "17.19"):
        assert FW.resolve(sdg_id).origin == {"it": "open_sdg_corrected"}, sdg_id
    assert FW.resolve("4").origin == {"it": "open_sdg"}
