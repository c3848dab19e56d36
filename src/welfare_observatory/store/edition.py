"""Editions on disk: complete builds behind an atomically replaced pointer.

Layout of a knowledge base folder::

    <kb>/<edition>/EDITION.json          pointer: current build, status, format version
    <kb>/<edition>/<build-id>/manifest.json
    <kb>/<edition>/<build-id>/observations/domain=<domain>/part-<n>.parquet
    <kb>/<edition>/<build-id>/lineage.parquet, findings.parquet
    <kb>/<edition>/<build-id>/analyses/<name>/part-<n>.parquet
    <kb>/.steps/<step-id>.parquet        outputs of pipeline steps, reused by later builds

A build is written into a temporary folder, renamed into place when complete, and only then
does ``EDITION.json`` (replaced with ``os.replace``, atomic on POSIX) point at it. A process
killed at any moment leaves the previous build readable and the pointer unchanged. Every
write happens under the knowledge base's writer lock (:mod:`.lock`), so two builds never
prune each other's staging folders; readers take no lock.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from pydantic import Field

from welfare_observatory._atomic import atomic_write_bytes as _atomic_write_bytes
from welfare_observatory.errors import EditionError, Location, NewerFormatError, StoreError
from welfare_observatory.model.common import Frozen
from welfare_observatory.model.observation import BASE_COLUMNS
from welfare_observatory.store.lock import writer_lock

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "ANALYSIS_PART_ROWS",
    "FORMAT_VERSION",
    "PART_ROWS",
    "AnalysisLinks",
    "AnalysisPart",
    "DisclosureRecord",
    "EditionPointer",
    "Manifest",
    "Part",
    "PartLinks",
    "analysis_files",
    "analysis_parts",
    "atomic_write_bytes",
    "commit_build",
    "disk_errors",
    "is_build_name",
    "load_manifest",
    "part_groups",
    "publish",
    "read_pointer",
    "write_analysis",
    "write_build",
]

FORMAT_VERSION = 2
"""2: each analysis is a folder of part files (``analyses/<name>/part-<n>.parquet``, see
:func:`analysis_parts`); 1: one file each (``analyses/<name>.parquet``), still read."""
POINTER = "EDITION.json"
KEEP_DRAFT_BUILDS = 3


class SourceRecord(Frozen):
    """What one source contributed to a build."""

    type: str
    status: str
    """``ok``, ``failed``, ``skipped`` or ``reused``."""
    payloads: tuple[str, ...] = ()
    """sha256 of every raw payload read."""
    rows_in: int = 0
    rows_out: int = 0
    steps: tuple[str, ...] = ()
    error: str | None = None
    reason: str | None = None


class Manifest(Frozen):
    """Everything needed to reproduce and trust a build. Times are informative only."""

    format_version: int = FORMAT_VERSION
    observatory: str
    edition: str
    build: str
    created: str
    library_version: str
    plugins: dict[str, str] = Field(default_factory=dict)
    engines: dict[str, str] = Field(default_factory=dict)
    """The versions of the libraries that computed the values (pyarrow, DuckDB, pandas,
    numpy); empty in manifests written before they were recorded."""
    config_digest: str
    reference_date: str
    territory: str
    indicators: tuple[str, ...] = ()
    sources: dict[str, SourceRecord] = Field(default_factory=dict)
    tables: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """table name -> {rows, sha256, files}."""
    overrides: int = 0
    disclosure: DisclosureRecord | None = None
    """The observatory's own disclosure rule, None when it declares none (the default)."""


class DisclosureRecord(Frozen):
    """The observatory's own disclosure rule at build time: which file, and its bytes' digest.

    ``publish`` and ``report`` refuse an edition that names a rule they cannot find, rather
    than fall back to the default rule (which may show what the observatory suppresses).
    """

    file: str
    """The path ``observatory.yaml`` gives (``disclosure:``), relative to its folder."""
    sha256: str


class EditionPointer(Frozen):
    edition: str
    build: str
    status: str
    """``draft`` or ``published``."""
    format_version: int = FORMAT_VERSION
    published: str | None = None
    history: tuple[str, ...] = ()
    """Earlier builds of this edition still on disk, newest first."""


atomic_write_bytes = _atomic_write_bytes  # the package's one writer (welfare_observatory._atomic)


def read_pointer(edition_dir: Path) -> EditionPointer | None:
    """The pointer of an edition folder, or None when no complete build exists yet."""
    file = edition_dir / POINTER
    if not file.exists():
        return None
    try:
        pointer = EditionPointer.model_validate_json(file.read_bytes())
    except ValueError as exc:
        raise EditionError(
            f"edition pointer {file} is unreadable: {exc}", location=Location(file=str(file))
        ) from exc
    if pointer.format_version > FORMAT_VERSION:
        raise NewerFormatError(
            f"edition {pointer.edition!r} has format version {pointer.format_version}, "
            f"this library reads up to {FORMAT_VERSION}",
            location=Location(file=str(file)),
            hint="upgrade welfare-observatory to read this knowledge base",
        )
    return pointer


def write_parquet(
    table: pa.Table,
    path: Path,
    *,
    computed: bool = False,
    statistics: bool | Sequence[str] = True,
) -> dict[str, Any]:
    """Write ``table`` as a zstd Parquet file; its row count, sha256 and file name.

    ``computed``: the table's floating-point columns hold computed values (the analyses'
    growth rates, ratios, scores), written without a dictionary (:func:`dictionary_columns`).
    ``statistics``: the columns whose minimum and maximum the file records (True: all).
    """
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    dictionary: bool | list[str] = dictionary_columns(table.schema) if computed else True
    pq.write_table(
        table,
        path,
        compression="zstd",
        use_dictionary=dictionary,
        write_statistics=statistics if isinstance(statistics, bool) else list(statistics),
    )
    return {"rows": table.num_rows, "sha256": file_sha256(path), "files": [path.name]}


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """The columns of a table of computed values to write with a Parquet dictionary: all but
    the floating-point ones. Computed floats (a compound growth rate, a ratio) are almost
    all distinct: the writer would build a dictionary of every value and then give it up,
    which cost a 4x build's progress table a fifth of its writing time (130 -> 103 ms) for
    a slightly larger file. The domain files' values keep their dictionary: observed
    values repeat (rounded rates, counts), and it makes those files smaller."""
    import pyarrow as pa

    return [field.name for field in schema if not pa.types.is_floating(field.type)]


def file_sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_BUILD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def is_build_name(name: object) -> bool:
    """Whether ``name`` can be a build's folder (``b-<digest>``: letters, digits, ``_`` and
    ``-``, not first): a name read from a pointer or a note is joined to a path only then."""
    return isinstance(name, str) and _BUILD_NAME.fullmatch(name) is not None


