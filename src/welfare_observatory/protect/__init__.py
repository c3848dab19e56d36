"""Disclosure control: the publishable view every export and the report read.

Importing this package is cheap; pyarrow and DuckDB load on first use::

    from welfare_observatory.protect import DisclosureRule, publishable_view
    view = publishable_view(kb, "2025", DisclosureRule(threshold=5))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from welfare_observatory.protect.rule import (
        DEFAULT_COUNT_UNITS,
        DisclosureRule,
        IndicatorGroup,
        load_rule,
    )
    from welfare_observatory.protect.suppress import UNPUBLISHED, protect
    from welfare_observatory.protect.view import publishable_view, territory_population

__all__ = [
    "DEFAULT_COUNT_UNITS",
    "UNPUBLISHED",
    "DisclosureRule",
    "IndicatorGroup",
    "load_rule",
    "protect",
    "publishable_view",
    "territory_population",
]

_LAZY = {
    "DEFAULT_COUNT_UNITS": "welfare_observatory.protect.rule",
    "DisclosureRule": "welfare_observatory.protect.rule",
    "IndicatorGroup": "welfare_observatory.protect.rule",
    "load_rule": "welfare_observatory.protect.rule",
    "UNPUBLISHED": "welfare_observatory.protect.suppress",
    "protect": "welfare_observatory.protect.suppress",
    "publishable_view": "welfare_observatory.protect.view",
    "territory_population": "welfare_observatory.protect.view",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
