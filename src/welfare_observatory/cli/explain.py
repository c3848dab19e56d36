"""``welfare-observatory explain``: trace one stored value back to its data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from welfare_observatory.cli._output import json_option, kb_option, print_json
from welfare_observatory.cli._territory import territory_code

if TYPE_CHECKING:
    from welfare_observatory.lineage import StepNode
    from welfare_observatory.store.explain import ValueNode


def _where(values: tuple[str, ...], sex: str | None) -> dict[str, str]:
    chosen: dict[str, str] = {}
    for item in values:
        column, sep, value = item.partition("=")
        if not sep or not column or not value:
            raise click.BadParameter(
                f"expected column=value (e.g. age=Y_GE65), got {item!r}", param_hint="--where"
            )
        chosen[column.strip()] = value.strip()
    if sex is not None:
        chosen["sex"] = sex
    return chosen


@click.command()
@click.argument("indicator", required=False)
@click.argument("territory", required=False)
@click.argument("period", required=False)
@click.option("--indicator", "indicator_opt", default=None, help="Indicator id (or 1st argument).")
@click.option(
    "--territory",
    "territory_opt",
    default=None,
    help="Territory, code or name: 096023 or Cossato (or 2nd argument).",
)
@click.option("--period", "period_opt", default=None, help="Period, e.g. 2023 (or 3rd argument).")
@kb_option
@click.option("--edition", default=None, help="Edition to read (default: the latest).")
@click.option("--sex", default=None, help="Breakdown by sex: M, F or _T (default: the total).")
@click.option(
    "--where",
    "where",
    multiple=True,
    metavar="COLUMN=VALUE",
    help="Pick a breakdown, e.g. --where age=Y_GE65 (repeatable; default: totals).",
)
@json_option
def explain(
    indicator: str | None,
    territory: str | None,
    period: str | None,
    indicator_opt: str | None,
    territory_opt: str | None,
    period_opt: str | None,
    kb_path: Path,
    edition: str | None,
    sex: str | None,
    where: tuple[str, ...],
    as_json: bool,
) -> None:
    """Show how one stored value was made: its step, operands and inputs, down to the raw
    payload. Breakdowns default to the total; a year matches a stock dated in that year.

    INDICATOR TERRITORY PERIOD, as arguments or as --indicator, --territory and --period
    (as ``analyze`` takes them); the territory by code or by name."""
    from welfare_observatory.store import KnowledgeBase

    indicator = _one("indicator", indicator, indicator_opt)
    territory = territory_code(_one("territory", territory, territory_opt))
    period = _one("period", period, period_opt)
    from welfare_observatory.store.explain import explain_value

    base = KnowledgeBase.open(kb_path)
    result = explain_value(
        base, indicator, territory, period, edition=edition, where=_where(where, sex)
    )
    if as_json:
        print_json(result)
        return
    if result.value.period != result.requested_period:
        click.echo(f"(period {result.requested_period} read as {result.value.period})")
    for line in _value_lines(result.value, 0):
        click.echo(line)
    if result.other_breakdowns:
        others = "; ".join(
            ", ".join(f"{k}={v}" for k, v in combo.items()) for combo in result.other_breakdowns
        )
        click.echo(f"other breakdowns: {others} (pick one with --sex or --where column=value)")


def _one(name: str, argument: str | None, option: str | None) -> str:
    """The value given as argument or as --NAME (both only when they agree)."""
    if argument is not None and option is not None and argument != option:
        raise click.UsageError(f"the {name} is given twice: {argument!r} and --{name} {option!r}")
    value = argument if argument is not None else option
    if value is None:
        raise click.UsageError(f"missing the {name}: explain INDICATOR TERRITORY PERIOD")
    return value


def _number(value: float | None) -> str:
    if value is None:
        return "missing"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.2f}"


def _value_lines(node: ValueNode, depth: int) -> list[str]:
    pad = "  " * depth
    label = f" [{node.label}]" if node.label else ""
    role = f"{node.role}: " if node.role else ""
    head = (
        f"{pad}{role}{node.indicator} {node.territory} {node.period}{label} = "
        f"{_number(node.value)} {node.unit} (status {node.obs_status}, source {node.source})"
    )
    lines = [head]
    if node.formula and len(node.operands) == 2:
        num, den = node.operands
        scale = " * " + node.formula.rsplit(" * ", 1)[1] if " * " in node.formula else ""
        lines.append(
            f"{pad}  = {num.indicator} {_number(num.value)} / {den.indicator} "
            f"{_number(den.value)}{scale}"
        )
    if node.members is not None:
        lines.append(f"{pad}  = sum of {node.members} member territories")
    lines.extend(_step_lines(node.step, depth + 1))
    for operand in node.operands:
        lines.extend(_value_lines(operand, depth + 1))
    return lines


def _step_lines(step: StepNode, depth: int) -> list[str]:
    pad = "  " * depth
    where = f" ({step.source})" if step.source else ""
    # The rule is long and the source is already named: both stay in --json.
    shown = {k: v for k, v in step.parameters.items() if k != "rule"}
    if step.source is not None and shown.get("source") == step.source:
        del shown["source"]
    detail = ", ".join(f"{k}={v}" for k, v in shown.items())
    lines = [f"{pad}<- {step.kind} {step.id}{where} {detail}".rstrip()]
    for child in step.inputs:
        lines.extend(_step_lines(child, depth + 1))
    lines.extend(f"{pad}  <- raw payload {raw}" for raw in step.raw)
    return lines
