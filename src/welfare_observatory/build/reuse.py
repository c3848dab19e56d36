"""Reuse of the derive and analyze stages when nothing they read has changed.

A rebuild of an unchanged observatory reuses every source's harmonized table (keyed by its
payloads, rules and versions); this module does the same for what comes after. The key is
the digest of everything derive and analyze read: the source steps (their ids are content
digests), the observatory's configuration and overrides file, the data files' sidecars
(whose release dates decide between two sources of one value), the selection and the build
environment's fingerprint (every indicator definition, units, code lists, reference date,
versions).
A saved result is a folder under ``<kb>/.steps/derived-<key>/`` written to a temporary name
and renamed into place, so a killed build never leaves one half-written.

When the key changed, derive runs again, and what follows is reused per indicator: see
:func:`analyze_incrementally` and :func:`previous_partitions`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from welfare_observatory._file_stamp import file_stamp, unchanged_before_now
from welfare_observatory._seal import seal, unseal
from welfare_observatory.lineage import StepRecord, canonical_json, digest
from welfare_observatory.model.finding import Finding
from welfare_observatory.model.observation import BASE_COLUMNS

if TYPE_CHECKING:
    import pyarrow as pa

    from welfare_observatory.build.derive import DeriveOutput, Grouped, Runs
    from welfare_observatory.build.environment import BuildEnvironment
    from welfare_observatory.store.edition import AnalysisPart, Part

__all__ = [
    "Analysed",
    "Derived",
    "EarlyAnalysed",
    "PartitionLinks",
    "StagedRows",
    "analysis_key",
    "analyze_incrementally",
    "check_saved_early",
    "derived_fingerprints",
    "derived_key",
    "drop_leftovers",
    "fingerprints",
    "forget_early",
    "load_analysed",
    "load_derived",
    "load_grouped",
    "previous_partitions",
    "record_stamps",
    "record_written",
    "save_derived",
    "stage_rows",
]

_PREFIX = "derived-"


@dataclass(frozen=True)
class Derived:
    """The derive stage's output and the analyses over it, as one reusable unit."""

    derive: DeriveOutput
    analyses: dict[str, pa.Table]
    analysis_findings: list[Finding]
    fingerprints: dict[str, str] | None = None
    """Per indicator, the fingerprint of its rows (see :func:`fingerprints`)."""


def derived_key(
    env: BuildEnvironment, *, source_steps: Iterable[str], environment: str | None = None
) -> str:
    """The digest of every input of derive and analyze (see the module docstring);
    ``environment`` is ``env.fingerprint()`` when the caller has it already.
    :func:`digest` of :func:`_derived_value`, its canonical JSON assembled around the
    configuration's, made once (:attr:`BuildEnvironment.config_json`)."""
    overrides = hashlib.sha256(env.overrides.read_bytes()) if env.overrides is not None else None
    rest = {
        "environment": environment if environment is not None else env.fingerprint(),
        "overrides": overrides.hexdigest() if overrides is not None else None,
        "selection": [i.id for i in env.selection],
        "sidecars": env.sidecars_digest,
        "steps": sorted(set(source_steps)),
    }
    return _digest_with_config(env, rest)


def _derived_value(
    env: BuildEnvironment, *, source_steps: Iterable[str], environment: str | None = None
) -> dict[str, Any]:
    """What :func:`derived_key` digests, as one value (the reference for its tests)."""
    overrides = hashlib.sha256(env.overrides.read_bytes()) if env.overrides is not None else None
    return {
        "steps": sorted(set(source_steps)),
        "config": env.config.model_dump(mode="json"),
        "overrides": overrides.hexdigest() if overrides is not None else None,
        "selection": [i.id for i in env.selection],
        "sidecars": env.sidecars_digest,
        "environment": environment if environment is not None else env.fingerprint(),
    }


def _digest_with_config(env: BuildEnvironment, rest: dict[str, Any]) -> str:
    """:func:`digest` of ``rest`` with ``"config"``: ``env.config``'s dump (keys of
    ``rest`` sort after ``"config"``)."""
    inner = canonical_json(rest)[1:]
    text = '{"config":' + env.config_json + ("," + inner if inner != "}" else "}")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_derived(steps_dir: Path, key: str) -> Derived | None:
    """The saved result for ``key``, or None (also when it is damaged, or saved in an
    earlier layout (see :data:`_LAYOUT`): then it is derived again). Its tables are
    memory-mapped and checked (:class:`_SavedFile`, :func:`_read_analysis`), each the rows
    of its files one after the other; its rows are in group order when its groups were
    saved (the edition's order is the store's, not theirs)."""
    folder = steps_dir / f"{_PREFIX}{key}"
    try:
        meta = _meta(folder / "meta.json")
        if meta.get("layout") != _LAYOUT or meta.get("key") != key:
            return None
        sums = _digests(meta)
        if "ranges" in meta:
            observations = _joined(
                [_read_analysis(folder / name, sums) for name in _row_files(meta)]
            )
            coverage_file = folder / _COVERAGE
            coverage = _read_analysis(coverage_file, sums) if coverage_file.exists() else None
        else:
            observations = _read_parquet(folder / _COMPRESSED, sums)
            coverage_file = folder / _COMPRESSED_COVERAGE
            coverage = _read_parquet(coverage_file, sums) if coverage_file.exists() else None
        names = meta["analyses"]
        found = meta["analysis_findings"]
        if not isinstance(names, list) or not isinstance(found, list):
            return None
        analyses = _read_analyses(folder, meta, names, sums)
        derive = _derive_output(meta, observations, coverage, folder)
        findings = [Finding.model_validate(f) for f in found]
        prints = meta.get("fingerprints")
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None
    if isinstance(prints, dict):
        return Derived(derive, analyses, findings, {str(k): str(v) for k, v in prints.items()})
    return Derived(derive, analyses, findings)


_LAYOUT = 6
"""The layout of a saved result, in its meta: one copy of the derived rows in group order,
uncompressed Arrow IPC, split by group (:data:`_GROUPS_PER_FILE` groups a file, in key
order) into the files its meta lists (``rows``: ``observations.arrow``,
``observations-1.arrow``, ...), and ``coverage.arrow``; the groups' row ranges
(``ranges``) point into the files' rows one after the other. A rebuild writes the files
whose rows changed and hard-links the others from the result it started from
(:func:`_put`). Without ranges, ``rows.parquet``. Derive's finding parts are lines of
``parts.tsv`` (:data:`_PARTS`; JSON lines up to layout 4, in the meta up to layout 3).
Its fingerprints are the library's own row digests (:func:`fingerprints`); up to layout 5
they were sums of DuckDB's hashes: neither the rows nor the analyses of such a result are
read (:func:`_analysed`).
Results of earlier layouts (one rows file; before that ``observations.parquet`` plus a
reordered copy ``grouped.arrow``) are not read: derive runs again."""

_PARTS = "parts.tsv"
"""A saved result's finding parts (``derive._parts.parts_to_lines``), a part a line: its
head as a JSON array, a tab, its finding as a JSON object. Apart from the meta, which every
rebuild parses (thousands of parts were 2 of its 2.5 MB at 4x); a rebuild decodes only
the heads and the findings it lists."""

_GROUPS_PER_FILE = 10
"""Groups whose rows share a file of a saved result: a one-source rebuild writes one file
of about 3 MB rather than 51 MB (160 sources, 16 files), and a result reused whole maps
16 files rather than one (about a millisecond)."""

_OBSERVATIONS = "observations.arrow"
_COVERAGE = "coverage.arrow"
_COMPRESSED = "rows.parquet"
_COMPRESSED_COVERAGE = "coverage.parquet"
"""The rows of a result whose groups are not recorded (one group, or a row of none): no
rebuild slices them, so they are saved compressed (a few MB, not 51) and read whole."""


def _row_files(meta: dict[str, object]) -> list[str]:
    """The names of the files of a saved result's rows, in order (ValueError when its meta
    does not list plain file names)."""
    names = meta.get("rows")
    if not isinstance(names, list) or not names:
        raise ValueError("a saved result without the list of its rows' files")
    if not all(isinstance(n, str) and n.endswith(".arrow") and "/" not in n for n in names):
        raise ValueError("a saved result whose rows' files are not plain names")
    return [str(n) for n in names]


def _joined(tables: list[pa.Table]) -> pa.Table:
    """The rows of ``tables`` one after the other (their chunks: no copy)."""
    import pyarrow as pa

    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


def _row_blocks(
    table: pa.Table, runs: Runs, groups: dict[str, list[str]]
) -> tuple[list[pa.Table], Runs]:
    """``table``'s rows as saved: per :data:`_GROUPS_PER_FILE` groups, their runs one after
    the other (slices: no copy), and each group's run in them all. Groups are in the order
    of their indicators, not of their keys: a key is a digest of the group's sources, and a
    changed source must not move the other groups to other files."""
    import pyarrow as pa

    keys = sorted(runs, key=lambda key: (sorted(groups.get(key, [])), key))
    blocks: list[pa.Table] = []
    saved: Runs = {}
    at = 0
    for first in range(0, max(len(keys), 1), _GROUPS_PER_FILE):
        spans: list[tuple[int, int]] = []
        for key in keys[first : first + _GROUPS_PER_FILE]:
            size = 0
            for start, stop in runs[key]:
                if spans and spans[-1][1] == start:
                    spans[-1] = (spans[-1][0], stop)
                else:
                    spans.append((start, stop))
                size += stop - start
            saved[key] = [(at, at + size)] if size else []
            at += size
        pieces = [table.slice(a, b - a) for a, b in spans]
        blocks.append(pa.concat_tables(pieces) if pieces else table.slice(0, 0))
    return blocks, saved


