"""Disclosure control: the publishable view every export and the report read.

Importing this package is cheap; pyarrow and DuckDB load on first use::

    from welfare_observatory.protect import DisclosureRule, publishable_view
    view = publishable_view(kb, "2025", DisclosureRule(threshold=5))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from welfare_observatory._lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
