"""The derive stage, a pure function over Arrow tables.

``derive_stage`` (overrides, reconciliation, rates, aggregates); analyze follows in
``build.analyze`` and store in ``build.store``. The orchestrator calls them in order;
another strategy can call them per partition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from welfare_observatory._arrow import distinct as _distinct
from welfare_observatory._arrow import plain
from welfare_observatory.errors import WelfareObservatoryError
from welfare_observatory.lineage import StepRecord
from welfare_observatory.model.common import Frozen
from welfare_observatory.model.finding import Finding, Severity
from welfare_observatory.model.observation import (
    BASE_COLUMNS,
    unify_breakdowns,
)

if TYPE_CHECKING:
    from pathlib import Path

    import pyarrow as pa

    from welfare_observatory.build.environment import BuildEnvironment
    from welfare_observatory.config import TerritorySettings
    from welfare_observatory.model import Indicator

__all__ = [
    "DeriveOutput",
    "DeriveScope",
    "derive_stage",
    "derive_with_coverage",
    "plain",
    "unify_breakdowns",
]

_LEVEL_ORDER = ("district", "province", "region", "nuts1", "country")


@dataclass(frozen=True)
class DeriveOutput:
    """What the derive stage produces: observations, findings, lineage steps, coverage."""

    observations: pa.Table
    findings: list[Finding]
    steps: list[StepRecord]
    coverage: pa.Table | None = None
    """Per aggregate: indicator, territory, period, breakdowns, members, reported, coverage."""


class DeriveScope(Frozen):
    """Build-wide facts the derive steps are recorded from: the lineage ids, territories and
    indicators of the build's whole canonical input.

    The derive steps' ids (and so the ``lineage`` of derived rows and the build id) are made
    of these rather than of the rows at hand, so a partition of an out-of-core build records
    exactly the steps of the whole build in memory.
    """

    inputs: tuple[str, ...]
    territories: tuple[str, ...]
    indicators: tuple[str, ...]

    @classmethod
    def of(cls, table: pa.Table) -> DeriveScope:
        return cls(
            inputs=tuple(_distinct(table, "lineage")),
            territories=tuple(_distinct(table, "territory")),
            indicators=tuple(_distinct(table, "indicator")),
        )

    @property
    def municipal(self) -> bool:
        """True when the input has municipal rows (codes of six digits): derive aggregates."""
        return any(len(t) == 6 for t in self.territories)


def derive_stage(
    tables: Sequence[pa.Table], env: BuildEnvironment, scope: DeriveScope | None = None
) -> tuple[pa.Table, list[Finding], list[StepRecord]]:
    """:func:`derive_with_coverage` without the coverage table (for per-partition runs)."""
    out = derive_with_coverage(tables, env, scope)
    return out.observations, out.findings, out.steps


def derive_with_coverage(
    tables: Sequence[pa.Table], env: BuildEnvironment, scope: DeriveScope | None = None
) -> DeriveOutput:
    """Reconcile codes to the reference date, apply overrides, derive rates and aggregates
    (districts, the levels up to the observatory's territory, declared groupings); keep the
    selected indicators and the operands their formulas need.

    ``scope`` describes the whole build when ``tables`` are one partition of it (default:
    ``tables`` are the whole build)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from welfare_observatory.derive import aggregate, code_changes, derive_rates, reconcile
    from welfare_observatory.derive._common import on_values
    from welfare_observatory.derive.releases import resolve_releases, source_ranks
    from welfare_observatory.derive.reliability import mark_low_reliability

    indicators, selection, reference = env.indicators, env.selection, env.reference

    findings: list[Finding] = []
    steps: list[StepRecord] = []
    coverage: pa.Table | None = None
    observed = unify_breakdowns(tables)
    if observed.num_rows == 0:
        return DeriveOutput(_with_domain(observed, indicators), findings, steps)
    resolved = resolve_releases(observed, source_ranks(env.config, env.folder))
    observed, findings = resolved.table, findings + resolved.findings

    reg = env.territories
    scope = scope or DeriveScope.of(observed)
    # Each derive step reads the build's input and every step before it.
    before = list(scope.inputs)
    changes = code_changes(list(scope.territories), reference, reg)
    if changes.num_rows:
        result = reconcile(observed, changes, indicators, inputs=before)
        observed, findings, steps = _merge(result, findings, steps)
        before += [result.step.id] if result.step is not None else []

    observed, override_step, n_overrides = _apply_overrides(observed, env.overrides, indicators)
    if override_step is not None:
        steps.append(override_step)
        before.append(override_step.id)

    hierarchy, levels = _hierarchy(env.config.territory, reg, reference)
    if levels and scope.municipal:
        six = on_values(observed.column("territory"), lambda v: pc.equal(pc.utf8_length(v), 6))
        municipal = observed.filter(six)
        # Run on a partition without municipal rows too: the step is the build's, the same
        # in every partition; its rows are none.
        aggregated = aggregate(
            municipal, indicators, hierarchy, levels=levels, inputs=before, published=observed
        )
        findings += aggregated.findings
        if aggregated.step is not None:
            steps.append(aggregated.step)
            before.append(aggregated.step.id)
        if municipal.num_rows:
            coverage = aggregated.coverage
            observed = _union_published_first(observed, aggregated.table)

    # Only the rates the edition keeps: the selection and the operands it needs (a rate
    # nobody selected would only add findings about data nobody asked for).
    wanted = {i.id for i in selection}
    for indicator in selection:
        if indicator.formula is not None:
            wanted |= {indicator.formula.numerator, indicator.formula.denominator}
    rates = derive_rates(
        observed,
        indicators,
        targets=sorted(w for w in wanted if w in indicators),
        inputs=before,
        present={*scope.indicators, *_distinct(observed, "indicator")},
    )
    findings += rates.findings
    if rates.step is not None:
        steps.append(rates.step)
    observed = _union_published_first(observed, rates.table)

    kept = pa.array(sorted(wanted), pa.string())
    keep = on_values(observed.column("indicator"), lambda v: pc.is_in(v, value_set=kept))
    # Usually every row is kept: no copy of the table then.
    if not pc.all(keep, skip_nulls=False).as_py():
        observed = observed.filter(keep)
    marked = mark_low_reliability(observed, indicators, env.config.reliability)
    observed, findings = marked.table, findings + marked.findings
    if n_overrides:
        findings.append(
            Finding(
                code="override-applied",
                severity=Severity.INFO,
                message=f"{n_overrides} values corrected by hand (see overrides file)",
                count=n_overrides,
            )
        )
    return DeriveOutput(_with_domain(observed, indicators), findings, steps, coverage)


def _merge(
    result: Any, findings: list[Finding], steps: list[StepRecord]
) -> tuple[pa.Table, list[Finding], list[StepRecord]]:
    if result.step is not None:
        steps = [*steps, result.step]
    return unify_breakdowns([result.table]), [*findings, *result.findings], steps


def _hierarchy(
    settings: TerritorySettings, reg: Any, reference: date
) -> tuple[pa.Table, list[str]]:
    """The hierarchy on ``reference`` with the declared groupings, and the levels to sum.

    Levels run from districts (when ``territory.districts`` is on; only municipalities
    whose district is known take part) up to the observatory's own territory, plus one
    level per declared grouping. Comparison territories (region, Italy) come from published
    sources: summing the observatory's municipalities up to Italy would be a partial total.
    """
    from welfare_observatory.derive import with_groupings

    levels = _levels_up_to(settings.code, reg)
    if settings.districts is False:
        levels = [level for level in levels if level != "district"]
    if isinstance(settings.districts, dict):
        hierarchy = reg.hierarchy(reference, districts=settings.districts)
    else:
        hierarchy = reg.hierarchy(reference)
    members = {name: _in_force(codes, reg, reference) for name, codes in settings.groupings.items()}
    hierarchy, grouping_levels = with_groupings(hierarchy, members)
    return hierarchy, levels + grouping_levels


def _in_force(codes: Sequence[str], reg: Any, reference: date) -> list[str]:
    """Grouping members as codes in force on ``reference`` (a merged member becomes the
    municipality it merged into). A handful of configured codes, not data rows."""
    out: list[str] = []
    for code in codes:
        try:
            out += reg.successors(code, reference)
        except WelfareObservatoryError:
            continue  # refused at load; a config built in code may still carry one
    return out


def _levels_up_to(code: str, reg: Any) -> list[str]:
    """Registry levels from districts up to the observatory's own territory ``code`` (only
    districts when the territory is a grouping: it sits beside the hierarchy)."""
    if code.startswith(("grouping:", "district:")):
        return ["district"]
    try:
        level = str(reg.get(code).level)
    except WelfareObservatoryError:
        return []
    if level not in _LEVEL_ORDER:
        return []
    return list(_LEVEL_ORDER[: _LEVEL_ORDER.index(level) + 1])


def _union_published_first(published: pa.Table, derived: pa.Table) -> pa.Table:
    """``published`` plus the rows of ``derived`` whose key is not published."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from welfare_observatory.derive._common import connect

    if derived.num_rows == 0:
        return published
    both = unify_breakdowns([published, derived])
    keys = ["indicator", "territory", "period", *_breakdowns(both)]
    published_u = both.slice(0, published.num_rows)
    derived_u = both.slice(published.num_rows)
    con = connect()
    try:
        # Keys only, and row numbers of the derived rows: the fresh rows are taken in their
        # order, whatever order the join gives.
        con.register("p", plain(published_u.select(keys)))
        con.register(
            "d",
            plain(derived_u.select(keys)).append_column(
                "_row", pa.array(range(derived_u.num_rows), pa.int64())
            ),
        )
        on = " AND ".join(f'd."{k}" = p."{k}"' for k in keys)
        rows = con.sql(f"SELECT d._row FROM d ANTI JOIN p ON {on}").to_arrow_table()  # noqa: S608
    finally:
        con.close()
    found = rows.column("_row")
    fresh = derived_u.take(pc.take(found, pc.sort_indices(found)))
    return unify_breakdowns([published, fresh])


def _breakdowns(table: pa.Table) -> list[str]:
    return [c for c in table.column_names if c not in BASE_COLUMNS and c != "domain"]


def _apply_overrides(
    observed: pa.Table, path: Path | None, indicators: Mapping[str, Indicator]
) -> tuple[pa.Table, StepRecord | None, int]:
    """Replace values the analyst corrected by hand (the overrides file at ``path``); each
    override keeps its reason."""
    from welfare_observatory.derive.overrides import corrections

    if path is None:
        return observed, None, 0
    table, step, count = corrections(path, indicators, _breakdowns(observed))
    # Corrections win over what the sources said: they are the "published" side here.
    merged = _union_published_first(unify_breakdowns([table]), observed)
    return merged, step, count


def _with_domain(table: pa.Table, indicators: Mapping[str, Indicator]) -> pa.Table:
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = list(indicators)
    domains = pa.array([str(indicators[i].domain) for i in ids], pa.string())
    from welfare_observatory.derive._common import on_values

    known = pa.array(ids, pa.string())
    index = on_values(table.column("indicator"), lambda v: pc.index_in(v, value_set=known))
    domain = pc.fill_null(pc.take(domains, index), "other")
    return table.append_column("domain", domain)
