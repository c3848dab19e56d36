"""welfare-observatory: build territorial welfare observatories.

The names below are the public API; everything else in the package is private. Names are
resolved on first use so that ``import welfare_observatory`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from welfare_observatory._lazy import lazy_exports
from welfare_observatory.errors import (
    CatalogError,
    ConfigError,
    DataError,
    FetchError,
    HarmonizeError,
    IncompatibleUnitsError,
    Location,
    OfflineError,
    ParseError,
    PluginError,
    SourceError,
    StoreError,
    UndefinedUnitError,
    UnitError,
    UnknownIdError,
    UnknownIndicatorError,
    UnknownSdgError,
    UnknownTerritoryError,
    WelfareObservatoryError,
)

if TYPE_CHECKING:
    from welfare_observatory.build.orchestrator import BuildResult
    from welfare_observatory.build.report import BuildReport
    from welfare_observatory.catalog import Catalog, DeprecatedIndicatorWarning
    from welfare_observatory.model import (
        Aggregation,
        ConfStatus,
        Coverage,
        DefinitionSource,
        Domain,
        Finding,
        Formula,
        Indicator,
        ObsStatus,
        Polarity,
        Provenance,
        Relation,
        SdgLink,
        Severity,
        Territory,
        TerritoryLevel,
        Text,
    )
    from welfare_observatory.model.observation import observation_schema
    from welfare_observatory.observatory import Observatory, load_observatory
    from welfare_observatory.protect import DisclosureRule, publishable_view
    from welfare_observatory.sdg import framework
    from welfare_observatory.store import EditionInfo, KnowledgeBase
    from welfare_observatory.territory import registry as territories
    from welfare_observatory.units import make_registry
    from welfare_observatory.validate.schema import validate_observations

from welfare_observatory._version import __version__

_LAZY: dict[str, str] = {
    "Catalog": "welfare_observatory.catalog",
    "DeprecatedIndicatorWarning": "welfare_observatory.catalog",
    "Aggregation": "welfare_observatory.model",
    "ConfStatus": "welfare_observatory.model",
    "Coverage": "welfare_observatory.model",
    "DefinitionSource": "welfare_observatory.model",
    "Domain": "welfare_observatory.model",
    "Finding": "welfare_observatory.model",
    "Formula": "welfare_observatory.model",
    "Indicator": "welfare_observatory.model",
    "ObsStatus": "welfare_observatory.model",
    "Polarity": "welfare_observatory.model",
    "Provenance": "welfare_observatory.model",
    "Relation": "welfare_observatory.model",
    "SdgLink": "welfare_observatory.model",
    "Severity": "welfare_observatory.model",
    "Territory": "welfare_observatory.model",
    "TerritoryLevel": "welfare_observatory.model",
    "Text": "welfare_observatory.model",
    "observation_schema": "welfare_observatory.model.observation",
    "make_registry": "welfare_observatory.units",
    "validate_observations": "welfare_observatory.validate.schema",
    "KnowledgeBase": "welfare_observatory.store",
    "EditionInfo": "welfare_observatory.store",
    "Observatory": "welfare_observatory.observatory",
    "load_observatory": "welfare_observatory.observatory",
    "BuildResult": "welfare_observatory.build.orchestrator",
    "BuildReport": "welfare_observatory.build.report",
    "DisclosureRule": "welfare_observatory.protect",
    "publishable_view": "welfare_observatory.protect",
    "framework": "welfare_observatory.sdg",
    "territories": "welfare_observatory.territory:registry",
}

__all__ = [
    "Aggregation",
    "BuildReport",
    "BuildResult",
    "Catalog",
    "CatalogError",
    "ConfStatus",
    "ConfigError",
    "Coverage",
    "DataError",
    "DefinitionSource",
    "DeprecatedIndicatorWarning",
    "DisclosureRule",
    "Domain",
    "EditionInfo",
    "FetchError",
    "Finding",
    "Formula",
    "HarmonizeError",
    "IncompatibleUnitsError",
    "Indicator",
    "KnowledgeBase",
    "Location",
    "ObsStatus",
    "Observatory",
    "OfflineError",
    "ParseError",
    "PluginError",
    "Polarity",
    "Provenance",
    "Relation",
    "SdgLink",
    "Severity",
    "SourceError",
    "StoreError",
    "Territory",
    "TerritoryLevel",
    "Text",
    "UndefinedUnitError",
    "UnitError",
    "UnknownIdError",
    "UnknownIndicatorError",
    "UnknownSdgError",
    "UnknownTerritoryError",
    "WelfareObservatoryError",
    "__version__",
    "framework",
    "load_observatory",
    "make_registry",
    "observation_schema",
    "publishable_view",
    "territories",
    "validate_observations",
]

__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
