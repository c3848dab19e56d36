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
    help="Folder of the knowledge base the edition is written to (relative to the current "
    "directory).",
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
@click.option(
    "--memory-budget",
    default=None,
    metavar="SIZE",
    help="Build out of core within SIZE (e.g. 2GiB): partitions on disk, DuckDB spills.",
)
@click.option(
    "--source-timeout",
    type=click.FloatRange(min=0),
    default=1800.0,
    show_default=True,
    metavar="SECONDS",
    help="Stop a source that takes longer (it is reported as failed; 0: no limit).",
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
    memory_budget: str | None,
    source_timeout: float,
    as_json: bool,
) -> None:
    """Build OBSERVATORY (a folder with observatory.yaml, or an installed package name).

    Runs fetch, parse, harmonize, validate, derive, analyze and store, and ends with a
    build report. A failing source is reported and does not stop the others; the exit code
    is 1 when any source failed.
    """
    from rich.console import Console

    from welfare_observatory.build.strategies import executor_for
    from welfare_observatory.observatory import load_observatory

    loaded = load_observatory(observatory)
    runner = executor_for(executor, scheduler=scheduler)
    run: Any = loaded.build
    if memory_budget is not None:
        from functools import partial

        from welfare_observatory.build.strategies.out_of_core_build import build_out_of_core

        run = partial(build_out_of_core, loaded, memory_budget=memory_budget)
    console = Console(stderr=True)
    if as_json:
        result = run(
            out=out,
            offline=offline,
            only=only or None,
            refresh=refresh,
            cache_dir=cache_dir,
            executor=runner,
            source_timeout=source_timeout or None,
        )
    else:
        with console.status(f"building {loaded.id}", spinner="dots") as status:

            def progress(line: str) -> None:
                status.update(f"{loaded.id}: {line}")

            result = run(
                out=out,
                offline=offline,
                only=only or None,
                refresh=refresh,
                cache_dir=cache_dir,
                progress=progress,
                executor=runner,
                source_timeout=source_timeout or None,
            )
    if as_json:
        print_json(result.report.model_dump(mode="json"))
    else:
        result.report.render()
    if not result.report.ok:
        raise SystemExit(1)
