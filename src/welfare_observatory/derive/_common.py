"""Shared pieces of the derive stage: the result type, DuckDB access, status precedence."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa

from welfare_observatory._arrow import counts as _counts
from welfare_observatory._arrow import distinct as _distinct
from welfare_observatory._arrow import plain as _plain
from welfare_observatory.derive._parts import FindingPart
from welfare_observatory.errors import DataError, Location
from welfare_observatory.lineage import StepRecord
from welfare_observatory.model.finding import Finding
from welfare_observatory.model.indicator import Indicator
from welfare_observatory.model.observation import BASE_COLUMNS, observation_schema

if TYPE_CHECKING:
    import duckdb

__all__ = ["Derived", "connect", "indicator_map", "query", "to_canonical"]

_IDENT = re.compile(r"[a-z][a-z0-9_]*")

STATUS_PRECEDENCE = "PEFUBDIN"
"""When parts disagree, the first of these statuses found among them wins; else ``A``."""


@dataclass(frozen=True)
class Derived:
    """Derived observations, the findings raised, the lineage step and (for aggregates) coverage."""

    table: pa.Table
    findings: list[Finding] = field(default_factory=list)
    step: StepRecord | None = None
    coverage: pa.Table | None = None
    """Aggregates only: indicator, territory, period, breakdowns, members, reported, coverage."""
    parts: list[FindingPart] = field(default_factory=list)
    """``findings`` per indicator (:mod:`welfare_observatory.derive._parts`), where kept."""


def indicator_map(
    indicators: Mapping[str, Indicator] | Iterable[Indicator],
) -> dict[str, Indicator]:
    """id -> Indicator from a mapping, an iterable or a catalogue."""
    if isinstance(indicators, Mapping):
        return dict(indicators)
    return {i.id: i for i in indicators}


_DATABASE: dict[int, duckdb.DuckDBPyConnection] = {}
"""The process's in-memory database, by process id (a forked worker opens its own)."""
_LOCK = threading.Lock()
_OPENING: list[threading.Thread] = []
"""The thread of :func:`open_early` while it may still be opening the database."""


