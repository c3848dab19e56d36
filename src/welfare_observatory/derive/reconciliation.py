"""Reconcile series published under old territory codes to the build's reference list.

A *change table* (``code``, ``successor``, ``share`` and, optionally, ``since`` and
``kind``) says where each old code went: one successor for a code change, a move between
provinces or a merger; several for a split; none for a suppression. ``since`` is the day
the old code joined its successor and ``kind`` the registry's event kind.
:func:`code_changes` builds it from the registry's history.

- ``sum`` indicators (counts) are added up under the successor; with a ``share`` (the
  fraction of the old territory that went to each successor) a split is apportioned.
- ``formula`` indicators (rates) are relabelled when one code maps to one successor, and
  re-derived from the reconciled numerator and denominator after a merger.
- ``none`` indicators are relabelled one to one only.

What cannot be reconciled is reported and left out, never guessed: a split without shares
(``split-without-key``), a suppression without successor (``no-successor``), a merger where
some predecessors are missing for a period (``partial-merge``), a merged rate without its
operands or a merged non-aggregable value (``cannot-reconcile``).

Incorporations (``kind`` ``incorporation``: a comune absorbed by one that already existed).
For a period starting before ``since`` the successor's own value covers only its old
territory, so it is one more part: counts of the predecessors and the successor are
summed, rates are re-derived from the summed operands, and a value that cannot be combined
(a median, an index without its parts) is left out for the successor, with a finding,
rather than published for a territory it does not describe. Each combination is a
``reconciled`` finding and part of the step's parameters (``combinations``: successor,
members, since), which ``explain`` shows. Otherwise (a merger into a new code, a code
change, a period on or after ``since``, a change table without dates) a successor that
already has its own row for a key keeps it: the source published it for the new territory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from welfare_observatory._summing import ordered_sum_sql
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
from welfare_observatory.derive._parts import (
    COUNT,
    MEMBERS,
    FindingPart,
    combine,
    sum_parts,
)
from welfare_observatory.derive.formulas import derive_rates
from welfare_observatory.errors import UnknownTerritoryError
from welfare_observatory.lineage import StepRecord
from welfare_observatory.model.finding import Finding, Severity
from welfare_observatory.model.indicator import Indicator

__all__ = ["code_changes", "combination_of", "reconcile"]

CHANGE_SCHEMA = pa.schema(
    [
        ("code", pa.string()),
        ("successor", pa.string()),
        ("share", pa.float64()),
        ("since", pa.date32()),
        ("kind", pa.string()),
    ]
)

INCORPORATION = "incorporation"


def code_changes(codes: Iterable[str], at: date, registry: Any = None) -> pa.Table:
    """The change table for ``codes`` (distinct territory codes of a table) at date ``at``.

    Codes still valid at ``at`` and codes the registry does not know are left out (the
    ``unknown-code`` check reports the latter). ``since`` and ``kind`` come from the event
    that brought the code (or the code it became) into its successor.
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
            rows.append(
                {"code": code, "successor": None, "share": None, "since": None, "kind": None}
            )
        for successor in successors:
            since, kind = _entry(registry, code, successor)
            rows.append(
                {"code": code, "successor": successor, "share": None, "since": since, "kind": kind}
            )
    return pa.Table.from_pylist(rows, schema=CHANGE_SCHEMA)


