"""Unit checks for the catalogue, fast: a shipped cache of parsed unit strings.

Building the library's pint registry costs about 0.3 s, more than the whole rest of loading
the catalogue. The catalogue only needs two facts per distinct unit string: that it parses
and what its dimensions are (to check that a formula's units make sense). Both are kept in
``data/_units.json``, keyed by a hash of :data:`welfare_observatory.units.DEFINITIONS`; a
unit that is not in the cache, or a cache made from other definitions, falls back to pint.
A test rebuilds the cache with pint and compares. Regenerate it with
``python -m welfare_observatory.catalog._refresh``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from welfare_observatory.units import DEFINITIONS

Dimensions = Mapping[str, int]
"""Exponent per pint base dimension, e.g. ``{"[population]": 1, "[length]": -2}``."""


class ParsedUnit(NamedTuple):
    """What the catalogue needs to know about a unit string."""

    dimensions: Dimensions
    scale: float
    """Magnitude of 1 unit in base units: 0.01 for percent, 1e6 for km2 (in m2)."""


CACHE_FILE = Path(__file__).with_name("data") / "_units.json"
COUNT_DIMENSIONS = frozenset({"[population]", "[household]", "[event]", "[bed]", "[enterprise]"})
"""Dimensions of things that are counted; a rate may relate one of them to another."""


COMMON_UNITS = ("dimensionless", "organisation", "person / organisation")
"""Unit strings plugin catalogues use that the shipped files do not: cached too, so loading
a plugin's catalogue does not build a pint registry (a quarter of a second) for them."""


def definitions_key() -> str:
    """A short hash of the unit definitions the cache was computed from."""
    return hashlib.sha256("\n".join(DEFINITIONS).encode()).hexdigest()[:16]


@lru_cache(maxsize=1)
def _cache() -> dict[str, ParsedUnit]:
    try:
        data = json.loads(CACHE_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("definitions") != definitions_key():
        return {}
    units = data.get("units", {})
    return {
        unit: ParsedUnit(dict(item["dimensions"]), float(item["scale"]))
        for unit, item in units.items()
    }


@lru_cache(maxsize=1)
def _registry() -> Any:
    from welfare_observatory.units import make_registry

    return make_registry()


@cache
def _from_pint(unit: str) -> ParsedUnit:
    from welfare_observatory.units import check_unit

    registry = _registry()
    check_unit(unit, registry)  # raises UndefinedUnitError with a hint
    base = registry.Quantity(1.0, unit).to_base_units()
    dims = {str(k): int(v) for k, v in sorted(base.dimensionality.items())}
    return ParsedUnit(dims, float(base.magnitude))


def _from_registry(unit: str, registry: Any) -> ParsedUnit:
    from welfare_observatory.units import check_unit

    check_unit(unit, registry)
    base = registry.Quantity(1.0, unit).to_base_units()
    dims = {str(k): int(v) for k, v in sorted(base.dimensionality.items())}
    return ParsedUnit(dims, float(base.magnitude))


def parse(unit: str, registry: Any = None) -> ParsedUnit:
    """Dimensions and scale of ``unit``; raises UndefinedUnitError when pint cannot parse it.

    ``registry``: a pint registry with more units (an observatory's plugins' units, see
    ``Plugins.unit_registry``); the library's units keep their meaning in it (a plugin
    cannot redefine one), so the shipped cache still answers for them.
    """
    cached = _cache().get(unit)
    if cached is not None:
        return cached
    return _from_pint(unit) if registry is None else _from_registry(unit, registry)


def dimensions(unit: str) -> Dimensions:
    """The dimensions of ``unit``; raises UndefinedUnitError when pint cannot parse it."""
    return parse(unit).dimensions


def divide(numerator: Dimensions, denominator: Dimensions) -> dict[str, int]:
    """Dimensions of numerator / denominator."""
    out = dict(numerator)
    for name, power in denominator.items():
        out[name] = out.get(name, 0) - power
    return {name: power for name, power in out.items() if power}


def is_count(dims: Dimensions) -> bool:
    """True for the dimensions of a plain count (persons, households, events, ...)."""
    return (
        len(dims) == 1
        and next(iter(dims.items()))[0] in COUNT_DIMENSIONS
        and (next(iter(dims.values())) == 1)
    )


def formula_problem(
    result: str,
    numerator: str,
    denominator: str,
    multiplier: float = 1.0,
    registry: Any = None,
) -> str | None:
    """Why ``numerator / denominator * multiplier`` is not a value in ``result``, or None.

    A dimensionless result (``percent``, ``per_thousand``, ``ratio``) needs two counts: persons
    over persons, or events, beds, households per person. Any other result must have exactly
    the dimensions of numerator / denominator (``euro / person``, ``person / km2``). The
    multiplier must turn the plain quotient into the result's scale: 100 for ``percent``,
    1000 for ``per_thousand``, 1 for ``ratio``.
    """
    res, num, den = (parse(u, registry) for u in (result, numerator, denominator))
    if not res.dimensions:
        if not (is_count(num.dimensions) and is_count(den.dimensions)):
            return f"a rate in {result!r} needs two counts, not {numerator!r} over {denominator!r}"
    elif divide(num.dimensions, den.dimensions) != dict(res.dimensions):
        return f"{numerator!r} / {denominator!r} cannot be expressed in {result!r}"
    expected = num.scale / den.scale / res.scale
    if not math.isclose(multiplier, expected, rel_tol=1e-9):
        return (
            f"the multiplier is {multiplier:g} but {numerator!r} / {denominator!r} "
            f"in {result!r} needs {expected:g}"
        )
    return None


def build_cache(units: Iterable[str]) -> dict[str, object]:
    """The cache content for ``units``, computed with pint (slow, for the test and refresh)."""
    out: dict[str, object] = {}
    for unit in sorted(set(units)):
        parsed = _from_pint(unit)
        out[unit] = {"dimensions": dict(parsed.dimensions), "scale": parsed.scale}
    return {"definitions": definitions_key(), "units": out}
