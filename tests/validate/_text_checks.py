"""The built-in checks as they were before they handed DuckDB integer codes (main 81f024c):
plain texts in every query. The reference of ``test_checks_on_codes``; not used by the
library."""

# ruff: noqa
# mypy: ignore-errors

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from welfare_observatory._arrow import plain

from welfare_observatory.errors import closest
from welfare_observatory.model.finding import Finding, Severity
from welfare_observatory.model.indicator import Aggregation, MeasureKind
from welfare_observatory.model.observation import BASE_COLUMNS
from welfare_observatory.validate.checks import Check, CheckContext, CheckRegistry
from welfare_observatory.validate.schema import validate_observations

# What the code-based checks did not change is imported, not copied (the findings made from
# decoded groups among it); the rest is as it was.
from welfare_observatory.validate.builtin import (
    SOURCE_COLUMN,
    _COUNT_UNITS,
    _IDENT,
    _PACK_LIMIT,
    _STATUS_NOTES,
    _breakdowns,
    _connection,
    _coverage_findings,
    _outlier_findings,
    _local,
    _plain,
    _plain_array,
    _range_findings,
    _src,
    _sum_mismatch,
    _with_source,
    check_schema,
    check_status,
    close_connection,
)


def _sql(sql: str, **tables: pa.Table) -> list[dict[str, Any]]:
    con = _connection()
    for name, table in tables.items():
        con.register(name, _plain(table))
    try:
        result: list[dict[str, Any]] = con.sql(sql).to_arrow_table().to_pylist()
    finally:
        for name in tables:
            con.unregister(name)
    return result


def check_unknown_territories(table: pa.Table, ctx: CheckContext) -> list[Finding]:
    """Territory codes that the registry does not know, with the closest known codes."""
    if ctx.territories is None or "territory" not in table.column_names:
        return []
    known = pa.array(sorted(ctx.territories), pa.string())
    data = _plain(_with_source(table, ["territory"]))
    bad = pc.invert(pc.fill_null(pc.is_in(data.column("territory"), known), False))
    if not pc.any(bad).as_py():
        return []
    rows = data.filter(bad)
    if SOURCE_COLUMN not in rows.column_names:
        return [_unknown_territories(rows.column("territory"), ctx.source, ctx)]
    return [
        _unknown_territories(
            rows.filter(pc.equal(rows.column(SOURCE_COLUMN), source)).column("territory"),
            str(source),
            ctx,
        )
        for source in sorted(str(v) for v in pc.unique(rows.column(SOURCE_COLUMN)).to_pylist())
    ]


def _unknown_territories(codes: pa.ChunkedArray, source: str | None, ctx: CheckContext) -> Finding:
    count = len(codes)
    unknown = sorted(str(v) for v in pc.unique(codes).to_pylist())
    suggestions = closest(unknown[0], ctx.territories or ())
    return Finding(
        code="unknown-territory",
        severity=Severity.ERROR,
        message=f"{count} rows have territory codes the registry does not know: "
        + ", ".join(repr(u) for u in unknown[:10]),
        territory=unknown[0],
        count=count,
        source=source,
        hint=(f"closest known code to {unknown[0]!r}: " + ", ".join(suggestions))
        if suggestions
        else "check leading zeros and the reference date of the territory list",
    )


def check_coverage(table: pa.Table, ctx: CheckContext) -> list[Finding]:
    """Expected territories or periods missing for an indicator (and gaps between years)."""
    if table.num_rows == 0:
        return []
    findings: list[Finding] = []
    data = _plain(_with_source(table, ["indicator", "territory", "period"]))
    keys = ["indicator", *([SOURCE_COLUMN] if SOURCE_COLUMN in data.column_names else [])]
    per = data.group_by(keys).aggregate([("territory", "distinct"), ("period", "distinct")])
    per = per.sort_by([(k, "ascending") for k in reversed(keys)])
    for row in per.to_pylist():
        indicator = row["indicator"]
        source = row.get(SOURCE_COLUMN) or ctx.source
        have_t, have_p = set(row["territory_distinct"]), set(row["period_distinct"])
        findings += _coverage_findings(indicator, source, have_t, have_p, ctx)
    return findings


