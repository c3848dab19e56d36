"""An edition built out of core: the build for input larger than memory.

The same stages as :func:`welfare_observatory.build.orchestrator.build`, with the data on disk
between them instead of in memory:

1. each source runs fetch, parse, harmonize and validate (the pipeline's own
   ``run_source``, through the executor) and its canonical table is written to a Parquet
   file and dropped: one source table is in memory at a time;
2. DuckDB unifies the sources' breakdown columns and sorts the rows by indicator into one
   file, spilling to disk past its memory limit;
3. the indicators are split into partitions (each reads its own indicators and their
   formulas' operands); ``derive_stage`` and ``analyze_stage`` run on each partition, on
   the executor (one after the other locally, in parallel on Dask workers);
4. :mod:`welfare_observatory.store.partitioned` writes the edition from the partition
   files: the same layout, manifest, lineage and atomic publish as an in-memory build.

The observations equal those of an in-memory build of the same input, row for row, lineage
ids included, and so does the build id: each partition records the derive steps of the
whole build (:class:`~welfare_observatory.build.derive.DeriveScope`).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from welfare_observatory.build.strategies.base import Executor
from welfare_observatory.build.strategies.layout import WORK_PREFIX, Stored
from welfare_observatory.build.strategies.out_of_core import (
    OutOfCoreResult,
    PartitionTask,
    _combined,
    _connect,
    _quoted,
    derive_partition,
    partitions,
    scope_of,
    sort_by_indicator,
)
from welfare_observatory.build.strategies.partition_analyses import (
    composites,
    partition_findings,
    ranked_warnings,
)
from welfare_observatory.build.strategies.tasks import loader_name
from welfare_observatory.errors import ConfigError
from welfare_observatory.lineage import LineageGraph
from welfare_observatory.model.observation import BASE_COLUMNS, TOTAL

if TYPE_CHECKING:
    import pyarrow as pa

    from welfare_observatory.build.environment import BuildEnvironment, Loader, ObservatoryLike
    from welfare_observatory.build.orchestrator import BuildResult, Loaded, Progress
    from welfare_observatory.build.sources import BuildContext, SourceOutput
    from welfare_observatory.build.validate import FindingsCache

__all__ = ["OutOfCore", "build_out_of_core", "parse_size"]

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_size(text: str) -> int:
    """Bytes in a size such as ``2GiB``, ``512MB`` or ``1000000`` (GiB = 2^30, GB = 10^9)."""
    import re

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise ConfigError(
            f"{text!r} is not a memory size",
            hint="write it as a number and a unit: 2GiB, 512MiB, 4GB",
        )
    return int(float(match.group(1)) * _UNITS[unit])


def build_out_of_core(
    observatory: ObservatoryLike,
    *,
    out: str | Path = "kb",
    memory_budget: str | int = "2GiB",
    offline: bool = False,
    only: Sequence[str] | None = None,
    refresh: bool = False,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
    executor: Executor | str | None = None,
    indicators_per_partition: int = 2,
    work_dir: str | Path | None = None,
    loader: Loader | None = None,
    source_timeout: float | None = 1800.0,
    on_loaded: Loaded | None = None,
) -> BuildResult:
    """Build the observatory's edition into ``out`` a partition at a time.

    ``memory_budget`` (bytes or ``"2GiB"``) bounds what the build asks for: DuckDB gets a
    third of it for sorting (past that it spills to ``work_dir``), the rest is for one
    partition's ``derive_stage`` (about 15 times the Arrow size of what the partition
    reads) and the interpreter. ``indicators_per_partition`` is the knob when a partition
    is too large. ``work_dir`` (default: a folder under ``out``) holds the intermediate
    files and is removed at the end; Dask workers must see it at the same path.
    Other options as :func:`welfare_observatory.build.orchestrator.build`, which this
    calls with the out-of-core layout.
    """
    from welfare_observatory.build.orchestrator import build

    return build(
        observatory,
        out=out,
        offline=offline,
        only=only,
        refresh=refresh,
        cache_dir=cache_dir,
        progress=progress,
        executor=executor,
        loader=loader,
        source_timeout=source_timeout,
        layout=OutOfCore(memory_budget, indicators_per_partition, work_dir),
        on_loaded=on_loaded,
    )


class OutOfCore:
    """Sources one at a time to Parquet files, derive and analyze per partition, a
    partitioned store: the layout for input larger than memory."""

    def __init__(
        self,
        memory_budget: str | int = "2GiB",
        indicators_per_partition: int = 2,
        work_dir: str | Path | None = None,
    ) -> None:
        budget = memory_budget if isinstance(memory_budget, int) else parse_size(memory_budget)
        if budget < 256 * 2**20:
            raise ConfigError(
                f"a memory budget of {budget:,} bytes is below what the library itself needs",
                hint="give at least 256MiB; 1GiB or more is realistic (the interpreter, the "
                "territory registry and the catalogue alone take 350-450 MiB)",
            )
        if indicators_per_partition < 1:
            raise ConfigError("indicators_per_partition must be at least 1")
        self.budget = budget
        self.per_partition = indicators_per_partition
        self.work_dir = work_dir
        self._work: Path | None = None
        self._files: dict[str, Path] = {}
        """Each source's table on disk, by source id."""

    @property
    def work(self) -> Path:
        if self._work is None:
            raise RuntimeError("the out-of-core layout is not open")
        return self._work

    def open(self, kb_root: Path) -> None:
        kb_root.mkdir(parents=True, exist_ok=True)
        parent = self.work_dir or kb_root
        self._work = Path(tempfile.mkdtemp(dir=parent, prefix=WORK_PREFIX)).resolve()
        self._files = {}

    def close(self) -> None:
        if self._work is not None:
            shutil.rmtree(self._work, ignore_errors=True)
            self._work = None

    def run_sources(
        self, runner: Executor, context: BuildContext, source_ids: Sequence[str]
    ) -> list[SourceOutput]:
        """One source at a time: its table goes to a file and leaves memory."""
        from welfare_observatory.build.validate import FindingsCache

        checks = FindingsCache(context)  # every source's findings, saved once
        outputs = []
        for source_id in source_ids:
            output, file = _source_to_file(runner, context, source_id, self.work, checks)
            outputs.append(output)
            if file is not None:
                self._files[source_id] = file
        if context.defer_checks:
            checks.save()
        return outputs

    def derive_and_store(
        self,
        runner: Executor,
        kb_root: Path,
        env: BuildEnvironment,
        context: BuildContext,
        outputs: Sequence[SourceOutput],
    ) -> Stored:
        with context.timed("derive"):
            context.say("deriving rates and aggregates, a partition at a time")
            # In source id order, as in memory: sums of floats depend on their terms' order,
            # and the edition must not depend on the order of observatory.yaml's entries.
            files = [self._files[source_id] for source_id in sorted(self._files)]
            derived = _derive(runner, env, files, self.work, self.budget, self.per_partition)
        context.say(f"writing edition {env.config.edition}")
        return _store(env, kb_root, context, outputs, derived, self.work, self.budget)


