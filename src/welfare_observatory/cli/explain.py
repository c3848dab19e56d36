"""``welfare-observatory explain``: trace one stored value back to its data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from welfare_observatory.cli._output import json_option, print_json


@click.command()
@click.argument("indicator")
@click.argument("territory")
@click.argument("period")
@click.option("--kb", "kb_path", type=click.Path(path_type=Path), default=Path("kb"))
@click.option("--edition", default=None)
@json_option
def explain(
    indicator: str, territory: str, period: str, kb_path: Path, edition: str | None, as_json: bool
) -> None:
    """Show how one published value was made, step by step down to the raw payload."""
    from welfare_observatory.store import KnowledgeBase

    base = KnowledgeBase.open(kb_path)
    rows = base.observations(
        indicator=indicator, territory=territory, period=period, edition=edition
    )
    if rows.empty:
        from welfare_observatory.errors import UnknownIdError

        raise UnknownIdError(
            f"{indicator} {territory} {period}",
            message=f"no value for {indicator} in {territory} for {period}",
            hint="check the codes, or list what exists with 'welfare-observatory kb query' "
            "on the observations view",
        )
    graph = base.lineage_graph(edition)
    chains: list[dict[str, Any]] = []
    for row in rows.itertuples():  # one row per breakdown combination of this value
        lineage = str(row.lineage)
        chains.append(
            {
                "value": None if row.value is None else float(str(row.value)),
                "unit": str(row.unit),
                "obs_status": str(row.obs_status),
                "source": str(row.source),
                "steps": [s.model_dump(mode="json") for s in graph.chain(lineage)],
                "raw": graph.raw_inputs(lineage),
            }
        )
    if as_json:
        print_json(chains)
        return
    for chain in chains:
        click.echo(
            f"{indicator} {territory} {period} = {chain['value']} {chain['unit']} "
            f"(status {chain['obs_status']}, source {chain['source']})"
        )
        steps: list[dict[str, Any]] = chain["steps"]
        for depth, step in enumerate(steps):
            params = step.get("parameters", {})
            detail = ", ".join(f"{k}={params[k]}" for k in list(params)[:3] if k != "rule")
            click.echo(f"{'  ' * (depth + 1)}<- {step['kind']} {step['id']} {detail}")
        for raw in chain["raw"]:
            click.echo(f"{'  ' * (len(steps) + 1)}<- raw payload {raw}")
