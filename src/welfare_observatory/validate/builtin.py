"""The built-in checks over canonical observation tables (columnar: pyarrow and numpy, with
DuckDB as the reference for values numpy cannot take exactly, imported only then).

Importing this module builds no Arrow array: pyarrow imports pandas (0.15 s) the first
time one is built from Python objects, and the build imports the checks while it loads."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from welfare_observatory._arrow import plain
from welfare_observatory._arrow import ranked as _ranked
from welfare_observatory._summing import sum_sql
from welfare_observatory.errors import closest
from welfare_observatory.model.finding import Finding, Severity
from welfare_observatory.model.indicator import Aggregation, MeasureKind
from welfare_observatory.model.observation import BASE_COLUMNS
from welfare_observatory.validate._grouped import (
    InexactError,
    fast_values,
    outlier_rows,
    range_rows,
    sum_rows,
)
from welfare_observatory.validate.checks import Check, CheckContext, CheckRegistry
from welfare_observatory.validate.schema import validate_observations

if TYPE_CHECKING:
    import duckdb

__all__ = ["SOURCE_COLUMN", "default_checks"]

_COUNT_UNITS = {
    "person",
    "persons",
    "household",
    "households",
    "event",
    "events",
    "birth",
    "births",
    "death",
    "deaths",
    "bed",
    "beds",
    "enterprise",
    "enterprises",
    "euro",
    "EUR",
}
_STATUS_NOTES = {
    "P": ("status-provisional", "provisional"),
    "B": ("status-break", "after a break in series"),
    "E": ("status-estimated", "estimated"),
    "U": ("status-low-reliability", "of low reliability"),
    "F": ("status-forecast", "forecasts"),
}


_plain = plain  # welfare_observatory._arrow


SOURCE_COLUMN = "__check_source"
"""Column naming each row's source when checks run once over many sources' rows
(:mod:`welfare_observatory.validate.batch`); findings then name that source."""


_local = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB connection per thread, kept for the process: opening one costs
    about 10 ms, which a build of 160 sources paid once per check and source."""
    import duckdb

    con: duckdb.DuckDBPyConnection | None = getattr(_local, "con", None)
    if con is None:
        con = duckdb.connect(":memory:")
        _local.con = con
    return con


def close_connection() -> None:
    """Close this thread's connection: DuckDB then gives back the memory its queries held
    (a build calls it once its checks are done, before the analyses need the memory)."""
    con: duckdb.DuckDBPyConnection | None = getattr(_local, "con", None)
    if con is not None:
        _local.con = None
        con.close()


def _sql(sql: str, **tables: pa.Table) -> list[dict[str, Any]]:
    con = _connection()
    for name, table in tables.items():
        con.register(name, table)
    try:
        result: list[dict[str, Any]] = con.sql(sql).to_arrow_table().to_pylist()
    finally:
        for name in tables:
            con.unregister(name)
    return result


def _src(table: pa.Table) -> str:
    """SQL for each row's source: the batch column, else NULL (the context's source)."""
    return f'"{SOURCE_COLUMN}"' if SOURCE_COLUMN in table.column_names else "NULL::VARCHAR"


def _with_source(table: pa.Table, columns: list[str]) -> pa.Table:
    extra = [SOURCE_COLUMN] if SOURCE_COLUMN in table.column_names else []
    return table.select([*columns, *extra])


def _source(row: Mapping[str, Any], ctx: CheckContext) -> str | None:
    value = row.get("src")
    return str(value) if value is not None else ctx.source


_IDENT = re.compile(r"[a-z][a-z0-9_]*")


def _breakdowns(table: pa.Table) -> list[str]:
    """Breakdown columns; only plain identifiers, since they are spliced into SQL."""
    return [n for n in table.column_names if n not in BASE_COLUMNS and _IDENT.fullmatch(n)]


def check_schema(table: pa.Table, ctx: CheckContext) -> list[Finding]:
    """Columns, types, code lists, missing values and duplicate keys (``validate/schema.py``)."""
    return validate_observations(table, indicators=ctx.indicators, source=ctx.source)


