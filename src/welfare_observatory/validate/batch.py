"""The checks of a build, run once over every source's rows instead of once per source.

A build of 160 small sources paid each check's fixed cost (a query plan, a DuckDB
registration, a Python loop) 160 times. Here the canonical tables of the sources are put one
after the other with a column naming each row's source
(:data:`~welfare_observatory.validate.builtin.SOURCE_COLUMN`); every built-in check runs once
over that and its findings still name the source (and the row, column, indicator, territory
and period as before). Plugin checks keep their ``(table, context)`` contract: they get each
source's own rows, a zero-copy slice.

The build calls it through :func:`welfare_observatory.build.validate.check_sources`, which
reuses the findings of unchanged sources.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from welfare_observatory.model.finding import Finding, Severity
from welfare_observatory.validate.builtin import (
    SOURCE_COLUMN,
    check_coverage,
    check_outliers,
    check_range,
    check_status,
    check_sum_consistency,
    check_unknown_territories,
    close_connection,
    ranked_dictionary,
)
from welfare_observatory.validate.checks import Check, CheckContext, CheckRegistry

if TYPE_CHECKING:
    import pyarrow as pa


__all__ = [
    "BATCHED",
    "CHUNK_ROWS",
    "Chunker",
    "check_chunk",
    "checks_of",
    "in_severity_order",
    "release_checks",
    "run_checks_by_source",
]

CHUNK_ROWS = 400_000
"""Rows of whole sources the batched checks take at a time. Every group a check compares
lies in one source, so a chunk's findings are those the whole batch would give its
sources; a bounded chunk bounds the checks' temporaries (sorts, codes and masks of every
row: 3.1 million rows at once held some 600 MiB more than 400,000 at a time) and keeps
their sorts in cache. Much smaller chunks pay the checks' fixed costs more often."""

BATCHED: dict[str, Check] = {
    "unknown-territory": check_unknown_territories,
    "coverage": check_coverage,
    "range": check_range,
    "sum-consistency": check_sum_consistency,
    "outliers": check_outliers,
    "status": check_status,
}
"""Built-in checks that read :data:`SOURCE_COLUMN` and name each finding's source."""

_UNREAD = frozenset({"source", "lineage", "conf_status", "flags", "domain"})
"""Columns no batched check reads (left as they are in the batch)."""