class Part(NamedTuple):
    """One observation file: rows of consecutive indicators of one domain."""

    domain: str
    indicators: tuple[str, ...]
    """The indicators whose rows the file holds, sorted; empty when a row has none."""
    file: str
    """Its path under ``observations/``: ``domain=<domain>/part-<n>.parquet``."""


class PartLinks(Protocol):
    """What a build knows of earlier builds' observation files (``build.reuse``)."""

    def earlier(self, part: Part) -> Path | tuple[Path, str] | None:
        """An earlier build's file holding exactly the rows ``part`` will (and the sha256
        it was written with), or None."""

    def written(self, part: Part, sha256: str) -> None:
        """``part`` is in the new build, with this sha256."""


PART_ROWS = 32_768
"""Rows a part file of a domain holds at least before the next one may start."""

_CUT_ONE_IN = 4
"""Indicator ids whose hash marks a possible cut between part files: one in this many."""


def part_groups(
    counts: Sequence[tuple[str, int]], rows_per_part: int | None = None
) -> list[tuple[str, ...]]:
    """The indicators of a domain (sorted ids, each with its row count) in runs, one run per
    part file: a run ends once it holds at least ``rows_per_part`` rows (default
    :data:`PART_ROWS`), before the next id whose hash marks a cut (one id in
    :data:`_CUT_ONE_IN`).

    A rebuild writes again only the files holding changed rows, so where runs end must not
    hang on rows elsewhere: cuts sit at ids, not at row counts, and a changed count moves
    a cut only when it makes a run cross ``rows_per_part``. A domain of fewer rows is one
    file; concatenated in order, the runs are ``counts``' ids."""
    import hashlib

    least = PART_ROWS if rows_per_part is None else rows_per_part
    groups: list[tuple[str, ...]] = []
    run: list[str] = []
    rows = 0
    for indicator, count in counts:
        cut = hashlib.sha256(indicator.encode("utf-8")).digest()[0] % _CUT_ONE_IN == 0
        if run and rows >= least and cut:
            groups.append(tuple(run))
            run, rows = [], 0
        run.append(indicator)
        rows += count
    if run or not groups:
        groups.append(tuple(run))
    return groups


ANALYSIS_PART_ROWS = 16_384
"""Rows a part file of an analysis holds at least before the next one may start (a 4x
build's progress table, 311,040 rows, is 14 files)."""


class AnalysisPart(NamedTuple):
    """One file of a stored analysis: the rows of consecutive indicators, or all its rows."""

    analysis: str
    indicators: tuple[str, ...]
    """The indicators whose rows the file holds, in the table's order; empty when the table
    is not split by indicator (its one file is never linked)."""
    file: str
    """Its path in the build: ``analyses/<analysis>/part-<n>.parquet``."""
    schema: str
    """The sha256 of the table's schema with its metadata: a file's bytes depend on it."""
    start: int
    """The file's first row in the table."""
    rows: int


class AnalysisLinks(Protocol):
    """What a build knows of earlier builds' analysis files (``build.reuse``)."""

    def earlier_analysis(self, part: AnalysisPart) -> tuple[Path, str] | None:
        """An earlier build's file holding exactly the rows ``part`` will, and the sha256
        it was written with; or None."""

    def written_analysis(self, part: AnalysisPart, sha256: str) -> None:
        """``part`` is in the new build, with this sha256."""


def analysis_parts(name: str, table: pa.Table) -> list[AnalysisPart]:
    """The part files of the analysis ``name``: when each indicator's rows are consecutive
    (the tables sorted by indicator), runs of whole indicators (:func:`part_groups`, at
    least :data:`ANALYSIS_PART_ROWS` rows each), so a rebuild writes again only the files
    holding changed rows; otherwise one file. Read in order, the files are the table."""
    import hashlib

    schema = hashlib.sha256(table.schema.serialize().to_pybytes()).hexdigest()
    runs = _indicator_runs(table)
    if not runs:
        file = f"analyses/{name}/part-0.parquet"
        return [AnalysisPart(name, (), file, schema, 0, table.num_rows)]
    rows = dict(runs)
    parts = []
    start = 0
    for n, group in enumerate(part_groups(runs, ANALYSIS_PART_ROWS)):
        size = sum(rows[i] for i in group)
        parts.append(
            AnalysisPart(name, group, f"analyses/{name}/part-{n}.parquet", schema, start, size)
        )
        start += size
    return parts


def _indicator_runs(table: pa.Table) -> list[tuple[str, int]] | None:
    """Each indicator of ``table`` with its row count, in row order, when the rows of each
    are consecutive and none is missing; None otherwise (or without rows or indicators)."""
    from welfare_observatory._arrow import text_runs

    if "indicator" not in table.column_names:
        return None
    runs = text_runs(table.column("indicator"))
    if not runs or len({text for text, _, _ in runs}) != len(runs):
        return None
    return [(text, stop - start) for text, start, stop in runs]


def analysis_files(build: Path, manifest: Manifest) -> dict[str, list[Path]]:
    """Each analysis the build stores, by name, with its files in order (read one after the
    other, they are the table): ``analyses/<name>/part-<n>.parquet`` (format 2), or the one
    ``analyses/<name>.parquet`` of a build of format 1. EditionError when the manifest
    names a file outside the build (edited by hand or damaged)."""
    out: dict[str, list[Path]] = {}
    for table, record in manifest.tables.items():
        folder, _, name = table.partition("/")
        if folder != "analyses" or not is_build_name(name):
            continue
        files = [str(f) for f in record.get("files", [])]
        if not all(Path(f).name == f and f not in ("", ".", "..") for f in files):
            raise EditionError(
                f"the manifest of {build} lists a file outside its build: {files!r}",
                location=Location(file=str(build / "manifest.json")),
                hint="the knowledge base was edited by hand or is damaged: build again",
            )
        base = build / "analyses" / name if manifest.format_version >= 2 else build / "analyses"
        out[name] = [base / f for f in files]
    return out


_ANALYSIS_STATISTICS = ("indicator", "territory", "domain")
"""Columns of an analysis whose Parquet statistics are written: those a reader selects rows
by (every column's cost a quarter of writing the progress table)."""

_STATISTICS = ("indicator", "territory", "period", "period_start")
"""Observation columns whose Parquet statistics (minimum, maximum) are written, with the
breakdowns: readers skip files and row groups on the key; statistics of every column cost
a third of writing a domain file."""


