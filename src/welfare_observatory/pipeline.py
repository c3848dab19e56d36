"""The build: fetch -> parse -> harmonize -> validate -> derive -> analyze -> store.

Each source runs fetch, parse, harmonize and validate on its own, on the chosen executor
(:mod:`welfare_observatory.source_stage`); a failing source is reported and the others go
on. Derive and analyze then run over all of them (reused when nothing they read changed,
:mod:`welfare_observatory.stage_reuse`) and the edition is stored. Everything after
``fetch`` is a pure function of Arrow tables and configuration.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from welfare_observatory.build_report import BuildReport, why_skipped
from welfare_observatory.lineage import LineageGraph
from welfare_observatory.source_stage import (
    declared_indicators,
    distinct,
    new_context,
    skipped_source,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from welfare_observatory.executors import Executor
    from welfare_observatory.observatory import Observatory

__all__ = ["BuildResult", "build"]

Progress = Callable[[str], None]


@dataclass
class BuildResult:
    """What a build returns: the report and where the edition is."""

    report: BuildReport
    knowledge_base: Path

    @property
    def edition(self) -> str:
        return self.report.edition


def build(
    observatory: Observatory,
    *,
    out: str | Path = "kb",  # observatory.DEFAULT_KB: relative to the working directory
    offline: bool = False,
    only: Sequence[str] | None = None,
    refresh: bool = False,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
    executor: Executor | str | None = None,
) -> BuildResult:
    """Build the observatory's edition into the knowledge base folder ``out``.

    ``offline`` never touches the network (sources whose payloads are not cached are
    skipped, with the reason); ``only`` limits the build to these source ids (the others
    are reported as skipped); ``refresh`` fetches again even what is cached. ``executor``
    (``"local"``, ``"dask"`` or an :class:`~welfare_observatory.executors.Executor`) runs
    the sources; every executor gives the same edition and build id.
    """
    from welfare_observatory.executors import running

    # Absolute, so the report says where the edition went whatever the caller's cwd.
    kb_root = Path(out).resolve()
    say = progress or (lambda _line: None)
    config = observatory.config
    unknown = [s for s in (only or ()) if s not in config.sources]
    if unknown:
        from welfare_observatory.errors import UnknownIdError

        raise UnknownIdError(
            unknown[0], candidates=config.sources, message=f"no source {unknown[0]!r} to build"
        )
    say("loading catalogue, territories and plugins")
    started = time.perf_counter()
    selection = observatory.selection()
    indicators = {i.id: i for i in observatory.catalog}
    reference = config.territory.reference_date
    context = new_context(
        observatory,
        steps_dir=kb_root / ".steps",
        cache_dir=Path(cache_dir) if cache_dir else kb_root / ".cache",
        offline=offline,
        refresh=refresh,
        say=say,
    )
    context.timings["load"] = time.perf_counter() - started
    from welfare_observatory.stage_reuse import drop_leftovers

    drop_leftovers(context.steps_dir)

    runnable = [s for s, c in config.sources.items() if c.enabled and (only is None or s in only)]
    with running(executor) as runner:
        # The checks run once over every source's rows, in this process, after the sources.
        context.defer_checks = True
        ran = dict(zip(runnable, runner.run_sources(context, runnable), strict=True))
    outputs = []
    for source_id, source_config in config.sources.items():
        if not source_config.enabled:
            outputs.append(skipped_source(source_id, source_config, "disabled in observatory.yaml"))
        elif only is not None and source_id not in only:
            outputs.append(skipped_source(source_id, source_config, "not in --only"))
        else:
            outputs.append(ran[source_id])
    if context.defer_checks:
        from welfare_observatory.validate.batch import check_sources

        with context.timed("validate"):
            outputs = check_sources(outputs, context)

    from welfare_observatory.analysis_stage import analyze_stage
    from welfare_observatory.stage_reuse import (
        Derived,
        derived_key,
        load_derived,
        save_derived,
    )
    from welfare_observatory.stages import derive_with_coverage, store_stage

    tables = [o.table for o in outputs if o.table is not None and o.table.num_rows]
    findings = [f for o in outputs for f in o.findings]
    steps = [s for o in outputs for s in o.steps]
    key = derived_key(
        observatory,
        source_steps=[s.id for o in outputs if o.table is not None for s in o.steps],
        indicators=indicators,
        selection=selection,
        reference=reference,
        versions=context.versions,
    )
    reused = None if refresh else load_derived(context.steps_dir, key)
    if reused is None:
        with context.timed("derive"):
            say("deriving rates and aggregates")
            derive_out = derive_with_coverage(tables, observatory, indicators, selection, reference)
        with context.timed("analyze"):
            say("analysing: trends, progress, benchmarks, composites, early warnings")
            analyses, analysis_findings = analyze_stage(
                derive_out.observations, observatory, indicators
            )
        save_derived(context.steps_dir, key, Derived(derive_out, analyses, analysis_findings))
    else:
        say("derive and analyze: nothing they read has changed, results reused")
        derive_out, analyses, analysis_findings = (
            reused.derive,
            reused.analyses,
            reused.analysis_findings,
        )
    derived = derive_out
    observations = derived.observations
    findings += derived.findings
    steps += derived.steps
    findings += analysis_findings
    graph = LineageGraph()
    for step in steps:
        if step.id not in graph:
            graph.add(step)
    source_reports = tuple(o.report for o in outputs)
    with context.timed("store"):
        say(f"writing edition {config.edition}")
        build_id = store_stage(
            kb_root,
            observatory,
            observations=observations,
            graph=graph,
            findings=findings,
            analyses=analyses,
            sources={o.report.id: (o.report, o.payloads) for o in outputs},
            versions=context.versions,
            selection=[i.id for i in selection],
            coverage=derived.coverage,
        )
    built = _built(observations)
    report = BuildReport(
        observatory=config.id,
        edition=config.edition,
        build=build_id,
        knowledge_base=str(kb_root),
        sources=source_reports,
        timings={k: round(v, 3) for k, v in context.timings.items()},
        findings=tuple(findings),
        selected=len(selection),
        built=tuple(i.id for i in selection if i.id in built),
        skipped=why_skipped(
            selection,
            built,
            reports={o.report.id: o.report for o in outputs},
            declared={sid: declared_indicators(c) for sid, c in config.sources.items()},
            offline=offline,
            only=tuple(only) if only is not None else None,
        ),
        observations=observations.num_rows,
        reused_steps=sum(1 for o in outputs if o.reused) + (reused is not None),
        computed_steps=sum(1 for o in outputs if not o.reused and o.table is not None)
        + (reused is None),
    )
    return BuildResult(report=report, knowledge_base=kb_root)


def _built(observations: pa.Table) -> set[str]:
    return set(distinct(observations, "indicator")) if observations.num_rows else set()