def _entry(registry: Any, code: str, successor: str) -> tuple[date | None, str | None]:
    """Date and kind of the event by which ``code`` (or what it became) entered ``successor``.

    Among the events into ``successor`` whose old code is ``code`` or one of its successive
    forms, the latest one answers. A handful of codes per build, not data rows.
    """
    try:
        events = registry.events(successor)
    except UnknownTerritoryError:
        return None, None
    found = [
        e
        for e in events
        if e.new == successor
        and e.old is not None
        and e.kind.value != "split_off"
        and (e.old == code or code in registry.predecessors(e.old))
    ]
    if not found:
        return None, None
    last = max(found, key=lambda e: e.date)
    return last.date, last.kind.value


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
    for name in CHANGE_SCHEMA.names:
        if name not in changes.column_names:
            changes = changes.append_column(
                name, pa.nulls(changes.num_rows, CHANGE_SCHEMA.field(name).type)
            )
    changes = plain(changes.select(CHANGE_SCHEMA.names)).cast(CHANGE_SCHEMA)
    combinations = _combinations(changes)
    parameters: dict[str, Any] = {"changes": _jsonable(changes.to_pylist())}
    if combinations:
        parameters["combinations"] = combinations
    step = StepRecord.create(
        "reconcile", list(inputs) or distinct(observations, "lineage"), parameters
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
        SELECT o.*, c.code AS old, c.successor AS new, c.share, c.since, c.kind,
               count(*) OVER (PARTITION BY c.code, o.indicator, o.period{b}) AS n_succ,
               coalesce(m.method, 'none') AS method
        FROM obs o JOIN ch c ON o.territory = c.code LEFT JOIN m ON m.id = o.indicator
        """  # noqa: S608 (identifiers are checked names; data goes in as tables)
    )
    parts: list[FindingPart] = []
    parts += _report(
        (0,),
        con,
        "new IS NULL",
        "no-successor",
        Severity.WARNING,
        "rows of territories suppressed without a successor are left out",
    )
    parts += _report(
        (1,),
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
    parts += _report(
        (2,),
        con,
        "share IS NOT NULL AND method <> 'sum'",
        "cannot-reconcile",
        Severity.WARNING,
        "rates or values split by shares cannot be apportioned",
        table="ok",
    )
    # For a period before an incorporation the successor's own row is one more part: it is
    # added to the parts of every key where an absorbed predecessor has a row.
    keys_sql = ["indicator", "new", "period", *breakdowns]
    on_own = " AND ".join(
        ["o.indicator = a.indicator", "o.territory = a.new", "o.period = a.period"]
        + [f"o.{x} = a.{x}" for x in breakdowns]
    )
    con.sql(
        f"""
        CREATE TEMP TABLE absorbing AS
        SELECT DISTINCT {", ".join(keys_sql)} FROM ok
        WHERE kind = '{INCORPORATION}' AND since IS NOT NULL AND period_start < since
          AND share IS NULL
        """  # noqa: S608 (identifiers are checked names; data goes in as tables)
    )
    con.sql(
        f"""
        CREATE TEMP TABLE parts AS
        SELECT {", ".join(["indicator", "new", "period", *breakdowns])}, period_start, value,
               unit, obs_status, conf_status, source, share, method, old, FALSE AS own
        FROM ok WHERE NOT (share IS NOT NULL AND method <> 'sum')
        UNION ALL
        SELECT o.indicator, o.territory, o.period{"".join(f", o.{x}" for x in breakdowns)},
               o.period_start, o.value, o.unit, o.obs_status, o.conf_status, o.source,
               NULL, coalesce(m.method, 'none'), o.territory, TRUE
        FROM obs o SEMI JOIN absorbing a ON {on_own} LEFT JOIN m ON m.id = o.indicator
        """  # noqa: S608 (identifiers are checked names; data goes in as tables)
    )
    # Parts expected under each successor and period: the predecessors the table has for
    # the indicator that still stood apart then (all of them for an undated change), plus
    # the successor itself before an incorporation.
    grouped = query(
        con,
        f"""
            WITH g AS (
                SELECT indicator, new AS territory, period{b}, min(period_start) AS period_start,
                       {ordered_sum_sql("value * coalesce(share, 1)")} AS value,
                       min(unit) AS unit,
                       {status_sql("obs_status")} AS obs_status,
                       CASE WHEN bool_or(conf_status <> 'F') THEN max(conf_status)
                            ELSE 'F' END AS conf_status,
                       CAST(NULL AS VARCHAR) AS flags,
                       -- min, not any_value: parts from two sources name one, every build
                       min(source) AS source,
                       count(DISTINCT old) AS n_parts, min(method) AS method,
                       bool_or(own) AS combined
                FROM parts GROUP BY indicator, new, period{b}),
            olds AS (SELECT DISTINCT indicator, new, old, since, kind FROM ok)
            SELECT g.*,
                   (SELECT count(DISTINCT e.old) FROM olds e
                    WHERE e.indicator = g.indicator AND e.new = g.territory
                      AND (e.since IS NULL OR g.period_start < e.since))
                   + (EXISTS (SELECT 1 FROM olds e
                              WHERE e.indicator = g.indicator AND e.new = g.territory
                                AND e.kind = '{INCORPORATION}' AND g.period_start < e.since)
                      -- a successor made by a merger or a code change did not exist yet
                      AND NOT EXISTS (SELECT 1 FROM olds e
                              WHERE e.indicator = g.indicator AND e.new = g.territory
                                AND e.kind <> '{INCORPORATION}' AND g.period_start < e.since)
                     )::INT AS n_expected,
                   NOT g.combined AND EXISTS (
                       SELECT 1 FROM obs o WHERE o.indicator = g.indicator
                       AND o.territory = g.territory AND o.period = g.period
                       {"".join(f" AND o.{x} = g.{x}" for x in breakdowns)}) AS has_own
            FROM g
            """,  # noqa: S608 (identifiers are checked names; data goes in as tables)
    )
    has_own = grouped.column("has_own")
    partial = pc.and_(pc.invert(has_own), pc.less(grouped["n_parts"], grouped["n_expected"]))
    merged = pc.greater(grouped["n_parts"], 1)
    is_sum = pc.equal(grouped["method"], "sum")
    is_formula = pc.equal(grouped["method"], "formula")
    parts += _group_parts(
        (3,),
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
    parts += _group_parts(
        (4,),
        grouped,
        lost,
        "cannot-reconcile",
        "merged values of non-aggregable indicators are left out",
        "publish the indicator for the new territory or aggregate it",
    )
    parts += _combined_finding(
        (5,), grouped, pc.and_(grouped["combined"], pc.or_(direct, rederive))
    )
    moved_rows = grouped.filter(direct)
    moved_rows = moved_rows.append_column(
        "lineage", pa.array([step.id] * moved_rows.num_rows, pa.string())
    )
    # The successor's own rows that became parts give way to the combination (or, where
    # none can be made, to nothing: they describe only part of the territory).
    on_abs = " AND ".join(
        ["a.indicator = o.indicator", "a.new = o.territory", "a.period = o.period"]
        + [f"a.{x} = o.{x}" for x in breakdowns]
    )
    kept = query(
        con,
        f"""SELECT * FROM obs o WHERE territory NOT IN (SELECT code FROM ch)
            AND NOT EXISTS (SELECT 1 FROM absorbing a WHERE {on_abs})""",  # noqa: S608 (identifiers are checked names; data goes in as tables)
    )
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
        parts += _missing_rates((6,), wanted, chosen)
        table = pa.concat_tables([table, to_canonical(chosen, breakdowns)])
    return Derived(table, combine(parts), step, parts=parts)


def combination_of(parameters: Mapping[str, Any], territory: str) -> dict[str, str]:
    """What a reconcile step (its ``parameters``) put together under ``territory``: the
    member codes and how, as short texts for ``explain``."""
    for item in parameters.get("combinations", ()):
        if item.get("successor") == territory:
            return {
                "members": ",".join(item["members"]),
                "method": "successor and absorbed comuni combined for periods before "
                f"{item['before']} (counts summed, rates re-derived)",
            }
    olds = sorted(
        str(c["code"]) for c in parameters.get("changes", ()) if c.get("successor") == territory
    )
    if not olds:
        return {}
    return {"members": ",".join(olds), "method": "values of the old codes under their successor"}


def _combinations(changes: pa.Table) -> list[dict[str, Any]]:
    """Each incorporation's successor, the codes combined into it and the change date."""
    members: dict[tuple[str, str], set[str]] = {}
    for row in changes.to_pylist():
        if row["kind"] == INCORPORATION and row["successor"] and row["since"] is not None:
            key = (row["successor"], row["since"].isoformat())
            members.setdefault(key, {row["successor"]}).add(row["code"])
    return [
        {"successor": successor, "members": sorted(codes), "before": since}
        for (successor, since), codes in sorted(members.items())
    ]


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {k: (v.isoformat() if isinstance(v, date) else v) for k, v in row.items()} for row in rows
    ]


