"""``welfare-observatory build`` and ``explain``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from welfare_observatory.cli._output import json_option, print_json


@click.command()
@click.argument("observatory", default=".")
@click.option("--offline", is_flag=True, help="Never touch the network; use cached payloads.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("kb"),
    show_default=True,
    help="Folder of the knowledge base the edition is written to.",
)
@click.option("--only", multiple=True, help="Build only this source (repeatable).")
@click.option("--refresh", is_flag=True, help="Fetch again even what is cached.")
@click.option("--cache", "cache_dir", type=click.Path(path_type=Path), default=None)
@click.option(
    "--executor",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="Run the sources here (local) or on a Dask cluster (dask).",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="Dask scheduler address (tcp://host:8786); without it dask starts a local cluster.",
)
@json_option
def build(
    observatory: str,
    offline: bool,
    out: Path,
    only: tuple[str, ...],
    refresh: bool,
    cache_dir: Path | None,
    executor: str,
    scheduler: str | None,
    as_json: bool,
) -> None:
    """Build OBSERVATORY (a folder with observatory.yaml, or an installed package name).

    Runs fetch, parse, harmonize, validate, derive, analyze and store, and ends with a
    build report. A failing source is reported and does not stop the others; the exit code
    is 1 when any source failed.
    """
    from rich.console import Console

    from welfare_observatory.executors import executor_for
    from welfare_observatory.observatory import load_observatory

    loaded = load_observatory(observatory)
    runner = executor_for(executor, scheduler=scheduler)
    console = Console(stderr=True)
    if as_json:
        result = loaded.build(
            out=out,
            offline=offline,
            only=only or None,
            refresh=refresh,
            cache_dir=cache_dir,
            executor=runner,
        )
    else:
        with console.status(f"building {loaded.id}", spinner="dots") as status:

            def progress(line: str) -> None:
                status.update(f"{loaded.id}: {line}")

            result = loaded.build(
                out=out,
                offline=offline,
                only=only or None,
                refresh=refresh,
                cache_dir=cache_dir,
                progress=progress,
                executor=runner,
            )
    if as_json:
        print_json(result.report.model_dump(mode="json"))
    else:
        result.report.render()
    if not result.report.ok:
        raise SystemExit(1)


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