def _row_name(index: int) -> str:
    return _OBSERVATIONS if index == 0 else f"observations-{index}.arrow"


@dataclass(frozen=True)
class _Kept:
    """A data file of the saved result this build started from, as it read it: what
    :func:`_put` may hard-link into the next result rather than write it again."""

    path: Path
    table: pa.Table
    digest: str
    stamp: tuple[int, int, int]
    intact: Callable[[], bool] | None


_PREVIOUS: dict[str, _Kept] = {}
"""By file name, the data files of the last saved result a build read (its rows by
:func:`load_grouped`, its analyses by :func:`_analysed`); emptied when a build starts
(:func:`check_saved_early`) and when a result is saved."""


def _keep(path: Path, table: pa.Table, digest: str, intact: Callable[[], bool] | None) -> None:
    try:
        _PREVIOUS[path.name] = _Kept(path, table, digest, _stamp(path), intact)
    except OSError:
        _PREVIOUS.pop(path.name, None)


def _put(table: pa.Table, path: Path, seen: dict[str, list[int]] | None = None) -> str:
    """Save ``table`` as ``path`` (an Arrow file) and give its sha256: hard-linked from the
    last result read when that file holds the very same table (equal schema, metadata and
    values), passed its check there and is unchanged since (its inode, size and time), else
    written and hashed. A linked file is one file in both results: damaged in one, it fails
    its digest in both (derived again, never trusted). ``seen`` receives the file's
    :func:`_seen` stamp right after it was hashed or linked (none when it changed while
    being hashed), for :func:`record_stamps`."""
    kept = _PREVIOUS.get(path.name)
    # Only from the same knowledge base's saved results (``<steps>/<result>/<file>``), and
    # checked before compared: the values of a file that failed its check are not read.
    if kept is not None and kept.path.parent.parent == path.parent.parent:
        try:
            if (
                (kept.intact is None or kept.intact())
                and _stamp(kept.path) == kept.stamp
                and _same(kept.table, table)
            ):
                os.link(kept.path, path)
                if seen is not None:
                    seen[path.name] = _seen(path.stat())
                return kept.digest
        except OSError:
            path.unlink(missing_ok=True)
    _write_arrow(table, path)
    before = path.stat()
    digest = _file_sha256(path)
    if seen is not None and _seen(path.stat()) == _seen(before):
        seen[path.name] = _seen(before)
    return digest


def _seen(status: os.stat_result) -> list[int]:
    """:func:`file_stamp` without the change time, which removing another of the file's
    links moves (pruning an older result that shares it)."""
    size, modified, _, inode, device = file_stamp(status)
    return [size, modified, inode, device]


def _same(old: pa.Table, new: pa.Table) -> bool:
    """Whether ``new`` holds ``old``'s rows: the same object, or equal schema (with its
    metadata) and values, a dictionary column's as the values it stands for (a rebuild
    renames derive steps in the lineage dictionary, not in the rows it keeps). A column
    that is a view of the same memory is equal unread (:func:`_shares_memory`); otherwise
    floats equal as numbers must have the same bits too (-0.0 is not 0.0, which Arrow's
    equality says it is), and a NaN is never equal: such a table is written again."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if old is new:
        return True
    if old.num_rows != new.num_rows or not old.schema.equals(new.schema, check_metadata=True):
        return False
    for before, after in zip(old.columns, new.columns, strict=True):
        if _shares_memory(before, after):
            continue
        if before.equals(after):
            # Equal as numbers: a float's bits must be too (-0.0 is not 0.0).
            if not pa.types.is_floating(before.type) or _bits(before).equals(_bits(after)):
                continue
            return False
        if not pa.types.is_dictionary(before.type):
            return False
        plain = before.type.value_type
        try:
            if not pc.cast(before, plain).equals(pc.cast(after, plain)):
                return False
        except pa.ArrowException:
            return False  # not the table it was (an index out of its dictionary): written
    return True


def _bits(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A float column as the unsigned integers of its bits (nulls kept)."""
    import pyarrow as pa

    width = column.type.bit_width
    as_bits = {16: pa.uint16(), 32: pa.uint32(), 64: pa.uint64()}[width]
    return pa.chunked_array([chunk.view(as_bits) for chunk in column.chunks], as_bits)


def _shares_memory(before: pa.ChunkedArray, after: pa.ChunkedArray) -> bool:
    """Whether two columns of one type are views of the same memory: chunk for chunk the
    same offset, length and buffers (a dictionary's too), so the same values whatever they
    hold. A rebuild's unchanged rows are slices of the last result's mapped files: compared
    value for value, every page of them was read in (about 70 ms of a 4x rebuild's CPU)."""
    import pyarrow as pa

    def where(buffer: pa.Buffer | None) -> tuple[int, int] | None:
        return None if buffer is None else (buffer.address, buffer.size)

    def alike(old: pa.Array, new: pa.Array) -> bool:
        # Nested arrays' children may have offsets of their own, and an extension array's
        # buffers leave out its storage's dictionary and children: compared by value.
        if isinstance(old.type, pa.BaseExtensionType) or pa.types.is_nested(old.type):
            return False
        if not old.type.equals(new.type):
            return False
        if old.offset != new.offset or len(old) != len(new):
            return False
        if [where(b) for b in old.buffers()] != [where(b) for b in new.buffers()]:
            return False
        return not pa.types.is_dictionary(old.type) or alike(old.dictionary, new.dictionary)

    if before.num_chunks != after.num_chunks:
        return False
    return all(alike(old, new) for old, new in zip(before.chunks, after.chunks, strict=True))


def _derive_output(
    meta: dict[str, object], observations: pa.Table, coverage: pa.Table | None, folder: Path
) -> DeriveOutput:
    """The derive output a saved result in ``folder`` holds; its parts file is checked
    against its digest (ValueError when it differs)."""
    from welfare_observatory.build.derive import DeriveOutput
    from welfare_observatory.derive._parts import parts_from_lines

    groups, changes = meta.get("groups"), meta.get("changes")
    parts = None
    if meta.get("parts") == _PARTS:
        data = (folder / _PARTS).read_bytes()
        if hashlib.sha256(data).hexdigest() != _digests(meta).get(_PARTS):
            raise ValueError(f"{folder / _PARTS} does not have the digest saved with it")
        parts = parts_from_lines(data)
    return DeriveOutput(
        observations=observations,
        findings=[Finding.model_validate(f) for f in _listed(meta["findings"])],
        steps=[StepRecord.model_validate(s) for s in _listed(meta["steps"])],
        coverage=coverage,
        parts=parts,
        groups=(
            {str(k): [str(i) for i in v] for k, v in groups.items()}
            if isinstance(groups, dict)
            else None
        ),
        changes=_changes(changes) if isinstance(changes, list) else None,
    )