def check_unknown_territories(table: pa.Table, ctx: CheckContext) -> list[Finding]:
    """Territory codes that the registry does not know, with the closest known codes."""
    if ctx.territories is None or "territory" not in table.column_names:
        return []
    known = ctx.territories
    if not isinstance(known, (set, frozenset)):
        known = frozenset(known)
    # Each distinct code is looked up in the registry's set once (a source holds a few
    # hundred; the registry some 8,000, which a rebuild paid for turning into an Arrow
    # array); a NULL code is unknown.
    codes, texts = _ranked(table.column("territory"))
    names = texts.to_pylist()
    unknown = pa.array([name not in known for name in names], pa.bool_())
    bad = pc.fill_null(pc.take(unknown, codes), True)
    if not pc.any(bad).as_py():
        return []
    bad_codes = pc.filter(codes, bad)
    if SOURCE_COLUMN not in table.column_names:
        return [_unknown_territories(bad_codes, names, ctx.source, ctx)]
    sources, source_names = _ranked(table.column(SOURCE_COLUMN))
    bad_sources = pc.filter(sources, bad)
    found = []
    for code in sorted(
        pc.unique(bad_sources).to_pylist(), key=lambda c: str(_name(source_names, c))
    ):
        rows = pc.filter(bad_codes, pc.fill_null(pc.equal(bad_sources, code), False))
        found.append(_unknown_territories(rows, names, str(_name(source_names, code)), ctx))
    return found


def _name(texts: pa.Array, code: int | None) -> str | None:
    return None if code is None else str(texts[code].as_py())


def _decode(names: list[Any], code: int | None) -> Any:
    return None if code is None else names[code]


def _unknown_territories(
    codes: pa.Array, names: list[str], source: str | None, ctx: CheckContext
) -> Finding:
    count = len(codes)
    unknown = sorted(str(None if c is None else names[c]) for c in pc.unique(codes).to_pylist())
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
    # Grouped on the texts' codes (which sort as the texts do), decoded per group.
    data, texts = _coded(table, ["indicator", "territory", "period"])
    names = {k: v.to_pylist() for k, v in texts.items()}
    keys = ["indicator", *(["src"] if SOURCE_COLUMN in table.column_names else [])]
    per = data.group_by(keys).aggregate([("territory", "distinct"), ("period", "distinct")])
    per = per.sort_by([(k, "ascending") for k in reversed(keys)])
    for row in per.to_pylist():
        indicator = _decode(names["indicator"], row["indicator"])
        source = _decode(names[SOURCE_COLUMN], row.get("src")) or ctx.source
        have_t = {names["territory"][c] for c in row["territory_distinct"]}
        have_p = {names["period"][c] for c in row["period_distinct"]}
        findings += _coverage_findings(indicator, source, have_t, have_p, ctx)
    return findings


def _coverage_findings(
    indicator: str | None,
    source: str | None,
    have_t: set[str],
    have_p: set[str],
    ctx: CheckContext,
) -> list[Finding]:
    """One indicator's (of one source) missing territories and periods, from those it has."""
    findings: list[Finding] = []
    if ctx.expected_territories is not None:
        missing = sorted(set(ctx.expected_territories) - have_t)
        if missing:
            findings.append(
                Finding(
                    code="missing-territories",
                    severity=Severity.WARNING,
                    message=f"{len(missing)} expected territories have no value: "
                    + ", ".join(missing[:10]),
                    indicator=indicator,
                    territory=missing[0],
                    count=len(missing),
                    source=source,
                    hint="an aggregate over them would be partial",
                )
            )
    expected = set(ctx.expected_periods or ())
    years = sorted(int(p) for p in have_p if p.isdigit() and len(p) == 4)
    if years and ctx.expected_periods is None:
        expected = {str(y) for y in range(years[0], years[-1] + 1)}
    missing_p = sorted(expected - have_p)
    if missing_p:
        findings.append(
            Finding(
                code="missing-periods",
                severity=Severity.WARNING,
                message=f"{len(missing_p)} periods have no value: " + ", ".join(missing_p[:10]),
                indicator=indicator,
                period=missing_p[0],
                count=len(missing_p),
                source=source,
            )
        )
    return findings


def _is_count(unit: str, ctx: CheckContext, indicator: str) -> bool:
    if ctx.indicators is not None and indicator in ctx.indicators:
        ind = ctx.indicators[indicator]
        return ind.aggregation is Aggregation.SUM or ind.measure is not MeasureKind.RATIO
    return unit in _COUNT_UNITS


