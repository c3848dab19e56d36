"""Derive: rates from formulas, aggregates up the hierarchy, series reconciled to one list.

Each function is a pure function from canonical Arrow tables (plus catalogue indicators and
territory tables) to canonical Arrow tables, computed in DuckDB; each returns a
:class:`Derived` with the rows, the findings and the lineage step.
"""

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
