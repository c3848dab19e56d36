"""Units for statistics: one pint registry per build.

Each call of :func:`make_registry` returns a fresh registry, so definitions a plugin adds to
one observatory's build never leak into another's. Persons, households and euro are base
dimensions of their own, so a count of persons never converts to euro. Rates are
dimensionless scales: ``percent`` (1e-2), ``per_thousand`` (1e-3), ``per_ten_thousand``
(1e-4) and ``per_hundred_thousand`` (1e-5) convert into each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from welfare_observatory.errors import IncompatibleUnitsError, UndefinedUnitError

if TYPE_CHECKING:
    import numpy as np
    import pint

    Registry = pint.UnitRegistry[Any]

__all__ = [
    "DEFINITIONS",
    "LazyRegistry",
    "check_unit",
    "conversion_factor",
    "convert",
    "make_registry",
]

DEFINITIONS: tuple[str, ...] = (
    "person = [population] = persons = inhabitant = inhabitants = people",
    "household = [household] = households",
    "family = household = families",
    "euro = [currency] = EUR = eur",
    "thousand_euro = 1000 * euro = kEUR",
    "million_euro = 1e6 * euro = MEUR",
    "thousand_persons = 1000 * person",
    "per_thousand = 1e-3 = permille = per_mille",
    "per_ten_thousand = 1e-4",
    "per_hundred_thousand = 1e-5",
    "ratio = 1",
    "index_points = 1 = index_point",
    "event = [event] = events = case = cases",
    "birth = event = births",
    "death = event = deaths",
    "bed = [bed] = beds",
    "enterprise = [enterprise] = enterprises = organisation = organisations",
    "square_kilometre = kilometer ** 2 = km2",
)


def make_registry(extra: Iterable[str] = ()) -> Registry:
    """A new registry with the library's definitions plus ``extra`` definition lines."""
    import pint

    registry: Registry = pint.UnitRegistry(autoconvert_offset_to_baseunit=True, cache_folder=None)
    for line in (*DEFINITIONS, *extra):
        try:
            registry.define(line)
        except (pint.errors.DefinitionSyntaxError, pint.errors.RedefinitionError) as exc:
            raise UndefinedUnitError(
                f"cannot define unit {line!r}: {exc}",
                hint="definitions use pint's syntax: 'name = value * unit = alias'",
            ) from exc
    return registry


class LazyRegistry:
    """A registry made by ``make`` on first attribute access (``Unit``, ``Quantity``, ...)."""

    def __init__(self, make: Callable[[], Registry]) -> None:
        self._make = make
        self._registry: Registry | None = None

    def __getattr__(self, name: str) -> Any:
        if self._registry is None:
            self._registry = self._make()
        return getattr(self._registry, name)


@lru_cache(maxsize=1)
def _default() -> Registry:
    return make_registry()


def _parse(unit: str, registry: Registry | None) -> pint.Unit:
    from tokenize import TokenError  # pint's parser imports it anyway

    import pint

    reg = registry if registry is not None else _default()
    make = reg.Unit  # a lazy registry is built here: its own errors are not the unit's
    try:
        return make(unit)
    except (pint.errors.UndefinedUnitError, pint.errors.DefinitionSyntaxError, ValueError) as exc:
        raise UndefinedUnitError(
            f"unknown unit {unit!r}",
            hint="use a pint unit such as 'person', 'household', 'euro', 'percent', "
            "'per_thousand' or 'year'",
        ) from exc
    except (AttributeError, AssertionError, ArithmeticError, TypeError, TokenError) as exc:
        # pint's parser raises what its tokenizer, evaluator and arithmetic raise on
        # malformed text ("1/0", "person*", "("): a unit is data, never a crash.
        raise UndefinedUnitError(
            f"unknown unit {unit!r}: not a unit expression ({type(exc).__name__})",
            hint="use a pint unit such as 'person', 'household', 'euro', 'percent', "
            "'per_thousand' or 'year'",
        ) from exc


def check_unit(unit: str, registry: Registry | None = None) -> str:
    """Return ``unit`` unchanged if the registry parses it; raise UndefinedUnitError if not."""
    _parse(unit, registry)
    return unit


def conversion_factor(from_unit: str, to_unit: str, registry: Registry | None = None) -> float:
    """The factor f with value_in_to = value_in_from * f (offset units are not allowed)."""
    import pint

    source = _parse(from_unit, registry)
    target = _parse(to_unit, registry)
    reg = registry if registry is not None else _default()
    try:
        return float(reg.Quantity(1.0, source).to(target).magnitude)
    except pint.errors.DimensionalityError as exc:
        raise IncompatibleUnitsError(
            f"cannot convert {from_unit!r} to {to_unit!r}: "
            f"{source.dimensionality} is not {target.dimensionality}",
            hint="a count of persons, households or euro only converts within its own kind",
        ) from exc


def convert(
    values: float | np.ndarray[Any, Any],
    from_unit: str,
    to_unit: str,
    registry: Registry | None = None,
) -> Any:
    """``values`` (a number or an array) expressed in ``to_unit`` instead of ``from_unit``."""
    return values * conversion_factor(from_unit, to_unit, registry)