def _missing_rates(slot: tuple[int, ...], wanted: pa.Table, chosen: pa.Table) -> list[FindingPart]:
    """Merged rates that could not be re-derived, counted per indicator."""

    def counts(table: pa.Table) -> dict[str, int]:
        per = (
            plain(table.select(["indicator"]))
            .group_by("indicator")
            .aggregate([("indicator", "count")])
        )
        return dict(
            zip(per["indicator"].to_pylist(), per["indicator_count"].to_pylist(), strict=True)
        )

    template = (
        f"{COUNT} merged rates have no numerator and denominator to be re-derived from; left out"
    )

    def part(indicator: str | None, n: int) -> FindingPart:
        finding = Finding(
            code="cannot-reconcile",
            severity=Severity.WARNING,
            message=template.replace(COUNT, str(n)),
            count=n,
            hint="harmonize the rate's operands too",
        )
        return FindingPart(slot, "sum", finding, indicator, (), template)

    total = wanted.num_rows - chosen.num_rows
    asked, made = counts(wanted), counts(chosen)
    missing = {i: n - made.get(i, 0) for i, n in asked.items() if n != made.get(i, 0)}
    if not total and not missing:
        return []
    if total and all(n > 0 for n in missing.values()) and sum(missing.values()) == total:
        return [part(i, missing[i]) for i in sorted(missing)]
    # Not a sum of per-indicator counts (a rate given twice): a part of no indicator,
    # which a rebuild does not split (it derives everything again); nothing when none.
    if total:
        return [part(None, total)]
    return [FindingPart(slot, "item", part(None, 0).finding, None, cap=0)]