def _write_observations(
    observations: pa.Table,
    folder: Path,
    links: PartLinks | None = None,
    digests: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Each domain's rows in Parquet files of consecutive indicators (:func:`part_groups`),
    each sorted by indicator, territory, period, breakdowns: read in order, the files of a
    domain are sorted as one.

    A part ``links`` knows an earlier build's file of (its exact rows, with the sha256 it
    had when written) is linked, or copied where links are not possible, instead of
    written: builds never modify a file once written, so both builds may share it. A file
    whose bytes no longer have that digest (damaged, replaced) is written anew.
    ``digests`` receives each file's sha256 by its path under ``observations/``.

    The file's bytes depend on the rows only: every dictionary column is re-encoded on its
    values in sorted order before writing, so neither the order rows arrived in nor the
    order DuckDB happened to return them (which shapes the dictionaries) reaches the disk.
    """
    if "domain" not in observations.column_names:
        raise StoreError("observations need a 'domain' column to be partitioned")
    # Breakdown codes complete the key, so the row order (and the file's hash) never
    # depends on the order rows arrived in.
    names = ["indicator", "territory", "period"]
    names += [n for n in observations.column_names if n not in BASE_COLUMNS and n != "domain"]
    statistics = [n for n in observations.column_names if n in (*_STATISTICS, *names)]
    domains: dict[str, Callable[[], pa.Table]] = {}
    spans = _domain_spans(observations.column("domain"))
    if spans is not None:
        for domain, rows in sorted(spans.items()):
            domains[domain] = partial(_rows_of, observations, rows)
    else:
        codes, found_domains = _domain_codes(observations.column("domain"))
        for domain, code in found_domains:
            domains[domain] = partial(_domain_rows, observations, codes, code)

    def one(part: Part, ordered: Callable[[], pa.Table]) -> str:
        target = folder / part.file
        earlier = links.earlier(part) if links is not None and part.indicators else None
        found = None if earlier is None else _linked(earlier, target)
        if found is not None:
            return found
        return str(write_parquet(ordered(), target, statistics=statistics)["sha256"])

    found: dict[str, str] = {}
    for domain, rows_of_domain in domains.items():
        # The domain's rows are held by its parts alone: ordered once for all of them
        # (batches of several indicators), they are let go before the files are written.
        for part, ordered in _parts(domain, rows_of_domain(), names):
            found[part.file] = one(part, ordered)
            if links is not None and part.indicators:
                links.written(part, found[part.file])
    if digests is not None:
        digests.update(found)
    return {
        "rows": observations.num_rows,
        "sha256": combined_digest(list(found.values())),
        "files": list(found),
    }


def _parts(
    domain: str, rows: pa.Table, names: list[str]
) -> list[tuple[Part, Callable[[], pa.Table]]]:
    """The part files of one domain's ``rows`` (:func:`part_groups`), each with its rows as
    written, in key order (``names``, see :func:`_ordered_part`), made when asked: a linked
    file never needs them. Rows without an indicator make the domain one file that names
    none (never linked: no earlier file is known to hold them).

    When every batch of the rows holds one indicator (a source's or a derive group's rows,
    the usual case), a part's batches are joined without a copy and ordered alone; when
    some hold several, the domain is ordered once and each part is its slice (indicator
    leads the key) on dictionaries of its own values: either way the file's bytes depend
    on its rows only."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if rows.column("indicator").null_count:
        alone = Part(domain, (), f"domain={domain}/part-0.parquet")
        return [(alone, partial(_ordered_part, rows, names))]
    at = rows.column_names.index("indicator")
    batches = rows.to_batches()
    whole: dict[str, list[int]] = {}
    mixed = False
    tallies: dict[str, int] = {}
    for n, batch in enumerate(batches):
        if not batch.num_rows:
            continue
        text = _one_text(batch.column(at))
        if text is None:
            mixed = True
            break
        whole.setdefault(text, []).append(n)
        tallies[text] = tallies.get(text, 0) + batch.num_rows
    if mixed:
        counts = pc.value_counts(rows.column(at))
        values = counts.field("values")
        if pa.types.is_dictionary(values.type):
            values = values.dictionary_decode()
        found = zip(values.to_pylist(), counts.field("counts").to_pylist(), strict=True)
        tallies = {}
        for value, count in found:
            tallies[str(value)] = tallies.get(str(value), 0) + int(count)
    groups = part_groups(sorted(tallies.items()))
    if len(groups) == 1:
        ordered = partial(_ordered_part, rows, names)
        return [(Part(domain, groups[0], f"domain={domain}/part-0.parquet"), ordered)]
    out: list[tuple[Part, Callable[[], pa.Table]]] = []
    domain_order = _Sliced(rows, names, [sum(tallies[i] for i in group) for group in groups])
    for n, group in enumerate(groups):
        part = Part(domain, group, f"domain={domain}/part-{n}.parquet")
        if mixed:
            out.append((part, partial(domain_order.part, n)))
        else:
            taken = [batches[b] for indicator in group for b in whole[indicator]]
            table = pa.Table.from_batches(taken, rows.schema)
            out.append((part, partial(_ordered_part, table, names)))
    return out


class _Sliced:
    """A domain ordered once (when a part first asks), each part a slice of it: its rows
    are consecutive (indicator leads the key), ``sizes`` of them in order."""

    def __init__(self, rows: pa.Table, names: list[str], sizes: list[int]) -> None:
        self._rows: pa.Table | None = rows
        self._names = names
        self._starts = [sum(sizes[:n]) for n in range(len(sizes) + 1)]
        self._ordered: pa.Table | None = None

    def part(self, n: int) -> pa.Table:
        if self._ordered is None:
            assert self._rows is not None
            self._ordered = _ordered_part(self._rows, self._names)
            self._rows = None
        start, end = self._starts[n], self._starts[n + 1]
        return _sorted_dictionaries(self._ordered.slice(start, end - start))


def _one_text(chunk: pa.Array) -> str | None:
    """The text on every row of ``chunk`` (dictionary-encoded or plain text, no missing
    row), or None when two rows differ (or one text sits in two slots of a dictionary)."""
    import pyarrow as pa

    if chunk.null_count or not len(chunk):
        return None
    if pa.types.is_dictionary(chunk.type):
        value_type = chunk.type.value_type
        if not (pa.types.is_string(value_type) or pa.types.is_large_string(value_type)):
            return None
        first = _one_index(chunk.indices)
        if first is None or not 0 <= first < len(chunk.dictionary):
            return None
        text = chunk.dictionary[first]
        return str(text.as_py()) if text.is_valid else None
    if pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type):
        return _uniform_text(chunk)
    return None


