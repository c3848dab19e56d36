"""Harmonization: declarative rules that turn source tables into canonical observations.

Rules are frozen pydantic models read from YAML (:func:`load_rules`); :func:`harmonize`
applies one to a source table with vectorized pyarrow compute and returns the canonical
table, grouped findings and the lineage step. See ``docs/harmonization.md``.

Importing this package is cheap (the configuration loader validates rules with it);
pyarrow loads with :func:`harmonize` and :class:`CodeTable` on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from welfare_observatory._lazy import lazy_exports

if TYPE_CHECKING:
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

_RULES = "welfare_observatory.harmonize.rules"
_LAZY = {
    "CodeTable": "welfare_observatory.harmonize.codes",
    "default_normalize": "welfare_observatory.harmonize.codes",
    "Harmonized": "welfare_observatory.harmonize.engine",
    "harmonize": "welfare_observatory.harmonize.engine",
    "load_rules": "welfare_observatory.harmonize.load",
    "parse_rules": "welfare_observatory.harmonize.load",
    "PeriodError": "welfare_observatory.harmonize.periods",
    "parse_period": "welfare_observatory.harmonize.periods",
    **dict.fromkeys(
        (
            "BreakdownRule",
            "Filter",
            "HarmonizeRule",
            "IndicatorRule",
            "MeltRule",
            "NameMapping",
            "PeriodRule",
            "StatusRule",
            "TerritoryRule",
            "UnitRule",
            "ValueRule",
        ),
        _RULES,
    ),
}

__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