def connect(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection (Arrow tables are registered on it by name).

    Without ``threads``, a cursor of one in-memory database per process: a new database
    costs about 15 ms of CPU, a cursor well under one; tables registered on a cursor and its
    temporary views are its own and go with it. With ``threads`` (a setting of the whole
    database), a database of its own. DuckDB is imported here, on first use: a rebuild
    whose derive asks it nothing (and whose rows are hashed in numpy) never loads it."""
    import duckdb

    if threads is not None:
        con = duckdb.connect(":memory:")
        con.sql(f"SET threads = {int(threads)}")
    else:
        with _LOCK:
            database = _DATABASE.get(os.getpid())
            if database is None:
                database = _DATABASE[os.getpid()] = duckdb.connect(":memory:")
        con = database.cursor()
    # Row order of a result carries no meaning here; not keeping it saves memory. (execute:
    # a statement without a result, a fifth of sql()'s cost, which builds a relation.)
    con.execute("SET preserve_insertion_order = false")
    return con


def open_early() -> None:
    """Open the process's database (:func:`connect`) on another thread, unless it is open
    or being opened: importing DuckDB and creating the database cost about 65 ms of CPU,
    spent while the caller does other work instead of at its first query. A first query (a
    group-by over an Arrow table) is run there too: a process's first costs more than the
    next ones."""
    with _LOCK:
        if _DATABASE.get(os.getpid()) is not None or any(t.is_alive() for t in _OPENING):
            return
        # Started under the lock, so that release_database never finds it unstarted (its
        # connect waits for the lock to be let go).
        thread = threading.Thread(target=_warm, name="duckdb-open", daemon=True)
        _OPENING[:] = [thread]
        thread.start()


def _warm() -> None:
    con = connect()
    try:
        con.register("warm", pa.table({"k": pa.array(["a"]).dictionary_encode(), "v": [1.0]}))
        con.execute("SELECT CAST(k AS VARCHAR), count(*), sum(v) FROM warm GROUP BY 1").fetchall()
    finally:
        con.close()


def release_database() -> None:
    """Forget the process's database (:func:`connect`): its memory (about 25 MiB after
    deriving 3 million rows) goes back when the last cursor still open on it is closed,
    not at the end of the process; the next ``connect`` opens another. Cursors in use keep
    it alive, so this is safe while another thread queries it. A database being opened
    (:func:`open_early`) is waited for first, so that it is not left open afterwards."""
    for thread in list(_OPENING):
        thread.join()
    with _LOCK:
        _DATABASE.pop(os.getpid(), None)


def query(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """The result of ``sql`` as an Arrow table (no extra copy)."""
    result = con.sql(sql)
    if result is None:
        return pa.table({})
    return result.to_arrow_table()


def constant(n: int, value: str) -> pa.Array:
    """``n`` copies of ``value``, dictionary-encoded (one string, n int32 indices)."""
    import numpy as np

    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value]))


def on_values(column: pa.ChunkedArray, function: Callable[[pa.Array], pa.Array]) -> pa.ChunkedArray:
    """``function`` of each row of ``column``, computed once per distinct value of a
    dictionary chunk (then taken by index) rather than on millions of decoded strings.

    ``function`` is element-wise (one output per input value, a null for a null). Chunks
    that follow each other on one dictionary (a unified table's: every chunk) share one
    call of ``function`` and one take; the result has ``column``'s chunks."""
    chunks: list[pa.Array] = []
    dictionary: pa.Array | None = None
    run: list[pa.Array] = []  # the indices of the chunks on ``dictionary``

    def flush() -> None:
        if run and dictionary is not None:
            chunks.extend(_taken(function(dictionary), run))
        run.clear()

    for chunk in column.chunks:
        if not pa.types.is_dictionary(chunk.type):
            flush()
            dictionary = None
            chunks.append(function(chunk))
            continue
        same = dictionary is not None and (
            chunk.dictionary is dictionary or chunk.dictionary.equals(dictionary)
        )
        if not same:
            flush()
            dictionary = chunk.dictionary
        run.append(chunk.indices)
    flush()
    if not chunks:
        kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
        return pa.chunked_array([], type=function(pa.array([], kind)).type)
    return pa.chunked_array(chunks)


def _taken(values: pa.Array, indices: list[pa.Array]) -> list[pa.Array]:
    """``values.take(i)`` for each of ``indices``: a chunk whose rows all have one index
    (a source's indicator, usually) as that value repeated, no row read twice; booleans
    without a missing value or index through numpy (a byte a row, packed once: Arrow's
    take goes bit by bit); the others in one Arrow take over them all."""
    out: list[pa.Array | None] = []
    rest: list[pa.Array] = []
    for chunk in indices:
        rows = chunk.to_numpy() if len(chunk) and not chunk.null_count else None
        if rows is not None and rows.min() == rows.max() and 0 <= rows[0] < len(values):
            out.append(pa.repeat(values[int(rows[0])], len(chunk)))
        else:
            out.append(None)
            rest.append(chunk)
    if not rest:
        return [c for c in out if c is not None]
    boolean = pa.types.is_boolean(values.type) and not values.null_count
    if boolean and not any(i.null_count for i in rest):
        flags = values.to_numpy(zero_copy_only=False)
        taken = [pa.array(flags[i.to_numpy()], pa.bool_()) for i in rest]
    else:
        taken = list(values.take(pa.chunked_array(rest, rest[0].type)).chunks)
    found = iter(taken)
    return [c if c is not None else next(found) for c in out]


counts = _counts  # rows per text of a column, rows never decoded (welfare_observatory._arrow)
distinct = _distinct  # distinct non-null texts, rows never decoded (welfare_observatory._arrow)


plain = _plain  # dictionary columns decoded: DuckDB joins and groups them as text


def breakdowns_of(table: pa.Table) -> list[str]:
    """Breakdown column names, checked to be plain identifiers (they are spliced into SQL)."""
    names = [name for name in table.column_names if name not in BASE_COLUMNS]
    for name in names:
        if not _IDENT.fullmatch(name):
            raise DataError(
                f"breakdown column {name!r} is not a lower_snake_case name",
                location=Location(column=name),
                hint="breakdown dimensions are named like 'sex', 'age', 'citizenship'",
            )
    return names


def status_sql(column: str) -> str:
    """SQL aggregate giving the combined obs_status of a group's parts (one min, not eight)."""
    ranks = " ".join(f"WHEN '{code}' THEN {i}" for i, code in enumerate(STATUS_PRECEDENCE))
    codes = ", ".join(f"'{code}'" for code in (*STATUS_PRECEDENCE, "A"))
    last = len(STATUS_PRECEDENCE)
    return f"[{codes}][min(CASE {column} {ranks} ELSE {last} END) + 1]"


def pair_status_sql(first: str, second: str) -> str:
    """SQL expression combining the obs_status of two operands (a rate's parts)."""
    cases = " ".join(
        f"WHEN {first} = '{code}' OR {second} = '{code}' THEN '{code}'"
        for code in STATUS_PRECEDENCE
    )
    return f"CASE {cases} ELSE 'A' END"


def to_canonical(table: pa.Table, breakdowns: list[str]) -> pa.Table:
    """Cast a DuckDB result to the canonical schema (dictionary keys, column order)."""
    schema = observation_schema(tuple(breakdowns))
    return table.select(schema.names).cast(schema)


def empty(breakdowns: list[str]) -> pa.Table:
    return observation_schema(tuple(breakdowns)).empty_table()