_COMPARED_BYTES = 1 << 18
"""Bytes of a chunk's indices :func:`_one_index` copies and compares at a time."""


def _one_index(indices: pa.Array) -> int | None:
    """The index on every row of ``indices`` (integers), or None when two rows differ, a
    row is missing or there is none.

    Compared as bytes by the interpreter, whole rows at a time (the first row's bytes
    repeated), where numpy compared them: numpy lets other threads take the interpreter
    during a comparison or reduction over more than 500 values, as Arrow does in its
    compute and equality calls. The store does this for chunk after chunk (about 320 a
    build) while the analyses' writers run Python on other threads, and each time its
    thread could wait up to the switch interval (5 ms) to have the interpreter back. The
    copy of the bytes and their comparison hold the interpreter."""
    import pyarrow as pa

    rows = len(indices)
    if not rows or indices.null_count:
        return None
    width = indices.type.bit_width // 8
    data = indices.buffers()[1]
    start = indices.offset * width
    first = data.slice(start, width).to_pybytes()
    pattern = first * max(1, min(rows, _COMPARED_BYTES // width))
    end = start + rows * width
    for at in range(start, end, len(pattern)):
        size = min(len(pattern), end - at)
        expected = pattern if size == len(pattern) else pattern[:size]
        if data.slice(at, size).to_pybytes() != expected:
            return None
    return int.from_bytes(first, sys.byteorder, signed=pa.types.is_signed_integer(indices.type))


def _domain_spans(column: pa.ChunkedArray) -> dict[str, list[tuple[int, int]]] | None:
    """Per domain, the row ranges ``[start, end)`` holding it, in row order, when every
    chunk of ``column`` holds one domain (a source's or an indicator group's rows: the
    usual table); None otherwise (a chunk of several domains, a missing domain), for
    :func:`_domain_codes` to split row by row. A chunk is checked whole, never trusted:
    the ranges select exactly the rows ``pc.equal`` on the text would."""
    import pyarrow as pa

    dictionary = pa.types.is_dictionary(column.type)
    value_type = column.type.value_type if dictionary else column.type
    if not (pa.types.is_string(value_type) or pa.types.is_large_string(value_type)):
        return None
    spans: dict[str, list[tuple[int, int]]] = {}
    start = 0
    for chunk in column.chunks:
        end = start + len(chunk)
        if end == start:
            continue
        # The same slot on every row (one text in two slots goes the slow way).
        domain = _one_text(chunk)
        if domain is None:
            return None
        ranges = spans.setdefault(domain, [])
        if ranges and ranges[-1][1] == start:
            ranges[-1] = (ranges[-1][0], end)
        else:
            ranges.append((start, end))
        start = end
    return spans


def _uniform_text(chunk: pa.Array) -> str | None:
    """The text on every row of ``chunk`` (string or large string, no missing row), or None
    when two rows differ: what ``pc.equal(chunk, chunk[0])`` tells, read off the buffers
    (every row as long as the first, one after the other, the bytes the first's repeated)
    for a fraction of its cost per chunk (160 chunks a build)."""
    import numpy as np
    import pyarrow as pa

    rows = len(chunk)
    wide = pa.types.is_large_string(chunk.type)
    _, offsets_buffer, data = chunk.buffers()
    offsets = np.frombuffer(
        offsets_buffer,
        dtype=np.int64 if wide else np.int32,
        count=rows + 1,
        offset=chunk.offset * (8 if wide else 4),
    )
    first = int(offsets[0])
    size = int(offsets[1]) - first
    if int(offsets[-1]) - first != rows * size:
        return None
    if size and not bool((np.diff(offsets) == size).all()):
        return None
    # Every row the first's bytes: the rows' bytes equal themselves one row further on (a
    # comparison in place, where the first's text repeated was a copy of the column).
    span = (rows - 1) * size
    if span and not data.slice(first + size, span).equals(data.slice(first, span)):
        return None
    return data.slice(first, size).to_pybytes().decode("utf-8") if size else ""


def _rows_of(table: pa.Table, spans: Sequence[tuple[int, int]]) -> pa.Table:
    """The rows of ``table`` in the ranges ``spans`` (in order), without copying them."""
    import pyarrow as pa

    if len(spans) == 1:
        start, end = spans[0]
        return table.slice(start, end - start)
    return pa.concat_tables([table.slice(start, end - start) for start, end in spans])


def _domain_codes(column: pa.ChunkedArray) -> tuple[pa.ChunkedArray, list[tuple[str, int]]]:
    """Per row, the index of its domain in one dictionary; the domains present (missing
    ones left out, as ``pc.unique`` then ``pc.equal`` would), sorted, with their index.
    The rows are compared as integers afterwards, never as text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_dictionary(column.type):
        column = column.dictionary_encode()
    column = pa.table({"c": column}).unify_dictionaries().column(0)
    if not column.num_chunks:
        return pa.chunked_array([], pa.int32()), []
    dictionary = column.chunk(0).dictionary
    indices = pa.chunked_array([c.indices for c in column.chunks], column.type.index_type)
    used = pc.unique(pc.drop_null(indices)).to_pylist()
    values = dictionary.to_pylist()
    # One text may fill two slots of a dictionary no one de-duplicated: both are its rows.
    slots: dict[str, list[int]] = {}
    for slot in used:
        slots.setdefault(str(values[slot]), []).append(slot)
    if any(len(v) > 1 for v in slots.values()):
        return _domain_codes(column.cast(column.type.value_type))
    found = {domain: slot[0] for domain, slot in slots.items()}
    if indices.null_count and "None" not in found:
        # As the text of a missing domain was looked for before: a file of no rows.
        found["None"] = -1
    return indices, sorted(found.items())


def _domain_rows(observations: pa.Table, codes: pa.ChunkedArray, code: int) -> pa.Table:
    """The rows of one domain (``codes`` equal to ``code``)."""
    import pyarrow.compute as pc

    return observations.filter(pc.equal(codes, code))


def _ordered_part(part: pa.Table, names: list[str]) -> pa.Table:
    """The rows of one domain without the domain column, on sorted dictionaries, in key
    order (``names``): ``_sorted_dictionaries(part).take(order)``, column for column.

    The key columns are re-encoded first (their ranks give the order); every other column
    is re-encoded, taken in order and let go before the next one, so the domain's columns
    never all exist twice at once: a build hands its freed memory back to the system
    before the store, and every page the store's arrays need anew costs a fault."""
    import pyarrow as pa

    part = part.drop_columns(["domain"])
    canonical = _canonical_nullable(part)
    position = {name: i for i, name in enumerate(part.column_names)}
    ranked = {name: _sorted_column(part, position[name], canonical) for name in names}
    keys = pa.table({name: ranked[name][1] for name in names})
    order = _key_order(_decoded_keys(keys, names, ranked=True), names)
    del keys
    fields: list[pa.Field] = []
    columns: list[pa.ChunkedArray] = []
    for i, name in enumerate(part.column_names):
        field, column = ranked.pop(name) if name in ranked else _sorted_column(part, i, canonical)
        fields.append(field)
        columns.append(_taken(column, order))
        del column
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, part.schema.metadata))