def _tags(ctx: CheckContext, indicator: str) -> tuple[str, ...]:
    if ctx.indicators is not None and indicator in ctx.indicators:
        return ctx.indicators[indicator].tags
    return ()


def check_range(table: pa.Table, ctx: CheckContext) -> list[Finding]:
    """Percentages outside 0-100 and negative counts."""
    data, texts = _coded(table, ["indicator", "territory", "unit"])
    data = data.append_column("value", table.column("value"))
    percent = _flag(pc.equal(texts["unit"], "percent"), data.column("unit"))
    data = data.append_column("percent", percent)
    # NaN and infinities compare as DuckDB says: those tables go to DuckDB.
    rows = range_rows(data) if fast_values(data.column("value")) else _range_sql(data)
    names = {k: v.to_pylist() for k, v in texts.items()}
    for r in rows:
        for name, column in [("src", SOURCE_COLUMN), ("indicator", "indicator"), ("unit", "unit")]:
            r[name] = _decode(names[column], r[name])
        r["t_low"] = _decode(names["territory"], r["t_low"])
        r["t_high"] = _decode(names["territory"], r["t_high"])
    return _range_findings(rows, ctx)


def _range_findings(rows: list[dict[str, Any]], ctx: CheckContext) -> list[Finding]:
    """``out-of-range`` findings of the groups ``rows`` (texts decoded) that break their
    unit's range and their indicator's tags allow no exception for."""
    findings: list[Finding] = []
    for r in rows:
        percent = r["unit"] == "percent"
        # catalogue tags: 'balance' may be negative (births - deaths, a growth rate),
        # 'unbounded' percentages may pass 100 (prison occupancy, landfill incl. imports)
        tags = _tags(ctx, r["indicator"])
        bad_negative = (
            r["negative"]
            and "balance" not in tags
            and (percent or _is_count(r["unit"], ctx, r["indicator"]))
        )
        over = 0 if "unbounded" in tags else r["over"]
        if bad_negative or over:
            n = (r["negative"] if bad_negative else 0) + over
            territory = r["t_low"] if bad_negative else r["t_high"]
            findings.append(
                Finding(
                    code="out-of-range",
                    severity=Severity.ERROR,
                    message=f"{n} values out of range for {r['unit']} "
                    f"(min {r['low']:g}, max {r['high']:g})",
                    indicator=r["indicator"],
                    territory=territory,
                    count=n,
                    source=_source(r, ctx),
                    hint="shares in percent lie in 0-100 and counts are never negative; "
                    "was a ratio (0-1) read as percent, or a unit scale applied twice? "
                    "(catalogue tags: 'balance' may be negative, 'unbounded' may pass 100)",
                )
            )
    return findings


def _range_sql(data: pa.Table) -> list[dict[str, Any]]:
    """``check_range``'s groups by DuckDB (the reference of :func:`range_rows`)."""
    return _sql(
        """SELECT src, indicator, unit,
                  count(*) FILTER (WHERE value < 0) AS negative,
                  count(*) FILTER (WHERE percent AND value > 100) AS over,
                  min(value) AS low, max(value) AS high,
                  arg_min(territory, (value, territory)) AS t_low,
                  arg_max(territory, (value, territory)) AS t_high
           FROM t GROUP BY src, indicator, unit ORDER BY src, indicator, unit""",
        t=data,
    )


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
    # Texts go to DuckDB as codes that sort as they do (see check_outliers); the
    # hierarchy's codes are looked up among the table's territories, and a code the
    # table does not hold can join no row of it either way.
    data, texts = _coded(table, ["indicator", "territory", "period", *b])
    territories = texts["territory"]
    summed = (
        pc.is_in(texts["indicator"], _strings(sums))
        if sums is not None
        else pa.repeat(True, len(texts["indicator"]))
    )
    data = data.append_column("value", table.column("value"))
    data = data.append_column("summed", _flag(summed, data.column("indicator")))
    levels = [c for c in ctx.hierarchy.column_names if c != "municipality" and _IDENT.fullmatch(c)]
    if not levels:
        return []  # no larger territory to compare (the query had no level to join)
    hierarchy = pa.table(
        {
            c: pc.index_in(
                _plain_array(ctx.hierarchy.column(c)).cast(territories.type),
                value_set=territories,
            )
            for c in ["municipality", *levels]
        }
    )
    try:
        if not fast_values(data.column("value")):
            raise InexactError("NaN, an infinity or a value that could overflow")
        rows = sum_rows(data, hierarchy, b, tolerance=f"{ctx.sum_tolerance}")
    except InexactError:  # not whole numbers: DuckDB adds them (_summing, in any order)
        rows = _sums_sql(data, hierarchy, b, ctx)
    per_source: dict[str | None, list[dict[str, Any]]] = {}
    names = {k: v.to_pylist() for k, v in texts.items()}
    for row in rows:
        row["src"] = _decode(names[SOURCE_COLUMN], row["src"])
        row["area"] = _decode(names["territory"], row["area"])
        row["indicator"] = _decode(names["indicator"], row["indicator"])
        row["period"] = _decode(names["period"], row["period"])
        per_source.setdefault(row["src"], []).append(row)
    return [_sum_mismatch(found, ctx) for found in per_source.values()]