def _listed(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("a list was expected")
    return value


def _changes(rows: list[dict[str, Any]]) -> pa.Table:
    """The change table :func:`_save_grouped` saved."""
    import pyarrow as pa

    from welfare_observatory.derive.reconciliation import CHANGE_SCHEMA

    dated = [
        {**row, "since": date.fromisoformat(row["since"]) if row.get("since") else None}
        for row in rows
    ]
    return pa.Table.from_pylist(dated, schema=CHANGE_SCHEMA)


def load_grouped(steps_dir: Path) -> Grouped | None:
    """The newest saved derive output that records its indicator groups (what
    :func:`~welfare_observatory.build.derive.derive_by_groups` reuses), or None. Its
    tables are memory-mapped and checked (:class:`_SavedFile`), in group order
    (:func:`_grouped`): a rebuild takes the unchanged groups' rows as slices, without
    reading or copying them."""
    import pyarrow as pa

    from welfare_observatory.build.derive import Grouped

    if not steps_dir.is_dir():
        return None
    for folder, meta in _metas(steps_dir):
        ranges = meta.get("ranges")
        if meta.get("layout") != _LAYOUT:
            continue  # an earlier layout: derived again (see _LAYOUT)
        if not isinstance(meta.get("groups"), dict) or not isinstance(ranges, dict):
            continue
        try:
            sums = _digests(meta)
            files = [folder / name for name in _row_files(meta)]
            count = len(files)
            if (folder / _COVERAGE).exists():
                files.append(folder / _COVERAGE)
            expected = [sums[f.name] for f in files]
            # Checked on another thread (from the build's start when it checked this
            # result early) while derive runs the changed groups; derive waits for the
            # check before it takes a row of them (Grouped.intact).
            checked = _checked(files)
            blocks = [c.table for c in checked if c.table is not None]
            if len(blocks) != len(files):
                raise ValueError(f"{folder}: a data file that is no Arrow file")
            observations = _joined(blocks[:count])
            coverage = blocks[count] if len(blocks) > count else None
            output = _derive_output(meta, observations, coverage, folder)
            rows = _runs_of(ranges["rows"], observations)
            covered = ranges.get("coverage")
            cov_rows = None
            if coverage is not None:
                cov_rows = _runs_of(covered, coverage) if isinstance(covered, dict) else None
        except (
            OSError,
            ValueError,
            KeyError,
            TypeError,
            IndexError,
            RecursionError,
            pa.ArrowException,
        ):
            continue
        if output.parts is None or output.groups is None:
            continue
        prints = meta.get("fingerprints")
        known = {str(k): str(v) for k, v in prints.items()} if isinstance(prints, dict) else None
        for file, sha256, table in zip(checked, expected, blocks, strict=True):
            _keep(file.path, table, sha256, functools.partial(file.intact, sha256))

        def check(files: list[_SavedFile] = checked, sums: list[str] = expected) -> bool:
            return all(f.intact(s) for f, s in zip(files, sums, strict=True))

        return Grouped(output, rows, cov_rows, known, check)
    return None


def _runs_of(saved: dict[str, list[list[int]]], table: pa.Table) -> Runs:
    """The saved row ranges of each group in ``table``, checked: they must cover its rows
    exactly once (a damaged or mismatched result raises ValueError and is not reused)."""
    runs = {str(k): [(int(a), int(b)) for a, b in v] for k, v in saved.items()}
    spans = sorted(span for spans in runs.values() for span in spans)
    covered = 0
    for start, stop in spans:
        if start != covered or stop <= start:
            raise ValueError("saved row ranges overlap, leave gaps or are empty")
        covered = stop
    if covered != table.num_rows:
        raise ValueError("saved row ranges do not cover the saved rows")
    return runs


def _grouped(
    derive: DeriveOutput,
) -> tuple[pa.Table, pa.Table | None, dict[str, object]]:
    """The derive output's observations and coverage as saved (in group order when its
    groups are recorded, :func:`~welfare_observatory.build.derive.group_runs`) and what the
    meta records of the groups: parts, groups, changes, row ranges (none when the groups
    cannot be reused: then the tables are saved as they are)."""
    from welfare_observatory.build.derive import group_runs

    groups = derive.groups
    if derive.parts is None or groups is None or len(groups) < 2:
        # One group changes whenever anything does: never reused, not recorded.
        return derive.observations, derive.coverage, {}
    grouped: tuple[pa.Table, Runs] | None
    covered: tuple[pa.Table, Runs] | None
    if derive.runs is not None and (derive.coverage is None) == (derive.runs[1] is None):
        # Already in group order (a rebuild's output): its runs are known.
        grouped = derive.observations, derive.runs[0]
        rows = derive.runs[1]
        covered = (derive.coverage, rows) if derive.coverage is not None and rows else None
    else:
        grouped = group_runs(derive.observations, groups)
        covered = group_runs(derive.coverage, groups) if derive.coverage is not None else None
    if grouped is None or (derive.coverage is not None and covered is None):
        # A row of no group: the next build derives everything again.
        return derive.observations, derive.coverage, {}
    ranges: dict[str, object] = {"rows": grouped[1]}
    if covered is not None:
        ranges["coverage"] = covered[1]
    saved: dict[str, object] = {"parts": _PARTS, "groups": groups}
    if derive.changes is not None:
        saved["changes"] = [
            {k: v.isoformat() if isinstance(v, date) else v for k, v in row.items()}
            for row in derive.changes.to_pylist()
        ]
    coverage = covered[0] if covered is not None else None
    return grouped[0], coverage, saved | {"ranges": ranges}


def _write_parquet(table: pa.Table, path: Path) -> None:
    """No column statistics (nothing reads them; they cost a third of the writing)."""
    import pyarrow.parquet as pq

    pq.write_table(table, path, write_statistics=False)


def _read_parquet(path: Path, sums: dict[str, str]) -> pa.Table:
    """A table :func:`_write_parquet` wrote, its bytes checked against their saved sha256."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    raw = path.read_bytes()
    if hashlib.sha256(raw).hexdigest() != sums.get(path.name):
        raise ValueError(f"{path}: not the bytes that were saved")
    return pq.ParquetFile(pa.BufferReader(raw)).read()


def _digests(meta: dict[str, object]) -> dict[str, str]:
    """The sha256 of each data file of a saved result, by file name, as its meta records
    them (a result without them is not trusted: ValueError)."""
    sums = meta.get("sha256")
    if not isinstance(sums, dict):
        raise ValueError("a saved result without the digests of its files")
    return {str(k): str(v) for k, v in sums.items()}


def _file_sha256(path: Path) -> str:
    """The sha256 of a file, read in blocks (hashlib releases the GIL). Not through a
    memory map: every page it touched would count in the process's resident memory."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _layout(folder: Path) -> object:
    try:
        return _meta(folder / "meta.json").get("layout")
    except (OSError, ValueError, RecursionError):
        return None


def _remove(folder: Path) -> None:
    """Remove ``folder``: renamed first (a ``*.tmp`` name, as :func:`drop_leftovers`
    cleans), so its name is free at once even if removing it fails halfway."""
    doomed = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    try:
        folder.rename(doomed)
    except OSError:
        return
    shutil.rmtree(doomed, ignore_errors=True)


def _write_arrow(table: pa.Table, path: Path) -> None:
    import pyarrow as pa

    # The file format has one dictionary per column: chunks' dictionaries are unified.
    options = pa.ipc.IpcWriteOptions(unify_dictionaries=True)
    with (
        pa.OSFile(str(path), "wb") as sink,
        pa.ipc.new_file(sink, table.schema, options=options) as writer,
    ):
        writer.write_table(table)


def _mapped(path: Path) -> pa.Table:
    """The table of an Arrow file, memory-mapped (no copy)."""
    import pyarrow as pa

    # Not closed here: the table's buffers keep the mapping alive as long as they live.
    return pa.ipc.open_file(pa.memory_map(str(path))).read_all()


@dataclass(frozen=True)
class StagedRows:
    """The derived rows of a result being saved, written (or linked) into its staging
    folder ahead of its analyses (:func:`stage_rows`); ``staging`` is None when the result
    is saved already."""

    staging: Path | None
    sums: dict[str, str]
    meta: dict[str, object]
    seen: dict[str, list[int]] = field(default_factory=dict)
    """Each file's stamp when it was hashed or linked (:func:`_put`)."""


def stage_rows(steps_dir: Path, key: str, derive: DeriveOutput) -> StagedRows:
    """The first half of :func:`save_derived`: the derive output's rows, coverage, findings
    and steps into a new staging folder. A build runs it as soon as derive is done, on
    another core while analyze runs; a staging folder a failed build leaves is removed by
    the next (:func:`drop_leftovers`)."""
    from welfare_observatory.derive._parts import parts_to_lines

    steps_dir.mkdir(parents=True, exist_ok=True)
    target = steps_dir / f"{_PREFIX}{key}"
    if target.exists():
        if _layout(target) == _LAYOUT:
            return StagedRows(None, {}, {})
        # Of an earlier layout (or its meta unreadable): never read, so replaced.
        _remove(target)
    staging = Path(tempfile.mkdtemp(dir=steps_dir, prefix=".derived-", suffix=".tmp"))
    try:
        # One copy of the derived rows, in group order: what the next rebuild slices and
        # what an unchanged one reuses whole.
        observations, coverage, grouped = _grouped(derive)
        # Nothing here is fsynced: a file a crash left short or zeroed fails its digest,
        # and the result is derived again, never trusted (as a source's step).
        sums: dict[str, str] = {}
        seen: dict[str, list[int]] = {}
        if grouped:
            ranges = grouped["ranges"]
            assert isinstance(ranges, dict)
            groups = grouped["groups"]
            assert isinstance(groups, dict)
            # See _grouped for what ranges and groups hold.
            blocks, ranges["rows"] = _row_blocks(observations, ranges["rows"], groups)
            names = [_row_name(i) for i in range(len(blocks))]
            grouped["rows"] = names
            for name, block in zip(names, blocks, strict=True):
                sums[name] = _put(block, staging / name, seen)
            if coverage is not None:
                sums[_COVERAGE] = _put(coverage, staging / _COVERAGE, seen)
            # _grouped records groups only of a derive output with parts.
            data = parts_to_lines(derive.parts or ())
            (staging / _PARTS).write_bytes(data)
            sums[_PARTS] = hashlib.sha256(data).hexdigest()
        else:
            _write_parquet(observations, staging / _COMPRESSED)
            if coverage is not None:
                _write_parquet(coverage, staging / _COMPRESSED_COVERAGE)
            sums |= {f.name: _file_sha256(f) for f in staging.iterdir()}
        meta: dict[str, object] = {
            "findings": [f.model_dump(mode="json") for f in derive.findings],
            "steps": [s.model_dump(mode="json") for s in derive.steps],
        }
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return StagedRows(staging, sums, meta | grouped, seen)


def save_derived(
    steps_dir: Path,
    key: str,
    derived: Derived,
    *,
    keep: int = 3,
    fingerprints: dict[str, str] | None = None,
    analysis_key: str | None = None,
    rows: StagedRows | None = None,
) -> dict[str, tuple[str, list[int] | None]] | None:
    """Save ``derived`` under ``key``; only the ``keep`` most recent results are kept.
    Gives each data file's sha256 and full stamp (:func:`file_stamp`; None when the file
    changed since it was hashed or linked, :func:`_put`), for :func:`record_stamps`; None
    when a result of ``key`` was there already.
    ``fingerprints`` and ``analysis_key`` let a later build reuse the analyses of the
    indicators whose rows are unchanged (:func:`load_analysed`). ``rows``: what
    :func:`stage_rows` did of it already (of ``derived.derive``)."""
    try:
        if rows is None:
            rows = stage_rows(steps_dir, key, derived.derive)
        if rows.staging is None:
            return None
        staging = rows.staging
        try:
            sums = dict(rows.sums)
            seen = dict(rows.seen)
            listed: dict[str, list[str]] = {}
            for name, table in derived.analyses.items():
                # In files of so many rows: a rebuild writes those where the changed
                # indicators' rows are (when their count is unchanged), links the others.
                parts = range(0, max(table.num_rows, 1), _ANALYSIS_ROWS)
                listed[name] = [_analysis_name(name, i) for i in range(len(parts))]
                for file, start in zip(listed[name], parts, strict=True):
                    sums[file] = _put(table.slice(start, _ANALYSIS_ROWS), staging / file, seen)
            meta: dict[str, object] = {
                "key": key,  # a result copied under another key's name is not its
                "layout": _LAYOUT,
                "sha256": dict(sorted(sums.items())),
                "analyses": sorted(derived.analyses),
                "analysis_files": listed,
                "analysis_findings": [f.model_dump(mode="json") for f in derived.analysis_findings],
            }
            if fingerprints is not None and analysis_key is not None:
                meta |= {"fingerprints": fingerprints, "analysis_key": analysis_key}
            meta |= rows.meta
            (staging / "meta.json").write_bytes(seal(meta))
            staging.rename(steps_dir / f"{_PREFIX}{key}")
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    finally:
        # The last result's mapped tables are let go (the next build reads its own).
        _PREVIOUS.clear()
    # One pass over the folder's entries (hundreds of source steps), no pattern matching.
    with os.scandir(steps_dir) as entries:
        saved = [
            (entry.stat().st_mtime_ns, entry.path)
            for entry in entries
            if entry.name.startswith(_PREFIX) and entry.is_dir()
        ]
    for _, old in sorted(saved, reverse=True)[keep:]:
        shutil.rmtree(old, ignore_errors=True)
    # Full stamps after the pruning (removing a link changes a file's change time), of the
    # files still as they were hashed or linked: from here on, any change to one shows.
    folder = steps_dir / f"{_PREFIX}{key}"
    files: dict[str, tuple[str, list[int] | None]] = {}
    for name, sha in sums.items():
        full = None
        with contextlib.suppress(OSError):
            status = (folder / name).stat()
            if name in seen and _seen(status) == seen[name]:
                full = file_stamp(status)
        files[name] = (sha, full)
    return files


_ANALYSIS = ".analysis.arrow"
"""A saved analysis: uncompressed Arrow IPC files (:data:`_ANALYSIS_ROWS` rows each). A
rebuild maps every analysis of the previous build into memory (no read, no copy: LZ4 cost
about 0.04 s CPU to read and 0.03 s to write for 160 sources) and writes the files whose
rows changed, linking the others (:func:`_put`); about 25 MB for 160 sources, five times
LZ4's bytes. Every data file of a saved result has its sha256 in the result's meta,
checked before it is used; results saved without them (earlier versions) are not reused.
(Files of the edition stay Parquet.)"""


_ANALYSIS_ROWS = 16384
"""Rows of an analysis a file of a saved result holds (about 3 MB of progress): a
one-source rebuild writes one or two of progress's five files (160 sources)."""


def _analysis_name(name: str, index: int) -> str:
    return f"{name}{_ANALYSIS}" if index == 0 else f"{name}.{index}{_ANALYSIS}"


def _read_analyses(
    folder: Path,
    meta: dict[str, object],
    names: list[Any],
    sums: dict[str, str],
    *,
    keep: bool = False,
) -> dict[str, pa.Table]:
    """The analyses ``names`` saved in ``folder``, each the rows of its files one after the
    other (:func:`_read_analysis`: checked); with ``keep``, each file is noted for the
    next result to link (:func:`_keep`). ValueError when the meta does not list them."""
    listed = meta.get("analysis_files")
    if not isinstance(listed, dict):
        raise ValueError("a saved result without the list of its analyses' files")
    analyses = {}
    for name in names:
        files = _row_files({"rows": listed.get(name)})
        if not all(f.endswith(_ANALYSIS) for f in files):
            raise ValueError("a saved result whose analyses' files are not plain names")
        tables = [_read_analysis(folder / f, sums) for f in files]
        if keep:
            for file, table in zip(files, tables, strict=True):
                _keep(folder / file, table, sums[file], None)
        analyses[str(name)] = _joined(tables)
    return analyses


class _SavedFile:
    """A data file of a saved result mapped, hashed and checked whole (its sha256, then
    ``validate(full=True)``: offsets, dictionary indices, UTF-8; both release the GIL) on
    a thread of its own (:func:`_check`); ``stamp`` is the file's inode, size and
    modification time when it was mapped: a file changed since is not taken from here. A
    file whose full stamp is still the one :func:`record_stamps` noted is not read: it
    has the digest noted with it, and its table's structure is checked (:func:`_validated`)."""

    def __init__(
        self,
        path: Path,
        stamp: tuple[int, int, int],
        recorded: tuple[list[int], str] | None = None,
    ) -> None:
        import threading

        self.path = path
        self.stamp = stamp
        self.recorded = recorded
        """The file's full stamp and sha256 as :func:`record_stamps` noted them, if it did."""
        self.table: pa.Table | None = None
        self.digest: str | None = None
        self.valid = False
        self.mapped = threading.Event()
        self.done = threading.Event()

    def intact(self, expected: str | None) -> bool:
        """Waits for the check: whether the file has the ``expected`` digest and its table
        passed its check."""
        self.done.wait()
        return self.valid and self.digest is not None and self.digest == expected


_EARLY: dict[Path, _SavedFile] = {}
"""Files of the newest saved result being checked early, by path (taken once)."""


def _stamp(path: Path) -> tuple[int, int, int]:
    status = path.stat()
    return (status.st_ino, status.st_size, status.st_mtime_ns)


def check_saved_early(steps_dir: Path) -> None:
    """Map and check the data files of the newest saved result (:class:`_SavedFile`) on a
    thread of their own, from now: a build calls it before its sources run, so a rebuild
    finds them checked when derive takes the unchanged groups' rows and analyze the
    unchanged indicators' analyses (about 75 MB for 160 sources: hashed and checked whole,
    60 ms of a core; for files the stamps' note vouches for, a few ms). What is read from
    here is what reading the file then gives: the same digest is compared, the same check
    was passed, and a file replaced or changed since (its inode, size or time) is read
    again."""
    _EARLY.clear()
    _PREVIOUS.clear()
    if not steps_dir.is_dir():
        return
    for folder, meta in _metas(steps_dir):
        sums = meta.get("sha256")
        if meta.get("layout") != _LAYOUT or not isinstance(sums, dict):
            continue
        try:
            names = _row_files(meta) if "ranges" in meta else []
        except ValueError:
            names = []
        names = [n for n in [*names, _COVERAGE] if n in sums]
        names += sorted(str(n) for n in sums if str(n).endswith(_ANALYSIS))
        recorded = _recorded_stamps(folder, sums)
        files = []
        for name in names:
            try:
                files.append(_SavedFile(folder / name, _stamp(folder / name), recorded.get(name)))
            except OSError:
                continue
        _EARLY.update({f.path: f for f in _check(files)})
        return


def forget_early() -> None:
    """Drop what :func:`check_saved_early` mapped and nobody took (the build is over)."""
    _EARLY.clear()


def forget_saved() -> None:
    """Drop every saved file this process mapped for a build (:func:`check_saved_early`,
    :func:`_keep`): at a build's start and end, so that no build links or reads what
    another build of this process, or of another knowledge base, left here."""
    _EARLY.clear()
    _PREVIOUS.clear()


def _check(files: list[_SavedFile]) -> list[_SavedFile]:
    """Start the check of ``files`` on a thread of their own; ``files``."""
    import threading

    thread = threading.Thread(target=_run_check, args=(files,), name="saved-files-check")
    thread.daemon = True
    thread.start()
    return files


def _run_check(files: list[_SavedFile]) -> None:
    import pyarrow as pa

    try:
        # Mapped first (a few ms): whoever takes a table waits for its mapping only.
        for file in files:
            try:
                file.table = _mapped(file.path)
            except (OSError, pa.ArrowException):
                file.table = None
            file.mapped.set()
        for file in files:
            try:
                if file.table is not None:
                    recorded = file.recorded
                    if recorded is not None and file_stamp(file.path.stat()) == recorded[0]:
                        file.digest = recorded[1]
                        _validated(file.table, whole=False)
                    else:
                        file.digest = _file_sha256(file.path)
                        _validated(file.table, whole=True)
                    # Mapped and hashed by path: a file replaced between the two would
                    # pair its old table with the new bytes' digest.
                    file.valid = _stamp(file.path) == file.stamp
            except (OSError, pa.ArrowException):
                file.valid = False
            file.done.set()
    finally:
        for file in files:
            file.mapped.set()
            file.done.set()


def _validated(table: pa.Table, *, whole: bool) -> None:
    """Check ``table`` as mapped from a saved file (ArrowException when it fails).

    ``whole``: every offset, dictionary index and text (``validate(full=True)``, which
    reads every byte: about 100 ms of a core for a 4x rebuild's files). Without it, the
    structure only (each buffer as long as its rows need): for a file whose stamp is the
    one :func:`record_stamps` noted, so nothing has written to it since its build wrote it
    from tables in its memory, which pass the whole check. What that cannot see is what
    the note cannot see (:func:`record_stamps`): bytes changed below the file system, such
    as a disk returning other bytes than were written (the files are not fsynced; a crash
    that left a file short, or its pages unwritten, shows in its size, or as zeros, which
    are offsets and indices within bounds). ``stamps.json`` deleted, or ``build --refresh``,
    has every file hashed and checked whole."""
    table.validate(full=whole)


def _checked(paths: list[Path]) -> list[_SavedFile]:
    """``paths`` mapped (waited for) and checked on another thread: taken from
    :func:`check_saved_early` when it checks them and they are unchanged since, the others
    from a check started here. OSError when one is missing (it cannot be stat'ed); one that
    cannot be mapped comes back with ``table`` None and is never :meth:`~_SavedFile.intact`."""
    taken = {path: _take_early(path) for path in paths}
    rest = [_SavedFile(p, _stamp(p)) for p in paths if taken[p] is None]
    fresh = {file.path: file for file in (_check(rest) if rest else rest)}
    files = [taken[p] or fresh[p] for p in paths]
    for file in files:
        file.mapped.wait()
    return files


def _take_early(path: Path) -> _SavedFile | None:
    """The early check of ``path`` (waited for its mapping), if one was started and the
    file is unchanged since; taken once."""
    early = _EARLY.pop(path, None)
    if early is None:
        return None
    try:
        if _stamp(path) != early.stamp:
            return None
    except OSError:
        return None
    early.mapped.wait()
    return early if early.table is not None else None


def _read_analysis(path: Path, sums: dict[str, str]) -> pa.Table:
    """A table :func:`_put` saved (an Arrow file), as it was (types, metadata, values),
    memory-mapped; its digest compared with its saved sha256 and the table checked
    (:class:`_SavedFile`, :func:`_checked`) before anything slices it, as a damaged file
    is analysed again, never trusted (ValueError)."""
    (file,) = _checked([path])
    if not file.intact(sums.get(path.name)) or file.table is None:
        raise ValueError(f"{path}: not the bytes that were saved, or damaged")
    return file.table


def drop_leftovers(steps_dir: Path) -> None:
    """Remove what a killed build left half-written: ``*.tmp`` files and staging folders
    (a finished step or result is always renamed into place, never named ``*.tmp``)."""
    if not steps_dir.is_dir():
        return
    for leftover in steps_dir.glob("*.tmp"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


# --- Per-indicator reuse of the analyses and of the edition's partition files -------------
#
# When one source changes, derive runs again (its findings count over every indicator and
# cannot be split), but most indicators' rows come out identical. Each indicator's rows get a
# content fingerprint; analyses that are per indicator (trend, progress, benchmark, the
# signals of early warnings) are taken from the previous build for every indicator whose
# fingerprint is unchanged, and computed for the others; what reads across indicators
# (composites per domain, the ranking of early warnings) runs again over the combined rows;
# a domain whose changed indicators are all neutral keeps its composite (they never enter
# one). Per-indicator tables are joined as slices of the old and new tables, never sorted.
# The store links an unchanged domain's partition file from the previous build.

_UNREAD = frozenset({"domain", "unit", "conf_status", "flags", "source", "lineage"})
"""Columns analyze_stage drops before analysing (it never reads them)."""


@dataclass(frozen=True)
class Analysed:
    """What an earlier build analysed: per-indicator fingerprints and its analyses."""

    analysis_key: str
    fingerprints: dict[str, str]
    analyses: dict[str, pa.Table]
    findings: list[Finding]


def derived_fingerprints(derive: DeriveOutput) -> dict[str, str]:
    """:func:`fingerprints` of ``derive.observations``: of the rows a rebuild derived
    again (or renamed), with those its derive took unchanged from the last result, as it
    recorded them (:attr:`DeriveOutput.known_prints`)."""
    if derive.known_prints is None or derive.unknown_rows is None:
        return fingerprints(derive.observations)
    return {**derive.known_prints, **fingerprints(derive.unknown_rows)}


def fingerprints(observations: pa.Table) -> dict[str, str]:
    """Per indicator ``domain:rows:read:all``: its domain, row count and two order-free
    digests of its rows (:mod:`welfare_observatory._row_digests`, 16 hex digits each), one
    of the columns the analyses read and one of every column, so equal rows in any order
    give an equal fingerprint. A text is compared as text, whatever dictionary holds it; a
    float's sign too (-0.0 is not 0.0: the analyses keep it). Derived rows' lineage changes
    with any source; their analyses need not. Worked out in numpy: a rebuild opens no
    DuckDB database to hash the rows it derived."""
    from welfare_observatory._row_digests import digests_by_group

    if observations.num_rows == 0:
        return {}
    read = [n for n in observations.column_names if n not in _UNREAD]
    unread = [n for n in observations.column_names if n in _UNREAD]
    found = digests_by_group(observations, ("indicator", "domain"), (read, unread))
    return {
        str(indicator): f"{domain}:{group.rows}:{group.digests[0]:016x}:{group.digests[1]:016x}"
        for (indicator, domain), group in found.items()
    }


def _analysed_part(fingerprint: str | None) -> str | None:
    """The part of a fingerprint the analyses depend on (all but the last digest)."""
    return None if fingerprint is None else fingerprint.rsplit(":", 1)[0]


def analysis_key(
    env: BuildEnvironment, observations: pa.Table, environment: str | None = None
) -> str:
    """The digest of what the analyses read besides the rows: configuration, selection,
    environment (``environment``: ``env.fingerprint()`` when the caller has it) and the
    observations' columns and types."""
    rest = {
        "selection": [i.id for i in env.selection],
        "environment": environment if environment is not None else env.fingerprint(),
        "schema": str(observations.schema),
    }
    return _digest_with_config(env, rest)


_LINKED_ANALYSES = ("trend", "progress", "benchmark")
"""Analyses whose rows of an indicator depend on its rows and the analysis key alone (the
premise of :func:`analyze_incrementally`): their part files may be linked. Early warnings
are ranked across indicators, composites read a domain's indicators together."""


class PartitionLinks:
    """The observation files of earlier builds a build may link (``store.edition.PartLinks``),
    and the analyses' part files (``store.edition.AnalysisLinks``); what it wrote, for
    :func:`record_written`.

    A file's content key digests the fingerprints of the indicators it holds (each holds
    the indicator's rows and domain), the schema, the environment's fingerprint (versions),
    the Parquet writer's version and the store's layout: the same key means the same rows
    in a file of the same bytes. A part naming an indicator without a fingerprint, or one
    of another domain, has no key (never linked). An analysis part's key digests instead
    the analysed part of its indicators' fingerprints, ``analysis_key`` (everything else
    the analyses read) and the table's schema; without ``analysis_key``, or of an analysis
    not in :data:`_LINKED_ANALYSES`, it has none."""

    def __init__(
        self,
        observations_schema: pa.Schema,
        prints: Mapping[str, str],
        environment: str,
        earlier: Mapping[str, tuple[Path, str]],
        analysis_key: str | None = None,
    ) -> None:
        import pyarrow as pa

        self._prints = prints
        self._earlier = earlier
        self._analysis_key = analysis_key
        self._common = {
            "schema": str(observations_schema),
            "environment": environment,
            "pyarrow": pa.__version__,
            "layout": _PARTS_LAYOUT,
        }
        self.files: dict[str, dict[str, str]] = {}
        """Each file written or linked: its path under ``observations/`` (an analysis's:
        under the build, ``analyses/<name>/part-<n>.parquet``), key and sha256."""
        self._keys: dict[Part | AnalysisPart, str | None] = {}

    def key(self, part: Part) -> str | None:
        """The part's content key (made once: the store asks before and after writing)."""
        if part not in self._keys:
            self._keys[part] = self._key(part)
        return self._keys[part]

    def _key(self, part: Part) -> str | None:
        rows = []
        for indicator in part.indicators:
            value = self._prints.get(indicator)
            if value is None or value.rsplit(":", 3)[0] != part.domain:
                return None
            rows.append(f"{indicator}={value}")
        return digest({**self._common, "domain": part.domain, "rows": rows})

    def earlier(self, part: Part) -> tuple[Path, str] | None:
        key = self.key(part)
        return None if key is None else self._earlier.get(key)

    def written(self, part: Part, sha256: str) -> None:
        key = self.key(part)
        if key is not None:
            self.files[part.file] = {"key": key, "sha256": sha256}

    def analysis_key(self, part: AnalysisPart) -> str | None:
        """The analysis part's content key (made once; see the class)."""
        if part not in self._keys:
            self._keys[part] = self._analysis_part_key(part)
        return self._keys[part]

    def _analysis_part_key(self, part: AnalysisPart) -> str | None:
        if self._analysis_key is None or part.analysis not in _LINKED_ANALYSES:
            return None
        rows = []
        for indicator in part.indicators:
            value = _analysed_part(self._prints.get(indicator))
            if value is None:
                return None
            rows.append(f"{indicator}={value}")
        return digest(
            {
                **self._common,
                "layout": _ANALYSIS_PARTS_LAYOUT,
                "analysis": part.analysis,
                "analysis_key": self._analysis_key,
                "table_schema": part.schema,
                "rows": rows,
            }
        )

    def earlier_analysis(self, part: AnalysisPart) -> tuple[Path, str] | None:
        key = self.analysis_key(part)
        return None if key is None else self._earlier.get(key)

    def written_analysis(self, part: AnalysisPart, sha256: str) -> None:
        key = self.analysis_key(part)
        if key is not None:
            self.files[part.file] = {"key": key, "sha256": sha256}


_PARTS_LAYOUT = "parts-1"
"""What else shapes a part file's bytes: its rows run over several indicators
(``store.edition.part_groups``) and its statistics cover the key columns."""

_ANALYSIS_PARTS_LAYOUT = "analysis-parts-1"
"""What else shapes an analysis part file's bytes: a slice of the table of whole
indicators (``store.edition.analysis_parts``), its statistics on the columns rows are
selected by, floats without a dictionary (``store.edition.write_parquet``)."""


def _metas(steps_dir: Path) -> Iterator[tuple[Path, dict[str, object]]]:
    """Saved results, newest first, with their meta (read-only: shared between calls),
    each meta parsed when the caller gets to it (most stop at the newest)."""
    # One pass over the folder's entries (hundreds of source steps), no pattern matching.
    try:
        with os.scandir(steps_dir) as entries:
            dated = [
                (entry.stat().st_mtime_ns, Path(entry.path))
                for entry in entries
                if entry.name.startswith(_PREFIX)
            ]
    except OSError:
        return
    for _, folder in sorted(dated, key=lambda pair: pair[0], reverse=True):
        try:
            meta = _meta(folder / "meta.json")
        except (OSError, ValueError, RecursionError):
            continue
        yield folder, meta


_META: dict[Path, tuple[list[int], dict[str, object]]] = {}
"""Metas read by :func:`_meta`, with the file's stamp (:func:`file_stamp`)."""


def _meta(file: Path) -> dict[str, object]:
    """The meta in ``file``, parsed once while the file is unchanged: a rebuild looks for
    its derive groups, its analyses and its partition files in the same metas (about
    130 KB of JSON each for 160 sources). A meta is only ever replaced whole (renamed into
    place: another inode), never written in place."""
    stamp = file_stamp(file.stat())
    known = _META.get(file)
    if known is not None and known[0] == stamp:
        return known[1]
    # Sealed (welfare_observatory._seal): a meta changed since, though it still parses
    # (a finding, a lineage step, a group's row range), would be published as this build's.
    body = unseal(file.read_bytes())
    if body is None:
        raise ValueError(f"{file}: not sealed as written, or written by an earlier version")
    meta: dict[str, object] = json.loads(body)  # a sealed record is an object
    if len(_META) > 8:
        _META.clear()
    _META[file] = (stamp, meta)
    return meta


class EarlyAnalysed:
    """The newest saved analyses, read and checked whole (:func:`_read_analysis`) on a
    thread of their own from creation, while derive runs: :meth:`get` then finds them
    checked rather than hashing about 25 MB (160 sources) after derive. What :meth:`get`
    gives is what :func:`load_analysed` gives (it asks it when these are not the ones
    wanted, or did not pass their check)."""

    def __init__(self, steps_dir: Path) -> None:
        import threading

        self._steps_dir = steps_dir
        self._key: object = None
        self._found: Analysed | None = None
        self._thread: threading.Thread | None = None
        if not steps_dir.is_dir():
            return
        for folder, meta in _metas(steps_dir):
            if isinstance(meta.get("analysis_key"), str):
                self._key = meta["analysis_key"]
                self._thread = threading.Thread(
                    target=self._run, args=(folder, meta), name="saved-analyses-check", daemon=True
                )
                self._thread.start()
                return

    def _run(self, folder: Path, meta: dict[str, object]) -> None:
        import pyarrow as pa

        try:
            self._found = _analysed(folder, meta, str(self._key))
        except (OSError, pa.ArrowException):
            self._found = None

    def expects(self, key: str) -> bool:
        """Whether the analyses being checked are those of ``key`` (:meth:`get` of it then
        waits for their check, and likely finds them)."""
        return self._thread is not None and self._key == key

    def get(self, key: str) -> Analysed | None:
        """:func:`load_analysed` of the steps folder and ``key``."""
        if self._thread is not None and self._key == key:
            self._thread.join()
            if self._found is not None:
                return self._found
        return load_analysed(self._steps_dir, key)


def load_analysed(steps_dir: Path, key: str) -> Analysed | None:
    """The newest saved analyses made with ``key`` (same configuration and columns)."""

    if not steps_dir.is_dir():
        return None
    for folder, meta in _metas(steps_dir):
        if meta.get("analysis_key") != key:
            continue
        found = _analysed(folder, meta, key)
        if found is not None:
            return found
    return None


def _analysed(folder: Path, meta: dict[str, object], key: str) -> Analysed | None:
    """The analyses saved in ``folder`` (its ``meta`` read), checked; None when one is
    missing or damaged, or saved in another layout (:data:`_LAYOUT`: fingerprints of
    another kind, which no row of this build's would match)."""
    if meta.get("layout") != _LAYOUT:
        return None
    try:
        names = meta["analyses"]
        assert isinstance(names, list)
        sums = _digests(meta)
        # Checked as they are read: a rebuild that keeps one the same links it (_put).
        analyses = _read_analyses(folder, meta, names, sums, keep=True)
        prints = meta["fingerprints"]
        found = meta["analysis_findings"]
        assert isinstance(prints, dict) and isinstance(found, list)
        findings = [Finding.model_validate(f) for f in found]
    except (OSError, ValueError, KeyError, TypeError, AssertionError, RecursionError):
        return None
    return Analysed(key, {str(k): str(v) for k, v in prints.items()}, analyses, findings)


_WRITTEN = "written.json"
"""In a saved result's folder: the build it was written into, the content keys of its
partition files and their sha256. Apart from ``meta.json`` (about 130 KB for 160 sources),
so that noting it and reading it back never parses the saved result's findings and steps."""


def previous_partitions(
    steps_dir: Path, kb_root: Path, edition: str
) -> dict[str, tuple[Path, str]]:
    """Observation files of earlier builds of ``edition`` still on disk, by content key
    (:class:`PartitionLinks`), with the sha256 each had when written (the store checks it
    before taking the file). Newest saved result first."""
    from welfare_observatory.store.edition import is_build_name

    out: dict[str, tuple[Path, str]] = {}
    if not steps_dir.is_dir():
        return out
    found = []
    for folder in steps_dir.glob(f"{_PREFIX}*"):
        try:
            found.append((folder.stat().st_mtime_ns, folder))
        except OSError:
            continue
    for _, folder in sorted(found, reverse=True):
        try:
            written = json.loads((folder / _WRITTEN).read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            continue
        if not isinstance(written, dict) or written.get("edition") != edition:
            continue
        name = written.get("build")
        if not is_build_name(name):
            continue  # a note edited by hand names no folder outside the edition
        build = kb_root / edition / str(name)
        files = written.get("files")
        if not isinstance(files, dict):
            continue  # noted by a version that wrote one file per domain
        for name, noted in files.items():
            if not isinstance(noted, dict):
                continue
            key, sha = noted.get("key"), noted.get("sha256")
            file = _noted_file(build, str(name))
            if file is None:
                continue  # a record edited by hand names no file outside the build
            fresh = isinstance(key, str) and key not in out
            if fresh and isinstance(sha, str) and file.is_file():
                out[str(key)] = (file, sha)
    return out


def _noted_file(build: Path, name: str) -> Path | None:
    """The file a :func:`record_written` note names: an observation file
    (``domain=<d>/<file>``, under ``observations/``) or an analysis's part file
    (``analyses/<name>/<file>``); None for any other path."""
    from welfare_observatory.store.edition import is_build_name

    parts = Path(name).parts
    if ".." in parts or Path(name).is_absolute():
        return None
    if len(parts) == 2 and parts[0].startswith("domain="):
        return build / "observations" / name
    if len(parts) == 3 and parts[0] == "analyses" and is_build_name(parts[1]):
        return build / name
    return None


def record_written(
    steps_dir: Path,
    key: str,
    *,
    edition: str,
    build: str,
    files: Mapping[str, Mapping[str, str]],
) -> None:
    """Note next to the saved result ``key`` which build it was written into and the
    content key and sha256 of each observation file (:attr:`PartitionLinks.files`): the
    next build may link the unchanged ones. Nothing is noted when the result was not
    saved, or when no file was written (a build kept as it was: its note stands)."""
    from welfare_observatory._atomic import atomic_write_bytes

    folder = steps_dir / f"{_PREFIX}{key}"
    if not files or not (folder / "meta.json").is_file():
        return
    written = {"edition": edition, "build": build, "files": dict(sorted(files.items()))}
    atomic_write_bytes(folder / _WRITTEN, json.dumps(written).encode("utf-8"))


_STAMPS = "stamps.json"
"""Beside a saved result's meta: what :func:`record_stamps` noted of its data files."""


def record_stamps(
    steps_dir: Path, key: str, saved: Mapping[str, tuple[str, list[int] | None]]
) -> None:
    """Note beside the saved result ``key`` each data file's full stamp with its sha256, so
    that the next build checks an untouched file without reading its bytes (a rebuild at
    4x hashed about 300 MB of them). Called when the build that saved it is over: nothing
    writes into the result any more. ``saved``: each file's sha256 and full stamp as
    :func:`save_derived` gives them.

    A file is noted only when its full stamp is still the one saving it gave (any change
    since, in place or by a link, moved its change time), and when its times are earlier
    than the noting itself on the file system's own clock (a file made for it): a later
    change of its bytes or links then gives it a later change time, whatever the clock's
    resolution (a file changed within the tick it was noted in is never noted). A note
    that cannot be written is left out (the files are hashed)."""
    from welfare_observatory._atomic import atomic_write_bytes

    folder = steps_dir / f"{_PREFIX}{key}"
    seen = {name: (folder / name, full) for name, (_, full) in saved.items() if full is not None}
    current = unchanged_before_now(steps_dir, seen)
    if current is None:
        return
    noted = {name: [*seen[name][1], saved[name][0]] for name in sorted(current)}
    with contextlib.suppress(OSError):
        atomic_write_bytes(folder / _STAMPS, json.dumps(noted).encode("utf-8"), sync=False)


def _recorded_stamps(folder: Path, sums: dict[object, object]) -> dict[str, tuple[list[int], str]]:
    """What :func:`record_stamps` noted in ``folder``, for the files whose noted sha256 is
    the one ``sums`` (the meta's) gives; empty when nothing readable was noted."""
    try:
        with open(folder / _STAMPS, "rb") as handle:  # noqa: PTH123
            noted = json.loads(handle.read())
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(noted, dict):
        return {}
    out: dict[str, tuple[list[int], str]] = {}
    for name, value in noted.items():
        if (
            isinstance(value, list)
            and len(value) == 6
            and all(type(v) is int for v in value[:5])
            and value[5] == sums.get(name)
        ):
            out[str(name)] = (value[:5], str(value[5]))
    return out


def analyze_incrementally(
    observations: pa.Table,
    env: BuildEnvironment,
    prints: dict[str, str],
    previous: Analysed,
    *,
    taken: Collection[str] = (),
    rest: pa.Table | None = None,
) -> tuple[dict[str, pa.Table], list[Finding]] | None:
    """The analyses of ``observations``, equal to ``analyze_stage(observations, env)``,
    computed only for the indicators whose rows changed since ``previous``; None when that
    cannot be done exactly (an analysis failed, a table's columns differ): then the caller
    runs the whole stage.

    ``rest``, when given, holds every row of ``observations`` whose indicator is not one of
    ``taken`` (derive's :attr:`~welfare_observatory.build.derive.DeriveOutput.unknown_rows`):
    the changed indicators' rows are looked for there, not in the whole table."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from welfare_observatory._arrow import among
    from welfare_observatory.build.analyze import ANALYSES, SORT_KEYS, analyze_tables
    from welfare_observatory.build.strategies.partition_analyses import PER_INDICATOR

    if observations.num_rows == 0 or any(f.code == "analysis-failed" for f in previous.findings):
        return None
    if set(previous.analyses) != {*PER_INDICATOR, "composite"}:
        return None
    changed = sorted(
        i
        for i, p in prints.items()
        if _analysed_part(previous.fingerprints.get(i)) != _analysed_part(p)
    )
    gone = sorted(set(previous.fingerprints) - set(prints))
    if not changed and not gone:
        return {n: previous.analyses[n] for n in ANALYSES}, list(previous.findings)
    fresh: dict[str, pa.Table] = {}
    subset = observations.slice(0, 0)
    if changed:
        pool = observations if rest is None or not set(taken).isdisjoint(changed) else rest
        subset = pool.filter(among(pool.column("indicator"), changed))
        # Their composites are computed below, per affected domain over all its indicators.
        names = [n for n in PER_INDICATOR if not _none_of(n, subset, env, changed)]
        fresh, found = analyze_tables(subset, env, names)
        if any(f.code == "analysis-failed" for f in found):
            return None
    redo = pa.array([*changed, *gone], pa.string())
    extra = [c for c in observations.column_names if c not in BASE_COLUMNS and c != "year"]
    extra = [c for c in extra if c not in _UNREAD]
    analyses: dict[str, pa.Table] = {}
    for name in PER_INDICATOR:
        old = previous.analyses[name]
        new = fresh.get(name)
        if new is not None and new.num_rows:
            if not old.num_rows or new.schema != old.schema:
                return None
        else:
            new = None
        if name == "early_warnings":
            kept = old.filter(
                pc.invert(pc.is_in(pc.cast(old.column("indicator"), pa.string()), redo))
            )
            if new is None and kept.num_rows == old.num_rows:
                # The very warnings ranked before: ranking them again gives them back.
                analyses[name] = old
                continue
            combined = pa.concat_tables([kept, new]) if new is not None else kept
            if not combined.num_rows and old.num_rows:
                # No warning left: an empty table's columns are not those of a full one
                # (analyze_stage types them without rows), so the whole stage runs.
                return None
            analyses[name] = _ranked(combined) if combined.num_rows else old
            continue
        spliced = _spliced(old, new, SORT_KEYS[name][0], {*changed, *gone})
        if spliced is None:
            keys = [*SORT_KEYS[name], *extra, "horizon", "period", "year"]
            kept = old.filter(
                pc.invert(pc.is_in(pc.cast(old.column("indicator"), pa.string()), redo))
            )
            spliced = _merged([kept] if new is None else [kept, new], keys)
        analyses[name] = spliced
    domain_now = {i: p.rsplit(":", 3)[0] for i, p in prints.items()}
    domain_before = {i: p.rsplit(":", 3)[0] for i, p in previous.fingerprints.items()}
    affected = {domain_now[i] for i in changed} | {domain_before[i] for i in gone}
    present = _in_composite_input(subset, extra)
    affected -= _composites_unchanged(
        env, changed, gone, domain_now, domain_before, previous, present
    )
    composite = _composites(observations, env, extra, previous, affected)
    if composite is None:
        return None
    analyses["composite"], findings = composite
    # In analyze_stage's order (a saved result lists its tables sorted by name).
    return {n: analyses[n] for n in ANALYSES if n in analyses}, findings


def _none_of(name: str, rows: pa.Table, env: BuildEnvironment, changed: list[str]) -> bool:
    """Whether the analysis ``name`` of ``rows`` (the ``changed`` indicators' rows) is
    certain to give no row without failing, as its table's column then says: benchmarks
    leave out counts that grow with the territory's size (``aggregation: sum``) once the
    focus territory has a reliable row; early warnings read only indicators with a
    direction. Such an analysis is not run: no row of it is replaced, none added."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from welfare_observatory._arrow import decoded
    from welfare_observatory.analyze._common import size_dependent_ids

    known = {i: env.indicators.get(i) for i in changed}
    if any(k is None for k in known.values()):
        return False
    if name == "early_warnings":
        return all(k is not None and k.polarity.sign == 0 for k in known.values())
    # The benchmark's own rule for the counts it leaves out (analyze.benchmark's default).
    if name != "benchmark" or size_dependent_ids(known) != set(changed):
        return False
    territory = env.config.territory
    if not [t for t in territory.comparisons if t != territory.code]:
        return False
    mine = pc.equal(decoded(rows.column("territory")), pa.scalar(territory.code, pa.string()))
    if "obs_status" in rows.column_names:
        reliable = pc.not_equal(decoded(rows.column("obs_status")), "U")
        mine = pc.and_(mine, pc.fill_null(reliable, True))
    return bool(pc.any(pc.fill_null(mine, False)).as_py())


def _runs(table: pa.Table, lead: str) -> list[tuple[str, int, int]] | None:
    """``(value, start, stop)`` of each run of equal ``lead`` text in ``table``, or None
    when the column is not text, has missing values or its runs are not in strictly
    increasing text order (then the table is not ordered as this module assumes)."""
    from itertools import pairwise

    from welfare_observatory._arrow import text_runs

    if not table.num_rows:
        return []
    runs = text_runs(table.column(lead))
    if runs is None or any(x[0] >= y[0] for x, y in pairwise(runs)):
        return None
    return runs


def _spliced(old: pa.Table, new: pa.Table | None, lead: str, redo: set[str]) -> pa.Table | None:
    """``old`` without the rows whose ``lead`` is in ``redo``, with ``new``'s rows (whose
    ``lead`` values are all in ``redo``) in their place: what :func:`_merged` gives, made of
    slices of both tables, so no row is copied. Both tables are ordered by ``lead`` (text
    order, :func:`stable_order`), and rows of one ``lead`` value come from one table only.
    None when the tables are not so (then the caller merges by sorting)."""
    import pyarrow as pa

    kept = _runs(old, lead)
    added = _runs(new, lead) if new is not None else []
    if kept is None or added is None or any(v not in redo for v, _, _ in added):
        return None
    pieces = [(v, old, a, b) for v, a, b in kept if v not in redo]
    pieces += [(v, new, a, b) for v, a, b in added if new is not None]
    pieces.sort(key=lambda piece: piece[0])
    if not pieces:
        return old.slice(0, 0)
    # Runs that follow each other in one table are one slice: a few slices, not one a run.
    spans: list[tuple[pa.Table, int, int]] = []
    for _, table, a, b in pieces:
        if spans and spans[-1][0] is table and spans[-1][2] == a:
            spans[-1] = (table, spans[-1][1], b)
        else:
            spans.append((table, a, b))
    return pa.concat_tables([table.slice(a, b - a) for table, a, b in spans])


def _merged(pieces: list[pa.Table], keys: list[str]) -> pa.Table:
    """Tables each in ``stable_order`` by ``keys``, whose values of the leading key are
    disjoint (one holds the changed indicators or domains, the other the rest), as one
    table in that order: a stable sort on the leading key alone (text as text, missing
    last, as ``stable_order``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pa.concat_tables(pieces)
    if len(pieces) < 2:
        return table
    lead = keys[0]
    if lead not in table.column_names:
        return _ordered(table, keys)
    column = table.column(lead)
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    # Missing values sort last by default, as in stable_order.
    order = pc.sort_indices(pa.table({"k": column}), sort_keys=[("k", "ascending")])
    return table.take(order)


def _ordered(table: pa.Table, keys: list[str]) -> pa.Table:
    """``table`` in the order ``stable_order`` gives its rows (the order analyze_stage
    stores); only the key columns go through pandas."""
    import numpy as np
    import pyarrow as pa

    from welfare_observatory.analyze._common import stable_order

    present = [k for k in dict.fromkeys(keys) if k in table.column_names]
    frame = table.select(present).to_pandas()
    frame["__row"] = np.arange(len(frame))
    order = stable_order(frame, present)["__row"].to_numpy()
    return table.take(pa.array(order, pa.int64()))


def _ranked(table: pa.Table) -> pa.Table:
    from welfare_observatory.build.strategies.partition_analyses import ranked_frame

    return ranked_frame(table)


def _composites(
    observations: pa.Table,
    env: BuildEnvironment,
    extra: list[str],
    previous: Analysed,
    affected: set[str],
) -> tuple[pa.Table, list[Finding]] | None:
    """The composites and their notes as analyze_stage makes them: a composite reads every
    indicator of its domain, so the ``affected`` domains are computed again and the others
    kept from ``previous`` (with their notes, which name their domain). None when that
    cannot be done exactly."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from welfare_observatory.build.analyze import SORT_KEYS

    old = previous.analyses["composite"]
    notes: dict[str, list[Finding]] = {}
    for finding in previous.findings:
        named = [d for d in previous_domains(previous) if f"domain {d!r}:" in finding.message]
        if finding.code != "composite-skipped" or len(named) != 1:
            return None
        notes.setdefault(named[0], []).append(finding)
    if old.num_rows and "domain" not in old.column_names:
        return None
    if not affected:
        return old, [f for d in sorted(notes) for f in notes[d]]
    from welfare_observatory._arrow import among

    in_domains = among(observations.column("domain"), affected)
    found: list[Finding] = []
    new = _composite(observations.filter(in_domains), env, extra, found)
    if new is None:
        return None
    for domain in affected:
        notes.pop(domain, None)
    for finding in found:
        named = [d for d in affected if f"domain {d!r}:" in finding.message]
        if len(named) != 1:
            return None
        notes.setdefault(named[0], []).append(finding)
    kept = old
    if old.num_rows:
        names = pc.cast(old.column("domain"), pa.string())
        kept = old.filter(pc.invert(pc.is_in(names, pa.array(sorted(affected), pa.string()))))
    if kept.num_rows and new.num_rows and kept.schema != new.schema:
        return None
    pieces = [t for t in (kept, new) if t.num_rows] or [new]
    table = _merged(pieces, [*SORT_KEYS["composite"], *extra, "horizon", "period", "year"])
    # domain_composites notes the domains in sorted order, one after the other.
    return table, [f for d in sorted(notes) for f in notes[d]]


def _composites_unchanged(
    env: BuildEnvironment,
    changed: list[str],
    gone: list[str],
    domain_now: dict[str, str],
    domain_before: dict[str, str],
    previous: Analysed,
    present: set[str],
) -> set[str]:
    """Domains whose composite (or note) cannot differ from ``previous``'s although an
    indicator of theirs changed. ``domain_composites`` reads a neutral indicator (or one
    outside the catalogue) only to know whether its domain is present; so a domain is
    unchanged when every changed indicator of it is such, was in the same domain before,
    and the domain was present before and is now: it had a composite (its indicators with
    a polarity, all unchanged, keep it present) or a note, and one of the changed neutral
    ones is ``present`` (:func:`_in_composite_input`). A domain that lost an indicator is
    always computed again."""
    import pyarrow.compute as pc

    from welfare_observatory._arrow import decoded

    old = previous.analyses["composite"]
    if old.num_rows and "domain" not in old.column_names:
        return set()
    composed: set[str] = set()
    if old.num_rows:
        composed = {str(d) for d in pc.unique(decoded(old.column("domain"))).to_pylist()}
    noted = {
        d
        for d in previous_domains(previous)
        for f in previous.findings
        if f.code == "composite-skipped" and f"domain {d!r}:" in f.message
    }
    blocked = {domain_before[i] for i in gone}
    shown: set[str] = set()
    for indicator in changed:
        domain = domain_now[indicator]
        known = env.indicators.get(indicator)
        if domain_before.get(indicator) != domain or (
            known is not None and (known.polarity.sign != 0 or known.domain.value != domain)
        ):
            blocked.add(domain)
        elif known is not None and indicator in present:
            shown.add(domain)
    candidates = {domain_now[i] for i in changed} - blocked
    return {d for d in candidates if d in composed or (d in noted and d in shown)}


def _in_composite_input(observations: pa.Table, extra: list[str]) -> set[str]:
    """Indicators with a row ``domain_composites`` reads: a value, every breakdown total,
    not of low reliability (see ``composite_analysis``)."""
    import pyarrow.compute as pc

    from welfare_observatory._arrow import decoded, distinct
    from welfare_observatory.model.observation import TOTAL

    if not observations.num_rows:
        return set()
    # pandas' notna, as domain_composites reads it: neither missing nor NaN.
    mask = pc.fill_null(pc.invert(pc.is_nan(observations.column("value"))), False)
    for column in extra:
        total = pc.equal(decoded(observations.column(column)), TOTAL)
        mask = pc.and_(mask, pc.fill_null(total, False))
    if "obs_status" in observations.column_names:
        reliable = pc.not_equal(decoded(observations.column("obs_status")), "U")
        mask = pc.and_(mask, pc.fill_null(reliable, True))
    return set(distinct(observations.filter(mask), "indicator"))


def previous_domains(previous: Analysed) -> set[str]:
    """Domains of the indicators ``previous`` analysed."""
    return {p.rsplit(":", 3)[0] for p in previous.fingerprints.values()}


def _composite(
    observations: pa.Table, env: BuildEnvironment, extra: list[str], findings: list[Finding]
) -> pa.Table | None:
    """The composites of the domains of ``observations`` as analyze_stage makes them, from
    the totals only (a composite reads nothing else)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from welfare_observatory._arrow import decoded, plain
    from welfare_observatory.analyze._common import stable_order
    from welfare_observatory.build.analyze import SORT_KEYS, composite_analysis, storable
    from welfare_observatory.errors import WelfareObservatoryError
    from welfare_observatory.model.observation import TOTAL

    mask = pc.is_valid(observations.column("value"))
    for column in extra:
        total = pc.equal(decoded(observations.column(column)), TOTAL)
        mask = pc.and_(mask, pc.fill_null(total, False))
    totals = observations.filter(mask)
    unread = _UNREAD & set(totals.column_names)
    frame = plain(totals.drop_columns(list(unread))).to_pandas()
    focus = env.config.territory.code
    references = list(dict.fromkeys([focus, "IT"]))
    try:
        result = composite_analysis(frame, env.indicators, references, findings)
    except (WelfareObservatoryError, ValueError, KeyError):
        return None
    ordered = stable_order(result, [*SORT_KEYS["composite"], *extra, "horizon", "period", "year"])
    return pa.Table.from_pandas(storable(ordered), preserve_index=False)
