"""The publishable view of an edition: what every export and the report read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import TYPE_CHECKING

from welfare_observatory.protect.rule import DisclosureRule
from welfare_observatory.protect.suppress import protect

if TYPE_CHECKING:
    import pyarrow as pa

    from welfare_observatory.model.indicator import Indicator
    from welfare_observatory.store import KnowledgeBase

__all__ = ["publishable_view", "territory_population"]


def publishable_view(
    kb: KnowledgeBase,
    edition: str | None = None,
    rule: DisclosureRule | None = None,
    *,
    indicators: Mapping[str, Indicator] | Iterable[Indicator] | None = None,
    hierarchy: pa.Table | None = None,
) -> pa.Table:
    """The observations of ``edition`` (default: the latest) after disclosure control.

    ``rule`` defaults to :class:`DisclosureRule` ``()`` (counts below 3 in municipalities);
    ``indicators`` to the shipped catalogue; ``hierarchy`` to the territory registry's
    hierarchy on the edition's reference date. Same rows and columns as
    ``kb.to_arrow(edition=edition)`` (including the store's ``domain`` column); suppressed
    rows have a null ``value``.
    """
    rule = rule or DisclosureRule()
    table = kb.to_arrow(edition=edition)
    if not rule.enabled or table.num_rows == 0:
        return table
    manifest = kb.manifest(edition)
    at = _reference_date(manifest.reference_date)
    if indicators is None:
        from welfare_observatory.catalog import catalog

        indicators = list(catalog())
    if hierarchy is None:
        from welfare_observatory.territory import registry

        hierarchy = registry().hierarchy(at)
    population = None
    if rule.max_population is not None:
        population = territory_population(hierarchy, at.year if at else None)
    return protect(
        table, rule=rule, indicators=indicators, hierarchy=hierarchy, population=population
    )


def _reference_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def territory_population(hierarchy: pa.Table, year: int | None) -> pa.Table:
    """``territory, population`` for every code of ``hierarchy`` (municipalities summed up).

    Uses the population baseline on 1 January of ``year``, or the nearest year shipped.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from welfare_observatory.territory import population, population_years

    years = population_years()
    wanted = year if year is not None else years[-1]
    chosen = min(years, key=lambda y: (abs(y - wanted), -y))
    base = population(chosen).select(["territory", "population"])
    base = base.rename_columns(["municipality", "population"])
    parts = [base.rename_columns(["territory", "population"])]
    for name in hierarchy.column_names:
        if name == "municipality":
            continue
        pairs = hierarchy.select(["municipality", name]).filter(pc.is_valid(hierarchy[name]))
        joined = pairs.join(base, "municipality", join_type="inner")
        summed = joined.group_by(name).aggregate([("population", "sum")])
        parts.append(
            pa.table(
                {
                    "territory": summed[name].cast(pa.string()),
                    "population": summed["population_sum"].cast(pa.int64()),
                }
            )
        )
    return pa.concat_tables(parts)