def _sums_sql(
    data: pa.Table, hierarchy: pa.Table, b: list[str], ctx: CheckContext
) -> list[dict[str, Any]]:
    """``check_sum_consistency``'s rows by DuckDB (the reference of :func:`sum_rows`)."""
    levels = hierarchy.column_names[1:]
    parts = sum_sql("t.value", data.column("value"), data.column("summed"))
    keys = "".join(f" AND p.{x} = r.{x}" for x in b)
    bsel = "".join(f", p.{x}" for x in b)
    unions = " UNION ALL ".join(
        f"SELECT municipality, {lvl} AS area FROM h WHERE {lvl} IS NOT NULL"  # noqa: S608
        for lvl in levels
    )
    return _sql(
        f"""
        WITH hl AS ({unions}),
        members AS (SELECT area, count(*) AS n FROM hl GROUP BY area),
        p AS (SELECT t.src, t.indicator, hl.area, t.period{"".join(f", t.{x}" for x in b)},
                     {parts} AS parts, count(t.value) AS n
              FROM t JOIN hl ON t.territory = hl.municipality WHERE t.summed GROUP BY ALL)
        SELECT p.src, p.indicator, p.area, p.period{bsel}, p.parts, r.value AS reported
        FROM p JOIN members m ON m.area = p.area AND m.n = p.n
        JOIN t r ON r.indicator = p.indicator AND r.territory = p.area AND r.period = p.period
             AND r.src IS NOT DISTINCT FROM p.src {keys}
        WHERE abs(p.parts - r.value) > {ctx.sum_tolerance} * greatest(abs(r.value), 1)
        ORDER BY p.src, abs(p.parts - r.value) / greatest(abs(r.value), 1) DESC,
                 p.area, p.indicator, p.period{bsel}
        """,  # noqa: S608 (identifiers are checked names; data goes in as tables)
        t=data,
        h=hierarchy,
    )


def _coded(table: pa.Table, columns: list[str]) -> tuple[pa.Table, dict[str, pa.Array]]:
    """``columns`` of ``table`` as ``_ranked`` codes, with a ``src`` column (the batch's
    source, else NULL), and the sorted texts each column's codes index."""
    names = [*columns, SOURCE_COLUMN] if SOURCE_COLUMN in table.column_names else columns
    coded: dict[str, pa.Array] = {}
    texts: dict[str, pa.Array] = {SOURCE_COLUMN: _strings([])}
    for name in names:
        coded[name], texts[name] = _ranked(table.column(name))
    src = coded.pop(SOURCE_COLUMN, None)
    coded["src"] = src if src is not None else pa.nulls(table.num_rows, pa.int32())
    return pa.table(coded), texts


def _sum_mismatch(rows: list[dict[str, Any]], ctx: CheckContext) -> Finding:
    worst = rows[0]  # ties in the gap are broken by key in the query: two builds name one
    return Finding(
        code="sum-mismatch",
        severity=Severity.WARNING,
        message=f"{len(rows)} reported totals differ from the sum of their municipalities "
        f"by more than {ctx.sum_tolerance:.1%}; worst: {worst['area']} reports "
        f"{worst['reported']:g}, its municipalities sum to {worst['parts']:g}",
        indicator=worst["indicator"],
        territory=worst["area"],
        period=worst["period"],
        count=len(rows),
        source=_source(worst, ctx),
        hint="different releases, a territorial change, or suppressed cells in the parts",
    )