def check_range(table: pa.Table, ctx: CheckContext) -> list[Finding]:
    """Percentages outside 0-100 and negative counts."""
    rows = _sql(
        f"""SELECT {_src(table)} AS src, indicator, unit,
                  count(*) FILTER (WHERE value < 0) AS negative,
                  count(*) FILTER (WHERE unit = 'percent' AND value > 100) AS over,
                  min(value) AS low, max(value) AS high,
                  arg_min(territory, (value, territory)) AS t_low,
                  arg_max(territory, (value, territory)) AS t_high
           FROM t GROUP BY ALL ORDER BY src, indicator""",  # noqa: S608 (a fixed column name)
        t=_with_source(table, ["indicator", "territory", "unit", "value"]),
    )
    return _range_findings(rows, ctx)


def check_sum_consistency(table: pa.Table, ctx: CheckContext) -> list[Finding]:
    """Reported totals of a larger territory against the sum of their municipalities."""
    if ctx.hierarchy is None or table.num_rows == 0:
        return []
    sums = (
        [i.id for i in ctx.indicators.values() if i.aggregation is Aggregation.SUM]
        if ctx.indicators is not None
        else None
    )
    b = _breakdowns(table)
    keys = "".join(f" AND p.{x} = r.{x}" for x in b)
    bsel = "".join(f", p.{x}" for x in b)
    src = _src(table)
    levels = [c for c in ctx.hierarchy.column_names if c != "municipality" and _IDENT.fullmatch(c)]
    unions = " UNION ALL ".join(
        f"SELECT municipality, {lvl} AS area FROM h WHERE {lvl} IS NOT NULL"  # noqa: S608
        for lvl in levels
    )
    filter_sql = "" if sums is None else "WHERE t.indicator IN (SELECT id FROM s)"
    rows = _sql(
        f"""
        WITH t AS (SELECT *, {src} AS __src FROM t0),
        hl AS ({unions}),
        members AS (SELECT area, count(*) AS n FROM hl GROUP BY area),
        p AS (SELECT t.__src, t.indicator, hl.area, t.period{"".join(f", t.{x}" for x in b)},
                     sum(t.value) AS parts, count(t.value) AS n
              FROM t JOIN hl ON t.territory = hl.municipality {filter_sql} GROUP BY ALL)
        SELECT p.__src AS src, p.indicator, p.area, p.period{bsel}, p.parts, r.value AS reported
        FROM p JOIN members m ON m.area = p.area AND m.n = p.n
        JOIN t r ON r.indicator = p.indicator AND r.territory = p.area AND r.period = p.period
             AND r.__src IS NOT DISTINCT FROM p.__src {keys}
        WHERE abs(p.parts - r.value) > {ctx.sum_tolerance} * greatest(abs(r.value), 1)
        ORDER BY src, abs(p.parts - r.value) / greatest(abs(r.value), 1) DESC,
                 p.area, p.indicator, p.period{bsel}
        """,  # noqa: S608 (identifiers are checked names; data goes in as tables)
        t0=_with_source(table, ["indicator", "territory", "period", "value", *b]),
        h=ctx.hierarchy,
        s=pa.table({"id": pa.array(sums or [], pa.string())}),
    )
    per_source: dict[str | None, list[dict[str, Any]]] = {}
    for row in rows:
        per_source.setdefault(row["src"], []).append(row)
    return [_sum_mismatch(found, ctx) for found in per_source.values()]


