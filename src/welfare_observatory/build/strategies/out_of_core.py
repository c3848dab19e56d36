"""Out of core: harmonize and derive input larger than memory, a part at a time.

The in-memory build holds every source table and derives from all of them at once. For
input that does not fit, these two functions work from Parquet files instead, with the
library's own stage functions on each part:

``harmonize_out_of_core``
    reads a source file a few row groups at a time, runs ``harmonize`` on each chunk and
    writes each chunk's canonical rows to its own Parquet file (harmonize is row-wise).
``derive_out_of_core``
    lets DuckDB sort the canonical rows by indicator into one Parquet file (an external
    sort: past ``memory_limit`` it spills to ``temp_directory``), splits the indicators into
    partitions, each owning a few indicators and reading them plus the operands of their
    formulas (aggregation and rates are per indicator, so a partition is complete), and runs
    ``derive_stage`` on each partition, keeping only the rows of the indicators it owns.

What bounds memory: the largest chunk (``rows_per_chunk``) or partition (its indicators and
their operands), plus DuckDB's ``memory_limit``; never the input. Partitions go through the
executor's ``map``: one at a time locally, in parallel on Dask workers (which must then see
the files at the same paths). Values equal those of a whole-table derive; lineage steps are
per partition (a derive step's inputs and formulas are those of its partition).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from welfare_observatory.build.derive import DeriveScope
from welfare_observatory.build.environment import BuildEnvironment
from welfare_observatory.build.strategies.base import Executor, running
from welfare_observatory.build.strategies.tasks import DEFAULT_LOADER, loader_name
from welfare_observatory.errors import ConfigError
from welfare_observatory.harmonize import HarmonizeRule
from welfare_observatory.lineage import StepRecord
from welfare_observatory.model.common import Frozen
from welfare_observatory.model.finding import Finding

if TYPE_CHECKING:
    import duckdb

    from welfare_observatory.build.environment import ObservatoryLike
    from welfare_observatory.derive._parts import FindingPart
    from welfare_observatory.model import Indicator

__all__ = ["OutOfCoreResult", "derive_out_of_core", "harmonize_out_of_core", "partitions"]


class OutOfCoreResult(Frozen):
    """Parquet files written (canonical observations), rows, findings and lineage steps."""

    files: tuple[str, ...]
    rows: int
    findings: tuple[Finding, ...] = ()
    steps: tuple[StepRecord, ...] = ()
    parts: bytes | None = None
    """A partition's derive findings as the parts of the indicators it owns
    (``derive._parts.parts_to_lines``), not yet in ``findings``: combined across every
    partition they are a whole derive's findings. A formula's partition also derives its
    operands, whose parts are another partition's: its own findings would count them
    twice. None: ``findings`` holds them."""


class ChunkTask(Frozen):
    observatory: str
    loader: str = DEFAULT_LOADER
    source: str
    row_groups: tuple[int, ...]
    rules: tuple[HarmonizeRule, ...]
    source_id: str
    inputs: tuple[str, ...]
    out: str


class PartitionTask(Frozen):
    observatory: str
    loader: str = DEFAULT_LOADER
    sorted_input: str
    owned: tuple[str, ...]
    needed: tuple[str, ...]
    out: str
    memory_limit: str
    temp_directory: str
    threads: int
    analyses: str = ""
    """Folder for the partition's analyses (``<name>/<part>.parquet``); empty: none."""
    scope: DeriveScope | None = None
    """The whole build's input, which the derive steps are recorded from."""


def _folder(observatory: ObservatoryLike | BuildEnvironment | str | Path) -> str:
    folder = observatory if isinstance(observatory, str | Path) else observatory.folder
    return str(Path(folder).resolve())


def _environment(folder: str, loader: str = DEFAULT_LOADER) -> BuildEnvironment:
    """The build environment of the observatory at ``folder``, made once per process while
    its file is unchanged (loading the catalogue costs more than a small partition)."""
    stat = (Path(folder) / "observatory.yaml").stat()
    return _cached_environment(folder, loader, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2)
def _cached_environment(folder: str, loader: str, mtime_ns: int, size: int) -> BuildEnvironment:
    from welfare_observatory.build.environment import make_environment
    from welfare_observatory.build.strategies.tasks import resolve_loader

    function = resolve_loader(loader)
    return make_environment(function(folder), loader=function)


