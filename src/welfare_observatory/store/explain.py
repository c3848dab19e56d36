"""The chain of one stored value: the step that made it, its operands and their own chains.

A derivation or an aggregation reads the whole table, so its lineage step lists every input
of the build. What explains one value is narrower: a rate's numerator and denominator at the
same territory, period and breakdowns (with their values), the member territories an
aggregate summed, and for a published value the harmonize -> parse -> fetch steps of its
source down to the raw payload. :func:`explain_value` walks exactly that.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from pydantic import Field

from welfare_observatory._arrow import decoded, distinct
from welfare_observatory.errors import UnknownIdError
from welfare_observatory.lineage import LineageGraph, StepNode, short_parameters
from welfare_observatory.model.common import Frozen
from welfare_observatory.model.observation import BASE_COLUMNS, TOTAL
from welfare_observatory.store.knowledge_base import near_periods

if TYPE_CHECKING:
    import pyarrow as pa

    from welfare_observatory.store.knowledge_base import KnowledgeBase

__all__ = ["Explanation", "ValueNode", "explain_value"]

_MAX_DEPTH = 6
"""Operands of operands are followed this deep (a rate of sums of rates is already 3)."""


class ValueNode(Frozen):
    """One observation and how it was made."""

    indicator: str
    territory: str
    period: str
    breakdowns: dict[str, str] = Field(default_factory=dict)
    value: float | None = None
    unit: str = ""
    obs_status: str = ""
    source: str = ""
    role: str | None = None
    """How the parent used it: ``numerator``, ``denominator`` or ``members``."""
    formula: str | None = None
    """For a derived or re-derived rate: ``POP_65_PLUS / POP_TOTAL * 100``."""
    members: int | None = None
    """For a sum over member territories: how many member values were added."""
    step: StepNode
    operands: tuple[ValueNode, ...] = ()

    @property
    def label(self) -> str:
        """``sex=F, age=Y65T74`` (empty without breakdowns)."""
        return ", ".join(f"{k}={v}" for k, v in self.breakdowns.items())


class Explanation(Frozen):
    """The value asked for, plus what the analyst may want to pick instead."""

    value: ValueNode
    requested_period: str
    """The period as typed; ``value.period`` differs when a year matched a dated stock."""
    other_breakdowns: tuple[dict[str, str], ...] = ()
    """The other breakdown combinations stored for the same indicator, territory, period."""


def explain_value(
    kb: KnowledgeBase,
    indicator: str,
    territory: str,
    period: str,
    *,
    edition: str | None = None,
    where: Mapping[str, str] | None = None,
) -> Explanation:
    """Explain one value; breakdowns not in ``where`` default to the total (``_T``).

    A bare year (``2022``) matches a single dated period of that year (``2022-01-01``);
    otherwise UnknownIdError names the nearest periods. Unknown indicators, territories
    and breakdown columns raise UnknownIdError with a hint.
    """
    import pyarrow.compute as pc

    rows = kb.to_arrow(indicator=indicator, territory=territory, edition=edition)
    breakdowns = _breakdown_columns(rows)
    wanted = dict(where or {})
    for column in wanted:
        if column not in breakdowns:
            raise UnknownIdError(
                column,
                candidates=breakdowns,
                message=f"{indicator} has no breakdown {column!r}",
                hint=f"breakdowns: {', '.join(breakdowns) or 'none'}",
            )
    periods = _texts(rows, "period")
    chosen = _match_period(period, periods, indicator, territory)
    rows = rows.filter(pc.equal(_plain(rows, "period"), chosen))
    combos = [{b: str(r[b]) for b in breakdowns} for r in rows.select(breakdowns).to_pylist()]
    selector = {b: wanted.get(b, TOTAL) for b in breakdowns}
    if selector not in combos:
        listing = "; ".join(_label(c) for c in combos[:8])
        raise UnknownIdError(
            _label(selector),
            message=f"no value of {indicator} in {territory} for {chosen} with {_label(selector)}",
            hint=f"stored breakdowns: {listing} (pick one with --where column=value)",
        )
    context = _Context(kb, edition, kb.lineage_graph(edition), breakdowns)
    row = rows.filter(_mask(rows, selector)).slice(0, 1).to_pylist()[0]
    node = context.node(row, role=None, depth=0)
    others = tuple(c for c in combos if c != selector)
    return Explanation(value=node, requested_period=period, other_breakdowns=others)


class _Context:
    """What the walk needs: the knowledge base, the lineage graph, formulas and members."""

    def __init__(
        self, kb: KnowledgeBase, edition: str | None, graph: LineageGraph, breakdowns: list[str]
    ) -> None:
        self.kb = kb
        self.edition = edition
        self.graph = graph
        self.breakdowns = breakdowns
        self.formulas: dict[str, dict[str, Any]] = {}
        self.align: dict[str, str] = {}
        for record in graph.to_records():
            if record["kind"] == "derive":
                for formula in record["parameters"].get("formulas", []):
                    self.formulas.setdefault(str(formula["target"]), formula)
                    self.align[str(formula["target"])] = record["parameters"].get("align", "period")
        self._hierarchy: pa.Table | None = None

    def node(self, row: Mapping[str, Any], *, role: str | None, depth: int) -> ValueNode:
        step_id = str(row["lineage"])
        record = self.graph.get(step_id)
        indicator = str(row["indicator"])
        formula = self.formulas.get(indicator)
        common: dict[str, Any] = {
            "indicator": indicator,
            "territory": str(row["territory"]),
            "period": str(row["period"]),
            "breakdowns": {b: str(row.get(b, TOTAL)) for b in self.breakdowns},
            "value": None if row["value"] is None else float(row["value"]),
            "unit": str(row["unit"]),
            "obs_status": str(row["obs_status"]),
            "source": str(row["source"]),
            "role": role,
        }
        rate = formula is not None and (
            record.kind == "derive" or indicator in record.parameters.get("formula", [])
        )
        if rate and formula is not None:
            text = _formula_text(formula)
            method = "derived" if record.kind == "derive" else "re-derived from summed parts"
            params = {"formula": text, "method": method}
            if record.kind == "aggregate":
                params["levels"] = ",".join(record.parameters.get("levels", []))
            operands = () if depth >= _MAX_DEPTH else self.operands(row, formula, depth)
            return ValueNode(
                **common,
                formula=text,
                step=StepNode(id=record.id, kind=record.kind, parameters=params),
                operands=operands,
            )
        if record.kind in ("aggregate", "reconcile"):
            members = self.members(row)
            steps = sorted({str(s) for s in members.column("lineage").to_pylist()})
            params = short_parameters(
                {k: v for k, v in record.parameters.items() if k not in ("sum", "formula")}
            )
            params["method"] = "sum of member territories"
            if record.kind == "reconcile":
                from welfare_observatory.derive.reconciliation import combination_of

                params.update(combination_of(record.parameters, str(row["territory"])))
            node = StepNode(
                id=record.id,
                kind=record.kind,
                parameters=params,
                inputs=tuple(self.graph.tree(s) for s in steps if s in self.graph),
            )
            return ValueNode(**common, members=members.num_rows, step=node)
        return ValueNode(**common, step=self.graph.tree(step_id))

    def operands(
        self, row: Mapping[str, Any], formula: Mapping[str, Any], depth: int
    ) -> tuple[ValueNode, ...]:
        import pyarrow.compute as pc

        found = []
        for role in ("numerator", "denominator"):
            operand = str(formula[role])
            try:
                table = self.kb.to_arrow(
                    indicator=operand, territory=str(row["territory"]), edition=self.edition
                )
            except UnknownIdError:
                continue  # the operand was read but not stored: nothing to show
            selector = {b: str(row.get(b, TOTAL)) for b in self.breakdowns}
            table = table.filter(_mask(table, selector))
            same = table.filter(pc.equal(_plain(table, "period"), str(row["period"])))
            if same.num_rows == 0 and self.align.get(str(row["indicator"])) == "year":
                # A flow over the stock on 1 January of the same year.
                start = row["period_start"]
                year = start.year if isinstance(start, date) else int(str(row["period"])[:4])
                same = table.filter(pc.equal(pc.year(table.column("period_start")), year))
            if same.num_rows:
                found.append(self.node(same.to_pylist()[0], role=role, depth=depth + 1))
        return tuple(found)

    def members(self, row: Mapping[str, Any]) -> pa.Table:
        """The rows an aggregate of ``row`` added: same indicator, period and breakdowns,
        at the member municipalities of its territory, made by another step."""
        import pyarrow as pa
        import pyarrow.compute as pc

        table = self.kb.to_arrow(
            indicator=str(row["indicator"]), period=str(row["period"]), edition=self.edition
        )
        selector = {b: str(row.get(b, TOTAL)) for b in self.breakdowns}
        table = table.filter(_mask(table, selector))
        table = table.filter(pc.not_equal(_plain(table, "lineage"), str(row["lineage"])))
        hierarchy = self.hierarchy()
        territory = str(row["territory"])
        inside = None
        for column in hierarchy.column_names[1:]:
            match = pc.fill_null(pc.equal(hierarchy.column(column), territory), False)
            inside = match if inside is None else pc.or_(inside, match)
        codes = hierarchy.column("municipality").filter(inside) if inside is not None else []
        return table.filter(pc.is_in(_plain(table, "territory"), value_set=pa.array(codes)))

    def hierarchy(self) -> pa.Table:
        if self._hierarchy is None:
            from welfare_observatory.territory import registry

            reference = self.kb.manifest(self.edition).reference_date
            self._hierarchy = registry().hierarchy(date.fromisoformat(reference))
        return self._hierarchy


def _formula_text(formula: Mapping[str, Any]) -> str:
    multiplier = float(formula.get("multiplier", 1.0))
    text = f"{formula['numerator']} / {formula['denominator']}"
    return text if multiplier == 1.0 else f"{text} * {multiplier:g}"


def _match_period(period: str, periods: list[str], indicator: str, territory: str) -> str:
    """``period`` itself, or the single period of that year it abbreviates."""
    if period in periods:
        return period
    if not periods:
        raise UnknownIdError(
            territory,
            message=f"the edition holds no value of {indicator} in {territory}, for any period",
            hint='list where it exists: welfare-observatory kb query "SELECT DISTINCT '
            f"territory FROM observations WHERE indicator = '{indicator}'\"",
        )
    within = [p for p in periods if p.startswith(period + "-")]
    if len(within) == 1:
        return within[0]
    near = within or near_periods(period, periods)
    raise UnknownIdError(
        period,
        message=f"no value of {indicator} in {territory} for {period}",
        hint="periods stored: " + ", ".join(near[:5]),
    )


def _breakdown_columns(table: pa.Table) -> list[str]:
    return [c for c in table.column_names if c not in BASE_COLUMNS and c != "domain"]


def _plain(table: pa.Table, column: str) -> pa.ChunkedArray:
    return decoded(table.column(column))


_texts = distinct  # welfare_observatory._arrow


def _mask(table: pa.Table, selector: Mapping[str, str]) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    mask: Any = pa.array([True] * table.num_rows, pa.bool_())
    for column, wanted in selector.items():
        if column in table.column_names:
            mask = pc.and_(mask, pc.equal(_plain(table, column), wanted))
        elif wanted != TOTAL:
            # An operand without this breakdown holds only totals.
            mask = pa.array([False] * table.num_rows, pa.bool_())
    return mask


def _label(combo: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in combo.items()) or "no breakdown"
