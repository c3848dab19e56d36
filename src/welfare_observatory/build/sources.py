"""Running one source: fetch -> parse -> harmonize -> validate, with reuse of its result.

A failing source is reported and the others go on. What a source produced is kept under
``<kb>/.steps`` by a key made of its payload hashes, type, options, rules, reference date and
the build environment's fingerprint (the definitions of the indicators its rules name, units,
code lists, reference date and versions), so a later build reuses it when none of those
changed. The pipeline runs these per
source (on any executor); :mod:`welfare_observatory.build.orchestrator` then derives, analyzes and
stores.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from welfare_observatory.build.report import SourceReport
from welfare_observatory.errors import (
    ConfigError,
    Location,
    OfflineError,
    SourceError,
    WelfareObservatoryError,
)
from welfare_observatory.lineage import StepRecord, digest
from welfare_observatory.model.finding import Finding, Severity

if TYPE_CHECKING:
    import pyarrow as pa

    from welfare_observatory.build.environment import BuildEnvironment
    from welfare_observatory.config import SourceConfig
    from welfare_observatory.harmonize import HarmonizeRule
    from welfare_observatory.sources.http import HttpClient

__all__ = [
    "BuildContext",
    "SourceOutput",
    "declared_indicators",
    "distinct",
    "new_context",
    "run_source",
    "run_sources",
    "skipped_source",
]

Progress = Callable[[str], None]


@dataclass
class SourceOutput:
    """What one source produced: its report, its canonical table, findings and steps."""

    report: SourceReport
    table: pa.Table | None = None
    findings: list[Finding] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    payloads: tuple[str, ...] = ()
    reused: bool = False
    saving: Future[None] | None = None
    """What the source left to the build's writer thread (``BuildContext.saver``): its
    copies' fsyncs and cache records, then its step; :func:`run_sources` settles it."""


@dataclass
class BuildContext:
    """What every source of one build shares: the environment, folders, settings, timings."""

    env: BuildEnvironment
    steps_dir: Path
    offline: bool
    refresh: bool
    cache_dir: Path
    say: Progress
    timings: dict[str, float] = field(default_factory=dict)
    timeout: float | None = None
    """Seconds a source may take to fetch, parse, harmonize and validate (None: no limit)."""
    defer_checks: bool = False
    """Leave the data checks to one pass over all sources (``build.validate.check_sources``)."""
    saver: ThreadPoolExecutor | None = None
    """Where a source's copies of local files are fsynced and indexed and its step written
    (None: in the source's own thread); see :func:`run_sources`."""
    saving: dict[str, Future[None]] = field(default_factory=dict)
    """Steps submitted to ``saver``, by key: a source with the key of one still being
    written waits for it, and reuses it as it would have."""
    real_base: list[Any] = field(default_factory=list, repr=False)
    """The observatory folder's real path, resolved once for every source's fetch (see
    ``FetchContext``)."""

    @property
    def versions(self) -> dict[str, str]:
        return dict(self.env.versions)

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start


def new_context(
    env: BuildEnvironment,
    *,
    steps_dir: Path,
    cache_dir: Path,
    offline: bool,
    refresh: bool,
    say: Progress,
    timeout: float | None = None,
) -> BuildContext:
    """What ``run_source`` needs; executors rebuild it on their workers from paths."""
    return BuildContext(
        env=env.prepare(),
        steps_dir=steps_dir,
        offline=offline,
        refresh=refresh,
        cache_dir=cache_dir,
        say=say,
        timeout=timeout,
    )


def skipped_source(source_id: str, config: SourceConfig, reason: str) -> SourceOutput:
    return SourceOutput(
        SourceReport(id=source_id, type=config.type, status="skipped", reason=reason)
    )


def _rules(source_id: str, config: SourceConfig, env: BuildEnvironment) -> list[HarmonizeRule]:
    """The source's harmonization rules (validated when observatory.yaml loaded)."""
    if not config.rules:
        raise ConfigError(
            f"source {source_id!r} has no harmonization rules",
            location=Location(file=str(env.config_file), field=f"sources.{source_id}"),
            hint="add 'rules:' saying which columns hold the indicator, territory, period, value",
        )
    return list(config.rules)