def _connect(memory_limit: str, temp_directory: Path, threads: int) -> duckdb.DuckDBPyConnection:
    """DuckDB that spills to ``temp_directory`` past ``memory_limit`` instead of failing."""
    import duckdb

    temp_directory.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(
        ":memory:",
        config={
            "memory_limit": memory_limit,
            "temp_directory": str(temp_directory),
            "threads": threads,
            # Order within a partition does not matter; not keeping it lets DuckDB stream.
            "preserve_insertion_order": False,
        },
    )


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _combined(results: Sequence[OutOfCoreResult]) -> OutOfCoreResult:
    """The parts' results as one, findings and steps without repeats (each part reports the
    same override finding; chunks of one file share their harmonize step); the partitions'
    derive parts combined first, as a whole derive combines them."""
    from welfare_observatory.derive._parts import combine, parts_from_lines

    carried = [r.parts for r in results if r.parts is not None]
    derived = combine([p for lines in carried for p in parts_from_lines(lines)])
    # Only what partitions report whole repeats; combined findings that look alike are
    # findings of their own (two conflicts differing only by a breakdown read the same).
    findings = list(derived)
    seen = {f.model_dump_json() for f in derived}
    for result in results:
        for finding in result.findings:
            text = finding.model_dump_json()
            if text not in seen:
                seen.add(text)
                findings.append(finding)
    steps = {s.id: s for r in results for s in r.steps}
    return OutOfCoreResult(
        files=tuple(f for r in results for f in r.files),
        rows=sum(r.rows for r in results),
        findings=tuple(findings),
        steps=tuple(steps[k] for k in sorted(steps)),
    )


def harmonize_out_of_core(
    source: str | Path,
    rules: Sequence[HarmonizeRule],
    observatory: ObservatoryLike | BuildEnvironment | str | Path,
    out: str | Path,
    *,
    source_id: str = "source",
    rows_per_chunk: int = 2_000_000,
    executor: Executor | str | None = None,
) -> OutOfCoreResult:
    """Harmonize a Parquet source file with ``rules``, a chunk of row groups at a time.

    Writes ``out/chunk-NNNNN.parquet`` (canonical observations). A chunk is whole row
    groups adding up to about ``rows_per_chunk`` rows.
    """
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(source).metadata
    chunks: list[list[int]] = [[]]
    rows = 0
    for index in range(meta.num_row_groups):
        if chunks[-1] and rows + meta.row_group(index).num_rows > rows_per_chunk:
            chunks.append([])
            rows = 0
        chunks[-1].append(index)
        rows += meta.row_group(index).num_rows
    root = Path(out).resolve()
    root.mkdir(parents=True, exist_ok=True)
    # Every chunk reads the same payload: one harmonize step for the file, as in a build.
    payload = f"sha256:{_file_sha256(Path(source))}"
    tasks = [
        ChunkTask(
            observatory=_folder(observatory),
            source=str(Path(source).resolve()),
            row_groups=tuple(groups),
            rules=tuple(rules),
            source_id=source_id,
            inputs=(payload,),
            out=str(root / f"chunk-{k:05d}.parquet"),
        )
        for k, groups in enumerate(chunks)
        if groups
    ]
    with running(executor) as runner:
        results = runner.map(
            harmonize_chunk, tasks, names=[f"harmonize-{k}" for k in range(len(tasks))]
        )
    return _combined(results)


def harmonize_chunk(task: ChunkTask) -> OutOfCoreResult:
    """One chunk: read its row groups, ``harmonize`` with each rule, write the rows."""
    import pyarrow.parquet as pq

    from welfare_observatory.build.derive import unify_breakdowns
    from welfare_observatory.harmonize import harmonize

    env = _environment(task.observatory, task.loader)
    table = pq.ParquetFile(task.source).read_row_groups(list(task.row_groups))
    results = [
        harmonize(
            table,
            rule,
            codes=env.codes,
            indicators=env.indicators,
            units=env.units_when_needed,
            codelists=env.codelists,
            source=task.source_id,
            inputs=task.inputs,
        )
        for rule in task.rules
    ]
    del table
    canonical = unify_breakdowns([r.table for r in results])
    pq.write_table(canonical, task.out)
    return OutOfCoreResult(
        files=(task.out,),
        rows=canonical.num_rows,
        findings=tuple(f for r in results for f in r.findings),
        steps=tuple(r.step for r in results if r.step is not None),
    )