def check_outliers(table: pa.Table, ctx: CheckContext) -> list[Finding]:
    """Robust z-scores of rates across territories of one level, and implausible yearly jumps."""
    if table.num_rows == 0:
        return []
    b = _breakdowns(table)
    src = _src(table)
    counts = sorted(
        {i.id for i in (ctx.indicators or {}).values() if i.measure is not MeasureKind.RATIO}
    )
    read = ["indicator", "territory", "period", "period_start", "value", "unit", "obs_status"]
    data = _with_shape(_plain(_with_source(table, [*read, *b])))
    source = [SOURCE_COLUMN] if SOURCE_COLUMN in data.column_names else []
    # Integer ids of the groups compared (a level's territories in one period) and of the
    # series (one territory's values over time): DuckDB groups, joins and partitions on one
    # integer several times faster than on five texts with NULL-safe equality.
    length = pc.utf8_length(data.column("period"))
    data = data.append_column(
        "__group",
        _group_ids([data.column(c) for c in [*source, "indicator", "period", _SHAPE, *b]]),
    )
    data = data.append_column(
        "__series",
        _group_ids([*(data.column(c) for c in [*source, "indicator", "territory", *b]), length]),
    )
    # Ties are broken by territory and period, so two builds name the same worst value.
    # Grouped medians joined back, not median() windows: DuckDB's windowed median over
    # every partition of 800,000 rows took 20 s where GROUP BY takes a fraction of one.
    rows = _sql(
        f"""
        WITH r AS (
            SELECT {src} AS src, indicator, territory, period, value, unit, "__group" AS g
            FROM t WHERE value IS NOT NULL AND indicator NOT IN (SELECT id FROM c)),
        stats AS (SELECT g, median(value) AS med FROM r GROUP BY g HAVING count(*) >= 10),
        dev AS (SELECT x.*, y.med FROM r x JOIN stats y ON x.g = y.g),
        mad AS (SELECT g, median(abs(value - med)) AS mad FROM dev GROUP BY g),
        z AS (SELECT x.src, x.indicator, x.territory, x.period,
                     0.6745 * (x.value - x.med) / nullif(y.mad, 0) AS z
              FROM dev x JOIN mad y ON x.g = y.g
              WHERE x.unit NOT IN (SELECT unit FROM cu))
        SELECT src, 'outlier' AS kind, indicator, count(*) AS n,
               arg_max(territory, (abs(z), territory, period)) AS territory,
               arg_max(period, (abs(z), territory, period)) AS period, max(abs(z)) AS size
        FROM z WHERE abs(z) > {ctx.outlier_z} GROUP BY src, indicator
        UNION ALL
        SELECT src, 'jump', indicator, count(*), arg_max(territory, (abs(ch), territory, period)),
               arg_max(period, (abs(ch), territory, period)), max(abs(ch))
        FROM (SELECT {src} AS src, indicator, territory, period, value, unit,
                     value / lag(value) OVER s - 1 AS ch,
                     year(period_start) - year(lag(period_start) OVER s) AS gap,
                     lag(value) OVER s AS prev
              FROM t WHERE period_start IS NOT NULL AND obs_status IS DISTINCT FROM 'U'
              WINDOW s AS (PARTITION BY "__series" ORDER BY period_start))
        WHERE gap = 1 AND prev > 0 AND abs(ch) > {ctx.max_yearly_change}
          AND NOT (unit IN (SELECT unit FROM cu) AND least(prev, value) < {ctx.min_events})
        GROUP BY src, indicator ORDER BY 1, 2, 3
        """,  # noqa: S608 (identifiers are checked names; data goes in as tables)
        t=data,
        c=pa.table({"id": pa.array(counts, pa.string())}),
        # Counts grow with the size of a territory: only rates are compared across them.
        cu=pa.table({"unit": pa.array(sorted(_COUNT_UNITS), pa.string())}),
    )
    return _outlier_findings(rows, ctx)


_SHAPE = "__shape"


def _with_shape(table: pa.Table) -> pa.Table:
    """``table`` with each territory's code shape: territories of one level share one
    (999999 municipalities, 999 provinces, 99 regions, AAA NUTS 1 areas), and values are
    compared within a level only. Worked out once per distinct code, not once per row."""
    codes = pc.dictionary_encode(_plain(table.select(["territory"])).column(0)).combine_chunks()
    digits = pc.replace_substring_regex(codes.dictionary, "[0-9]", "9")
    shapes = pc.replace_substring_regex(digits, "[A-Za-z]", "A")
    return table.append_column(_SHAPE, pc.take(shapes, codes.indices))


def _group_ids(columns: list[pa.ChunkedArray]) -> pa.Array:
    """One int64 per row, equal for two rows exactly when every column is (NULL equal to
    NULL, as ``IS NOT DISTINCT FROM`` and ``PARTITION BY`` compare)."""
    import numpy as np

    n = len(columns[0]) if columns else 0
    ids = np.zeros(n, dtype=np.int64)
    size = 1
    for column in columns:
        codes = pc.dictionary_encode(_plain_array(column))
        slot = pc.fill_null(codes.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        width = len(codes.dictionary) + 1
        if size * width >= _PACK_LIMIT:
            # Renumber the ids so far densely (0 .. rows) before they could overflow.
            dense = pc.dictionary_encode(pa.array(ids)).indices.to_numpy(zero_copy_only=False)
            ids, size = dense.astype(np.int64), n + 1
        ids = ids * width + slot + 1
        size *= width
    return pa.array(ids, pa.int64())