def check_outliers(table: pa.Table, ctx: CheckContext) -> list[Finding]:
    """Robust z-scores of rates across territories of one level, and implausible yearly jumps."""
    if table.num_rows == 0:
        return []
    b = _breakdowns(table)
    counts = sorted(
        {i.id for i in (ctx.indicators or {}).values() if i.measure is not MeasureKind.RATIO}
    )
    counted = _strings(counts)
    has_source = SOURCE_COLUMN in table.column_names
    # DuckDB gets numbers only: each text column as codes that sort as the texts do (so
    # ORDER BY and the ties of arg_max pick the same rows), and the tests on texts as
    # booleans worked out once per distinct value. 800,000 rows of decoded texts held
    # hundreds of MB in the query's intermediate results.
    src, src_values = _ranked(table.column(SOURCE_COLUMN)) if has_source else (None, _strings([]))
    indicator, indicators = _ranked(table.column("indicator"))
    territory, territories = _ranked(table.column("territory"))
    period, periods = _ranked(table.column("period"))
    unit, units = _ranked(table.column("unit"))
    status, statuses = _ranked(table.column("obs_status"))
    parts = [(codes, len(values)) for codes, values in (_ranked(table.column(x)) for x in b)]
    shape, shapes = _ranked(_shapes(territories))
    lengths, widths = _ranked(pc.utf8_length(periods))
    # Integer ids of the groups compared (a level's territories in one period) and of the
    # series (one territory's values over time): DuckDB groups, joins and partitions on one
    # integer several times faster than on five texts with NULL-safe equality.
    source = [(src, len(src_values))] if src is not None else []
    data = pa.table(
        {
            "src": src if src is not None else pa.nulls(table.num_rows, pa.int32()),
            "indicator": indicator,
            "territory": territory,
            "period": period,
            "period_start": table.column("period_start"),
            "value": table.column("value"),
            "rate": _flag(pc.invert(pc.is_in(indicators, counted)), indicator),
            "count_unit": _flag(pc.is_in(units, _count_units()), unit),
            "reliable": pc.fill_null(pc.invert(_flag(pc.equal(statuses, "U"), status)), True),
            "g": _pack(
                [
                    *source,
                    (indicator, len(indicators)),
                    (period, len(periods)),
                    (pc.take(shape, territory), len(shapes)),
                    *parts,
                ],
                table.num_rows,
            ),
            "series": _pack(
                [
                    *source,
                    (indicator, len(indicators)),
                    (territory, len(territories)),
                    *parts,
                    (pc.take(lengths, period), len(widths)),
                ],
                table.num_rows,
            ),
        }
    )
    try:
        if not fast_values(data.column("value")):
            raise InexactError("NaN, an infinity or a value that could overflow")
        rows = outlier_rows(
            data,
            outlier_z=f"{ctx.outlier_z}",
            max_yearly_change=f"{ctx.max_yearly_change}",
            min_events=f"{ctx.min_events}",
        )
    except InexactError:  # NaN, infinities and subnormal medians as DuckDB has them
        rows = _outliers_sql(data, ctx)
    for r in rows:
        r["src"] = _text(src_values, r["src"])
        r["indicator"] = _text(indicators, r["indicator"])
        r["territory"] = _text(territories, r["territory"])
        r["period"] = _text(periods, r["period"])
    return _outlier_findings(rows, ctx)


def _outlier_findings(rows: list[dict[str, Any]], ctx: CheckContext) -> list[Finding]:
    """``outlier`` and ``implausible-jump`` findings of the groups ``rows`` (texts decoded)."""
    findings: list[Finding] = []
    for r in rows:
        if r["kind"] == "outlier":
            message = (
                f"{r['n']} values are outliers among territories (robust z up to {r['size']:.1f})"
            )
            hint = "check the value, its unit and its denominator at the source"
        else:
            message = (
                f"{r['n']} year-on-year changes exceed {ctx.max_yearly_change:.0%} "
                f"(up to {r['size']:.0%})"
            )
            hint = "a territorial change, a break in series or a unit error?"
        findings.append(
            Finding(
                code="outlier" if r["kind"] == "outlier" else "implausible-jump",
                severity=Severity.WARNING,
                message=message,
                indicator=r["indicator"],
                territory=r["territory"],
                period=r["period"],
                count=r["n"],
                source=_source(r, ctx),
                hint=hint,
            )
        )
    return findings


