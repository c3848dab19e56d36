"""Formula unit checks: which quotients a unit can express, and with which multiplier."""

from __future__ import annotations

import pytest

from welfare_observatory.catalog._units import dimensions, formula_problem
from welfare_observatory.errors import UndefinedUnitError


@pytest.mark.parametrize(
    ("result", "numerator", "denominator", "multiplier"),
    [
        ("percent", "person", "person", 100),
        ("per_thousand", "person", "person", 1000),
        ("per_thousand", "event", "person", 1000),
        ("ratio", "household", "household", 1),
        ("person / km2", "person", "km2", 1),
        ("person / household", "person", "household", 1),
        ("euro / person", "euro", "person", 1),
        ("bed / thousand_persons", "bed", "person", 1000),
        ("per_hundred_thousand", "event", "person", 100_000),
    ],
)
def test_quotients_that_make_sense(
    result: str, numerator: str, denominator: str, multiplier: float
) -> None:
    assert formula_problem(result, numerator, denominator, multiplier) is None


@pytest.mark.parametrize(
    ("result", "numerator", "denominator", "multiplier", "words"),
    [
        ("percent", "euro", "person", 100, "needs two counts"),
        ("percent", "person", "km2", 100, "needs two counts"),
        ("percent", "percent", "person", 100, "needs two counts"),
        ("euro", "person", "person", 1, "cannot be expressed"),
        ("percent", "person", "person", 1000, "multiplier"),
        ("per_thousand", "person", "person", 100, "multiplier"),
        ("person / km2", "person", "km2", 1000, "multiplier"),
    ],
)
def test_quotients_that_do_not(
    result: str, numerator: str, denominator: str, multiplier: float, words: str
) -> None:
    problem = formula_problem(result, numerator, denominator, multiplier)
    assert problem is not None and words in problem


def test_units_outside_the_cache_fall_back_to_pint() -> None:
    assert dimensions("person / hectare") == {"[population]": 1, "[length]": -2}
    with pytest.raises(UndefinedUnitError):
        dimensions("persns")
