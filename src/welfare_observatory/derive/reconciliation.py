"""Reconcile series published under old territory codes to the build's reference list.

A *change table* (``code``, ``successor``, ``share``) says where each old code went:
one successor for a code change, a move between provinces or a merger; several for a
split; none for a suppression. :func:`code_changes` builds it from the registry's
``successors(code, at)``.

- ``sum`` indicators (counts) are added up under the successor; with a ``share`` (the
  fraction of the old territory that went to each successor) a split is apportioned.
- ``formula`` indicators (rates) are relabelled when one code maps to one successor, and
  re-derived from the reconciled numerator and denominator after a merger.
- ``none`` indicators are relabelled one to one only.

What cannot be reconciled is reported and left out, never guessed: a split without shares
(``split-without-key``), a suppression without successor (``no-successor``), a merger where
some predecessors are missing for a period (``partial-merge``), a merged rate without its
operands or a merged non-aggregable value (``cannot-reconcile``). A successor that already
has its own row for a key keeps it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from welfare_observatory.derive._common import (
    Derived,
    breakdowns_of,
    connect,
    distinct,
    indicator_map,
    plain,
    query,
    status_sql,
    to_canonical,
)
from welfare_observatory.derive.formulas import derive_rates
from welfare_observatory.errors import UnknownTerritoryError
from welfare_observatory.lineage import StepRecord
from welfare_observatory.model.finding import Finding, Severity
from welfare_observatory.model.indicator import Indicator

__all__ = ["code_changes", "reconcile"]

CHANGE_SCHEMA = pa.schema(
    [("code", pa.string()), ("successor", pa.string()), ("share", pa.float64())]
)


def code_changes(codes: Iterable[str], at: date, registry: Any = None) -> pa.Table:
    """The change table for ``codes`` (distinct territory codes of a table) at date ``at``.

    Codes still valid at ``at`` and codes the registry does not know are left out (the
    ``unknown-code`` check reports the latter).
    """
    if registry is None:
        from welfare_observatory.territory import registry as default_registry

        registry = default_registry()
    rows: list[dict[str, Any]] = []
    for code in sorted(set(codes)):
        try:
            successors = list(registry.successors(code, at))
        except UnknownTerritoryError:
            continue
        if successors == [code]:
            continue
        if not successors:
            rows.append({"code": code, "successor": None, "share": None})
        rows += [{"code": code, "successor": s, "share": None} for s in successors]
    return pa.Table.from_pylist(rows, schema=CHANGE_SCHEMA)


def reconcile(
    observations: pa.Table,
    changes: pa.Table,
    indicators: Mapping[str, Indicator] | Iterable[Indicator],
    *,
    inputs: Sequence[str] = (),
    threads: int | None = None,
) -> Derived:
    """``observations`` with every old code replaced by its successor(s); see the module doc."""
    catalog = indicator_map(indicators)
    breakdowns = breakdowns_of(observations)
    if "share" not in changes.column_names:
        changes = changes.append_column("share", pa.nulls(changes.num_rows, pa.float64()))
    changes = plain(changes.select(["code", "successor", "share"])).cast(CHANGE_SCHEMA)
    step = StepRecord.create(
        "reconcile",
        list(inputs) or distinct(observations, "lineage"),
        {"changes": changes.to_pylist()},
    )
    methods = pa.table(
        {
            "id": pa.array(list(catalog), pa.string()),
            "method": pa.array([i.aggregation.value for i in catalog.values()], pa.string()),
        }
    )
    con = connect(threads)
    # DuckDB scans dictionary columns as they are: no decoding of millions of keys.
    con.register("obs", observations)
    con.register("ch", changes)
    con.register("m", methods)
    keys = ["indicator", "territory", "period", *breakdowns]
    b = "".join(f", {x}" for x in breakdowns)
    con.sql(
        f"""
        CREATE TEMP TABLE moved AS
        SELECT o.*, c.code AS old, c.successor AS new, c.share,
               count(*) OVER (PARTITION BY c.code, o.indicator, o.period{b}) AS n_succ,
               coalesce(m.method, 'none') AS method
        FROM obs o JOIN ch c ON o.territory = c.code LEFT JOIN m ON m.id = o.indicator
        """  # noqa: S608 (identifiers are checked names; data goes in as tables)
    )
    findings: list[Finding] = []
    findings += _report(
        con,
        "new IS NULL",
        "no-successor",
        Severity.WARNING,
        "rows of territories suppressed without a successor are left out",
    )
    findings += _report(
        con,
        "n_succ > 1 AND share IS NULL",
        "split-without-key",
        Severity.WARNING,
        "rows of split territories have no shares; left out",
        "give the change table a 'share' per successor to apportion counts",
    )
    con.sql(
        """
        CREATE TEMP TABLE ok AS SELECT * FROM moved
        WHERE new IS NOT NULL AND (n_succ = 1 OR share IS NOT NULL)
        """
    )
    findings += _report(
        con,
        "share IS NOT NULL AND method <> 'sum'",
        "cannot-reconcile",
        Severity.WARNING,
        "rates or values split by shares cannot be apportioned",
        table="ok",
    )
    # Predecessors expected under each successor: those the table has for the indicator.
    grouped = query(
        con,
        f"""
            WITH expected AS (
                SELECT indicator, new, count(DISTINCT old) AS n_expected FROM ok GROUP BY ALL),
            g AS (
                SELECT indicator, new AS territory, period{b}, min(period_start) AS period_start,
                       sum(value * coalesce(share, 1)) AS value, any_value(unit) AS unit,
                       {status_sql("obs_status")} AS obs_status,
                       CASE WHEN bool_or(conf_status <> 'F') THEN max(conf_status)
                            ELSE 'F' END AS conf_status,
                       CAST(NULL AS VARCHAR) AS flags, any_value(source) AS source,
                       count(DISTINCT old) AS n_parts, any_value(method) AS method
                FROM ok WHERE NOT (share IS NOT NULL AND method <> 'sum')
                GROUP BY indicator, new, period{b})
            SELECT g.*, e.n_expected,
                   EXISTS (SELECT 1 FROM obs o WHERE o.indicator = g.indicator
                           AND o.territory = g.territory AND o.period = g.period
                           {"".join(f" AND o.{x} = g.{x}" for x in breakdowns)}) AS has_own
            FROM g JOIN expected e ON e.indicator = g.indicator AND e.new = g.territory
            """,  # noqa: S608 (identifiers are checked names; data goes in as tables)
    )
    has_own = grouped.column("has_own")
    partial = pc.and_(pc.invert(has_own), pc.less(grouped["n_parts"], grouped["n_expected"]))
    merged = pc.greater(grouped["n_parts"], 1)
    is_sum = pc.equal(grouped["method"], "sum")
    is_formula = pc.equal(grouped["method"], "formula")
    findings += _group_finding(
        grouped,
        partial,
        "partial-merge",
        "merged territories lack some predecessors for a period; left out",
        "a merged count needs every predecessor's value",
    )
    usable = pc.and_(pc.invert(has_own), pc.invert(partial))
    direct = pc.and_(usable, pc.or_(is_sum, pc.invert(merged)))
    # One to one, any method is relabelled; merged, counts add and rates are re-derived.
    rederive = pc.and_(pc.and_(usable, merged), is_formula)
    lost = pc.and_(pc.and_(usable, merged), pc.invert(pc.or_(is_sum, is_formula)))
    findings += _group_finding(
        grouped,
        lost,
        "cannot-reconcile",
        "merged values of non-aggregable indicators are left out",
        "publish the indicator for the new territory or aggregate it",
    )
    moved_rows = grouped.filter(direct)
    moved_rows = moved_rows.append_column(
        "lineage", pa.array([step.id] * moved_rows.num_rows, pa.string())
    )
    kept = query(con, "SELECT * FROM obs WHERE territory NOT IN (SELECT code FROM ch)")
    kept = to_canonical(kept, breakdowns)
    table = pa.concat_tables([kept, to_canonical(moved_rows, breakdowns)])
    wanted = grouped.filter(rederive).select(keys)
    if wanted.num_rows:
        rates = derive_rates(
            table, catalog, targets=sorted(set(wanted["indicator"].to_pylist())), inputs=[step.id]
        )
        con.register("rates", plain(rates.table))
        con.register("wanted", wanted)
        on = " AND ".join(f"r.{k} = w.{k}" for k in keys)
        chosen = query(con, f"SELECT r.* FROM rates r SEMI JOIN wanted w ON {on}")  # noqa: S608 (identifiers are checked names; data goes in as tables)
        chosen = chosen.set_column(
            chosen.schema.get_field_index("lineage"),
            "lineage",
            pa.array([step.id] * chosen.num_rows, pa.string()),
        )
        missing = wanted.num_rows - chosen.num_rows
        if missing:
            findings.append(
                Finding(
                    code="cannot-reconcile",
                    severity=Severity.WARNING,
                    message=f"{missing} merged rates have no numerator and "
                    "denominator to be re-derived from; left out",
                    count=missing,
                    hint="harmonize the rate's operands too",
                )
            )
        table = pa.concat_tables([table, to_canonical(chosen, breakdowns)])
    return Derived(table, findings, step)


def _report(
    con: Any,
    where: str,
    code: str,
    severity: Severity,
    message: str,
    hint: str | None = None,
    table: str = "moved",
) -> list[Finding]:
    row = con.sql(
        f"SELECT count(*), min(old), min(indicator), min(period) FROM {table} WHERE {where}"  # noqa: S608 (identifiers are checked names; data goes in as tables)
    ).fetchall()[0]
    if not row[0]:
        return []
    return [
        Finding(
            code=code,
            severity=severity,
            message=f"{row[0]} {message}",
            territory=row[1],
            indicator=row[2],
            period=row[3],
            count=row[0],
            hint=hint,
        )
    ]


def _group_finding(
    table: pa.Table, mask: pa.ChunkedArray, code: str, message: str, hint: str
) -> list[Finding]:
    count = int(pc.sum(mask).as_py() or 0)
    if not count:
        return []
    first = table.filter(mask).slice(0, 1).to_pylist()[0]
    return [
        Finding(
            code=code,
            severity=Severity.WARNING,
            message=f"{count} {message}",
            indicator=str(first["indicator"]),
            territory=str(first["territory"]),
            period=str(first["period"]),
            count=count,
            hint=hint,
        )
    ]