def _combined_finding(
    slot: tuple[int, ...], table: pa.Table, mask: pa.ChunkedArray
) -> list[FindingPart]:
    if not pc.any(mask).as_py():
        return []
    combined = plain(table.filter(mask).select(["indicator", "territory", "period"]))
    template = (
        f"{COUNT} values of {MEMBERS} municipalities dated before an "
        "incorporation combine the successor's own value with its absorbed "
        "predecessors' (counts summed, rates re-derived)"
    )

    def members(indicator: str) -> tuple[str, ...]:
        mine = combined.filter(pc.equal(combined["indicator"], indicator))
        return tuple(sorted({str(t) for t in mine["territory"].to_pylist()}))

    return sum_parts(
        combined,
        slot,
        code="reconciled",
        severity=Severity.INFO,
        template=template,
        hint="explain a value to see the members of its combination",
        members=members,
    )


def _report(
    slot: tuple[int, ...],
    con: Any,
    where: str,
    code: str,
    severity: Severity,
    message: str,
    hint: str | None = None,
    table: str = "moved",
) -> list[FindingPart]:
    """Per indicator: the count, the least old code and period (summed again: the count of
    all, the least code, indicator and period of all, each on its own)."""
    rows = con.sql(
        f"SELECT indicator, count(*), min(old), min(period) FROM {table} WHERE {where} "  # noqa: S608 (identifiers are checked names; data goes in as tables)
        "GROUP BY indicator ORDER BY indicator"
    ).fetchall()
    template = f"{COUNT} {message}"
    return [
        FindingPart(
            slot,
            "least",
            Finding(
                code=code,
                severity=severity,
                message=template.replace(COUNT, str(n)),
                territory=old,
                indicator=indicator,
                period=period,
                count=n,
                hint=hint,
            ),
            str(indicator),
            template=template,
        )
        for indicator, n, old, period in rows
    ]


def _group_finding(
    table: pa.Table, mask: pa.ChunkedArray, code: str, message: str, hint: str
) -> list[Finding]:
    """The finding of the rows ``mask`` flags: their count and smallest key."""
    return combine(_group_parts((0,), table, mask, code, message, hint))


def _group_parts(
    slot: tuple[int, ...],
    table: pa.Table,
    mask: pa.ChunkedArray,
    code: str,
    message: str,
    hint: str,
) -> list[FindingPart]:
    """:func:`_group_finding` per indicator."""
    if not pc.any(mask).as_py():
        return []
    # The smallest key, not DuckDB's first row: two builds name the same example.
    flagged = plain(table.filter(mask).select(["indicator", "territory", "period"]))
    return sum_parts(
        flagged,
        slot,
        code=code,
        severity=Severity.WARNING,
        template=f"{COUNT} {message}",
        hint=hint,
    )