def _outliers_sql(data: pa.Table, ctx: CheckContext) -> list[dict[str, Any]]:
    """``check_outliers``' rows by DuckDB (the reference of :func:`outlier_rows`)."""
    # Ties are broken by territory and period, so two builds name the same worst value.
    # Grouped medians joined back, not median() windows: DuckDB's windowed median over
    # every partition of 800,000 rows took 20 s where GROUP BY takes a fraction of one.
    return _sql(
        f"""
        WITH stats AS (
            SELECT g, median(value) AS med FROM t WHERE value IS NOT NULL AND rate
            GROUP BY g HAVING count(*) >= 10),
        mad AS (
            SELECT g, any_value(med) AS med, median(abs(value - med)) AS mad
            FROM t JOIN stats USING (g) WHERE value IS NOT NULL AND rate GROUP BY g),
        z AS (SELECT x.src, x.indicator, x.territory, x.period,
                     0.6745 * (x.value - y.med) / nullif(y.mad, 0) AS z
              FROM t x JOIN mad y ON x.g = y.g
              WHERE x.value IS NOT NULL AND x.rate AND NOT x.count_unit)
        SELECT src, 'outlier' AS kind, indicator, count(*) AS n,
               arg_max(territory, (abs(z), territory, period)) AS territory,
               arg_max(period, (abs(z), territory, period)) AS period, max(abs(z)) AS size
        FROM z WHERE abs(z) > {ctx.outlier_z} GROUP BY src, indicator
        UNION ALL
        SELECT src, 'jump', indicator, count(*), arg_max(territory, (abs(ch), territory, period)),
               arg_max(period, (abs(ch), territory, period)), max(abs(ch))
        FROM (SELECT src, indicator, territory, period, value, count_unit,
                     value / lag(value) OVER s - 1 AS ch,
                     year(period_start) - year(lag(period_start) OVER s) AS gap,
                     lag(value) OVER s AS prev
              FROM t WHERE period_start IS NOT NULL AND reliable
              WINDOW s AS (PARTITION BY series ORDER BY period_start))
        WHERE gap = 1 AND prev > 0 AND abs(ch) > {ctx.max_yearly_change}
          AND NOT (count_unit AND least(prev, value) < {ctx.min_events})
        GROUP BY src, indicator ORDER BY 1, 2, 3
        """,  # noqa: S608 (only numbers are spliced in; data goes in as tables)
        t=data,
    )


@cache
def _count_units() -> pa.Array:
    return _strings(sorted(_COUNT_UNITS))


def _strings(values: Sequence[str]) -> pa.Array:
    return pa.array(values, pa.string())


