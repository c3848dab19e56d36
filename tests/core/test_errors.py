"""The exception hierarchy: locations, hints, built-in bases."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory.errors import (
    ConfigError,
    IncompatibleUnitsError,
    Location,
    UnknownIndicatorError,
    WelfareObservatoryError,
    closest,
)


def test_an_error_names_its_location_and_keeps_its_hint() -> None:
    error = ConfigError(
        "unknown key 'sourcse'",
        location=Location(file="observatory.yaml", line=12, field="sourcse"),
        hint="did you mean 'sources'?",
    )
    assert str(error) == "unknown key 'sourcse' (observatory.yaml:12, field 'sourcse')"
    assert error.hint == "did you mean 'sources'?"
    assert error.as_dict()["location"] == {
        "file": "observatory.yaml",
        "line": 12,
        "field": "sourcse",
    }


def test_errors_are_also_the_fitting_builtin_exception() -> None:
    assert issubclass(ConfigError, ValueError)
    assert issubclass(UnknownIndicatorError, LookupError)
    assert issubclass(IncompatibleUnitsError, ValueError)
    with pytest.raises(LookupError):
        raise UnknownIndicatorError("OLD_AGE_INDX", candidates=["OLD_AGE_INDEX"])


def test_unknown_id_suggests_the_closest_ids() -> None:
    error = UnknownIndicatorError("OLD_AGE_INDX", candidates=["OLD_AGE_INDEX", "BIRTH_RATE"])
    assert error.suggestions == ["OLD_AGE_INDEX"]
    assert error.hint == "did you mean 'OLD_AGE_INDEX'?"
    assert str(error) == "unknown indicator 'OLD_AGE_INDX'"
    assert isinstance(error, WelfareObservatoryError)


def test_unknown_id_without_candidates_has_no_hint() -> None:
    assert UnknownIndicatorError("X", candidates=[]).hint is None


def test_closest_is_case_insensitive_and_falls_back_to_prefixes() -> None:
    assert closest("biella", ["Biella", "Bielmonte", "Brescia"])[0] == "Biella"
    assert closest("OLD", ["OLD_AGE_INDEX_LONG_NAME", "X"]) == ["OLD_AGE_INDEX_LONG_NAME"]
    assert closest("zzz", ["Biella"]) == []


def test_prefix_matches_come_shortest_first_whatever_the_candidates_order() -> None:
    # No close match for "0": the codes that start with it, shortest then alphabetical.
    assert closest("0", ["0031", "003", "002"]) == ["002", "003", "0031"]
    assert closest("0", frozenset({"003", "002"})) == ["002", "003"]


@given(
    value=st.text(alphabet="0123ABab", min_size=1, max_size=3),
    candidates=st.lists(st.text(alphabet="0123ABab", min_size=1, max_size=6), max_size=12),
    seed=st.randoms(use_true_random=False),
)
def test_closest_does_not_depend_on_the_candidates_order(
    value: str, candidates: list[str], seed: object
) -> None:
    shuffled = list(candidates)
    seed.shuffle(shuffled)  # type: ignore[attr-defined]
    assert closest(value, shuffled) == closest(value, candidates)
