"""The in-memory layout of a build: every source's table, derive, analyze and store in memory.

The default. Derive and analyze are reused when nothing they read changed
(:mod:`welfare_observatory.build.reuse`); otherwise derive runs again, the analyses only for
the indicators whose rows changed, and the store links unchanged domains' partition files.
The other layout, out of core
(:mod:`~welfare_observatory.build.strategies.out_of_core_build`), keeps the tables on disk
between the stages; the orchestrator runs both the same way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from welfare_observatory.build.strategies.base import Executor
from welfare_observatory.build.strategies.layout import Stored
from welfare_observatory.lineage import LineageGraph

if TYPE_CHECKING:
    import pyarrow as pa

    from welfare_observatory.build.environment import BuildEnvironment
    from welfare_observatory.build.sources import BuildContext, SourceOutput

__all__ = ["InMemory"]


class InMemory:
    """Sources run together on the executor; their tables stay in memory."""

    def open(self, kb_root: Path) -> None:
        return None

    def close(self) -> None:
        return None

    def run_sources(
        self, runner: Executor, context: BuildContext, source_ids: Sequence[str]
    ) -> list[SourceOutput]:
        import dataclasses

        from welfare_observatory.build.strategies.base import LocalExecutor
        from welfare_observatory.build.validate import check_sources, run_and_check

        # A reused source's rows stay in its step until derive needs them (in this process:
        # a remote executor's workers send the tables).
        lazy = dataclasses.replace(context, lazy_steps=True)
        if (
            context.defer_checks
            and len(source_ids) > 1
            and type(runner).run_sources is LocalExecutor.run_sources
            and usable_cores() > 1
        ):
            # Sources run in this thread, in order: each chunk of them is checked on
            # another core while the next ones run (on one core the two would only take
            # turns, and pay for it; so would a chunk of few rows, checked here at once).
            return run_and_check(source_ids, lazy)
        outputs = runner.run_sources(lazy, source_ids)
        if not context.defer_checks:
            return outputs
        with context.timed("validate"):
            return check_sources(outputs, context)

    def derive_and_store(
        self,
        runner: Executor,
        kb_root: Path,
        env: BuildEnvironment,
        context: BuildContext,
        outputs: Sequence[SourceOutput],
    ) -> Stored:
        from welfare_observatory.build.analyze import analyze_stage
        from welfare_observatory.build.derive import (
            derive_by_groups,
            in_group_order,
        )
        from welfare_observatory.build.reuse import (
            Derived,
            EarlyAnalysed,
            PartitionLinks,
            analysis_key,
            analyze_incrementally,
            derived_fingerprints,
            derived_key,
            forget_early,
            load_derived,
            load_grouped,
            previous_partitions,
            record_stamps,
            record_written,
            save_derived,
            stage_rows,
        )
        from welfare_observatory.build.store import store_stage
        from welfare_observatory.derive._common import release_database
        from welfare_observatory.store.edition import disk_errors

        say = context.say
        findings = [f for o in outputs for f in o.findings]
        steps = [s for o in outputs for s in o.steps]
        environment = env.fingerprint()
        key = derived_key(
            env,
            source_steps=[s.id for o in outputs if o.data is not None for s in o.steps],
            environment=environment,
        )
        reused = None if context.refresh else load_derived(context.steps_dir, key)
        prints: dict[str, str] | None = None
        a_key: str | None = None
        saving: ThreadPoolExecutor | None = None
        saved: Future[dict[str, tuple[str, list[int] | None]] | None] | None = None
        if reused is None:
            with context.timed("derive"):
                say("deriving rates and aggregates")
                # The last analyses are checked on another core while derive runs.
                early = None if context.refresh else EarlyAnalysed(context.steps_dir)
                # Only the indicator groups whose sources changed since the last result.
                # A reused source's table is a SavedTable, read only when its group is derived.
                # In source id order, not the order observatory.yaml lists them in: a sum
                # of floats depends on the order of its terms, and the edition must not
                # depend on the order of the configuration's entries (nor may a rebuild
                # after a reordering keep sums made in the other order).
                derive_out = derive_by_groups(
                    [
                        (tuple(s.id for s in o.steps), o.data)
                        for o in sorted(outputs, key=lambda o: o.report.id)
                        if o.data is not None and o.num_rows
                    ],
                    env,
                    None if context.refresh else load_grouped(context.steps_dir),
                    environment,
                )
            _release_tables(outputs)
            # Scattered rows are put in group order (the saved result's) now, when the build
            # holds least: saving reordered a copy of them during the store, its peak.
            with context.timed("derive"):
                grouped = in_group_order(derive_out)
                reordered = grouped.observations is not derive_out.observations
                derive_out = grouped
                if reordered:
                    import pyarrow as pa

                    pa.default_memory_pool().release_unused()  # the rows as derive gave them
            # A rebuild's rows (in group order, most files linked from the last result) are
            # saved on another core while analyze runs, their analyses after it; a whole
            # derive's are saved after analyze (about 0.07 s CPU: it slowed analyze more
            # than it saved the store). Waited for before the store's record is added.
            saving = ThreadPoolExecutor(1)
            staged = None
            if derive_out.runs is not None:
                staged = saving.submit(stage_rows, context.steps_dir, key, derive_out)
            # The rows' worker is waited for if analyze fails: nothing writes into the
            # saved results once the build has returned (and released the writer lock).
            try:
                with context.timed("analyze"):
                    say("analysing: trends, progress, benchmarks, composites, early warnings")
                    observations = derive_out.observations
                    if observations.num_rows >= _LARGE:
                        # Nothing asks DuckDB anything after derive: its memory is given
                        # back before analyze peaks (a small build keeps it, for the ms a
                        # new one costs to open).
                        release_database()
                    # Indicators whose rows did not change keep their analyses of the last build.
                    # Which did is told by the fingerprints (saved for the next build in any
                    # case): only the rows derive did not take unchanged from the last result
                    # are hashed.
                    a_key = analysis_key(env, observations, environment)
                    if early is not None and early.expects(a_key):
                        # Needed at once when the saved analyses pass their check: hashed here
                        # while the check may still run (a helper would only be waited for).
                        prints = derived_fingerprints(derive_out)
                    previous = None if early is None else early.get(a_key)
                    again = None
                    if previous is not None:
                        if prints is None:
                            prints = derived_fingerprints(derive_out)
                        again = analyze_incrementally(
                            observations,
                            env,
                            prints,
                            previous,
                            taken=derive_out.known_prints or (),
                            rest=derive_out.unknown_rows,
                        )
                    if again is None:
                        # Every row analysed: hashed (when not yet) on another core meanwhile.
                        with ThreadPoolExecutor(1) as pool:
                            hashing = (
                                pool.submit(derived_fingerprints, derive_out)
                                if prints is None
                                else None
                            )
                            analyses, analysis_findings = analyze_stage(observations, env)
                            if hashing is not None:
                                prints = hashing.result()
                    else:
                        analyses, analysis_findings = again
                    forget_early()
            except BaseException:
                saving.shutdown(wait=True)
                raise
            # Written on another core while the store writes the edition (Parquet writing
            # releases the GIL), after the rows (one worker: in order).
            derived = Derived(derive_out, analyses, analysis_findings)
            saved = saving.submit(
                lambda: save_derived(
                    context.steps_dir,
                    key,
                    derived,
                    fingerprints=prints,
                    analysis_key=a_key,
                    rows=staged.result() if staged is not None else None,
                )
            )
        else:
            say("derive and analyze: nothing they read has changed, results reused")
            _release_tables(outputs)
            derive_out, analyses, analysis_findings = (
                reused.derive,
                reused.analyses,
                reused.analysis_findings,
            )
            prints = reused.fingerprints
        observations = derive_out.observations
        findings += derive_out.findings
        steps += derive_out.steps
        findings += analysis_findings
        graph = LineageGraph()
        for step in steps:
            if step.id not in graph:
                graph.add(step)
        try:
            with context.timed("store"):
                say(f"writing edition {env.config.edition}")
                edition = env.config.edition
                links = None
                if prints is not None:
                    if a_key is None:
                        a_key = analysis_key(env, observations, environment)
                    earlier = previous_partitions(context.steps_dir, kb_root, edition)
                    links = PartitionLinks(
                        observations.schema, prints, environment, earlier, analysis_key=a_key
                    )
                build_id = store_stage(
                    kb_root,
                    env,
                    observations=observations,
                    graph=graph,
                    findings=findings,
                    analyses=analyses,
                    sources={o.report.id: (o.report, o.payloads) for o in outputs},
                    versions=context.versions,
                    selection=[i.id for i in env.selection],
                    coverage=derive_out.coverage,
                    links=links,
                    analysis_links=links,
                    environment=environment,
                )
        finally:
            if saving is not None:
                saving.shutdown(wait=True)
        with context.timed("store"):
            if saved is not None:
                with disk_errors(context.steps_dir, "derived results"):
                    files = saved.result()
                if files is not None:
                    # Now that nothing writes into it: the next build trusts what is untouched.
                    record_stamps(context.steps_dir, key, files)
            if links is not None:
                with disk_errors(context.steps_dir, "derived results"):
                    record_written(
                        context.steps_dir, key, edition=edition, build=build_id, files=links.files
                    )
        return Stored(
            build=build_id,
            observations=observations.num_rows,
            built=_built(observations, prints),
            findings=findings,
            derived_reused=reused is not None,
            derived_computed=reused is None,
        )


def usable_cores() -> int:
    """The CPUs this process may run on (its affinity where the system says, else all)."""
    import os

    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


_LARGE = 100_000
"""Derived rows from which the build gives DuckDB's memory back once derive is done."""


def _built(observations: pa.Table, prints: Mapping[str, str] | None = None) -> set[str]:
    """The indicators with a row: named by the fingerprints (no pass over the rows) when
    their row counts add up to the table's, else read from the rows."""
    from welfare_observatory.build.sources import distinct

    if prints is not None:
        with contextlib.suppress(ValueError, IndexError):
            if sum(int(p.rsplit(":", 3)[1]) for p in prints.values()) == observations.num_rows:
                return set(prints)
    return set(distinct(observations, "indicator")) if observations.num_rows else set()


def _release_tables(outputs: Sequence[SourceOutput]) -> None:
    """The sources' tables are dropped once derived: derive's output holds what analyze and
    store read, and the sources' rows (about 20 MiB of a build's peak for 800,000 rows)
    are given back before they run (see :meth:`Layout.derive_and_store`)."""
    import pyarrow as pa

    for output in outputs:
        # A step found damaged when derive read it was made again: its report says so.
        output.settle()
        output.table = None
    pa.default_memory_pool().release_unused()
