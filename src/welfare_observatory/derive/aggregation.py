"""Aggregation up the territorial hierarchy, by each indicator's declared method.

``sum`` indicators add their municipal values into districts, provinces, regions, NUTS 1
areas and Italy; ``formula`` indicators are re-derived from the aggregated numerator and
denominator (never an average of rates); ``none`` indicators are left as published.

Coverage: each aggregate records how much of its area reported, weighted by the population
baseline when ``weights`` are given (else by the number of municipalities). An aggregate
with coverage below ``min_coverage`` (1.0 by default) is never emitted as a value: it is
listed in ``Derived.coverage`` and reported as a ``partial-aggregate`` finding. Between
``min_coverage`` and 1 it is emitted with obs_status ``U`` (low reliability).
Values the input already holds for a larger territory (published totals) win over
aggregates; the ``sum-consistency`` check compares the two.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from welfare_observatory._summing import (
    adds_exactly,
    ordered_sum_sql,
    scaled_sum_sql,
    shifts_by,
    sum_sql,
)
from welfare_observatory.derive._common import (
    STATUS_PRECEDENCE,
    Derived,
    breakdowns_of,
    connect,
    distinct,
    empty,
    indicator_map,
    on_values,
    plain,
    query,
    status_sql,
    to_canonical,
)
from welfare_observatory.derive._parts import (
    COUNT,
    FindingPart,
    combine,
    indicator_runs,
    items_part,
    nested,
    sum_parts,
)
from welfare_observatory.derive.formulas import derive_rates
from welfare_observatory.lineage import StepRecord
from welfare_observatory.model.finding import Severity
from welfare_observatory.model.indicator import Aggregation, Indicator

if TYPE_CHECKING:
    import duckdb

__all__ = ["LEVELS", "aggregate", "aggregated_input"]

LEVELS: tuple[str, ...] = ("district", "province", "region", "nuts1", "country")
"""Columns of ``TerritoryRegistry.hierarchy()`` above the municipality, smallest first."""

_UNREAD = frozenset({"flags", "source"})
"""The canonical columns :func:`aggregate` never reads of the rows it sums (an
aggregate's flags and source are its own; the published rows' source is read of
``published``)."""


def aggregated_input(
    table: pa.Table,
    indicators: Mapping[str, Indicator] | Iterable[Indicator],
    municipal: pa.ChunkedArray | pa.Array,
) -> pa.Table:
    """What :func:`aggregate` reads of ``table``: the rows ``municipal`` marks whose
    indicator is summed (a formula's rate is derived from the sums), and of those the
    columns it reads (keys, breakdowns, values and what it carries over). One copy of
    them rather than of every municipal row whole; a caller that hands it only these
    gives ``published``."""
    of_sums = _summed_rows(table, _summed(indicator_map(indicators)))
    columns = [c for c in table.column_names if c not in _UNREAD]
    return table.select(columns).filter(pc.and_(municipal, of_sums))


def _summed(catalog: Mapping[str, Indicator]) -> list[str]:
    """The ids of the indicators aggregation adds up, sorted."""
    return sorted(i.id for i in catalog.values() if i.aggregation is Aggregation.SUM)


def _summed_rows(observations: pa.Table, sums: list[str]) -> pa.ChunkedArray:
    """Which rows of ``observations`` are of the ``sums`` indicators (per dictionary value)."""
    wanted = pa.array(sums, pa.string())
    return on_values(
        observations.column("indicator"),
        lambda v: pc.fill_null(pc.is_in(pc.cast(v, pa.string()), value_set=wanted), False),
    )


def _long_hierarchy(hierarchy: pa.Table, levels: Sequence[str]) -> pa.Table:
    parts = []
    for level in levels:
        if level not in hierarchy.column_names:
            continue
        area = hierarchy.column(level).cast(pa.string())
        keep = pc.is_valid(area)
        parts.append(
            pa.table(
                {
                    "municipality": hierarchy.column("municipality").cast(pa.string()).filter(keep),
                    "level": pa.array([level] * int(pc.sum(keep).as_py() or 0), pa.string()),
                    "area": area.filter(keep),
                }
            )
        )
    return pa.concat_tables(parts)


def aggregate(
    observations: pa.Table,
    indicators: Mapping[str, Indicator] | Iterable[Indicator],
    hierarchy: pa.Table,
    *,
    levels: Sequence[str] = LEVELS,
    weights: pa.Table | None = None,
    min_coverage: float = 1.0,
    inputs: Sequence[str] = (),
    threads: int | None = None,
    published: pa.Table | None = None,
) -> Derived:
    """Aggregates of the municipal rows of ``observations`` at each of ``levels``.

    ``published`` (default ``observations``) holds the values sources gave for larger
    territories: they win over aggregates, and each that differs is a ``release-conflict``.

    ``hierarchy`` has one row per municipality and a column per level (the registry's
    ``hierarchy(at)``); ``weights`` (``territory``, ``year``, ``population``) is the
    population baseline for coverage. The result holds aggregates only.
    """
    catalog = indicator_map(indicators)
    breakdowns = breakdowns_of(observations)
    sums = _summed(catalog)
    rates = [
        i.id
        for i in catalog.values()
        if i.aggregation is Aggregation.FORMULA and i.formula is not None
    ]
    parameters = {
        "levels": list(levels),
        "sum": sums,
        "formula": sorted(rates),
        "min_coverage": min_coverage,
        "weighted": weights is not None,
    }
    step = StepRecord.create(
        "aggregate",
        list(inputs) or distinct(observations, "lineage"),
        parameters,
    )
    con: duckdb.DuckDBPyConnection | None = None
    result = None
    # Arrow adds in row order: only values that add exactly in any order (counts) give
    # there what DuckDB gives (welfare_observatory._summing). Only the summed rows count.
    summed_rows = _summed_rows(observations, sums)
    exact = adds_exactly(observations.column("value"), summed_rows)
    if exact and weights is None and threads is None and observations.num_rows <= SMALL:
        result = _summed_in_arrow(
            observations, hierarchy, levels, sums, breakdowns, step.id, summed=summed_rows
        )
    if result is None:
        con = connect(threads)
        result = _summed_in_duckdb(
            con, observations, hierarchy, levels, sums, weights, step, exact=exact, rows=summed_rows
        )
    coverage_columns = [
        "indicator",
        "territory",
        "period",
        *breakdowns,
        "members",
        "reported",
        "coverage",
    ]
    summed = to_canonical(result, breakdowns) if result.num_rows else empty(breakdowns)
    coverage = result.select(coverage_columns)
    derived = derive_rates(summed, catalog, targets=list(rates), inputs=[step.id])
    rate_table = derived.table
    if rate_table.num_rows:
        # Rates are part of this aggregation step: their rows point at it, not at a sub-step.
        index = rate_table.schema.get_field_index("lineage")
        lineage = pa.array([step.id] * rate_table.num_rows).dictionary_encode()
        rate_table = rate_table.set_column(
            index, rate_table.schema.field(index), lineage.cast(rate_table.schema.field(index).type)
        )
    if rate_table.num_rows:
        con = con if con is not None else connect(threads)
        con.register("cov", coverage)
        con.register("rates", plain(rate_table))
        f = {i: catalog[i].formula for i in rates}
        con.register(
            "rf",
            pa.table(
                {
                    "target": list(f),
                    "numerator": [x.numerator for x in f.values() if x],
                    "denominator": [x.denominator for x in f.values() if x],
                }
            ),
        )
        keys = "".join(f" AND c.{b} = r.{b}" for b in breakdowns)
        rate_cov = query(
            con,
            f"""
            SELECT r.indicator, r.territory, r.period, {"".join(f"r.{b}, " for b in breakdowns)}
                   min(c.members) AS members, min(c.reported) AS reported,
                   min(c.coverage) AS coverage
            FROM rates r JOIN rf ON rf.target = r.indicator
            JOIN cov c ON c.indicator IN (rf.numerator, rf.denominator)
                AND c.territory = r.territory AND c.period = r.period {keys}
            GROUP BY ALL
            """,  # noqa: S608 (identifiers are checked names; data goes in as tables)
        )
        coverage = pa.concat_tables(
            [coverage, rate_cov.select(coverage_columns).cast(coverage.schema)]
        )
    sum_ids = pa.array(sums, pa.string())
    summed = summed.filter(pc.is_in(summed.column("indicator").cast(pa.string()), sum_ids))
    table = pa.concat_tables([summed, rate_table.cast(summed.schema)])
    table, own = _apply_coverage(
        table, coverage, observations if published is None else published, breakdowns, min_coverage
    )
    parts = nested(derived.parts, 0) + own
    return Derived(table, combine(parts), step, coverage, parts)


def _summed_in_duckdb(
    con: duckdb.DuckDBPyConnection,
    observations: pa.Table,
    hierarchy: pa.Table,
    levels: Sequence[str],
    sums: list[str],
    weights: pa.Table | None,
    step: StepRecord,
    *,
    exact: bool,
    rows: pa.ChunkedArray,
) -> pa.Table:
    """The sums of the municipal rows per area, with members, reported and coverage.
    ``exact``: the values of ``rows`` (those summed) add exactly in any order
    (:func:`adds_exactly`); else each
    indicator's are added in the way its own values allow (:func:`shifts_by`), so its
    sums are the same bits whatever the order of rows, the threads, and the indicators
    aggregated with it."""
    breakdowns = breakdowns_of(observations)
    long = _long_hierarchy(hierarchy, levels)
    # Grouped on the keys' dictionary codes where it can (no weights to join by text):
    # DuckDB groups integers for half of what it costs to hash the texts; the few sums are
    # decoded after. Otherwise DuckDB scans the dictionary columns as they are.
    coded = _coded(observations, ["indicator", "territory", "period", *breakdowns])
    on = "o.territory = h.municipality"
    wanted = pa.array(sums, pa.string())
    if coded is not None and weights is None:
        observations, dictionaries = coded
        # A municipality no row names gets no code: it joins no row, as before.
        codes = pc.index_in(long.column("municipality"), value_set=dictionaries["territory"])
        long = long.append_column("code", codes.cast(observations.schema.field("territory").type))
        on = "o.territory = h.code"
        found = pc.index_in(wanted, value_set=dictionaries["indicator"])
        wanted = found.filter(pc.is_valid(found)).cast(observations.schema.field("indicator").type)
    con.register("obs", observations)
    con.register("h", long)
    chosen = "WHERE o.indicator IN (SELECT id FROM sums)"
    value = "sum(o.value)"
    if exact:
        con.register("sums", pa.table({"id": wanted}))
    else:
        keys = observations.column("indicator")
        if pa.types.is_dictionary(keys.type):
            keys = keys.cast(keys.type.value_type)
        ways = shifts_by(keys, observations.column("value"), rows)
        ways = ways.rename_columns(["id", "up", "down"])
        ways = ways.set_column(0, "id", ways.column("id").cast(wanted.type))
        con.register("sums", pa.table({"id": wanted}).join(ways, "id", use_threads=False))
        chosen = "JOIN sums s ON s.id = o.indicator"
        value = scaled_sum_sql("o.value", "s.up", "min(s.down)")
        if ways.column("up").null_count:
            value = f"coalesce({value}, {ordered_sum_sql('o.value')} FILTER (WHERE s.up IS NULL))"
    if weights is not None:
        w = weights.rename_columns(
            ["population" if c == "weight" else c for c in weights.column_names]
        )
        w = plain(w.select(["territory", "year", "population"]))
        con.register("w", w)
        population = w.column("population")
    else:
        con.register(
            "w",
            pa.table(
                {
                    "territory": pa.array([], pa.string()),
                    "year": pa.array([], pa.int64()),
                    "population": pa.array([], pa.float64()),
                }
            ),
        )
        population = pa.chunked_array([], pa.float64())
    b_select = "".join(f"o.{b}, " for b in breakdowns)
    b_group = "".join(f", o.{b}" for b in breakdowns)
    b_out = "".join(f"p.{b}, " for b in breakdowns)
    # Group the municipal rows per area first (one pass), then attach the members. Weights
    # join on the hierarchy's text (the row's own territory, by the join on ``h``), never
    # on a territory given as a code.
    sql = f"""
        WITH parts AS MATERIALIZED (
            SELECT o.indicator, h.level, h.area, o.period, {b_select}
                   year(min(o.period_start)) AS yr, min(o.period_start) AS period_start,
                   {value} AS value, min(o.unit) AS unit,
                   {status_sql("o.obs_status")} AS obs_status,
                   CASE WHEN bool_or(o.conf_status = 'N') THEN 'N' ELSE 'F' END AS conf_status,
                   count(o.value) AS reported,
                   {sum_sql("CASE WHEN o.value IS NOT NULL THEN w.population END", population)}
                       AS reported_weight
            FROM obs o JOIN h ON {on}
            LEFT JOIN w ON w.territory = h.municipality AND w.year = year(o.period_start)
            {chosen}
            GROUP BY o.indicator, h.level, h.area, o.period {b_group}),
        members AS (
            -- Only the areas and years some part fell in: the hierarchy is the registry's.
            SELECT h.level, h.area, y.yr, count(*) AS members,
                   {sum_sql("w.population", population)} AS members_weight,
                   count(w.population) AS weighted
            FROM h SEMI JOIN (SELECT DISTINCT level, area FROM parts) a
                ON a.level = h.level AND a.area = h.area
            CROSS JOIN (SELECT DISTINCT yr FROM parts) y
            LEFT JOIN w ON w.territory = h.municipality AND w.year = y.yr
            GROUP BY h.level, h.area, y.yr)
        SELECT p.indicator, p.area AS territory, p.period, p.period_start, {b_out}
               p.value, p.unit, p.obs_status, p.conf_status,
               CAST(NULL AS VARCHAR) AS flags, 'derive' AS source, '{step.id}' AS lineage,
               m.members, p.reported,
               CASE WHEN m.weighted = m.members AND m.members_weight > 0
                    THEN coalesce(p.reported_weight, 0) / m.members_weight
                    ELSE p.reported / m.members END AS coverage
        FROM parts p JOIN members m ON m.level = p.level AND m.area = p.area AND m.yr = p.yr
    """  # noqa: S608 (identifiers are checked names; data goes in as tables)
    result = query(con, sql)
    if coded is None or weights is not None:
        return result
    for name in ["indicator", "period", *breakdowns]:
        index = result.schema.get_field_index(name)
        texts = dictionaries[name].take(result.column(index))
        result = result.set_column(index, pa.field(name, texts.type), texts)
    return result


def _coded(observations: pa.Table, names: list[str]) -> tuple[pa.Table, dict[str, pa.Array]] | None:
    """``observations`` with each column of ``names`` as the integer codes of its
    dictionary, and those dictionaries; None unless every such column's chunks share one
    dictionary of distinct texts with no missing one (a code then stands for one text
    and one text has one code: grouping on codes is grouping on texts)."""
    dictionaries: dict[str, pa.Array] = {}
    for name in names:
        column = observations.column(name)
        if not pa.types.is_dictionary(column.type) or column.num_chunks == 0:
            return None
        first = column.chunk(0).dictionary
        if not _is_text(first.type) or first.null_count:
            return None
        if any(not (c.dictionary is first or c.dictionary.equals(first)) for c in column.chunks):
            return None
        if pc.count_distinct(first).as_py() != len(first):
            return None
        dictionaries[name] = first
        codes = pa.chunked_array([c.indices for c in column.chunks], column.type.index_type)
        position = observations.schema.get_field_index(name)
        observations = observations.set_column(position, pa.field(name, codes.type), codes)
    return observations, dictionaries


SMALL = 200_000
"""Up to this many input rows (a rebuild's changed indicator group; derive passes the
municipal rows of the summed indicators only) and without weights,
the sums and the coverage checks run in Arrow, not DuckDB: each DuckDB statement costs a
few milliseconds whatever its size (binding, a result to convert), more than Arrow's
joins and group-bys over a few thousand rows. The results are the same rows (the order
of rows carries no meaning here); tests/derive/test_derive_aggregate_arrow.py compares
both ways."""

_TEXT = (pa.types.is_string, pa.types.is_large_string)


def _is_text(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return any(check(kind) for check in _TEXT)


def _summed_in_arrow(
    observations: pa.Table,
    hierarchy: pa.Table,
    levels: Sequence[str],
    sums: list[str],
    breakdowns: list[str],
    step_id: str,
    *,
    summed: pa.ChunkedArray | None = None,
) -> pa.Table | None:
    """What :func:`_summed_in_duckdb` gives without weights, computed in Arrow, for values
    that add exactly (:func:`adds_exactly`); None when the tables are not of the shape
    this relies on (text keys, a hierarchy with one row per municipality), and DuckDB
    does it. ``summed``: the rows of the ``sums`` indicators, when the caller has them."""

    texts = ["indicator", "territory", "period", "unit", "obs_status", "conf_status"]
    if not all(_is_text(observations.schema.field(n).type) for n in [*texts, *breakdowns]):
        return None
    if observations.schema.field("value").type != pa.float64():
        return None
    if observations.schema.field("period_start").type != pa.date32():
        return None
    if "municipality" not in hierarchy.column_names:
        return None
    municipality = hierarchy.column("municipality").cast(pa.string())
    if municipality.null_count or pc.count_distinct(municipality).as_py() != len(municipality):
        return None
    present = [level for level in levels if level in hierarchy.column_names]
    if not present:
        return None
    mine = summed if summed is not None else _summed_rows(observations, sums)
    columns = ["indicator", "territory", "period", "period_start", *breakdowns, "value"]
    rows = plain(observations.filter(mine).select([*columns, "unit", "obs_status", "conf_status"]))
    # A municipality's row joins one row of its area at each level (a missing area, none).
    at = pc.index_in(rows.column("territory"), value_set=municipality)
    pieces = []
    for level in present:
        area = pc.take(hierarchy.column(level).cast(pa.string()), at)
        keep = pc.is_valid(area)
        piece = rows.filter(keep)
        piece = piece.append_column(
            "level", pa.repeat(pa.scalar(level, pa.string()), piece.num_rows)
        )
        pieces.append(piece.append_column("area", area.filter(keep)))
    joined = pa.concat_tables(pieces)
    # obs_status: the first of STATUS_PRECEDENCE among the parts, else A (status_sql).
    codes = pa.array(list(STATUS_PRECEDENCE), pa.string())
    rank = pc.fill_null(pc.index_in(joined.column("obs_status"), value_set=codes), len(codes))
    n_flag = pc.fill_null(pc.equal(joined.column("conf_status"), "N"), False)
    joined = joined.append_column("_rank", rank).append_column("_n", n_flag)
    keys = ["indicator", "level", "area", "period", *breakdowns]
    grouped = joined.group_by(keys, use_threads=False).aggregate(
        [
            ("period_start", "min"),
            ("value", "sum", pc.ScalarAggregateOptions(skip_nulls=True, min_count=1)),
            ("unit", "min"),
            ("_rank", "min"),
            ("_n", "any"),
            ("value", "count", pc.CountOptions(mode="only_valid")),
        ]
    )
    # Members: the municipalities of each area (every year of the parts has them all).
    counts = [
        pa.table(
            {
                "level": pa.array([], pa.string()),
                "area": pa.array([], pa.string()),
                "members": pa.array([], pa.int64()),
            }
        )
    ]
    for level in present:
        area = hierarchy.column(level).cast(pa.string()).drop_null()
        if not len(area):
            continue
        found = pc.value_counts(area).flatten()
        counts.append(
            pa.table(
                {
                    "level": pa.repeat(pa.scalar(level, pa.string()), len(found[0])),
                    "area": found[0],
                    "members": pc.cast(found[1], pa.int64()),
                }
            )
        )
    n = grouped.num_rows
    grouped = grouped.join(pa.concat_tables(counts), ["level", "area"], use_threads=False)
    if grouped.num_rows != n or grouped.column("members").null_count:
        return None
    statuses = pa.array([*STATUS_PRECEDENCE, "A"], pa.string())
    members = grouped.column("members")
    reported = pc.cast(grouped.column("value_count"), pa.int64())
    out = {
        "indicator": grouped.column("indicator"),
        "territory": grouped.column("area"),
        "period": grouped.column("period"),
        "period_start": grouped.column("period_start_min"),
        **{b: grouped.column(b) for b in breakdowns},
        "value": grouped.column("value_sum"),
        "unit": grouped.column("unit_min"),
        "obs_status": pc.take(statuses, grouped.column("_rank_min")),
        "conf_status": pc.if_else(grouped.column("_n_any"), "N", "F"),
        "flags": pa.nulls(n, pa.string()),
        "source": pa.repeat(pa.scalar("derive", pa.string()), n),
        "lineage": pa.repeat(pa.scalar(step_id, pa.string()), n),
        "members": members,
        "reported": reported,
        "coverage": pc.divide(pc.cast(reported, pa.float64()), pc.cast(members, pa.float64())),
    }
    return pa.table(out)


def _apply_coverage(
    table: pa.Table,
    coverage: pa.Table,
    observations: pa.Table,
    breakdowns: list[str],
    min_coverage: float,
) -> tuple[pa.Table, list[FindingPart]]:
    """Drop aggregates below ``min_coverage``, mark partial ones ``U``, let published values win."""
    keys = ["indicator", "territory", "period", *breakdowns]
    result = None
    if table.num_rows + coverage.num_rows + observations.num_rows <= SMALL:
        result = _covered_in_arrow(table, coverage, observations, keys)
    if result is None:
        result = _covered_in_duckdb(table, coverage, observations, keys)
    parts: list[FindingPart] = []
    cov = pc.fill_null(result.column("coverage"), 0.0)
    below = pc.less(cov, min_coverage - 1e-12)
    if pc.any(below).as_py():
        # Lowest coverage first, ties broken by key: two builds name the same example
        # (per indicator here; summed again, the lowest of all).
        low = plain(result.filter(below).select(["coverage", "indicator", "territory", "period"]))
        parts += sum_parts(
            low,
            (1,),
            code="partial-aggregate",
            severity=Severity.WARNING,
            template=lambda worst: (
                f"{COUNT} aggregates cover less than {min_coverage:.0%} of their "
                f"area and are not emitted; lowest: {worst['coverage']:.1%}"
            ),
            hint="see Derived.coverage for members and reported; fill the missing "
            "municipalities or lower min_coverage to publish them as low reliability (U)",
            rank=["coverage"],
        )
    parts += _published_conflicts(result.filter(pc.invert(below)))
    keep = pc.and_(pc.invert(below), pc.invert(result.column("published")))
    return to_canonical(result.filter(keep), breakdowns), parts


def _covered_in_duckdb(
    table: pa.Table, coverage: pa.Table, observations: pa.Table, keys: list[str]
) -> pa.Table:
    """Each aggregate with its coverage, obs_status ``U`` below full coverage, and the
    published value of its key, if any."""
    con = connect()
    con.register("t", table)
    con.register("c", coverage)
    # One published row per key (sources were resolved before; min() guards the join).
    # Only the keys of aggregates are looked up, so only those are grouped (a few thousand
    # of the input's rows, not all of them).
    con.register("o0", _candidates(observations.select([*keys, "value", "source"]), table))
    on_0 = " AND ".join(f"o0.{k} = t.{k}" for k in keys)
    on_c = " AND ".join(f"t.{k} = c.{k}" for k in keys)
    on_o = " AND ".join(f"t.{k} = o.{k}" for k in keys)
    cols = ", ".join(f"t.{n}" for n in table.column_names if n != "obs_status")
    # One statement (a view made first cost a round of its own, ~1-2 ms a call).
    return query(
        con,
        f"""
        WITH o AS (
            SELECT {", ".join(f"o0.{k}" for k in keys)},
                   min(o0.value) AS published_value, min(o0.source) AS published_source
            FROM o0 SEMI JOIN t ON {on_0} GROUP BY ALL)
        SELECT {cols},
               CASE WHEN c.coverage < 1 THEN 'U' ELSE t.obs_status END AS obs_status,
               c.coverage, o.indicator IS NOT NULL AS published,
               o.published_value, o.published_source
        FROM t JOIN c ON {on_c} LEFT JOIN o ON {on_o}
        """,  # noqa: S608 (identifiers are checked names; data goes in as tables)
    )


def _candidates(published: pa.Table, table: pa.Table) -> pa.Table:
    """The rows of ``published`` whose indicator and territory are among ``table``'s: the
    only ones a join on the whole key can match (a missing key never matches in SQL). The
    values are looked up per dictionary value, and the few rows found are copied, not the
    millions of municipal rows (the aggregates' territories are larger ones)."""
    mask: pa.ChunkedArray | None = None
    for name in ("indicator", "territory"):
        wanted = pa.array(distinct(table, name), pa.string())

        def among(values: pa.Array, wanted: pa.Array = wanted) -> pa.Array:
            return pc.fill_null(pc.is_in(pc.cast(values, pa.string()), value_set=wanted), False)

        found = on_values(published.column(name), among)
        mask = found if mask is None else pc.and_(mask, found)
    return published.filter(mask) if mask is not None else published


def _covered_in_arrow(
    table: pa.Table, coverage: pa.Table, observations: pa.Table, keys: list[str]
) -> pa.Table | None:
    """What :func:`_covered_in_duckdb` gives, in Arrow; None when a key is missing in a row
    (SQL never joins it, Arrow might) or a key is published twice (then DuckDB's min()
    decides)."""
    t = plain(table)
    c = plain(coverage.select([*keys, "coverage"]))
    published = plain(observations.select([*keys, "value", "source"]))
    if any(_missing(x, keys) for x in (t, c)):
        return None
    if any(not _is_text(t.schema.field(k).type) for k in keys):
        return None
    if any(t.schema.field(k).type != c.schema.field(k).type for k in keys):
        return None
    if any(t.schema.field(k).type != published.schema.field(k).type for k in keys):
        return None
    if _missing(published, keys):
        # A published row with a missing key never matches in SQL.
        valid = pc.is_valid(published.column(keys[0]))
        for k in keys[1:]:
            valid = pc.and_(valid, pc.is_valid(published.column(k)))
        published = published.filter(valid)
    found = published.join(t.select(keys), keys, join_type="left semi", use_threads=False)
    if found.num_rows and found.group_by(keys, use_threads=False).aggregate([]).num_rows != (
        found.num_rows
    ):
        return None
    found = found.rename_columns([*keys, "published_value", "published_source"])
    found = found.append_column("published", pa.array([True] * found.num_rows, pa.bool_()))
    n = t.num_rows
    joined = t.join(c, keys, use_threads=False)
    if joined.num_rows != n:
        return None  # a key of no coverage row, or of two: DuckDB says what it means
    joined = joined.join(found, keys, join_type="left outer", use_threads=False)
    below = pc.fill_null(pc.less(joined.column("coverage"), 1), False)
    status = pc.if_else(below, pa.scalar("U", pa.string()), joined.column("obs_status"))
    names = [name for name in table.column_names if name != "obs_status"]
    return pa.table(
        {
            **{name: joined.column(name) for name in names},
            "obs_status": status,
            "coverage": joined.column("coverage"),
            "published": pc.fill_null(joined.column("published"), False),
            "published_value": joined.column("published_value"),
            "published_source": joined.column("published_source"),
        }
    )


def _missing(table: pa.Table, keys: list[str]) -> bool:
    return any(table.column(k).null_count for k in keys)


def _published_conflicts(result: pa.Table) -> list[FindingPart]:
    """A published total that differs from the sum of its parts: both values, listed.

    The published value wins (the rule of this module); the difference is the aggregate
    minus the published value, as a release conflict (an earlier release of the parts).
    """
    value = result.column("value")
    published = result.column("published_value")
    differ = pc.fill_null(
        pc.greater(
            pc.abs(pc.subtract(value, published)),
            pc.multiply(pc.abs(published), 1e-9),
        ),
        False,
    )
    if not pc.any(differ).as_py():
        return []
    rows = plain(
        result.filter(differ).select(
            ["indicator", "territory", "period", "value", "published_value", "published_source"]
        )
    )
    rows = rows.sort_by([(n, "ascending") for n in rows.column_names])
    # At most MAX_LISTED of each indicator are kept: however indicators are combined, the
    # first MAX_LISTED of all are among them (rows are in indicator order).
    from welfare_observatory.derive.releases import MAX_LISTED

    bounds = indicator_runs(rows)
    parts: list[FindingPart] = []
    for start, end in pairwise(bounds):
        rows_of = rows.slice(start, min(end - start, MAX_LISTED)).to_pylist()
        # One part lists the indicator's conflicts (findings made of those listed only).
        listed = [
            {
                "code": "release-conflict",
                "severity": Severity.INFO.value,
                "message": f"{r['published_source']} {r['published_value']:,.10g} wins over "
                f"the aggregate of its parts {r['value']:,.10g} (difference "
                f"{r['value'] - r['published_value']:+,.10g}; a published total wins)",
                "indicator": str(r["indicator"]),
                "territory": str(r["territory"]),
                "period": str(r["period"]),
                "count": 1,
            }
            for r in rows_of
        ]
        places = [(place,) for place in range(len(listed))]
        parts.append(items_part((2,), str(rows_of[0]["indicator"]), places, listed, cap=MAX_LISTED))
    return parts
