"""Declared groupings as extra columns of the territorial hierarchy.

An observatory may declare groupings of municipalities (``territory.groupings`` in
``observatory.yaml``). Each becomes one column of the hierarchy table, named
``grouping:<id>``, holding ``grouping:<id>`` for its members and null elsewhere, so
:func:`~welfare_observatory.derive.aggregate` sums into it like into a province. A
municipality may belong to several groupings (one column each).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["GROUPING_PREFIX", "grouping_id", "with_groupings"]

GROUPING_PREFIX = "grouping:"


def grouping_id(name: str) -> str:
    """The territory id of the declared grouping ``name`` (``grouping:valle_cervo``)."""
    return name if name.startswith(GROUPING_PREFIX) else GROUPING_PREFIX + name


def with_groupings(
    hierarchy: pa.Table, groupings: Mapping[str, Sequence[str]]
) -> tuple[pa.Table, list[str]]:
    """``hierarchy`` plus one column per grouping, and the names of those columns.

    ``groupings`` maps a grouping name to municipality codes in force on the hierarchy's
    date (members not in the hierarchy are ignored: they have no rows to sum).
    """
    municipality = hierarchy.column("municipality").cast(pa.string())
    levels: list[str] = []
    for name in sorted(groupings):
        column = grouping_id(name)
        members = pa.array(sorted(set(groupings[name])), pa.string())
        inside = pc.is_in(municipality, value_set=members)
        values = pc.if_else(inside, pa.scalar(column), pa.scalar(None, pa.string()))
        hierarchy = hierarchy.append_column(column, values)
        levels.append(column)
    return hierarchy, levels