class SourceTimeoutError(SourceError, TimeoutError):
    """A source took longer than the build's per-source timeout."""


def run_source(source_id: str, config: SourceConfig, context: BuildContext) -> SourceOutput:
    """fetch, parse, harmonize and validate one source; errors stay inside its report.

    Whatever the source's plugin does (raises any exception, returns the wrong type, never
    returns), the outcome is this source's report: a failed source with the reason, and
    the build goes on with the others. ``context.timeout`` bounds the whole source.
    """
    started = time.perf_counter()
    try:
        return _with_deadline(
            context.timeout, source_id, lambda: _run_source(source_id, config, context, started)
        )
    except Exception as exc:
        return _failed(source_id, config, context, exc, time.perf_counter() - started)


_BACKLOG = 16
"""Sources whose writes may wait on the writer thread before the next source waits."""


def run_sources(source_ids: Sequence[str], context: BuildContext) -> list[SourceOutput]:
    """:func:`run_source` of each source in order, what they write finished on one other
    thread: the fsync and index record of each local file copied into the cache, then the
    source's step.

    Waiting for the disk (an fsync costs milliseconds of wall time) and writing a step
    (Parquet encoding, files) release the GIL, so they overlap the next source's parsing.
    What a build gets is the same as with everything written in line: a copy or a step that
    cannot be written fails its source with the error it failed with there (reported once
    every source ran).
    """
    sources = context.env.config.sources
    if len(source_ids) < 2:
        return [run_source(s, sources[s], context) for s in source_ids]
    outputs = []
    backlog: deque[Future[None]] = deque()
    with ThreadPoolExecutor(1, thread_name_prefix="steps") as saver:
        writing = dataclasses.replace(context, saver=saver, saving={})
        for source_id in source_ids:
            output = run_source(source_id, sources[source_id], writing)
            outputs.append(output)
            if output.saving is not None:
                backlog.append(output.saving)
            # A slow disk must not hold every source's table and open copy at once.
            while len(backlog) > _BACKLOG:
                wait([backlog.popleft()])
    # Every step is written (the pool waited for them): a failed write fails its source.
    done = []
    for output in outputs:
        error = output.saving.exception() if output.saving is not None else None
        output = dataclasses.replace(output, saving=None)
        if error is not None:
            source_id = output.report.id
            seconds = output.report.seconds or 0.0
            output = _failed(source_id, sources[source_id], context, error, seconds)
        done.append(output)
    return done


def _failed(
    source_id: str,
    config: SourceConfig,
    context: BuildContext,
    exc: BaseException,
    seconds: float,
) -> SourceOutput:
    """The output of a source that raised ``exc``: failed, with the error and its hint."""
    typed = isinstance(exc, WelfareObservatoryError)
    message = str(exc) if typed else f"{type(exc).__name__}: {exc}"
    hint = getattr(exc, "hint", None) if typed else None
    hint = hint or (
        None if typed else "an error inside the source's plugin; report it to the plugin's authors"
    )
    context.say(f"{source_id}: failed: {message}")
    return SourceOutput(
        SourceReport(
            id=source_id,
            type=config.type,
            status="failed",
            error=message + (f" (hint: {hint})" if hint else ""),
            seconds=round(seconds, 3),
        )
    )