def _taken(column: pa.ChunkedArray, order: pa.Array) -> pa.ChunkedArray:
    """``column.take(order)``, ``order`` a permutation of its rows (so in bounds).

    A column whose rows are all alike in any order is kept as it is: one chunk on a
    dictionary of one value with no row missing (every index 0, see
    :func:`_sorted_dictionary_by_slots`), or every row missing (made anew, one chunk)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = len(column)
    if rows and pa.types.is_dictionary(column.type):
        one = column.num_chunks == 1 and len(column.chunk(0).dictionary) == 1
        if one and not column.null_count:
            return column
    elif rows and column.null_count == rows:
        return pa.chunked_array([pa.nulls(rows, column.type)], column.type)
    return pc.take(column, order, boundscheck=False)


def _key_order(keys: pa.Table, names: list[str]) -> pa.Array:
    """The stable order of the rows by the key columns ``names`` (ranks, or text).

    When every key is an integer rank without gaps in meaning (a sorted dictionary's
    indices, no missing value) and their mixed-radix product fits 63 bits, the keys are
    folded into one integer per row whose order is the tuples' order, and sorted stably in
    one pass: the order ``pc.sort_indices`` gives on the columns (also stable), at a
    fraction of its cost."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    def fallback() -> pa.Array:
        return pc.sort_indices(keys, sort_keys=[(name, "ascending") for name in names])

    if keys.num_rows < 2:
        return fallback()
    folded = np.zeros(keys.num_rows, dtype=np.uint64)
    room = 1
    for name in names:
        column = keys.column(name)
        if not pa.types.is_integer(column.type) or column.null_count:
            return fallback()
        ranks = column.to_numpy()
        low, high = int(ranks.min()), int(ranks.max())
        if low < 0:
            return fallback()
        room *= high + 1
        if room >= 1 << 63:
            return fallback()
        # In place, in unsigned 64-bit arithmetic (never through floats): no array per step.
        folded *= np.uint64(high + 1)
        np.add(folded, ranks, out=folded, dtype=np.uint64, casting="unsafe")
    if room <= _SCATTERED_ROOM * keys.num_rows:
        order = _scattered_order(folded, room)
        if order is not None:
            return pa.array(order)
    return pa.array(np.argsort(folded, kind="stable"))


_SCATTERED_ROOM = 4
"""Folded keys ranging over at most this many values per row are ordered by scattering
(a table of that many slots) rather than sorted."""


def _scattered_order(folded: Any, room: int) -> Any:
    """The rows in the order of their folded keys (``0 <= key < room``), by writing each
    row's number at its key's slot and reading the slots in order: linear, where a sort
    is not. Only when no two rows share a key (a canonical table's keys are unique), so
    the order is the one any sort gives; None otherwise (the caller sorts)."""
    import numpy as np

    dtype = np.dtype(np.int32 if len(folded) < 1 << 31 else np.int64)
    slots: Any = np.full(room, -1, dtype=dtype)
    # As signed positions (every key is below room < 2**63): numpy indexes with them as
    # they are, where unsigned ones are first copied.
    slots[folded.view(np.int64)] = np.arange(len(folded), dtype=dtype)
    order = slots[slots >= 0]
    return order if len(order) == len(folded) else None


def _linked(earlier: Path | tuple[Path, str], target: Path) -> str | None:
    """Link (or copy) an earlier build's file as ``target``; its sha256, or None (nothing
    left at ``target``) when it is gone or no longer has the digest it was written with
    (damaged, replaced): the caller writes the file anew."""
    path, expected = earlier if isinstance(earlier, tuple) else (earlier, None)
    with contextlib.suppress(FileNotFoundError):
        _link(path, target)
        found = file_sha256(target)
        if expected is None or found == expected:
            return found
        target.unlink()
    return None


def _link(source: Path, target: Path) -> None:
    import os

    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _sorted_dictionaries(table: pa.Table) -> pa.Table:
    """``table`` with each dictionary column re-encoded on the distinct values its rows use,
    in sorted order (other columns unchanged). An index then orders like its value, and
    the dictionary is a function of the rows alone."""
    import pyarrow as pa

    canonical = _canonical_nullable(table)
    for i in range(table.num_columns):
        column = table.column(i)
        if pa.types.is_dictionary(column.type) and column.num_chunks:
            table = table.set_column(i, *_sorted_column(table, i, canonical))
    return table


def _canonical_nullable(table: pa.Table) -> dict[str, bool]:
    """Whether each canonical column of ``table`` may hold a missing value.

    The stored schema is the canonical one whatever the input said (keys are never null),
    so the file's bytes do not depend on how the table was put together."""
    from welfare_observatory.model.observation import observation_schema

    breakdowns = [n for n in table.column_names if n not in BASE_COLUMNS]
    return {f.name: f.nullable for f in observation_schema(breakdowns)}


def _sorted_column(
    table: pa.Table, i: int, canonical: Mapping[str, bool]
) -> tuple[pa.Field, pa.ChunkedArray]:
    """Column ``i`` of ``table`` and its field, a dictionary column re-encoded on its used
    values sorted (:func:`_sorted_dictionary`) with the canonical nullability."""
    import pyarrow as pa

    column = table.column(i)
    field = table.schema.field(i)
    if not (pa.types.is_dictionary(column.type) and column.num_chunks):
        return field, column
    if column.num_chunks > 1:
        # One chunk first: Arrow joins a domain's 40 chunks (unifying their dictionaries
        # where they differ) for less than the loop over them costs (a fifth of the
        # rebuild's ordering). Dictionaries beyond the index type go the chunked way.
        with contextlib.suppress(pa.ArrowException):
            column = pa.chunked_array([column.combine_chunks()], column.type)
    encoded = _sorted_dictionary(column)
    nullable = canonical.get(field.name, field.nullable)
    return field.with_type(encoded.type).with_nullable(nullable), encoded