def _file_sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def partitions(
    present: Sequence[str],
    indicators: dict[str, Indicator],
    per_partition: int = 1,
    *,
    targets: Sequence[str] = (),
) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """``(owned, needed)`` per partition: ``per_partition`` owned indicators each (those
    ``present`` and the formula ``targets`` that can be derived), and what the owned ones
    read: themselves and their formulas' operands, transitively, as far as present (an
    operand may be read by several partitions)."""
    have = set(present)
    candidates = sorted(have | {t for t in targets if _derivable(t, indicators, have)})
    owned_lists = [
        candidates[i : i + per_partition] for i in range(0, len(candidates), per_partition)
    ]
    result = []
    for owned in owned_lists:
        needed = set(owned)
        todo = list(owned)
        while todo:
            indicator = indicators.get(todo.pop())
            formula = indicator.formula if indicator is not None else None
            if formula is None:
                continue
            for operand in (formula.numerator, formula.denominator):
                if operand not in needed:
                    needed.add(operand)
                    todo.append(operand)
        result.append((tuple(owned), tuple(sorted(needed & have))))
    return result


def _derivable(target: str, indicators: dict[str, Indicator], have: set[str]) -> bool:
    """True when ``target``'s formula can be computed from ``have`` (formulas may nest)."""
    seen: set[str] = set()

    def ok(indicator_id: str) -> bool:
        if indicator_id in have:
            return True
        indicator = indicators.get(indicator_id)
        if indicator is None or indicator.formula is None or indicator_id in seen:
            return False
        seen.add(indicator_id)
        return ok(indicator.formula.numerator) and ok(indicator.formula.denominator)

    return ok(target)


def sort_by_indicator(
    con: duckdb.DuckDBPyConnection, columns: Sequence[str], listing: str, target: Path
) -> list[str]:
    """Write the rows of the Parquet files ``listing`` (a DuckDB list literal) to ``target``
    sorted by indicator, in small row groups so that a partition's read skips the others
    (DuckDB spills the sort to disk); returns the indicators present."""
    con.execute(
        f"COPY (SELECT {', '.join(columns)} FROM read_parquet({listing}, "  # noqa: S608
        f"union_by_name = true) ORDER BY indicator) TO {_quoted(str(target))} "
        "(FORMAT PARQUET, ROW_GROUP_SIZE 100000)"
    )
    found = con.execute(
        f"SELECT DISTINCT indicator FROM read_parquet({_quoted(str(target))})"  # noqa: S608
    ).fetchall()
    return [str(row[0]) for row in found]


def scope_of(con: duckdb.DuckDBPyConnection, sorted_input: Path) -> DeriveScope:
    """The :class:`DeriveScope` of the rows in ``sorted_input`` (read by DuckDB, not loaded)."""

    def distinct(column: str) -> tuple[str, ...]:
        rows = con.execute(
            f"SELECT DISTINCT CAST({column} AS VARCHAR) AS v FROM "  # noqa: S608
            f"read_parquet({_quoted(str(sorted_input))}) WHERE {column} IS NOT NULL ORDER BY v"
        ).fetchall()
        return tuple(str(row[0]) for row in rows)

    return DeriveScope(
        inputs=distinct("lineage"),
        territories=distinct("territory"),
        indicators=distinct("indicator"),
    )


