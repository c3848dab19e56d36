"""Italian territories: registry, hierarchy, administrative changes, population baseline.

Importing this package is cheap; the registry (and pyarrow) load on first use::

    from welfare_observatory.territory import registry
    reg = registry()
    reg.find("ITD20")             # the province of Trento (Istat legacy code; NUTS is ITH20)
    reg.successors("041033")      # Montecopiolo moved to Rimini: ["099030"]
    reg.successors("022014", at="2024-06-01")   # Bezzecca merged into Ledro: ["022229"]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from welfare_observatory._lazy import lazy_exports
from welfare_observatory.territory.names import normalize_name

if TYPE_CHECKING:
    from welfare_observatory.territory._dates import DateLike, InvalidDateError
    from welfare_observatory.territory._population import (
        AGE_CLASSES,
        AGE_CODES,
        NON_WORKING,
        UnavailableBreakdownError,
        population,
        population_years,
    )
    from welfare_observatory.territory._registry import TerritoryRegistry, registry
    from welfare_observatory.territory.history import EventKind, TerritoryEvent
    from welfare_observatory.territory.tables import HIERARCHY_COLUMNS

__all__ = [
    "AGE_CLASSES",
    "AGE_CODES",
    "HIERARCHY_COLUMNS",
    "NON_WORKING",
    "DateLike",
    "EventKind",
    "InvalidDateError",
    "TerritoryEvent",
    "TerritoryRegistry",
    "UnavailableBreakdownError",
    "normalize_name",
    "population",
    "population_years",
    "registry",
]

_LAZY = {
    "AGE_CLASSES": "welfare_observatory.territory._population",
    "NON_WORKING": "welfare_observatory.territory._population",
    "AGE_CODES": "welfare_observatory.territory._population",
    "HIERARCHY_COLUMNS": "welfare_observatory.territory.tables",
    "DateLike": "welfare_observatory.territory._dates",
    "EventKind": "welfare_observatory.territory.history",
    "InvalidDateError": "welfare_observatory.territory._dates",
    "TerritoryEvent": "welfare_observatory.territory.history",
    "TerritoryRegistry": "welfare_observatory.territory._registry",
    "UnavailableBreakdownError": "welfare_observatory.territory._population",
    "population": "welfare_observatory.territory._population",
    "population_years": "welfare_observatory.territory._population",
    "registry": "welfare_observatory.territory._registry",
}


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