_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def run_checks_by_source(
    tables: Mapping[str, pa.Table],
    registry: CheckRegistry,
    context: CheckContext,
    *,
    only: Iterable[str] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> dict[str, list[Finding]]:
    """Findings of each source's table, as ``run_checks`` would give them one by one.

    Built-in checks of :data:`BATCHED` run once over the rows of each chunk of whole
    sources (about ``chunk_rows`` rows, :data:`CHUNK_ROWS`); others once per source. A
    check that crashes is reported as ``check-failed`` for the sources it was checking (a
    batched one is retried source by source, so the failure lands on the source that
    caused it).
    """
    import pyarrow as pa

    ids = [s for s, t in tables.items() if t.num_rows]
    found: dict[str, list[Finding]] = {s: [] for s in tables}
    if not ids:
        return found
    # What the sources' parsing left free goes back before the batches are built.
    pa.default_memory_pool().release_unused()
    checks = checks_of(registry, only)
    for chunk in _chunks(ids, tables, chunk_rows):
        found.update(check_chunk(chunk, tables, checks, context, registry))
    release_checks()
    return in_severity_order(found)


def checks_of(registry: CheckRegistry, only: Iterable[str] | None) -> list[tuple[str, Check]]:
    """The checks of ``registry`` that ``only`` names (all without it), in its order."""
    wanted = set(only) if only is not None else None
    return [(c, k) for c, k in registry.items() if wanted is None or c in wanted]


def release_checks() -> None:
    """What the checks held, given back: this thread's DuckDB connection and the pages
    Arrow's allocator holds free. The batches and their codes are gone by then: the
    allocator gives back only pages that are free, and the analyses that follow need the
    memory (mimalloc and jemalloc keep freed pages otherwise)."""
    import pyarrow as pa

    close_connection()
    pa.default_memory_pool().release_unused()


def in_severity_order(found: dict[str, list[Finding]]) -> dict[str, list[Finding]]:
    """``found`` with each source's findings sorted by severity, errors first (stable: in
    the checks' order within a severity)."""
    for source in found:
        found[source].sort(key=lambda f: _ORDER[f.severity])
    return found


class Chunker:
    """Cuts sources given one by one, in order, into the runs :func:`_chunks` makes of
    them: whole sources of at most ``chunk_rows`` rows (:data:`CHUNK_ROWS` when not
    given), a larger source a run of its own.
    A run is complete when the next source would not fit, or at the end (:meth:`rest`)."""

    def __init__(self, chunk_rows: int | None = None) -> None:
        self.chunk_rows = CHUNK_ROWS if chunk_rows is None else chunk_rows
        self._chunk: list[str] = []
        self._rows = 0

    def add(self, source: str, rows: int) -> list[str] | None:
        """Take ``source`` of ``rows`` rows; the run it closed, if it closed one."""
        done = None
        if self._chunk and self._rows + rows > self.chunk_rows:
            done, self._chunk, self._rows = self._chunk, [], 0
        self._chunk.append(source)
        self._rows += rows
        return done

    def rest(self) -> list[str] | None:
        """The last run, once every source was given (None when there is none)."""
        done, self._chunk, self._rows = self._chunk or None, [], 0
        return done


def _chunks(ids: list[str], tables: Mapping[str, pa.Table], chunk_rows: int) -> Iterator[list[str]]:
    """``ids`` in order, cut into runs of whole sources of at most ``chunk_rows`` rows; a
    source larger than that is a run of its own."""
    chunker = Chunker(chunk_rows)
    for source in ids:
        done = chunker.add(source, tables[source].num_rows)
        if done is not None:
            yield done
    rest = chunker.rest()
    if rest is not None:
        yield rest


def check_chunk(
    ids: list[str],
    tables: Mapping[str, pa.Table],
    checks: list[tuple[str, Check]],
    context: CheckContext,
    registry: CheckRegistry,
) -> dict[str, list[Finding]]:
    """The findings of ``checks`` over the sources ``ids`` (a run of :class:`Chunker`), by
    source, in the checks' order (not yet in severity order). A chunk's findings depend on
    its sources' rows only: every group a check compares lies in one source."""
    import numpy as np
    import pyarrow as pa

    from welfare_observatory.model.observation import unify_breakdowns

    combined = unify_breakdowns([tables[s] for s in ids])
    lengths = np.array([tables[s].num_rows for s in ids])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    names = pa.array(ids, pa.string())
    which = pa.DictionaryArray.from_arrays(
        pa.array(np.repeat(np.arange(len(ids), dtype=np.int32), lengths)), names
    )
    batch = combined.append_column(SOURCE_COLUMN, which)
    # The checks hand DuckDB and Arrow's grouping integer codes that sort as the texts do:
    # worked out here once per column (one sorted dictionary), not once per check, and the
    # texts are never decoded row by row.
    batch = pa.table(
        [
            ranked_dictionary(c)
            if n not in _UNREAD
            and pa.types.is_dictionary(c.type)
            and pa.types.is_string(c.type.value_type)
            else c
            for n, c in zip(batch.column_names, batch.columns, strict=True)
        ],
        names=batch.column_names,
    )
    own = {s: combined.slice(int(offsets[i]), int(lengths[i])) for i, s in enumerate(ids)}
    found: dict[str, list[Finding]] = {s: [] for s in ids}
    for check_id, check in checks:
        if BATCHED.get(check_id) is check:
            try:
                for finding in check(batch, context):
                    if finding.source in found:
                        found[finding.source].append(finding)
                continue
            except Exception:  # noqa: S110 (retried per source below, which reports it)
                pass
        for source in ids:
            found[source] += _one(check_id, check, own[source], context, source, registry)
    return found


def _one(
    check_id: str,
    check: Check,
    table: pa.Table,
    context: CheckContext,
    source: str,
    registry: CheckRegistry,
) -> list[Finding]:
    ctx = dataclasses.replace(context, source=source)
    try:
        return list(check(table, ctx))
    except Exception as exc:  # a plugin's bug must not hide the other checks
        return [
            Finding(
                code="check-failed",
                severity=Severity.ERROR,
                message=f"check {check_id!r} failed: {type(exc).__name__}: {exc}",
                source=source,
                hint=f"report it to the maintainers of {registry.owner(check_id)}",
            )
        ]
