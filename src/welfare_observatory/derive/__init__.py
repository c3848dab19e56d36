"""Derive: rates from formulas, aggregates up the hierarchy, series reconciled to one list.

Each function is a pure function from canonical Arrow tables (plus catalogue indicators and
territory tables) to canonical Arrow tables, computed in DuckDB; each returns a
:class:`Derived` with the rows, the findings and the lineage step.

Importing this package is cheap (so is :mod:`welfare_observatory.derive._parts`, which a
rebuild that derives nothing reads); DuckDB loads with the first function used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from welfare_observatory._lazy import lazy_exports

if TYPE_CHECKING:
    from welfare_observatory.derive._common import Derived
    from welfare_observatory.derive.aggregation import LEVELS, aggregate
    from welfare_observatory.derive.formulas import derive_rates
    from welfare_observatory.derive.groupings import GROUPING_PREFIX, grouping_id, with_groupings
    from welfare_observatory.derive.reconciliation import code_changes, reconcile

__all__ = [
    "GROUPING_PREFIX",
    "LEVELS",
    "Derived",
    "aggregate",
    "code_changes",
    "derive_rates",
    "grouping_id",
    "reconcile",
    "with_groupings",
]

_LAZY = {
    "Derived": "welfare_observatory.derive._common",
    "LEVELS": "welfare_observatory.derive.aggregation",
    "aggregate": "welfare_observatory.derive.aggregation",
    "derive_rates": "welfare_observatory.derive.formulas",
    "GROUPING_PREFIX": "welfare_observatory.derive.groupings",
    "grouping_id": "welfare_observatory.derive.groupings",
    "with_groupings": "welfare_observatory.derive.groupings",
    "code_changes": "welfare_observatory.derive.reconciliation",
    "reconcile": "welfare_observatory.derive.reconciliation",
}


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
