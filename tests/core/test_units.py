"""Units: one registry per build, conversions where meaningful, typed errors where not."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory import units
from welfare_observatory.errors import IncompatibleUnitsError, UndefinedUnitError

RATE_UNITS = ["ratio", "percent", "per_thousand", "per_ten_thousand", "per_hundred_thousand"]
MONEY_UNITS = ["euro", "thousand_euro", "million_euro"]


def test_statistics_units_parse() -> None:
    for unit in [
        "person",
        "household",
        "euro",
        "thousand_euro",
        "percent",
        "per_thousand",
        "per_hundred_thousand",
        "year",
        "euro / person",
        "person / km2",
        "index_points",
    ]:
        assert units.check_unit(unit) == unit


def test_rates_and_money_convert_within_their_kind() -> None:
    assert units.conversion_factor("thousand_euro", "euro") == 1000
    assert units.conversion_factor("percent", "ratio") == pytest.approx(0.01)
    assert units.conversion_factor("per_thousand", "per_hundred_thousand") == pytest.approx(100)
    assert units.convert(2.5, "percent", "per_thousand") == pytest.approx(25)


def test_persons_never_convert_to_euro() -> None:
    with pytest.raises(IncompatibleUnitsError, match="cannot convert 'person' to 'euro'") as info:
        units.conversion_factor("person", "euro")
    assert info.value.hint


def test_unknown_unit_is_a_typed_error_with_a_hint() -> None:
    with pytest.raises(UndefinedUnitError, match="unknown unit 'persone'") as info:
        units.check_unit("persone")
    assert "person" in (info.value.hint or "")


def test_each_build_gets_its_own_registry() -> None:
    first = units.make_registry(["posto_nido = [nursery_place]"])
    second = units.make_registry()
    assert units.check_unit("posto_nido", first) == "posto_nido"
    with pytest.raises(UndefinedUnitError):
        units.check_unit("posto_nido", second)
    with pytest.raises(UndefinedUnitError):
        units.check_unit("posto_nido")


def test_a_malformed_plugin_definition_is_reported() -> None:
    with pytest.raises(UndefinedUnitError, match="cannot define unit"):
        units.make_registry(["= = ="])


@given(
    value=st.floats(min_value=-1e12, max_value=1e12, allow_nan=False),
    pair=st.sampled_from(
        [(a, b) for a in RATE_UNITS for b in RATE_UNITS]
        + [(a, b) for a in MONEY_UNITS for b in MONEY_UNITS]
    ),
)
def test_conversions_round_trip(value: float, pair: tuple[str, str]) -> None:
    there = units.convert(value, *pair)
    back = units.convert(there, pair[1], pair[0])
    assert math.isclose(back, value, rel_tol=1e-9, abs_tol=1e-9)


@given(a=st.sampled_from(RATE_UNITS), b=st.sampled_from(RATE_UNITS), c=st.sampled_from(RATE_UNITS))
def test_conversion_factors_compose(a: str, b: str, c: str) -> None:
    direct = units.conversion_factor(a, c)
    chained = units.conversion_factor(a, b) * units.conversion_factor(b, c)
    assert math.isclose(direct, chained, rel_tol=1e-9)


def test_lazy_registry_is_built_on_first_use_and_converts_the_same() -> None:
    made: list[object] = []

    def make() -> units.Registry:
        made.append(1)
        return units.make_registry()

    lazy = units.LazyRegistry(make)
    assert made == []
    assert units.conversion_factor("percent", "per_thousand", lazy) == pytest.approx(
        units.conversion_factor("percent", "per_thousand", units.make_registry())
    )
    units.conversion_factor("euro", "thousand_euro", lazy)
    assert made == [1]
    with pytest.raises(IncompatibleUnitsError):
        units.conversion_factor("person", "euro", lazy)
