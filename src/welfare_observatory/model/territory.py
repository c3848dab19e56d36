"""Territories: Italy, NUTS 1 areas, regions, provinces, municipalities and groupings."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import Field

from welfare_observatory.model.common import Frozen

OPEN_END = date(9999, 12, 31)


class TerritoryLevel(StrEnum):
    """Levels from the largest to the smallest; groupings sit beside the hierarchy."""

    COUNTRY = "country"
    NUTS1 = "nuts1"
    REGION = "region"
    PROVINCE = "province"
    DISTRICT = "district"
    """Social or health district: a grouping of municipalities inside a province."""
    MUNICIPALITY = "municipality"
    GROUPING = "grouping"
    """Any other declared set of municipalities (an observatory's own areas)."""

    @property
    def rank(self) -> int:
        """0 for the country, growing towards municipalities (groupings rank with districts)."""
        return _RANK[self]


_RANK = {
    TerritoryLevel.COUNTRY: 0,
    TerritoryLevel.NUTS1: 1,
    TerritoryLevel.REGION: 2,
    TerritoryLevel.PROVINCE: 3,
    TerritoryLevel.DISTRICT: 4,
    TerritoryLevel.GROUPING: 4,
    TerritoryLevel.MUNICIPALITY: 5,
}


class Territory(Frozen):
    """One territory as valid over ``[valid_from, valid_to]``.

    ``code`` is the canonical id: ``IT``; NUTS 1 code (``ITC``); 2-digit region code (``01``);
    3-digit historic province code (``096``); 6-digit municipality code (``096004``);
    namespaced ids for groupings (``district:T01024``).
    """

    code: str = Field(min_length=1)
    level: TerritoryLevel
    name: str
    name_other: str | None = None
    """Name in the other official language (German, French, Slovene, Ladin) where there is one."""
    parent: str | None = None
    belfiore: str | None = None
    nuts1: str | None = None
    nuts2: str | None = None
    nuts3: str | None = None
    uts_code: str | None = None
    """Istat code of the supra-municipal unit (``201`` for the metropolitan city of Torino)."""
    abbreviation: str | None = None
    """Vehicle registration abbreviation of a province (``BI``)."""
    istat_code: str | None = None
    """The code Istat's own lists use when it differs from ``code`` (``ITD20`` for Trento)."""
    members: tuple[str, ...] = ()
    """Municipality codes of a grouping (district or declared area)."""
    valid_from: date | None = None
    valid_to: date = OPEN_END

    def valid_at(self, at: date) -> bool:
        return (self.valid_from is None or self.valid_from <= at) and at <= self.valid_to