def _sorted_dictionary(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """``column`` (dictionary-encoded) on a sorted dictionary of distinct used values.

    The rank of a dictionary slot comes from its value, never from its position: a
    dictionary may hold one value in two slots (a single chunk is not de-duplicated by
    ``unify_dictionaries``), and two rows of equal text must get equal indices. Only the
    dictionaries (thousands of codes) are handled as values; the rows stay integers.
    """
    fast = _sorted_dictionary_by_slots(column)
    return fast if fast is not None else _sorted_dictionary_unified(column)


_DICTIONARIES_COMPARED = 16
"""Distinct dictionaries a column's chunks are compared against before a chunk's own is
taken as one more (only the size of the slots' table depends on it, never the result)."""


def _sorted_dictionary_by_slots(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """:func:`_sorted_dictionary` without unifying the chunks' dictionaries: every chunk's
    slots are numbered in one table of slots (chunks with equal dictionaries share theirs:
    a domain's 40 chunks from derive hold one dictionary each, all alike), each slot gets
    the rank of its value among the values rows use, and the rows' indices become ranks in
    one lookup. None (the unifying path then) when a row or a slot is missing, or the
    index type is not a signed integer: the result is otherwise the same, array for array.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    index_type = column.type.index_type
    if not pa.types.is_signed_integer(index_type):
        return None
    dictionaries: list[pa.Array] = []
    starts: list[int] = []
    parts: list[tuple[int, Any]] = []  # per chunk with rows: its dictionary, its indices
    size = 0
    for chunk in column.chunks:
        if not len(chunk):
            continue
        if chunk.null_count:
            return None
        dictionary = chunk.dictionary
        group = next(
            (
                k
                for k, known in enumerate(dictionaries[:_DICTIONARIES_COMPARED])
                if len(known) == len(dictionary) and known.equals(dictionary)
            ),
            None,
        )
        if group is None:
            if dictionary.null_count:
                return None
            group = len(dictionaries)
            dictionaries.append(dictionary)
            starts.append(size)
            size += len(dictionary)
        parts.append((group, chunk.indices))
    if not parts:
        return None
    ends = [*starts[1:], size]
    slots = dictionaries[0] if len(dictionaries) == 1 else pa.concat_arrays(dictionaries)
    if len(slots) == 1:
        values = slots  # every row uses the one slot (no row is missing)
    else:
        # Each chunk's distinct slots (Arrow's hash on the rows as they are: numpy's
        # indexing would first copy them as 64-bit positions), marked in its dictionary's
        # stretch of the slots. A slot outside it: the unifying path says so.
        marked = np.zeros(len(slots), dtype=bool)
        for group, indices in parts:
            used = _distinct(indices)
            if used.min() < 0 or used.max() >= ends[group] - starts[group]:
                return None
            marked[starts[group] : ends[group]][used] = True
        values = pc.unique(slots.take(pa.array(np.flatnonzero(marked))))
        values = values.take(pc.sort_indices(values))
    dtype = np.dtype(index_type.to_pandas_dtype())
    if len(values) - 1 > np.iinfo(dtype).max:
        return None  # more values than the index type holds: the unifying path says so
    rows = sum(len(p) for _, p in parts)
    if len(values) == 1:
        # One value: every row's index is 0, in any order (no pass over the rows; the
        # zeros' pages are the system's until read).
        indices = pa.array(np.zeros(rows, dtype=dtype), index_type)
    elif len(dictionaries) == 1 and len(values) == len(slots) and values.equals(slots):
        # Already sorted, distinct and all used: every row keeps its index.
        every = [p for _, p in parts]
        indices = every[0] if len(every) == 1 else pa.concat_arrays(every)
    else:
        # An unused slot whose value no row has gets rank 0: no row looks it up. Without
        # a validity buffer (fill_null leaves one): Arrow's take then checks none per row.
        found = pc.index_in(slots, value_set=values).fill_null(0).cast(index_type)
        rank = pa.array(found.to_numpy(), index_type)
        if len(parts) == 1:
            # Every index was found in its stretch above: the take need not check it.
            group, only = parts[0]
            stretch = rank.slice(starts[group], ends[group] - starts[group])
            indices = pc.take(stretch, only, boundscheck=False)
        else:
            ranks = rank.to_numpy()
            remapped = np.empty(rows, dtype=dtype)
            first = 0
            for group, part in parts:
                end = first + len(part)
                stretch = ranks[starts[group] : ends[group]]
                np.take(stretch, part.to_numpy(), out=remapped[first:end])
                first = end
            indices = pa.array(remapped, index_type)
    # Every index is a rank below len(values): nothing for the constructor to check.
    encoded = pa.DictionaryArray.from_arrays(indices, values, safe=False)
    return pa.chunked_array([encoded], pa.dictionary(index_type, values.type))


_RUNS = 8
"""Rows per run of equal indices from which :func:`_distinct` reads the runs' first rows
rather than hashing every row."""


def _distinct(indices: pa.Array) -> Any:
    """The distinct values of ``indices`` (integers, no missing row), in any order, as
    numpy. A domain's rows come in runs (a source's rows of one indicator, territory,
    sex): the first row of each run holds them all, found in a comparison of neighbours
    for a third of hashing every row; scattered rows are hashed (``pc.unique``)."""
    import numpy as np
    import pyarrow.compute as pc

    rows = indices.to_numpy()
    head = rows[: _RUNS * 512]  # a look at the first rows spares the rest a comparison
    if len(rows) > 1 and np.count_nonzero(head[1:] != head[:-1]) * _RUNS <= len(head):
        starts = rows[1:] != rows[:-1]
        if np.count_nonzero(starts) * _RUNS <= len(rows):
            return np.unique(np.concatenate([rows[:1], rows[1:][starts]]))
    return pc.unique(indices).to_numpy()


def _sorted_dictionary_unified(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """:func:`_sorted_dictionary` on the chunks' unified dictionary (any column: missing
    rows and slots, any index type)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    column = pa.table({"c": column}).unify_dictionaries().column(0)
    dictionary = column.chunk(0).dictionary
    indices = pa.chunked_array([c.indices for c in column.chunks], column.type.index_type)
    # The slots in use, in order: a mark per slot (linear) rather than a sort of the rows;
    # marking costs about half of counting (``np.bincount``), whose counts went unused.
    marked = np.zeros(len(dictionary), dtype=bool)
    marked[pc.drop_null(indices).to_numpy()] = True
    used = np.flatnonzero(marked)
    present = pc.drop_null(dictionary.take(pa.array(used, pa.int64())))
    values = pc.unique(present)
    values = values.take(pc.sort_indices(values))
    # One chunk: a domain's rows of a table of 160 sources came in 160 chunks, and a take
    # per chunk cost more in calls than the rows it moved (the file's bytes do not depend
    # on the chunks: the store takes the rows in key order afterwards).
    if len(values) == len(dictionary) and values.equals(dictionary):
        # Already sorted, distinct and all used (periods, one-value statuses): every slot
        # keeps its index, the rows need no new ones.
        remapped = indices.combine_chunks()
    else:
        slot = pc.index_in(dictionary, value_set=values).cast(column.type.index_type)
        remapped = pc.take(slot, indices.combine_chunks())
    encoded = pa.DictionaryArray.from_arrays(remapped, values)
    return pa.chunked_array([encoded], pa.dictionary(column.type.index_type, values.type))