def _duckdb_limit(budget: int) -> str:
    return f"{max(budget // 3 // 2**20, 64)}MiB"


def _source_to_file(
    runner: Executor,
    context: BuildContext,
    source_id: str,
    work: Path,
    checks: FindingsCache | None = None,
) -> tuple[SourceOutput, Path | None]:
    """Run one source; its table goes to ``work/sources`` and leaves memory."""
    import dataclasses

    import pyarrow.parquet as pq

    from welfare_observatory.build.validate import check_sources

    (output,) = runner.run_sources(context, [source_id])
    if context.defer_checks:
        with context.timed("validate"):
            (output,) = check_sources([output], context, cache=checks)
    if output.table is None or output.table.num_rows == 0:
        return output, None
    file = work / "sources" / f"{len(list(work.glob('sources/*.parquet'))):05d}.parquet"
    file.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(output.table, file)
    # An empty table with the schema stands for the rows now on disk (reports count it).
    return dataclasses.replace(output, data=output.table.slice(0, 0)), file


def _derive(
    runner: Executor,
    env: BuildEnvironment,
    files: Sequence[Path],
    work: Path,
    budget: int,
    per_partition: int,
) -> OutOfCoreResult:
    """Sort the sources' rows by indicator (DuckDB, spilling), then derive and analyse
    each partition with the executor."""
    import pyarrow.parquet as pq

    if not files:
        return OutOfCoreResult(files=(), rows=0)
    names = {n for f in files for n in pq.read_schema(f).names}
    breakdowns = sorted(names - set(BASE_COLUMNS) - {"domain"})
    columns = [f'"{n}"' for n in BASE_COLUMNS if n in names]
    # A source without a breakdown column means its total (as ``unify_breakdowns`` does).
    columns += [f'coalesce("{b}", \'{TOTAL}\') AS "{b}"' for b in breakdowns]
    listing = "[" + ", ".join(_quoted(str(f)) for f in files) + "]"
    sorted_input = work / "sorted.parquet"
    spill = work / "spill"
    limit = _duckdb_limit(budget)
    con = _connect(limit, spill, 2)
    try:
        present = sort_by_indicator(con, columns, listing, sorted_input)
        scope = scope_of(con, sorted_input)
    finally:
        con.close()
    for file in files:
        file.unlink()
    indicators = dict(env.indicators)
    # Every formula indicator, so that each partition holds the operands of any rate it
    # owns; derive_with_coverage then computes only the selection's rates, as in memory.
    targets = [i for i, indicator in indicators.items() if indicator.formula is not None]
    split = partitions(present, indicators, per_partition, targets=targets)
    tasks = [
        PartitionTask(
            observatory=str(Path(env.folder).resolve()),
            loader=loader_name(env.loader),
            sorted_input=str(sorted_input),
            owned=owned,
            needed=needed,
            out=str(work / "parts" / f"part-{k:05d}.parquet"),
            memory_limit=limit,
            temp_directory=str(spill),
            threads=1,
            analyses=str(work / "analyses"),
            scope=scope,
        )
        for k, (owned, needed) in enumerate(split)
    ]
    (work / "parts").mkdir(parents=True, exist_ok=True)
    results = runner.map(derive_partition, tasks, names=[f"derive-{t.owned[0]}" for t in tasks])
    return _combined(results)