def derive_out_of_core(
    inputs: Sequence[str | Path],
    observatory: ObservatoryLike | BuildEnvironment | str | Path,
    out: str | Path,
    *,
    memory_limit: str = "1GB",
    temp_directory: str | Path | None = None,
    threads: int = 2,
    indicators_per_partition: int = 1,
    executor: Executor | str | None = None,
) -> OutOfCoreResult:
    """Derive rates and aggregates from canonical Parquet ``inputs`` larger than memory.

    Writes ``out/part-NNNNN.parquet`` (canonical observations with ``domain``, the selected
    indicators and their operands, as ``derive_stage`` keeps them). ``memory_limit`` is
    DuckDB's (``"1GB"``); its spill files go to ``temp_directory`` (default ``out/.spill``).
    """
    if not inputs:
        raise ConfigError(
            "derive_out_of_core needs at least one Parquet file of canonical observations",
            hint="harmonize_out_of_core(...).files gives them",
        )
    root = Path(out).resolve()
    spill = Path(temp_directory).resolve() if temp_directory else root / ".spill"
    root.mkdir(parents=True, exist_ok=True)
    sorted_input = root / ".sorted.parquet"
    con = _connect(memory_limit, spill, threads)
    try:
        files = "[" + ", ".join(_quoted(str(Path(p).resolve())) for p in inputs) + "]"
        present = sort_by_indicator(con, ["*"], files, sorted_input)
        scope = scope_of(con, sorted_input)
    finally:
        con.close()
    # Loaded after the sort: DuckDB's memory is released before the catalogue is built.
    loaded = (
        observatory
        if isinstance(observatory, BuildEnvironment)
        else _environment(_folder(observatory))
    )
    indicators = dict(loaded.indicators)
    tasks = [
        PartitionTask(
            observatory=str(loaded.folder),
            loader=loader_name(loaded.loader),
            sorted_input=str(sorted_input),
            owned=owned,
            needed=needed,
            out=str(root / f"part-{k:05d}.parquet"),
            memory_limit=memory_limit,
            temp_directory=str(spill),
            threads=threads,
            scope=scope,
        )
        for k, (owned, needed) in enumerate(
            partitions(
                present,
                indicators,
                indicators_per_partition,
                targets=[i.id for i in loaded.selection],
            )
        )
    ]
    try:
        with running(executor) as runner:
            results = runner.map(
                derive_partition, tasks, names=[f"derive-{t.owned[0]}" for t in tasks]
            )
    finally:
        sorted_input.unlink(missing_ok=True)
    return _combined(results)


def derive_partition(task: PartitionTask) -> OutOfCoreResult:
    """One partition: read its indicators, ``derive_stage``, keep the owned ones, write."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from welfare_observatory.build.derive import derive_with_coverage

    env = _environment(task.observatory, task.loader)
    con = _connect(task.memory_limit, Path(task.temp_directory), task.threads)
    try:
        wanted = ", ".join(_quoted(i) for i in task.needed)
        table = con.sql(
            f"SELECT * FROM read_parquet({_quoted(task.sorted_input)}) "  # noqa: S608
            f"WHERE indicator IN ({wanted})"
        ).to_arrow_table()
    finally:
        con.close()
    result = derive_with_coverage([table], env, task.scope)
    del table
    findings, steps = list(result.findings), list(result.steps)
    parts = _owned_parts(result.parts, set(task.owned))
    if parts is not None:
        findings = []  # the owned parts stand for them, combined with the others
    names = result.observations.column("indicator").cast(pa.string())
    owned = result.observations.filter(pc.is_in(names, pa.array(task.owned, pa.string())))
    pq.write_table(owned, task.out)
    rows = owned.num_rows
    if task.analyses:
        from welfare_observatory.build.strategies.partition_analyses import analyze_partition

        part = Path(task.out).name
        findings += analyze_partition(
            owned,
            result.coverage,
            env,
            dict(env.indicators),
            task.owned,
            Path(task.analyses) / part,
        )
    del result, owned
    # Give the partition's buffers back to the system before the next one is read.
    pa.default_memory_pool().release_unused()
    return OutOfCoreResult(
        files=(task.out,), rows=rows, findings=tuple(findings), steps=tuple(steps), parts=parts
    )


def _owned_parts(parts: Sequence[FindingPart] | None, owned: set[str]) -> bytes | None:
    """The derive parts of the ``owned`` indicators (and those said once), as lines; None
    when the derive's findings are not all kept per indicator."""
    from welfare_observatory.derive._parts import parts_to_lines

    if parts is None or any(p.indicator is None and p.kind != "once" for p in parts):
        return None
    return parts_to_lines(p for p in parts if p.kind == "once" or p.indicator in owned)