def _decoded_keys(
    table: pa.Table,
    names: Sequence[str] = ("indicator", "territory", "period"),
    *,
    ranked: bool = False,
) -> pa.Table:
    """The sort keys as integers that order like the key strings (Arrow cannot sort
    dictionary columns directly): each column is put on a sorted dictionary of distinct
    values and its indices are the ranks, so 70 million rows never become 70 million
    Python-visible strings. ``ranked``: the columns already are (``_sorted_dictionaries``),
    so their indices are taken as they are."""
    import pyarrow as pa

    columns = {}
    for name in names:
        column = table.column(name)
        if not pa.types.is_dictionary(column.type) or column.num_chunks == 0:
            columns[name] = column
            continue
        ranked_column = column if ranked else _sorted_dictionary(column)
        columns[name] = pa.chunked_array(
            [c.indices for c in ranked_column.chunks], ranked_column.type.index_type
        )
    return pa.table(columns)


def combined_digest(digests: list[str]) -> str:
    import hashlib

    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


def write_build(
    kb_root: Path,
    manifest: Manifest,
    *,
    observations: pa.Table,
    lineage: pa.Table | Callable[[], pa.Table],
    findings: pa.Table,
    analyses: Mapping[str, pa.Table] = {},
    links: PartLinks | None = None,
    digests: dict[str, str] | None = None,
    analysis_links: AnalysisLinks | None = None,
) -> EditionPointer:
    """Write a complete build of ``manifest.edition`` and point the edition at it.

    ``lineage`` is the lineage table, or a function that makes it: called only when the
    build is written (not when an intact build of the same id is kept), on one of the
    threads that write the other tables, first, while the observations are written.
    ``links``: earlier builds' observation files that may be linked, told of each file
    written (see :func:`_write_observations`); ``analysis_links`` the same of the analyses'
    part files (:func:`analysis_parts`); ``digests`` receives each observation file's
    sha256 by its path under ``observations/``, also when the build is kept.

    Raises EditionError when the edition is published (frozen). On any failure, nothing
    that was readable before becomes unreadable.
    """

    def lineage_job(path: Path) -> dict[str, Any]:
        return write_parquet(lineage() if callable(lineage) else lineage, path)

    def others(staging: Path) -> dict[str, tuple[int, Callable[[], dict[str, Any]]]]:
        """The tables besides the observations, each a job writing it (in manifest order),
        with its rows (the lineage's counted as the most: its table is made by the job,
        in Python, the longest part of it)."""
        jobs: dict[str, tuple[int, Callable[[], dict[str, Any]]]] = {
            "lineage": (sys.maxsize, partial(lineage_job, staging / "lineage.parquet")),
            "findings": (
                findings.num_rows,
                partial(write_parquet, findings, staging / "findings.parquet"),
            ),
        }
        for name, table in sorted(analyses.items()):
            job = partial(write_analysis, table, staging, name, analysis_links)
            jobs[f"analyses/{name}"] = (table.num_rows, job)
        return jobs

    def write(staging: Path) -> dict[str, Any]:
        from concurrent.futures import ThreadPoolExecutor

        # The other tables are written on two more threads while the domains are (Parquet
        # writing and hashing release the GIL), the largest first: in a rebuild, which
        # writes few observation files, they are most of the store's work. Leaving the
        # block waits for every job, also when one of them failed.
        jobs = others(staging)
        largest_first = sorted(jobs, key=lambda name: -jobs[name][0])
        with ThreadPoolExecutor(2, thread_name_prefix="store") as pool:
            running = {name: pool.submit(jobs[name][1]) for name in largest_first}
            written = _write_observations(observations, staging / "observations", links, digests)
            return {"observations": written, **{name: running[name].result() for name in jobs}}

    def kept(files: Mapping[str, str]) -> None:
        if digests is not None:
            for name, sha in files.items():
                parts = Path(name).parts
                if len(parts) == 3 and parts[0] == "observations":
                    digests["/".join(parts[1:])] = sha

    return commit_build(kb_root, manifest, write, kept)


def write_analysis(
    table: pa.Table, build: Path, name: str, links: AnalysisLinks | None = None
) -> dict[str, Any]:
    """The analysis ``name`` in its part files under ``build`` (:func:`analysis_parts`): a
    part ``links`` knows an earlier build's file of is linked (as the observations' are),
    the others written; the manifest's record of them."""
    statistics = [n for n in table.column_names if n in _ANALYSIS_STATISTICS]
    digests = []
    parts = analysis_parts(name, table)
    for part in parts:
        target = build / part.file
        earlier = links.earlier_analysis(part) if links is not None and part.indicators else None
        found = None if earlier is None else _linked(earlier, target)
        if found is None:
            rows = table.slice(part.start, part.rows)
            record = write_parquet(rows, target, computed=True, statistics=statistics)
            found = str(record["sha256"])
        if links is not None and part.indicators:
            links.written_analysis(part, found)
        digests.append(found)
    return {
        "rows": table.num_rows,
        "sha256": combined_digest(digests),
        "files": [Path(part.file).name for part in parts],
    }


def commit_build(
    kb_root: Path,
    manifest: Manifest,
    write: Callable[[Path], dict[str, Any]],
    kept: Callable[[Mapping[str, str]], None] | None = None,
) -> EditionPointer:
    """The store's one write protocol: ``write(staging)`` fills a hidden staging folder and
    returns the manifest's table records; the folder is renamed into place complete, then
    the edition's pointer is replaced atomically and old builds are pruned, all under the
    knowledge base's writer lock (waiting for another writer, see :mod:`.lock`).

    Raises EditionError when the edition is published (frozen), StoreError when the disk
    is full or not writable. A failure or a kill at any point leaves the previous build
    and pointer readable (a half-written staging folder is ignored by readers and removed
    by the next build).

    A build of the same id already complete and intact (every file has the digest its
    manifest gives) is kept and nothing is written: the same id means the same content
    (the build id digests the configuration and every step's id), and that build would
    be kept in any case. ``kept`` then receives its files' sha256 by path.
    """
    with writer_lock(kb_root):
        return _commit_build(kb_root, manifest, write, kept)


