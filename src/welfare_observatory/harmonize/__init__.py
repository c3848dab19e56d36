"""Harmonization: declarative rules that turn source tables into canonical observations.

Rules are frozen pydantic models read from YAML (:func:`load_rules`); :func:`harmonize`
applies one to a source table with vectorized pyarrow compute and returns the canonical
table, grouped findings and the lineage step. See ``docs/harmonization.md``.
"""

from welfare_observatory.harmonize.codes import CodeTable, default_normalize
from welfare_observatory.harmonize.engine import Harmonized, harmonize
from welfare_observatory.harmonize.load import load_rules, parse_rules
from welfare_observatory.harmonize.periods import PeriodError, parse_period
from welfare_observatory.harmonize.rules import (
    BreakdownRule,
    Filter,
    HarmonizeRule,
    IndicatorRule,
    MeltRule,
    NameMapping,
    PeriodRule,
    StatusRule,
    TerritoryRule,
    UnitRule,
    ValueRule,
)

__all__ = [
    "BreakdownRule",
    "CodeTable",
    "Filter",
    "HarmonizeRule",
    "Harmonized",
    "IndicatorRule",
    "MeltRule",
    "NameMapping",
    "PeriodError",
    "PeriodRule",
    "StatusRule",
    "TerritoryRule",
    "UnitRule",
    "ValueRule",
    "default_normalize",
    "harmonize",
    "load_rules",
    "parse_period",
    "parse_rules",
]
