"""Typed definitions shared by every stage. Imports no other module of the package."""

from welfare_observatory.model.common import Frozen, Text
from welfare_observatory.model.finding import Finding, Severity
from welfare_observatory.model.indicator import (
    Aggregation,
    Coverage,
    DefinitionSource,
    Domain,
    Formula,
    Indicator,
    MeasureKind,
    Periodicity,
    Polarity,
    Provenance,
    ReferencePoint,
    Relation,
    SdgLink,
)
from welfare_observatory.model.observation import (
    BASE_COLUMNS,
    KEY_COLUMNS,
    ConfStatus,
    ObsStatus,
)
from welfare_observatory.model.territory import Territory, TerritoryLevel

__all__ = [
    "BASE_COLUMNS",
    "KEY_COLUMNS",
    "Aggregation",
    "ConfStatus",
    "Coverage",
    "DefinitionSource",
    "Domain",
    "Finding",
    "Formula",
    "Frozen",
    "Indicator",
    "MeasureKind",
    "ObsStatus",
    "Periodicity",
    "Polarity",
    "Provenance",
    "ReferencePoint",
    "Relation",
    "SdgLink",
    "Severity",
    "Territory",
    "TerritoryLevel",
    "Text",
]