def _with_deadline(
    seconds: float | None, source_id: str, run: Callable[[], SourceOutput]
) -> SourceOutput:
    """``run()``, stopped after ``seconds`` with :class:`SourceTimeoutError`.

    In the main thread an interval timer interrupts the source wherever it waits (a read,
    a sleep) and the exception unwinds it, closing what it opened. Elsewhere (a Dask worker
    thread) the source runs in a thread of its own and is abandoned at the deadline: the
    build goes on, the thread ends with its process.
    """
    import signal
    import threading

    if seconds is None or seconds <= 0:
        return run()

    def expired() -> SourceTimeoutError:
        return SourceTimeoutError(
            f"source {source_id!r} did not finish within {seconds:g} s and was stopped",
            location=Location(source=source_id),
            hint="a server that does not answer, or a plugin that hangs; raise the per-source "
            "timeout (--source-timeout) if the source is just slow",
        )

    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):

        def on_alarm(_signum: int, _frame: Any) -> None:
            raise expired()

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return run()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["output"] = run()
        except BaseException as exc:
            box["error"] = exc

    worker = threading.Thread(target=target, name=f"source-{source_id}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise expired()
    if "error" in box:
        raise box["error"]
    output: SourceOutput = box["output"]
    return output


def _run_source(
    source_id: str, config: SourceConfig, context: BuildContext, started: float
) -> SourceOutput:
    context.say(f"{source_id}: fetching")
    saving: Future[None] | None = None
    try:
        rules = _rules(source_id, config, context.env)
        definitions = context.env.fingerprint(_used_indicators(config))
        with context.timed("fetch"):
            source = context.env.plugins.create_source(source_id, config.type, config.options)
            fetching = _fetch_context(context, source_id)
            payloads = _checked_payloads(source.fetch(fetching))
            # Local files copied into the cache are fsynced and indexed on the writer.
            records = list(fetching.cache.pending)
        # A structure message read alongside an SDMX payload changes how it parses.
        hashes = tuple(
            f"{p.sha256}+{p.meta['structure_sha256']}"
            if p.meta.get("structure_sha256")
            else p.sha256
            for p in payloads
        )
        key = (
            "source-"
            + digest(
                {
                    "type": config.type,
                    "options": config.options,
                    "rules": [r.model_dump(mode="json", by_alias=True) for r in rules],
                    "payloads": hashes,
                    "environment": definitions,
                    **({"checks": "deferred"} if context.defer_checks else {}),
                }
            )[:16]
        )
        if key in context.saving:
            wait([context.saving[key]])
        reused = _load_step(context.steps_dir, key)
        save: PendingStep | None = None
        indicators: tuple[str, ...] | None = None
        if reused is not None and not context.refresh:
            table, findings, steps, rows_in, indicators = reused
            status = "reused"
        else:
            table, findings, steps, rows_in = _parse_and_harmonize(
                source, payloads, rules, context, source_id, definitions
            )
            status = "ok"
            indicators = _indicators(table) if table is not None else ()
            save = PendingStep(
                context.steps_dir, source_id, key, table, findings, steps, rows_in, indicators
            )
        if context.saver is not None and (save is not None or records):
            saving = context.saver.submit(_finish, records, save)
            if save is not None:
                context.saving[key] = saving
        elif save is not None:
            save.write()
    except OfflineError as exc:
        report = SourceReport(
            id=source_id,
            type=config.type,
            status="skipped",
            reason=f"offline: {exc.message}",
            seconds=round(time.perf_counter() - started, 3),
        )
        return SourceOutput(report)
    except (SourceError, ConfigError) as exc:
        context.say(f"{source_id}: failed: {exc}")
        report = SourceReport(
            id=source_id,
            type=config.type,
            status="failed",
            error=str(exc) + (f" (hint: {exc.hint})" if exc.hint else ""),
            seconds=round(time.perf_counter() - started, 3),
        )
        return SourceOutput(report)
    errors = [f for f in findings if f.severity is Severity.ERROR]
    if indicators is None:
        indicators = _indicators(table) if table is not None else ()
    report = SourceReport(
        id=source_id,
        type=config.type,
        status="failed" if errors else status,
        rows_in=rows_in,
        rows_out=0 if errors or table is None else table.num_rows,
        indicators=indicators,
        errors=len(errors),
        warnings=sum(1 for f in findings if f.severity is Severity.WARNING),
        seconds=round(time.perf_counter() - started, 3),
        error=str(errors[0]) if errors else None,
    )
    context.say(f"{source_id}: {report.status}, {report.rows_out} observations")
    return SourceOutput(
        report,
        None if errors else table,
        findings,
        steps,
        payloads=hashes,
        reused=status == "reused",
        saving=saving,
    )


def _fetch_context(context: BuildContext, source_id: str) -> Any:
    from welfare_observatory.sdk import FetchContext

    cache = context.env.cache(context.cache_dir)
    cache.finisher = context.saver
    return FetchContext(
        cache=cache,
        # One client, so per-host rate limits hold across sources; made when a source first
        # asks for it (a build of local files never imports the HTTP machinery).
        http=cast("HttpClient", _BuildClient(context.env)),
        offline=context.offline,
        refresh=context.refresh,
        base_dir=context.env.folder,
        progress=context.say,
        source=source_id,
        _base_cache=context.real_base,
    )


class _BuildClient:
    """The build's HTTP client (``env.http()``), made on first use and used as it is."""

    def __init__(self, env: BuildEnvironment) -> None:
        self._env = env
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_env", "_client"):
            raise AttributeError(name)  # copy and pickle probe these on a bare instance
        if self._client is None:
            self._client = self._env.http()
        return getattr(self._client, name)


def _parse_and_harmonize(
    source: Any,
    payloads: Sequence[Any],
    rules: Sequence[HarmonizeRule],
    context: BuildContext,
    source_id: str,
    definitions: str,
) -> tuple[pa.Table | None, list[Finding], list[StepRecord], int]:
    import pyarrow as pa

    from welfare_observatory.build.derive import unify_breakdowns
    from welfare_observatory.harmonize import harmonize
    from welfare_observatory.sources.cache import parse_or_forget
    from welfare_observatory.sources.notes import parse_findings

    cache = context.env.cache(context.cache_dir)
    steps: list[StepRecord] = []
    parsed = []
    with context.timed("parse"):
        for payload in payloads:
            fetch_step = StepRecord.create(
                "fetch",
                [f"sha256:{payload.sha256}"],
                {"key": payload.key},
                versions=context.versions,
                source=source_id,
            )
            parse_step = StepRecord.create(
                "parse",
                [fetch_step.id],
                {"type": source.type, "options": source.options.model_dump(mode="json")},
                versions=context.versions,
                source=source_id,
            )
            steps += [fetch_step, parse_step]
            # Only answers that parse stay in the cache (see sources.cache).
            table = parse_or_forget(source.parse, payload, cache)
            parsed.append((parse_step.id, _checked_table(table, source_id)))
    rows_in = sum(t.num_rows for _, t in parsed)
    if not parsed:
        return None, [], steps, 0
    with context.timed("harmonize"):
        inputs = [step for step, _ in parsed]
        table = pa.concat_tables([t for _, t in parsed], promote_options="permissive")
        # What the readers noticed without refusing a file (an error cell, a hidden sheet).
        findings: list[Finding] = [f for _, t in parsed for f in parse_findings(t)]
        harmonized = []
        for rule in rules:
            result = harmonize(
                table,
                rule,
                codes=context.env.codes,
                indicators=context.env.indicators,
                units=context.env.units_when_needed,
                codelists=context.env.codelists,
                source=source_id,
                inputs=inputs,
                # The harmonized values depend on the definitions (units, code lists,
                # indicators) as much as on the code: a change gives another step id.
                versions={**context.versions, "definitions": definitions},
            )
            findings += result.findings
            if result.step is not None:
                steps.append(result.step)
            harmonized.append(result.table)
    with context.timed("validate"):
        combined = _one_conformed(harmonized) or unify_breakdowns(harmonized)
        if not context.defer_checks:
            findings += _validate(combined, context, source_id)
    return combined, findings, steps, rows_in


def _one_conformed(tables: Sequence[pa.Table]) -> pa.Table | None:
    """The table :func:`~welfare_observatory.model.observation.unify_breakdowns` would
    return for a source with one rule, when that is the table itself (its schema already
    the canonical one with its breakdowns in order, one chunk per column): a source's
    usual case, without a cast per column. None otherwise."""
    from welfare_observatory.model.observation import BASE_COLUMNS, observation_schema

    if len(tables) != 1:
        return None
    (table,) = tables
    names = sorted(set(table.column_names) - set(BASE_COLUMNS) - {"domain"})
    if not table.schema.equals(observation_schema(tuple(names)), check_metadata=True):
        return None
    if any(column.num_chunks > 1 for column in table.columns):
        return None
    return table


def _checked_payloads(payloads: Any) -> list[Any]:
    """What ``fetch`` returned, if it is a list of payloads; a typed error if not."""
    from welfare_observatory.sdk import Payload

    if isinstance(payloads, list | tuple) and all(isinstance(p, Payload) for p in payloads):
        return list(payloads)
    what = type(payloads).__name__
    if isinstance(payloads, list | tuple):
        what = "a list holding " + ", ".join(sorted({type(p).__name__ for p in payloads}))
    raise SourceError(
        f"fetch returned {what}, not a list of Payload",
        hint="Source.fetch must return the payloads it fetched (context.cache gives them)",
    )


def _checked_table(table: Any, source_id: str) -> pa.Table:
    """What ``parse`` returned, if it is an Arrow table; a typed error if not."""
    import pyarrow as pa

    if isinstance(table, pa.Table):
        return table
    raise SourceError(
        f"parse returned {type(table).__name__}, not a pyarrow.Table",
        location=Location(source=source_id),
        hint="Source.parse must return the payload as a pyarrow.Table",
    )


def _validate(table: pa.Table, context: BuildContext, source_id: str) -> list[Finding]:
    from welfare_observatory.validate.checks import CheckContext, run_checks

    env = context.env
    check_context = CheckContext(
        source=source_id,
        indicators=env.indicators,
        territories=env.known_territories,
        hierarchy=env.hierarchy,
        min_events=env.config.reliability.min_events,
    )
    # Schema problems were reported by harmonize already; run the data checks here.
    skip = {"schema"}
    registry = env.checks
    only = [check_id for check_id in registry if check_id not in skip]
    return run_checks(table, check_context, registry, only=only)


def distinct(table: pa.Table, column: str) -> tuple[str, ...]:
    """The distinct non-null values of ``column``, sorted (welfare_observatory._arrow)."""
    from welfare_observatory._arrow import distinct as values

    return tuple(values(table, column))


def _indicators(table: pa.Table) -> tuple[str, ...]:
    """:func:`distinct` of the indicator column, read off the dictionary indices in use (a
    count per code, no pass of Arrow kernels: this runs once per source)."""
    import numpy as np
    import pyarrow as pa

    column = table.column("indicator")
    if not pa.types.is_dictionary(column.type) or column.null_count:
        return distinct(table, "indicator")
    used: set[str] = set()
    for chunk in column.chunks:
        names = chunk.dictionary.to_pylist()
        counts = np.bincount(chunk.indices.to_numpy(), minlength=len(names))
        used.update(str(n) for n, c in zip(names, counts, strict=False) if c and n is not None)
    return tuple(sorted(used))


def _used_indicators(config: SourceConfig) -> list[str] | None:
    """The indicators a source's rules can produce, or None when a rule takes the ids from
    the data as they are (then every definition counts)."""
    for rule in config.rules:
        if rule.indicator.value is None and not rule.indicator.map:
            return None
    return declared_indicators(config)


def declared_indicators(config: SourceConfig) -> list[str]:
    """Indicator ids a source's rules name (constant ids and mapping targets)."""
    return [i for rule in config.rules for i in rule.indicator_ids()]


def _load_step(
    steps_dir: Path, key: str
) -> tuple[pa.Table, list[Finding], list[StepRecord], int, tuple[str, ...] | None] | None:
    """A source's saved step (:func:`_save_step`) with the indicators its record lists
    (None in a record of an older version), or None when it is absent, damaged or cut
    short: its bytes must hash to the digest its record holds."""
    import hashlib

    import pyarrow as pa
    import pyarrow.ipc as ipc

    try:
        folder = os.fspath(steps_dir)
        with open(os.path.join(folder, f"{key}.json"), "rb") as handle:  # noqa: PTH118, PTH123
            record = _saved_record().model_validate_json(handle.read())
        with open(os.path.join(folder, f"{key}{_STEP_SUFFIX}"), "rb") as handle:  # noqa: PTH118, PTH123
            raw = handle.read()
        if hashlib.sha256(raw).hexdigest() != record.sha256:
            return None  # cut short by a crash (steps are not fsynced), or damaged
        # The batches are read in place from the bytes just hashed (the compressed buffers
        # are inflated): no decoding, the chunks and dictionaries the source had. In this
        # thread: a step's buffers are too small for a thread each to pay (it cost a
        # rebuild of 160 sources twice the time on two cores).
        options = ipc.IpcReadOptions(use_threads=False)
        table = ipc.open_stream(pa.py_buffer(raw), options=options).read_all()
        return table, list(record.findings), list(record.steps), record.rows_in, record.indicators
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
        # A missing or damaged cache entry is rebuilt, never trusted; so is one this pyarrow
        # cannot read (a .steps folder shared with a build without LZ4 support).
        return None


@functools.cache
def _saved_record() -> Any:
    """The validator of a step's record (``<key>.json``): JSON parsed and the findings and
    lineage steps built in one pass of pydantic's, per record."""
    from pydantic import BaseModel, ConfigDict

    class SavedRecord(BaseModel):
        model_config = ConfigDict(extra="ignore")

        findings: list[Finding]
        steps: list[StepRecord]
        rows_in: int
        sha256: str
        indicators: tuple[str, ...] | None = None
        """What :func:`_indicators` gave for the table (absent in older records)."""

    return SavedRecord


_STEP_SUFFIX = ".arrows"
"""A saved step's rows: an Arrow IPC stream (a Parquet ``.parquet`` of older versions is
not read; its step is made again)."""


def _step_codec() -> str | None:
    """LZ4 where this pyarrow has it (wheels do); the stream is readable either way."""
    import pyarrow as pa

    return "lz4" if pa.Codec.is_available("lz4") else None


def _finish(records: Sequence[Future[None]], save: PendingStep | None) -> None:
    """On the writer: the source's cache records are written (a failure is the error its
    fetch would have raised in line: no step is saved then), then its step is."""
    for record in records:
        record.result()
    if save is not None:
        save.write()


@dataclasses.dataclass(frozen=True)
class PendingStep:
    """A source's step to be saved (in line, or on the build's writer thread)."""

    steps_dir: Path
    source_id: str
    key: str
    table: pa.Table | None
    findings: list[Finding]
    steps: list[StepRecord]
    rows_in: int
    indicators: Sequence[str] | None = None

    def write(self) -> None:
        """:func:`_save_step`, a disk error as a StoreError naming the source's step."""
        from welfare_observatory.store.edition import disk_errors

        with disk_errors(self.steps_dir, f"the step of source {self.source_id!r}"):
            _save_step(
                self.steps_dir,
                self.key,
                self.table,
                self.findings,
                self.steps,
                self.rows_in,
                self.indicators,
            )


def _save_step(
    steps_dir: Path,
    key: str,
    table: pa.Table | None,
    findings: list[Finding],
    steps: list[StepRecord],
    rows_in: int,
    indicators: Sequence[str] | None = None,
) -> None:
    """Save a source's step; ``indicators``: what :func:`_indicators` gives for ``table``
    (worked out here when not given)."""
    import hashlib
    import json

    import pyarrow as pa
    import pyarrow.ipc as ipc

    from welfare_observatory._atomic import atomic_write_bytes

    if table is None:
        return
    # A cache entry: not fsynced (a build of 160 sources paid 320 fsyncs), but the record
    # holds the digest of the data file, so one a crash cut short is rebuilt, not read.
    # The data file goes first: a record is never there without its data. An Arrow IPC
    # stream (LZ4 buffers): a rebuild reads 159 of them, at a sixth of a Parquet file's
    # decoding, and writing one costs a tenth of a Parquet file's encoding.
    sink = pa.BufferOutputStream()
    options = ipc.IpcWriteOptions(compression=_step_codec(), use_threads=False)
    with ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    raw = sink.getvalue().to_pybytes()
    atomic_write_bytes(steps_dir / f"{key}{_STEP_SUFFIX}", raw, sync=False)
    record = {
        "findings": [f.model_dump(mode="json") for f in findings],
        "steps": [s.model_dump(mode="json") for s in steps],
        "rows_in": rows_in,
        "indicators": list(_indicators(table) if indicators is None else indicators),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "saved": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    atomic_write_bytes(steps_dir / f"{key}.json", json.dumps(record).encode("utf-8"), sync=False)
