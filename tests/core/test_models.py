"""Indicator, SDG link and territory models: what loads, what is refused and why."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from welfare_observatory import Indicator, Polarity, SdgLink, Territory, TerritoryLevel
from welfare_observatory.model import Aggregation, Text


def old_age_index(**changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": "OLD_AGE_INDEX",
        "label": {"it": "Indice di vecchiaia", "en": "Old-age index"},
        "unit": "percent",
        "polarity": "negative",
        "domain": "demography",
        "measure": "ratio",
        "reference_point": "jan_1",
        "aggregation": "formula",
        "formula": {"numerator": "POP_65_PLUS", "denominator": "POP_0_14", "multiplier": 100},
        "source": {"publisher": "Istat", "url": "https://demo.istat.it/", "verified": False},
        "sdg": [{"id": "3.8", "relation": "context"}],
    }
    entry.update(changes)
    return entry


def test_a_complete_indicator_loads_and_is_frozen() -> None:
    indicator = Indicator.model_validate(old_age_index())
    assert indicator.polarity is Polarity.NEGATIVE
    assert indicator.polarity.sign == -1
    assert indicator.sdg_goals == frozenset({3})
    assert indicator.label.get("en") == "Old-age index"
    with pytest.raises(ValidationError):
        indicator.unit = "ratio"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": "old_age_index"}, "String should match pattern"),
        ({"aggregation": "formula", "formula": None}, "needs a formula"),
        ({"polarity": "good"}, "Input should be 'positive', 'negative' or 'neutral'"),
        ({"unexpected": 1}, "Extra inputs are not permitted"),
        ({"breakdowns": ["sex", "sex"]}, "must be unique"),
        ({"breakdowns": ["Sex"]}, "lower_snake_case"),
        ({"sdg": [{"id": "18.1"}]}, "is not an SDG goal"),
        ({"source": {"publisher": "Istat"}}, "needs a url or a document"),
        (
            {"formula": {"numerator": "OLD_AGE_INDEX", "denominator": "POP_0_14"}},
            "cannot refer to its own indicator",
        ),
    ],
)
def test_bad_indicators_are_refused_with_a_reason(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Indicator.model_validate(old_age_index(**changes))


def test_counts_need_no_formula() -> None:
    indicator = Indicator.model_validate(
        old_age_index(id="POP_TOTAL", aggregation="sum", formula=None, unit="person")
    )
    assert indicator.aggregation is Aggregation.SUM


@pytest.mark.parametrize(
    ("raw", "expected"), [("8.5.2", "8.5.2"), ("1-a-1", "1.a.1"), ("17", "17")]
)
def test_sdg_ids_accept_dotted_and_dashed_forms(raw: str, expected: str) -> None:
    assert SdgLink(id=raw).id == expected


def test_text_falls_back_to_the_other_language() -> None:
    assert Text(it="Biella").get("en") == "Biella"
    assert not Text()


def test_territory_validity() -> None:
    prestine = Territory(
        code="017154",
        level=TerritoryLevel.MUNICIPALITY,
        name="Prestine",
        parent="017",
        valid_from=date(1928, 1, 1),
        valid_to=date(2016, 4, 22),
    )
    assert prestine.valid_at(date(2015, 1, 1))
    assert not prestine.valid_at(date(2017, 1, 1))
    assert TerritoryLevel.MUNICIPALITY.rank > TerritoryLevel.PROVINCE.rank
