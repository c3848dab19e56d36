"""The build, the one orchestrator: fetch -> parse -> harmonize -> validate -> derive ->
analyze -> store.

The build environment is made once (:mod:`welfare_observatory.build.environment`). Each
source runs fetch, parse, harmonize and validate on its own, on the chosen executor
(:mod:`welfare_observatory.build.sources`); a failing source is reported and the others go
on. Derive and analyze then run over all of them and the edition is stored. Where the
tables live between the stages is the layout's business (in memory, or out of core:
:mod:`welfare_observatory.build.strategies`), who runs the pieces the executor's; the
control flow, the clean-up of half-written steps and the report are here, once. Everything
after ``fetch`` is a pure function of Arrow tables and the environment.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from welfare_observatory.build.environment import (
    BuildEnvironment,
    Loader,
    ObservatoryLike,
    make_environment,
)
from welfare_observatory.build.fetch_note import FetchNote
from welfare_observatory.build.report import BuildReport, why_skipped
from welfare_observatory.build.sources import (
    declared_indicators,
    load_step_stamps,
    new_context,
    skipped_source,
)
from welfare_observatory.store.lock import holds_writer_lock

if TYPE_CHECKING:
    from welfare_observatory.build.strategies.base import Executor
    from welfare_observatory.build.strategies.layout import Layout

__all__ = ["DEFAULT_SOURCE_TIMEOUT", "BuildResult", "build"]

Progress = Callable[[str], None]
Loaded = Callable[[BuildEnvironment], object]
"""Called once the load stage is over (:func:`build`'s ``on_loaded``)."""

DEFAULT_SOURCE_TIMEOUT = 1800.0
"""Seconds one source may take (fetch to validate) before it is stopped and reported."""

STAGE_MODULES: tuple[str, ...] = (
    "pyarrow",
    "pyarrow.compute",
    "pyarrow.parquet",
    "pyarrow.acero",  # group_by's engine: the checks and derive group rows in every build
    "welfare_observatory.catalog",
    "welfare_observatory.harmonize.codes",
    "welfare_observatory.territory.tables",
    "welfare_observatory.validate.builtin",
    "welfare_observatory.build.strategies.base",
    "welfare_observatory.build.strategies.in_memory",
    "welfare_observatory.build.strategies.layout",
    "welfare_observatory.build.sources",
    "welfare_observatory.harmonize.engine",
    "welfare_observatory.sources.cache",
    "welfare_observatory.sources.notes",
    "welfare_observatory.build.validate",
    "welfare_observatory.build.derive",
    "welfare_observatory.derive",
    "welfare_observatory.derive.aggregation",
    "welfare_observatory.derive.formulas",
    "welfare_observatory.derive.groupings",
    "welfare_observatory.derive.overrides",
    "welfare_observatory.derive.reconciliation",
    "welfare_observatory.derive.releases",
    "welfare_observatory.derive.reliability",
    "welfare_observatory.build.reuse",
    "welfare_observatory._row_digests",  # every build's fingerprints (reuse imports it late)
    "welfare_observatory.build.strategies.partition_analyses",  # a rebuild's analyses
    "welfare_observatory.build.analyze",
    "welfare_observatory.analyze",
    "welfare_observatory.build.store",
    "welfare_observatory.store.edition",
    "welfare_observatory.store.partitioned",
)
"""What every build runs, imported (with what each imports at module level) in the timed
``imports`` step before ``load``: the stage timers then measure work, not the first import
of the library's own stages. Engines a stage imports only inside the function that needs
them (DuckDB, pint, a source type's reader, sdmx1) stay in that stage's time."""


def import_stages() -> float:
    """Import :data:`STAGE_MODULES`; the seconds it took (nearly 0 once imported)."""
    started = time.perf_counter()
    for name in STAGE_MODULES:
        importlib.import_module(name)
    return time.perf_counter() - started


@dataclass
class BuildResult:
    """What a build returns: the report and where the edition is."""

    report: BuildReport
    knowledge_base: Path

    @property
    def edition(self) -> str:
        return self.report.edition


@holds_writer_lock("out")  # one writer per knowledge base, from leftovers to pointer
def build(
    observatory: ObservatoryLike,
    *,
    out: str | Path = "kb",  # observatory.DEFAULT_KB: relative to the working directory
    offline: bool = False,
    only: Sequence[str] | None = None,
    refresh: bool = False,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
    executor: Executor | str | None = None,
    loader: Loader | None = None,
    source_timeout: float | None = DEFAULT_SOURCE_TIMEOUT,
    layout: Layout | None = None,
    on_loaded: Loaded | None = None,
) -> BuildResult:
    """Build the observatory's edition into the knowledge base folder ``out``.

    ``offline`` never touches the network (sources whose payloads are not cached are
    skipped, with the reason); ``only`` limits the build to these source ids (the others
    are reported as skipped); ``refresh`` fetches again even what is cached. ``executor``
    (``"local"``, ``"dask"`` or an :class:`~welfare_observatory.build.strategies.Executor`) runs
    the sources; every executor gives the same edition and build id. ``loader`` loads the
    observatory from its folder on a remote worker (``load_observatory``).
    ``source_timeout`` (seconds, None for none) stops a source that takes longer: it is
    reported as failed and the others go on. ``layout`` is where the tables live between
    the stages: in memory (the default) or
    :class:`~welfare_observatory.build.strategies.out_of_core_build.OutOfCore`.
    ``on_loaded`` is called with the build environment when the load stage is over
    (catalogue, territories, plugins, checks: everything the build keeps until it ends),
    before any source runs; once per build. The environment is for reading (its type is
    internal); an exception the callback raises stops the build before any source runs
    and reaches the caller as raised.
    """
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
    imported = import_stages()
    from welfare_observatory.build.strategies.base import running
    from welfare_observatory.build.strategies.in_memory import InMemory
    from welfare_observatory.build.strategies.layout import drop_half_written

    layout = layout if layout is not None else InMemory()
    say("loading catalogue, territories and plugins")
    started = time.perf_counter()
    env = make_environment(observatory, loader=loader)
    context = new_context(
        env,
        steps_dir=kb_root / ".steps",
        cache_dir=Path(cache_dir) if cache_dir else kb_root / ".cache",
        offline=offline,
        refresh=refresh,
        say=say,
        timeout=source_timeout,
    )
    # Reported apart from the stages (``build --json``): start-up, not a stage's work.
    context.timings["imports"] = imported
    context.timings["load"] = time.perf_counter() - started
    if on_loaded is not None:
        on_loaded(env)
    # The checks run once over every source's rows (build.validate), not inside each source.
    context.defer_checks = True
    drop_half_written(kb_root)
    from welfare_observatory.build.reuse import check_saved_early, forget_saved

    forget_saved()
    if not refresh and isinstance(layout, InMemory):
        # The last saved result is checked on an idle core while the sources run.
        check_saved_early(kb_root / ".steps")

    runnable = [s for s, c in config.sources.items() if c.enabled and (only is None or s in only)]
    context.fetched = FetchNote.load(
        kb_root / ".steps", versions=context.versions, base=os.path.realpath(env.folder)
    )
    context.step_stamps = load_step_stamps(kb_root / ".steps", refresh=refresh)
    layout.open(kb_root)
    try:
        with running(executor) as runner:
            ran = dict(zip(runnable, layout.run_sources(runner, context, runnable), strict=True))
            with contextlib.suppress(OSError):  # a cache: unwritten, the next build fetches
                context.fetched.save(keep=config.sources)
            with contextlib.suppress(OSError):  # unwritten, the next build hashes the steps
                context.step_stamps.save()
            outputs = []
            for source_id, source_config in config.sources.items():
                if not source_config.enabled:
                    reason = "disabled in observatory.yaml"
                    outputs.append(skipped_source(source_id, source_config, reason))
                elif only is not None and source_id not in only:
                    outputs.append(skipped_source(source_id, source_config, "not in --only"))
                else:
                    outputs.append(ran[source_id])
            del ran
            # Counted first: the layout takes the sources' tables (it may drop them).
            computed = sum(1 for o in outputs if not o.reused and o.table is not None)
            stored = layout.derive_and_store(runner, kb_root, env, context, outputs)
    finally:
        layout.close()
        forget_saved()
    # What ran after load under no stage's timer (a source's step key and the reading of a
    # reused step, the wait for the last step writes, the work between stages) is reported
    # too, so that the entries after ``imports`` add up to the build's wall time.
    timed = sum(seconds for step, seconds in context.timings.items() if step != "imports")
    context.timings["other"] = max(0.0, time.perf_counter() - started - timed)
    selection = env.selection
    report = BuildReport(
        observatory=config.id,
        edition=config.edition,
        build=stored.build,
        knowledge_base=str(kb_root),
        sources=tuple(o.report for o in outputs),
        timings={k: round(v, 3) for k, v in context.timings.items()},
        findings=tuple(stored.findings),
        selected=len(selection),
        built=tuple(i.id for i in selection if i.id in stored.built),
        skipped=why_skipped(
            selection,
            stored.built,
            reports={o.report.id: o.report for o in outputs},
            declared={sid: declared_indicators(c) for sid, c in config.sources.items()},
            offline=offline,
            only=tuple(only) if only is not None else None,
        ),
        observations=stored.observations,
        reused_steps=sum(1 for o in outputs if o.reused) + stored.derived_reused,
        computed_steps=computed + stored.derived_computed,
    )
    return BuildResult(report=report, knowledge_base=kb_root)
