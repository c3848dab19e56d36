"""Disclosure control as a pure function over Arrow: primary, secondary and rate suppression.

1. *Primary* (``C``): counts of small territories below the rule's threshold.
2. *Secondary* (``D``): every additive relation (territorial totals, breakdown totals,
   declared code groups, indicator groups such as ``POP_TOTAL = POP_0_14 + POP_15_64 +
   POP_65_PLUS``) must hide none of its cells or at least two, so no hidden cell is
   the difference of published ones. Rounds, not rows: each round finds the relations with
   exactly one hidden cell and hides, in each, the smallest published cell (ties broken by
   the key order, so the result is deterministic); it stops when no relation is left.
3. *Rates* (``D``): a formula indicator is hidden where its numerator or denominator is
   suppressed for the same territory, breakdowns and year.

A hidden cell is one that is suppressed (``conf_status`` C, D or N) or missing (no value,
status other than M, which says the value cannot exist and so is known). Suppressed rows
lose their value and, to stay a valid canonical row, get ``obs_status`` ``O`` (missing):
the original status is dropped on purpose, since it can tell something about the value
(``E`` estimated, ``U`` low reliability).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from welfare_observatory._arrow import decoded
from welfare_observatory.errors import ConfigError, DataError
from welfare_observatory.model.indicator import Aggregation, Indicator
from welfare_observatory.model.observation import (
    ConfStatus,
    ObsStatus,
    breakdown_columns,
)
from welfare_observatory.protect._relations import build_members, hierarchy_pairs, ident
from welfare_observatory.protect.groups import groups_for

if TYPE_CHECKING:
    from welfare_observatory.protect.rule import DisclosureRule

__all__ = ["UNPUBLISHED", "protect"]

UNPUBLISHED = frozenset(
    {ConfStatus.CONFIDENTIAL, ConfStatus.SECONDARY, ConfStatus.NOT_FOR_PUBLICATION}
)
"""Confidentiality codes whose value never leaves the knowledge base."""

_PASSTHROUGH = {"domain"}
"""Columns that may ride along (the store's partition column) without being breakdowns."""

_MAX_ROUNDS = 10_000


_plain = decoded  # one decoder for the package (welfare_observatory._arrow)


def _indicator_table(indicators: Iterable[Indicator], rule: DisclosureRule) -> pa.Table:
    rows = [
        {
            "id": i.id,
            "is_sum": i.aggregation is Aggregation.SUM,
            "is_count": i.aggregation is Aggregation.SUM and i.unit in rule.count_units,
            "numerator": i.formula.numerator if i.formula is not None else None,
            "denominator": i.formula.denominator if i.formula is not None else None,
        }
        for i in indicators
    ]
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("is_sum", pa.bool_()),
            ("is_count", pa.bool_()),
            ("numerator", pa.string()),
            ("denominator", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def _levels(hierarchy: pa.Table) -> pa.Table:
    """``territory, level``: the level of every code in the hierarchy (its column name)."""
    from welfare_observatory.model.territory import TerritoryLevel

    known = {level.value for level in TerritoryLevel}
    parts = []
    for name in hierarchy.column_names:
        codes = pc.unique(_plain(hierarchy[name]).drop_null())
        level = name if name in known else TerritoryLevel.GROUPING.value
        parts.append(
            pa.table({"territory": codes, "level": pa.array([level] * len(codes), pa.string())})
        )
    if not parts:
        return pa.table(
            {"territory": pa.array([], pa.string()), "level": pa.array([], pa.string())}
        )
    return pa.concat_tables(parts)


def _obs_view(table: pa.Table, breakdowns: list[str]) -> pa.Table:
    """Row id, text keys, value, statuses and year: what the SQL reads.

    Dictionary keys stay encoded: DuckDB reads them as VARCHAR without a decoded copy.
    """
    import numpy as np

    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "rid": pa.array(np.arange(table.num_rows, dtype=np.int64))
    }
    for name in ("indicator", "territory", "period", *breakdowns):
        columns[name] = table[name]
    columns["value"] = table["value"].cast(pa.float64())
    columns["obs_status"] = table["obs_status"]
    if "conf_status" in table.column_names:
        columns["conf_status"] = pc.fill_null(_plain(table["conf_status"]), ConfStatus.FREE.value)
    else:
        columns["conf_status"] = pa.array([ConfStatus.FREE.value] * table.num_rows, pa.string())
    if "period_start" in table.column_names:
        columns["year"] = pc.year(table["period_start"])
    else:
        columns["year"] = pc.utf8_slice_codeunits(_plain(table["period"]), 0, 4)
    return pa.table(columns)


def protect(
    observations: pa.Table,
    *,
    rule: DisclosureRule,
    indicators: Mapping[str, Indicator] | Iterable[Indicator],
    hierarchy: pa.Table,
    population: pa.Table | None = None,
) -> pa.Table:
    """The publishable version of ``observations`` under ``rule``: same rows, same schema.

    ``indicators`` (id -> Indicator, or an iterable such as the catalogue) tells counts,
    additive indicators and formulas apart; rows of unknown indicators take part only in
    the rule's indicator groups.
    ``hierarchy`` has one row per municipality and one column per level
    (``territory.registry().hierarchy()``, extra columns are groupings). ``population``
    (``territory, population``) is needed when the rule sets ``max_population``.
    Suppressed rows: ``value`` null, ``conf_status`` C or D, ``obs_status`` O. Idempotent.
    """
    if not rule.enabled or observations.num_rows == 0:
        return observations
    for name in ("indicator", "territory", "period", "value", "obs_status"):
        if name not in observations.column_names:
            raise DataError(f"cannot protect a table without the column {name!r}")
    if rule.max_population is not None and population is None:
        raise ConfigError(
            "the disclosure rule sets max_population but no population was given",
            hint="pass population=protect.territory_population(hierarchy, year)",
        )
    pool = indicators.values() if isinstance(indicators, Mapping) else indicators
    breakdowns = [b for b in breakdown_columns(observations.column_names) if b not in _PASSTHROUGH]
    con = duckdb.connect()
    try:
        con.register("obs_in", _obs_view(observations, breakdowns))
        con.register("ind", _indicator_table(pool, rule))
        con.register("lvl", _levels(hierarchy))
        con.register("pairs", hierarchy_pairs(hierarchy))
        pop = (
            population
            if population is not None
            else pa.table(
                {"territory": pa.array([], pa.string()), "population": pa.array([], pa.int64())}
            )
        )
        con.register("pop", pop.select(["territory", "population"]))
        # A view, not a table: the queries scan the Arrow columns (keys stay dictionary
        # encoded there) instead of a decoded copy of the whole edition.
        con.execute(
            "CREATE TEMP VIEW obs AS SELECT o.*, coalesce(i.is_sum, false) AS is_sum, "
            "coalesce(i.is_count, false) AS is_count FROM obs_in o "
            "LEFT JOIN ind i ON o.indicator = i.id"
        )
        _create_state(con, rule)
        present = pc.unique(_plain(observations["indicator"]).drop_null()).to_pylist()
        groups = groups_for(rule, (str(i) for i in present))
        build_members(con, breakdowns, rule.code_groups, groups)
        _secondary(con, breakdowns)
        _rates(con, breakdowns)
        result = con.sql(
            "SELECT conf, conf IN ('C', 'D', 'N') AS nulled FROM state ORDER BY rid"
        ).to_arrow_table()
    finally:
        con.close()
    return _apply(observations, result)


def _create_state(con: duckdb.DuckDBPyConnection, rule: DisclosureRule) -> None:
    """``state(rid, value, conf, obs_status, hidden)``, primary suppression applied."""
    levels = ", ".join(f"'{level.value}'" for level in rule.levels)
    max_pop = "NULL" if rule.max_population is None else str(int(rule.max_population))
    low = "o.value >= 0" if rule.suppress_zeros else "o.value > 0"
    small = (
        f"(coalesce(list_has_any(t.levels, [{levels}]::VARCHAR[]), false) "
        f"OR ({max_pop} IS NOT NULL AND p.population < {max_pop}))"
    )
    primary = (
        f"o.is_count AND o.value IS NOT NULL AND {low} AND o.value < {float(rule.threshold)!r} "
        f"AND {small}"
    )
    conf = (
        "CASE WHEN o.conf_status IN ('C', 'D', 'N') THEN o.conf_status "
        f"WHEN {primary} THEN 'C' ELSE o.conf_status END"
    )
    con.execute(
        f"""
        CREATE TEMP TABLE state AS
        SELECT rid, value, conf, obs_status,
            conf IN ('C', 'D', 'N') OR (value IS NULL AND obs_status <> 'M') AS hidden
        FROM (
            SELECT o.rid, o.value, {conf} AS conf, o.obs_status
            FROM obs o
            LEFT JOIN (SELECT territory, list(level ORDER BY level) AS levels
                       FROM lvl GROUP BY territory) t USING (territory)
            LEFT JOIN (SELECT territory, max(population) AS population
                       FROM pop GROUP BY territory) p USING (territory)
        )
        """  # noqa: S608 (identifiers are quoted names; data goes in as tables)
    )


def _secondary(con: duckdb.DuckDBPyConnection, breakdowns: list[str]) -> None:
    """Hide one more cell in each relation that hides exactly one, until none does.

    The cell hidden is the smallest value, ties broken by the keys (then the row id): a
    per-relation ``arg_min`` over that tuple, so no sort of the whole table is needed.
    """
    order = ", ".join(
        f"'{n}': {c}"
        for n, c in enumerate(
            ["c.value", "o.indicator", "o.territory", "o.period"]
            + [f"o.{ident(b)}" for b in breakdowns]
            + ["c.rid"]
        )
    )
    for _ in range(_MAX_ROUNDS):
        picks = con.sql(
            f"""
            WITH counts AS (
                SELECT m.rel, count(*) FILTER (WHERE s.hidden) AS n_hidden
                FROM members m JOIN state s USING (rid) GROUP BY m.rel
            ),
            candidates AS (
                SELECT m.rel, s.rid, s.value
                FROM members m JOIN counts c USING (rel) JOIN state s USING (rid)
                WHERE c.n_hidden = 1 AND NOT s.hidden AND s.value IS NOT NULL
            )
            SELECT DISTINCT arg_min(c.rid, {{{order}}}) AS rid
            FROM candidates c JOIN obs o USING (rid)
            GROUP BY c.rel
            """  # noqa: S608 (identifiers are quoted names; data goes in as tables)
        ).to_arrow_table()
        if picks.num_rows == 0:
            return
        con.register("picks", picks)
        con.execute(
            "UPDATE state SET conf = 'D', hidden = true WHERE rid IN (SELECT rid FROM picks)"
        )
        con.unregister("picks")
    raise DataError("secondary suppression did not settle", hint="report this as a bug")


def _rates(con: duckdb.DuckDBPyConnection, breakdowns: list[str]) -> None:
    """Hide rates whose numerator or denominator is suppressed (rates of rates too)."""
    same = " AND ".join(f"o.{ident(b)} = r.{ident(b)}" for b in breakdowns)
    same = f" AND {same}" if same else ""
    for _ in range(_MAX_ROUNDS):
        changed = con.sql(
            f"""
            SELECT DISTINCT r.rid FROM obs r
            JOIN ind i ON r.indicator = i.id AND i.numerator IS NOT NULL
            JOIN obs o ON o.indicator IN (i.numerator, i.denominator)
                AND o.territory = r.territory AND o.year = r.year{same}
            JOIN state so ON so.rid = o.rid AND so.conf IN ('C', 'D', 'N')
            JOIN state sr ON sr.rid = r.rid AND sr.conf NOT IN ('C', 'D', 'N')
            """  # noqa: S608 (identifiers are quoted names; data goes in as tables)
        ).to_arrow_table()
        if changed.num_rows == 0:
            return
        con.register("changed", changed)
        con.execute(
            "UPDATE state SET conf = 'D', hidden = true WHERE rid IN (SELECT rid FROM changed)"
        )
        con.unregister("changed")
    raise DataError("rate suppression did not settle", hint="report this as a bug")


def _apply(observations: pa.Table, result: pa.Table) -> pa.Table:
    """Null the values of unpublished rows, set their statuses, keep every column type."""
    nulled = result["nulled"]
    table = observations
    value = table["value"]
    table = table.set_column(
        table.schema.get_field_index("value"),
        table.schema.field("value"),
        pc.if_else(nulled, pa.scalar(None, value.type), value),
    )
    status = _plain(table["obs_status"])
    missing = pa.array(
        sorted({ObsStatus.MISSING, ObsStatus.NOT_APPLICABLE, ObsStatus.NOT_COLLECTED})
    )
    becomes_missing = pc.and_(nulled, pc.invert(pc.is_in(status, value_set=missing)))
    new_status = pc.if_else(becomes_missing, ObsStatus.MISSING.value, status)
    table = _replace(table, "obs_status", new_status)
    conf = result["conf"]
    if "conf_status" in table.column_names:
        return _replace(table, "conf_status", conf)
    field = pa.field("conf_status", pa.dictionary(pa.int32(), pa.string()), nullable=False)
    position = table.schema.get_field_index("obs_status") + 1
    return table.add_column(position, field, conf.dictionary_encode())


def _replace(table: pa.Table, name: str, values: pa.ChunkedArray | pa.Array) -> pa.Table:
    index = table.schema.get_field_index(name)
    field = table.schema.field(index)
    if pa.types.is_dictionary(field.type):
        encoded = pc.dictionary_encode(values)
        values = encoded.cast(field.type)
    else:
        values = values.cast(field.type)
    return table.set_column(index, field, values)
