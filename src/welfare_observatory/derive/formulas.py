"""Rates from formulas: value = numerator / denominator * multiplier, in one DuckDB join.

Numerator and denominator rows meet on territory, breakdowns and period (or, with
``align="year"``, on the year of ``period_start``: a flow in 2023 over the stock on
1 January 2023). A zero or missing denominator gives a missing value (status ``O``) and a
finding, never an infinite or silently dropped rate. Operands of different releases (one
provisional, status ``P``, the other final) give a provisional rate and a ``mixed-release``
finding.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from welfare_observatory.derive._common import (
    Derived,
    breakdowns_of,
    connect,
    constant,
    counts,
    distinct,
    empty,
    indicator_map,
    pair_status_sql,
    plain,
    query,
    to_canonical,
)
from welfare_observatory.derive._parts import COUNT, FindingPart, combine, sum_parts
from welfare_observatory.lineage import StepRecord
from welfare_observatory.model.finding import Severity
from welfare_observatory.model.indicator import Indicator
from welfare_observatory.model.observation import TOTAL

__all__ = ["derive_rates", "formula_indicators"]


def formula_indicators(
    indicators: Mapping[str, Indicator], present: Iterable[str], targets: Sequence[str] | None
) -> list[Indicator]:
    """Indicators with a formula whose numerator and denominator are both ``present``."""
    have = set(present)
    chosen = [indicators[t] for t in targets] if targets is not None else indicators.values()
    return [
        i
        for i in chosen
        if i.formula is not None and {i.formula.numerator, i.formula.denominator} <= have
    ]


def derive_rates(
    observations: pa.Table,
    indicators: Mapping[str, Indicator] | Iterable[Indicator],
    *,
    targets: Sequence[str] | None = None,
    align: Literal["period", "year"] = "period",
    inputs: Sequence[str] = (),
    threads: int | None = None,
    present: Collection[str] | None = None,
) -> Derived:
    """Rows for every formula indicator whose operands are in ``observations``.

    ``targets`` restricts which indicators are derived; the result holds only derived rows,
    with ``source`` ``derive`` and ``lineage`` the id of this step. ``present`` (the
    indicators of the whole build, when ``observations`` is one partition of it) decides
    which formulas the step records, so every partition records the same step.
    """
    catalog = indicator_map(indicators)
    breakdowns = breakdowns_of(observations)
    rows = counts(observations, "indicator")  # also what the batches are cut by, below
    here = set(rows)
    chosen = formula_indicators(catalog, here, targets)
    recorded = chosen if present is None else formula_indicators(catalog, present, targets)
    formulas = [
        {
            "target": i.id,
            "numerator": i.formula.numerator,
            "denominator": i.formula.denominator,
            "multiplier": i.formula.multiplier,
            "unit": i.unit,
        }
        for i in recorded
        if i.formula is not None
    ]
    step = StepRecord.create(
        "derive",
        list(inputs) or distinct(observations, "lineage"),
        {"formulas": formulas, "align": align},
    )
    computed = {i.id for i in chosen}
    formulas = [f for f in formulas if f["target"] in computed]
    if not formulas:
        return Derived(empty(breakdowns), [], step)
    con = connect(threads)
    # DuckDB scans dictionary columns as they are: no decoding of millions of keys.
    con.register("obs", observations)
    sql = _rates_sql(breakdowns, align)
    # The formulas go in batches of a bounded number of operand rows: the join holds a
    # batch's denominator rows in a hash table and its result until converted, so one
    # query over every formula of a national table held several GiB at once (the
    # build's peak); each batch scans the table again, a small cost next to the join.
    results = []
    for batch in _batches(formulas, rows, ROWS_PER_QUERY):
        # Dictionary-encoded texts come back from DuckDB dictionary-encoded (no per-row
        # strings).
        f_table = pa.Table.from_pylist(batch)
        for name in ("target", "unit"):
            index = f_table.schema.get_field_index(name)
            f_table = f_table.set_column(index, name, pc.dictionary_encode(f_table.column(name)))
        con.register("f", f_table)
        results.append(query(con, sql))
        con.unregister("f")
    result = results[0] if len(results) == 1 else pa.concat_tables(results)
    del results
    parts = _findings(result)
    n = result.num_rows
    result = result.append_column("flags", pa.nulls(n, pa.string()))
    result = result.append_column("source", constant(n, "derive"))
    result = result.append_column("lineage", constant(n, step.id))
    return Derived(to_canonical(result, breakdowns), combine(parts), step, parts=parts)


ROWS_PER_QUERY = 1 << 23
"""Operand rows (numerators' and denominators') joined by one query of :func:`derive_rates`
at most, unless one formula has more (then it is a query of its own)."""


def _batches(
    formulas: Sequence[dict[str, object]], rows: Mapping[str, int], limit: int
) -> list[list[dict[str, object]]]:
    """``formulas`` in order, cut into runs whose operands hold at most ``limit`` rows of
    ``rows`` (an indicator's rows) together; a formula over more is a run of its own."""
    batches: list[list[dict[str, object]]] = []
    current: list[dict[str, object]] = []
    size = 0
    for formula in formulas:
        weight = rows.get(str(formula["numerator"]), 0) + rows.get(str(formula["denominator"]), 0)
        if current and size + weight > limit:
            batches.append(current)
            current, size = [], 0
        current.append(formula)
        size += weight
    if current:
        batches.append(current)
    return batches


def _rates_sql(breakdowns: Sequence[str], align: Literal["period", "year"]) -> str:
    """The query of the rates of the formulas registered as ``f`` over the rows ``obs``."""
    period_key = (
        "n.period = d.period"
        if align == "period"
        else "year(n.period_start) = year(d.period_start)"
    )
    keys = " AND ".join(
        [f"n.{b} = d.{b}" for b in breakdowns] + ["n.territory = d.territory", period_key]
    )
    bcols = "".join(f"n.{b}, " for b in breakdowns)
    # A denominator that is never broken down by a dimension (women aged 15-49 by sex)
    # gives a rate only at that dimension's total: other codes of the numerator have no
    # rate at all, not a missing one. ``s`` reads the denominators' rows apart from ``d``:
    # a CTE used twice is materialized (every denominator row held once more).
    split = "".join(f", bool_or(o.{b} <> '{TOTAL}') AS by_{b}" for b in breakdowns)
    only_split = "".join(f" AND (n0.{b} = '{TOTAL}' OR s.by_{b})" for b in breakdowns)
    return f"""
        WITH n0 AS (SELECT o.*, f.target, f.multiplier, f.unit AS target_unit
                    FROM obs o JOIN f ON o.indicator = f.numerator),
             d AS (SELECT o.*, f.target FROM obs o JOIN f ON o.indicator = f.denominator),
             s AS (SELECT f.target{split} FROM obs o JOIN f ON o.indicator = f.denominator
                   GROUP BY f.target),
             n AS (SELECT n0.* FROM n0 LEFT JOIN s ON n0.target = s.target
                   WHERE s.target IS NULL OR (TRUE{only_split}))
        SELECT n.target AS indicator, n.territory, n.period, n.period_start, {bcols}
               CASE WHEN d.value IS NULL OR d.value = 0 OR n.value IS NULL THEN NULL
                    ELSE n.value / d.value * n.multiplier END AS value,
               n.target_unit AS unit,
               CASE WHEN d.value IS NULL OR d.value = 0 OR n.value IS NULL THEN 'O'
                    ELSE {pair_status_sql("n.obs_status", "d.obs_status")} END AS obs_status,
               CASE WHEN n.conf_status <> 'F' THEN n.conf_status
                    ELSE coalesce(d.conf_status, 'F') END AS conf_status,
               d.value IS NULL AS no_denominator, d.value = 0 AS zero_denominator,
               (n.obs_status = 'P') <> (d.obs_status = 'P') AS mixed_release
        FROM n LEFT JOIN d ON n.target = d.target AND {keys}
    """  # noqa: S608 (identifiers are checked names; data goes in as tables)


def _findings(result: pa.Table) -> list[FindingPart]:
    """Per flag, one part per target indicator: its count and its smallest key (summed
    again, the example is the smallest key of all: two builds report the same one)."""
    parts: list[FindingPart] = []
    for place, (flag, code, message) in enumerate(
        (
            ("no_denominator", "missing-denominator", "have no denominator for the same key"),
            ("zero_denominator", "zero-denominator", "have a zero denominator"),
            ("mixed_release", "mixed-release", "combine a provisional operand with a final one"),
        )
    ):
        mask = pc.fill_null(result.column(flag), False)
        if not pc.any(mask).as_py():
            continue
        flagged = plain(result.filter(mask).select(["indicator", "territory", "period"]))
        template = f"{COUNT} rates {message}; " + (
            "they are stored as provisional (status P)"
            if code == "mixed-release"
            else "they are stored as missing (status O)"
        )
        parts += sum_parts(
            flagged,
            (place,),
            code=code,
            severity=Severity.WARNING,
            template=template,
            hint=(
                "take both operands from one release (see 'priority' in docs/methods.md)"
                if code == "mixed-release"
                else "check that numerator and denominator share territory, period and "
                "breakdowns (align='year' pairs a flow with the stock on 1 January)"
            ),
        )
    return parts