@contextlib.contextmanager
def disk_errors(folder: Path, what: str) -> Iterator[None]:
    """Turn an OSError inside the block (disk full, no permission) into a StoreError that
    names ``folder`` and says what was being written."""
    try:
        yield
    except OSError as exc:
        if isinstance(exc, StoreError):
            raise
        raise StoreError(
            f"cannot write {what}: {exc.strerror or exc}",
            location=Location(file=str(folder)),
            hint="check free disk space and permissions; the previous edition is untouched",
        ) from exc


def _commit_build(
    kb_root: Path,
    manifest: Manifest,
    write: Callable[[Path], dict[str, Any]],
    kept: Callable[[Mapping[str, str]], None] | None = None,
) -> EditionPointer:
    edition_dir = kb_root / manifest.edition
    pointer = read_pointer(edition_dir)
    if pointer is not None and pointer.status == "published":
        raise EditionError(
            f"edition {manifest.edition!r} is published and frozen",
            location=Location(file=str(edition_dir / POINTER)),
            hint="set a new 'edition' in observatory.yaml to build the next one",
        )
    edition_dir.mkdir(parents=True, exist_ok=True)
    intact = _intact(edition_dir / manifest.build)
    if intact is not None:
        if kept is not None:
            kept(intact)
        return _point(edition_dir, manifest, pointer)
    staging = Path(tempfile.mkdtemp(dir=edition_dir, prefix=".building-"))
    try:
        tables = write(staging)
        final_manifest = manifest.model_copy(update={"tables": tables})
        atomic_write_bytes(
            staging / "manifest.json",
            final_manifest.model_dump_json(indent=2).encode("utf-8"),
        )
        target = edition_dir / manifest.build
        if target.exists():
            # A build of this id on disk that is not intact (checked above) is replaced: moved
            # aside first, so the edition never points at a half-removed folder.
            stale = Path(tempfile.mkdtemp(dir=edition_dir, prefix=".stale-"))
            target.rename(stale / manifest.build)
            staging.rename(target)
            shutil.rmtree(stale, ignore_errors=True)
        else:
            staging.rename(target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise StoreError(
            f"cannot write edition {manifest.edition!r}: {exc.strerror or exc}",
            location=Location(file=str(edition_dir)),
            hint="check free disk space and permissions; the previous build is untouched",
        ) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _point(edition_dir, manifest, pointer)


def _intact(build: Path) -> dict[str, str] | None:
    """The sha256 of every file of a complete build by its path in the build, when each
    table's files have the digest its manifest gives; None when the build is absent,
    incomplete or any file differs (it is then written again, as before)."""
    if not (build / "manifest.json").is_file():
        return None
    try:
        manifest = load_manifest(build)
        tables = manifest.tables
        if not tables or manifest.format_version != FORMAT_VERSION:
            return None  # of another layout: written again in this one
        found: dict[str, str] = {}
        for name, record in tables.items():
            files = [str(f) for f in record.get("files", [])]
            if name == "observations":
                paths = [f"observations/{f}" for f in files]
                digests = [file_sha256(build / p) for p in paths]
                whole = combined_digest(digests)
            elif name.startswith("analyses/"):
                paths = [f"{name}/{f}" for f in files]
                digests = [file_sha256(build / p) for p in paths]
                whole = combined_digest(digests)
            else:
                paths = [str(Path(name).parent / f) for f in files]
                digests = [file_sha256(build / p) for p in paths]
                whole = digests[0] if len(digests) == 1 else ""
            if whole != record.get("sha256"):
                return None
            found.update(zip(paths, digests, strict=True))
    except (OSError, StoreError, TypeError, ValueError, KeyError, AttributeError):
        return None  # a manifest of the wrong shape is a damaged build: written again
    return found


def _point(edition_dir: Path, manifest: Manifest, pointer: EditionPointer | None) -> EditionPointer:
    """Point the edition at ``manifest.build`` (complete on disk) and prune old builds."""
    history = () if pointer is None else (pointer.build, *pointer.history)
    history = tuple(b for b in dict.fromkeys(history) if b != manifest.build)
    history = history[: KEEP_DRAFT_BUILDS - 1]
    new_pointer = EditionPointer(
        edition=manifest.edition, build=manifest.build, status="draft", history=history
    )
    with disk_errors(edition_dir, f"the pointer of edition {manifest.edition!r}"):
        atomic_write_bytes(edition_dir / POINTER, new_pointer.model_dump_json(indent=2).encode())
    prune_builds(edition_dir, new_pointer)
    return new_pointer


def publish(kb_root: Path, edition: str) -> EditionPointer:
    """Freeze an edition: later builds of it are refused. Returns the new pointer."""
    with writer_lock(kb_root):
        return _publish(kb_root, edition)


def _publish(kb_root: Path, edition: str) -> EditionPointer:
    edition_dir = kb_root / edition
    pointer = read_pointer(edition_dir)
    if pointer is None:
        raise EditionError(
            f"no edition {edition!r} in {kb_root}", hint="build it first: welfare-observatory build"
        )
    if pointer.status == "published":
        return pointer
    published = pointer.model_copy(
        update={"status": "published", "published": datetime.now(UTC).isoformat(timespec="seconds")}
    )
    with disk_errors(edition_dir, f"the pointer of edition {edition!r}"):
        atomic_write_bytes(edition_dir / POINTER, published.model_dump_json(indent=2).encode())
    return published


def prune_builds(edition_dir: Path, pointer: EditionPointer) -> None:
    """Remove stale staging folders and temporary files (left by a killed build: SIGKILL
    gives a process no chance to clean up) and draft builds beyond the few kept for diffs.

    Call it holding the writer lock (as :func:`commit_build` does): only then is every
    staging folder and temporary file in the edition a leftover, never another build's
    work in progress."""
    keep = {pointer.build, *pointer.history[: KEEP_DRAFT_BUILDS - 1]}
    for child in edition_dir.iterdir():
        if not child.is_dir():
            # A process killed inside atomic_write_bytes leaves its temporary file behind.
            if child.name.startswith(".") and child.name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    child.unlink()
            continue
        if child.name.startswith(".building-") or child.name not in keep:
            shutil.rmtree(child, ignore_errors=True)


def load_manifest(build_dir: Path) -> Manifest:
    file = build_dir / "manifest.json"
    try:
        return Manifest.model_validate(json.loads(file.read_bytes()))
    except (OSError, ValueError) as exc:
        raise EditionError(
            f"manifest {file} is missing or unreadable", location=Location(file=str(file))
        ) from exc