def ranked_dictionary(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A text column as one dictionary array whose dictionary is sorted, so the checks
    read its indices as ``_ranked`` codes without working them out again."""
    codes, values = _ranked(column)
    # The codes index ``values`` by construction: not checked again row by row.
    return pa.chunked_array([pa.DictionaryArray.from_arrays(codes, values, safe=False)])


def _flag(per_value: pa.Array, codes: pa.Array) -> pa.Array:
    """A test worked out once per distinct value (``per_value``, sorted as ``_ranked``
    gives them), per row; NULL where the row's value is NULL, as SQL would give it."""
    return pc.take(per_value, codes)


def _text(values: pa.Array, code: int | None) -> str | None:
    return None if code is None else str(values[code].as_py())


def _shapes(codes: pa.Array) -> pa.Array:
    """Each territory code's shape: territories of one level share one (999999
    municipalities, 999 provinces, 99 regions, AAA NUTS 1 areas), and values are compared
    within a level only."""
    digits = pc.replace_substring_regex(codes, "[0-9]", "9")
    return pc.replace_substring_regex(digits, "[A-Za-z]", "A")


_PACK_LIMIT = 2**62
"""Ids are renumbered densely before their product of widths could reach this (int64)."""


def _group_ids(columns: list[pa.ChunkedArray]) -> pa.Array:
    """One int64 per row, equal for two rows exactly when every column is (NULL equal to
    NULL, as ``IS NOT DISTINCT FROM`` and ``PARTITION BY`` compare)."""

    coded = []
    for column in columns:
        codes = pc.dictionary_encode(_plain_array(column))
        coded.append((codes.indices, len(codes.dictionary)))
    return _pack(coded, len(columns[0]) if columns else 0)


def _pack(coded: list[tuple[pa.Array, int]], n: int) -> pa.Array:
    """:func:`_group_ids` of columns given as codes (``0 .. distinct - 1``, NULL for NULL)
    and their number of distinct values: the ids are built in place, one int64 array."""
    import numpy as np

    ids = np.zeros(n, dtype=np.int64)
    size = 1
    for codes, distinct in coded:
        width = distinct + 1
        if size * width >= _PACK_LIMIT:
            # Renumber the ids so far densely (0 .. rows) before they could overflow.
            dense = pc.dictionary_encode(pa.array(ids)).indices.to_numpy(zero_copy_only=False)
            ids, size = dense.astype(np.int64), n + 1
        ids *= width
        ids += (pc.fill_null(codes, -1) if codes.null_count else codes).to_numpy(
            zero_copy_only=False
        )
        ids += 1
        size *= width
    return pa.array(ids, pa.int64())


def _plain_array(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    return column


def check_status(table: pa.Table, ctx: CheckContext) -> list[Finding]:
    """Provisional, estimated, low-reliability values and breaks in series, carried through."""
    rows = _status_rows(table) if table.num_rows else []
    return [
        Finding(
            code=_STATUS_NOTES[r["obs_status"]][0],
            severity=Severity.INFO,
            message=f"{r['n']} values are {_STATUS_NOTES[r['obs_status']][1]} "
            f"(obs_status {r['obs_status']}); the status is kept in every derived value",
            indicator=r["indicator"],
            territory=r["territory"],
            period=r["period"],
            count=r["n"],
            source=_source(r, ctx),
        )
        for r in rows
    ]


def _status_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Per source, indicator and noted status: the count of rows and the least territory
    and period (byte order, NULLs left out), ordered by the three (NULLs last), texts
    decoded: the rows the query of the tests' reference gives, grouped on codes by Arrow."""
    data, texts = _coded(table, ["indicator", "territory", "period", "obs_status"])
    noted = _flag(pc.is_in(texts["obs_status"], _strings(list(_STATUS_NOTES))), data["obs_status"])
    if not pc.any(noted).as_py():
        return []
    keys = ["src", "indicator", "obs_status"]
    per = (
        data.filter(noted)
        .group_by(keys, use_threads=False)
        .aggregate([([], "count_all"), ("territory", "min"), ("period", "min")])
        .sort_by([(k, "ascending") for k in keys])  # NULLs last, as in SQL
    )
    names = {k: v.to_pylist() for k, v in texts.items()}
    return [
        {
            "src": _decode(names[SOURCE_COLUMN], r["src"]),
            "indicator": _decode(names["indicator"], r["indicator"]),
            "obs_status": _decode(names["obs_status"], r["obs_status"]),
            "n": r["count_all"],
            "territory": _decode(names["territory"], r["territory_min"]),
            "period": _decode(names["period"], r["period_min"]),
        }
        for r in per.to_pylist()
    ]


def default_checks(
    extra: Mapping[str, Check] | None = None, owners: Mapping[str, str] | None = None
) -> CheckRegistry:
    """A new registry with the built-in checks, then ``extra`` (plugin checks by id).

    ``owners`` maps a plugin check id to the distribution that registered it.
    """
    registry = CheckRegistry()
    registry.register("schema", check_schema)
    registry.register("unknown-territory", check_unknown_territories)
    registry.register("coverage", check_coverage)
    registry.register("range", check_range)
    registry.register("sum-consistency", check_sum_consistency)
    registry.register("outliers", check_outliers)
    registry.register("status", check_status)
    for check_id, check in (extra or {}).items():
        registry.register(check_id, check, owner=(owners or {}).get(check_id, "a plugin"))
    return registry
