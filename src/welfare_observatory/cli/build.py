"""``welfare-observatory build`` and ``explain``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from welfare_observatory.cli._output import json_option, print_json
from welfare_observatory.cli._process import collect_again, long_lived


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
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Print the full tables: every source, finding and indicator not built.",
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
    verbose: bool,
    as_json: bool,
) -> None:
    """Build OBSERVATORY (a folder with observatory.yaml, or an installed package name).

    Runs fetch, parse, harmonize, validate, derive, analyze and store, and ends with a
    short summary (counts, failures, where the edition is); --verbose prints the full build
    report, --json all of it for scripts. A failing source is reported and does not stop
    the others; the exit code is 1 when any source failed.
    """
    from welfare_observatory.build.strategies import executor_for
    from welfare_observatory.observatory import load_observatory

    loaded = load_observatory(observatory)
    with long_lived(until_collect_again=True):
        result = _run_build(
            loaded,
            executor=executor_for(executor, scheduler=scheduler),
            memory_budget=memory_budget,
            as_json=as_json,
            out=out,
            offline=offline,
            only=only or None,
            refresh=refresh,
            cache_dir=cache_dir,
            source_timeout=source_timeout or None,
        )
    if as_json:
        print_json(result.report)
    elif verbose:
        result.report.render()
    else:
        for line in summary_lines(result.report, observatory=observatory, out=out):
            click.echo(line)
    if not result.report.ok:
        raise SystemExit(1)


def _run_build(
    loaded: Any,
    *,
    executor: Any,
    memory_budget: str | None,
    as_json: bool,
    **options: Any,
) -> Any:
    run: Any = loaded.build
    if memory_budget is not None:
        from functools import partial

        from welfare_observatory.build.strategies.out_of_core_build import build_out_of_core

        run = partial(build_out_of_core, loaded, memory_budget=memory_budget)
    # The console script's start-up goes on through the build's load stage: what it makes
    # (catalogue, territories, plugins, checks) lives as long as the build, so it is frozen
    # with the modules, out of every later collection (:mod:`._process`).
    options.update(executor=executor, on_loaded=_end_start_up)
    if as_json:
        return run(**options)
    from rich.console import Console

    with Console(stderr=True).status(f"building {loaded.id}", spinner="dots") as status:

        def progress(line: str) -> None:
            status.update(f"{loaded.id}: {line}")

        return run(progress=progress, **options)


def _end_start_up(_env: object) -> None:
    """The build's end-of-load hook: the console script's start-up is over."""
    collect_again()


ERRORS_SHOWN = 5
"""Error findings the short summary lists (all of them are in --verbose and --json)."""


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def summary_lines(report: Any, *, observatory: str, out: Path) -> list[str]:
    """The build's short summary: what was built, what failed and why, where it is, and
    what to run next. Plain lines, ids never cut (no table to fit)."""
    from collections import Counter

    statuses = Counter(s.status for s in report.sources)
    counts = report.finding_counts()
    lines = [
        f"{report.observatory}: edition {report.edition} (build {report.build}) "
        f"in {report.knowledge_base}",
        "sources: "
        + ", ".join(f"{statuses.get(s, 0)} {s}" for s in ("ok", "reused", "failed", "skipped")),
        f"indicators built: {len(report.built)} of {report.selected} selected; "
        + _count(report.observations, "observation", "observations"),
    ]
    if report.skipped:
        causes = Counter(item.cause for item in report.skipped)
        by_cause = ", ".join(f"{n} {cause}" for cause, n in sorted(causes.items()))
        lines.append(f"not built: {len(report.skipped)} ({by_cause})")
    lines.append(
        "findings: "
        + ", ".join(
            (
                _count(counts.get("error", 0), "error", "errors"),
                _count(counts.get("warning", 0), "warning", "warnings"),
                f"{counts.get('info', 0)} info",
            )
        )
    )
    for source in report.sources:
        if source.status == "failed":
            lines.append(f"FAILED {source.id}: {source.error or source.reason or 'no message'}")
    errors = [f for f in report.findings if f.severity.value == "error"]
    for finding in errors[:ERRORS_SHOWN]:
        where = " ".join(
            str(v)
            for v in (finding.source, finding.indicator, finding.territory, finding.period)
            if v
        )
        lines.append(f"error {finding.code} {where}: {finding.message}")
    if len(errors) > ERRORS_SHOWN:
        lines.append(f"... and {len(errors) - ERRORS_SHOWN} more errors")
    kb = "" if out == Path("kb") else f" --kb {out}"
    lines.append(f"next: welfare-observatory report --out site{kb} --observatory {observatory}")
    lines.append("full tables: --verbose; everything for scripts: --json")
    return lines