def _store(
    env: BuildEnvironment,
    kb_root: Path,
    context: BuildContext,
    outputs: Sequence[SourceOutput],
    derived: OutOfCoreResult,
    work: Path,
    budget: int,
) -> Stored:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from welfare_observatory.build.store import coverage_table, findings_table
    from welfare_observatory.store.partitioned import build_manifest, write_partitioned_build

    config = env.config
    selection = env.selection
    analyses: dict[str, pa.Table | list[Path]] = {
        folder.name: sorted(folder.glob("*.parquet"))
        for folder in sorted((work / "analyses").glob("*"))
        if folder.is_dir()
    }
    findings = [f for o in outputs for f in o.findings]
    findings += partition_findings(derived.findings, set(analyses))
    warnings = analyses.pop("early_warnings", [])
    if isinstance(warnings, list) and warnings:
        analyses["early_warnings"] = ranked_warnings(warnings)
    coverage = [pq.read_table(f) for f in analyses.pop("coverage", [])]
    coverage = [t for t in coverage if t.num_rows] or coverage[:1]
    analyses["coverage"] = coverage_table(
        pa.concat_tables(coverage, promote_options="permissive") if coverage else None
    )
    parts = [Path(f) for f in derived.files]
    composite = composites(env, parts, work, _duckdb_limit(budget), findings)
    if composite is not None:
        analyses["composite"] = composite
    graph = LineageGraph()
    for step in [*(s for o in outputs for s in o.steps), *derived.steps]:
        if step.id not in graph:
            graph.add(step)
    manifest = build_manifest(
        config,
        graph=graph,
        overrides=sum(f.count for f in findings if f.code == "override-applied"),
        sources={o.report.id: (o.report, o.payloads) for o in outputs},
        versions=context.versions,
        selection=[i.id for i in selection],
        disclosure=env.disclosure,
        inputs=env.edition_inputs(),
    )
    with context.timed("store"):
        write_partitioned_build(
            kb_root,
            manifest,
            observation_files=parts,
            lineage=graph.to_arrow(),
            findings=findings_table(findings),
            analyses=analyses,
            memory_limit=_duckdb_limit(budget),
            temp_directory=work / "spill",
        )
    return Stored(
        build=manifest.build,
        observations=derived.rows,
        built=_built(parts, work, budget),
        findings=findings,
    )


def _built(parts: Sequence[Path], work: Path, budget: int) -> set[str]:
    """Indicators with rows in the edition."""
    if not parts:
        return set()
    listing = "[" + ", ".join(_quoted(str(f)) for f in parts) + "]"
    con = _connect(_duckdb_limit(budget), work / "spill", 2)
    try:
        query = f"SELECT DISTINCT CAST(indicator AS VARCHAR) FROM read_parquet({listing})"  # noqa: S608
        return {str(row[0]) for row in con.execute(query).fetchall()}
    finally:
        con.close()
