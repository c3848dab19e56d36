"""Additive relations of an observation table, as SQL over the registered ``obs`` view.

A relation is a total and its parts, all present in the table: a territory and the
territories one level below it (municipalities of a province, provinces of a region, ...,
and municipalities of each grouping column such as districts), or a breakdown total and
its codes (``_T`` and ``F``, ``M``; or the code groups a rule declares). Only indicators
that add up (``aggregation: sum``) have these relations. Indicator groups (a total
indicator and its parts, for one territory, period and breakdown key) are relations too,
but only when every member is in the table. Each relation gets an integer id;
``members(rel, rid)`` lists its rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from welfare_observatory.model.observation import TOTAL

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from welfare_observatory.protect.rule import IndicatorGroup

__all__ = ["CHAIN", "build_members", "hierarchy_pairs"]

CHAIN = ("municipality", "province", "region", "nuts1", "country")
"""Nested levels, finest first: each adds up to the next one present."""

_SEP = "chr(31)"
"""Unit separator: joins key parts into one relation key (codes never contain it)."""


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def hierarchy_pairs(hierarchy: pa.Table) -> pa.Table:
    """``k, fine, coarse``: one row per (level pair, territory, the territory it adds up to).

    Pairs are the consecutive levels of :data:`CHAIN` present in ``hierarchy`` plus, for
    every other column (districts, an observatory's groupings), municipality -> column.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    names = hierarchy.column_names
    chain = [c for c in CHAIN if c in names]
    pairs = list(itertools.pairwise(chain))
    if "municipality" in names:
        pairs += [("municipality", c) for c in names if c not in CHAIN]
    parts = []
    for k, (fine, coarse) in enumerate(pairs):
        sub = hierarchy.select([fine, coarse]).rename_columns(["fine", "coarse"])
        sub = sub.cast(pa.schema([("fine", pa.string()), ("coarse", pa.string())]))
        sub = sub.filter(pc.and_(pc.is_valid(sub["fine"]), pc.is_valid(sub["coarse"])))
        sub = sub.group_by(["fine", "coarse"]).aggregate([])
        parts.append(sub.append_column("k", pa.array([k] * sub.num_rows, pa.int32())))
    if not parts:
        return pa.table(
            {"k": pa.array([], pa.int32()), "fine": pa.array([], pa.string()), "coarse": []},
            schema=pa.schema([("k", pa.int32()), ("fine", pa.string()), ("coarse", pa.string())]),
        )
    return pa.concat_tables(parts).select(["k", "fine", "coarse"])


def _key(parts: Sequence[str]) -> str:
    return f"concat_ws({_SEP}, {', '.join(parts)})"


def build_members(
    con: duckdb.DuckDBPyConnection,
    breakdowns: Sequence[str],
    code_groups: Mapping[str, Mapping[str, tuple[str, ...]]],
    indicator_groups: Sequence[IndicatorGroup] = (),
) -> int:
    """Create table ``members(rel, rid)`` from views ``obs`` and ``pairs``; return #relations.

    ``obs`` has ``rid``, ``is_sum``, the plain-text keys and the breakdown columns.
    """
    b = [ident(name) for name in breakdowns]
    selects: list[str] = []
    # Territorial relations: parts (joined on their territory) and totals (the coarse code).
    key_children = _key(["'h'", "p.k::VARCHAR", "o.indicator", "p.coarse", "o.period", *b])
    key_parent = _key(["'h'", "q.k::VARCHAR", "o.indicator", "o.territory", "o.period", *b])
    selects.append(
        _select(key_children, "false", "obs o JOIN pairs p ON o.territory = p.fine WHERE o.is_sum")
    )
    selects.append(
        _select(
            key_parent,
            "true",
            "obs o JOIN (SELECT DISTINCT k, coarse FROM pairs) q ON o.territory = q.coarse "
            "WHERE o.is_sum",
        )
    )
    # Breakdown relations: one per dimension, or the declared code groups of that dimension.
    for position, name in enumerate(breakdowns):
        others = [f"o.{col}" for i, col in enumerate(b) if i != position]
        column = f"o.{b[position]}"
        groups = code_groups.get(name)
        base = ["o.indicator", "o.territory", "o.period", *others]
        if not groups:
            key = _key([f"'b:{position}'", *base])
            selects.append(_select(key, f"{column} = '{TOTAL}'", "obs o WHERE o.is_sum"))
            continue
        for g, (total, parts) in enumerate(sorted(groups.items())):
            key = _key([f"'g:{position}:{g}'", *base])
            codes = ", ".join(_literal(code) for code in (total, *parts))
            selects.append(
                _select(
                    key,
                    f"{column} = {_literal(total)}",
                    f"obs o WHERE o.is_sum AND {column} IN ({codes})",
                )
            )
    selects += _indicator_selects(con, breakdowns, indicator_groups)
    con.execute("CREATE TEMP TABLE rel_raw AS " + " UNION ALL ".join(selects))
    # A relation needs its total and at least one part present in the table; an indicator
    # group needs all its members (``size``), else the absent one is an unknown that keeps
    # the others safe.
    con.execute(
        "CREATE TEMP TABLE relkeys AS SELECT rkey, row_number() OVER (ORDER BY rkey) AS rel "
        "FROM rel_raw GROUP BY rkey "
        "HAVING bool_or(is_parent) AND count(*) >= coalesce(max(size), 2)"
    )
    con.execute(
        "CREATE TEMP TABLE members AS SELECT k.rel, r.rid FROM rel_raw r "
        "JOIN relkeys k USING (rkey)"
    )
    con.execute("DROP TABLE rel_raw")
    rows = con.execute("SELECT count(*) FROM relkeys").fetchall()
    return int(rows[0][0])


def _indicator_selects(
    con: duckdb.DuckDBPyConnection,
    breakdowns: Sequence[str],
    groups: Sequence[IndicatorGroup],
) -> list[str]:
    """SELECTs of indicator-group rows: one per set of pinned dimensions.

    Each set registers a view ``igroup_<n>(g, indicator, is_total, size, <pinned dims>)``;
    rows join it on indicator and pinned codes, and share a key of group, territory,
    period and the breakdowns not pinned.
    """
    import pyarrow as pa

    by_pins: dict[tuple[str, ...], list[dict[str, object]]] = {}
    for g, group in enumerate(groups):
        members = group.members
        # A pin on a dimension the table lacks: ``_T`` is every row, any other code none.
        if any(dim not in breakdowns and code != TOTAL for m in members for dim, code in m.pins):
            continue
        dims = tuple(dim for dim, _ in members[0].pins if dim in breakdowns)
        for position, member in enumerate(members):
            pins = dict(member.pins)
            row: dict[str, object] = {
                "g": g,
                "indicator": member.indicator,
                "is_total": position == 0,
                "size": len(members),
            }
            row |= {f"pin_{i}": pins[dim] for i, dim in enumerate(dims)}
            by_pins.setdefault(dims, []).append(row)
    selects = []
    for n, (dims, rows) in enumerate(sorted(by_pins.items())):
        view = f"igroup_{n}"
        con.register(view, pa.Table.from_pylist(rows))
        join = " ".join(f"AND o.{ident(dim)} = m.pin_{i}" for i, dim in enumerate(dims))
        free = [f"o.{ident(b)}" for b in breakdowns if b not in dims]
        key = _key(["'i'", "m.g::VARCHAR", "o.territory", "o.period", *free])
        selects.append(
            f"SELECT o.rid, {key} AS rkey, m.is_total AS is_parent, "  # noqa: S608
            f"m.size::INTEGER AS size FROM obs o JOIN {view} m ON o.indicator = m.indicator {join}"
        )
    return selects


def _select(key: str, is_parent: str, source: str) -> str:
    """One SELECT of ``rid, rkey, is_parent, size`` rows; parts are built from quoted names."""
    return (
        f"SELECT o.rid, {key} AS rkey, {is_parent} AS is_parent, "  # noqa: S608
        f"NULL::INTEGER AS size FROM {source}"
    )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
