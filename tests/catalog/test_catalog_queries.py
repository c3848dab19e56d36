"""Search and SDG coverage: properties that hold for any query."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory.catalog import catalog, normalize_sdg_id
from welfare_observatory.errors import UnknownIdError, UnknownSdgError

CAT = catalog()
LABEL_WORDS = sorted({w for ind in CAT for w in ind.label.it.split() if len(w) > 3})
SDG_LINKS = sorted({link.id for ind in CAT for link in ind.sdg})


def _shout(text: str, flags: list[bool]) -> str:
    """Change case letter by letter and strip accents: what a hurried user types."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return "".join(c.upper() if f else c.lower() for c, f in zip(plain, flags, strict=False))


@given(st.sampled_from(LABEL_WORDS), st.lists(st.booleans(), min_size=40, max_size=40))
def test_search_ignores_case_and_accents(word: str, flags: list[bool]) -> None:
    assert CAT.search(word) == CAT.search(_shout(word, flags))


def test_search_finds_accented_label_without_accents() -> None:
    ids = [ind.id for ind in CAT.search("eta media")]
    assert ids[0] == "MEAN_AGE"
    assert next(i.id for i in CAT.search("indice di vecchiaia")) == "OLD_AGE_INDEX"
    assert CAT.search("OLD_AGE_INDEX")[0].id == "OLD_AGE_INDEX"
    assert CAT.search("   ") == []


@given(st.sampled_from(SDG_LINKS))
def test_a_goal_covers_at_least_what_its_targets_cover(link: str) -> None:
    parts = link.split(".")
    goal = {i.id for i in CAT.covering(parts[0])}
    if len(parts) > 1:
        target = {i.id for i in CAT.covering(".".join(parts[:2]))}
        assert target <= goal
        assert target  # the link itself is covered
    assert {i.id for i in CAT.covering(link)} <= goal


def test_covering_several_goals_is_the_union() -> None:
    union = {i.id for g in ("8", "10", "17") for i in CAT.covering(g)}
    assert {i.id for i in CAT.covering(["8", "10", "17"])} == union
    # goal 1 does not swallow goal 10: every hit has a link at or below "1"
    for ind in CAT.covering("1"):
        assert any(link.id == "1" or link.id.startswith("1.") for link in ind.sdg)


def test_sdg_ids_are_normalised_or_refused() -> None:
    assert normalize_sdg_id("1-a-1") == "1.a.1"
    with pytest.raises(UnknownSdgError):
        normalize_sdg_id("18")
    with pytest.raises(UnknownSdgError):
        CAT.covering("eight")


class _Framework:
    targets = ("10.1", "10.2", "10.7", "8.5", "8.10")


def test_uncovered_targets_of_a_selection() -> None:
    chosen = list(CAT.covering("10.2"))[:1]
    missing = CAT.uncovered_targets(chosen, goals=["10"], framework=_Framework())
    assert "10.2" not in missing
    assert missing[0] == "10.1"
    assert CAT.uncovered_targets([], framework=_Framework()) == [
        "8.5",
        "8.10",
        "10.1",
        "10.2",
        "10.7",
    ]


def test_uncovered_targets_with_the_real_framework() -> None:
    pytest.importorskip("welfare_observatory.sdg")
    missing = CAT.uncovered_targets(["POP_TOTAL"], goals=[11])
    assert "11.1" in missing and all(t.startswith("11.") for t in missing)


def test_by_domain_refuses_unknown_domains() -> None:
    with pytest.raises(UnknownIdError):
        CAT.by_domain("demografia")
    assert all(i.domain.value == "demography" for i in CAT.by_domain("demography"))


def test_unknown_profile() -> None:
    with pytest.raises(UnknownIdError):
        CAT.profile("no_such_profile")
