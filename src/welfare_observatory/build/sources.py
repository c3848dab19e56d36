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

import contextlib
import dataclasses
import functools
import hashlib
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

from welfare_observatory._file_stamp import file_stamp
from welfare_observatory._seal import seal, unseal
from welfare_observatory.build.environment import rules_text
from welfare_observatory.build.fetch_note import promises_local_files
from welfare_observatory.build.report import SourceReport
from welfare_observatory.build.step_stamps import StepStamps
from welfare_observatory.errors import (
    ConfigError,
    Location,
    OfflineError,
    SourceError,
    WelfareObservatoryError,
)
from welfare_observatory.lineage import StepRecord, canonical_json
from welfare_observatory.model.finding import Finding, Severity

if TYPE_CHECKING:
    import pyarrow as pa

    from welfare_observatory.build.environment import BuildEnvironment
    from welfare_observatory.build.fetch_note import FetchNote
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
    """What one source produced: its report, its canonical table, findings and steps.

    ``data`` is the table, or for a reused source of a build that reads steps lazily
    (``BuildContext.lazy_steps``) a :class:`SavedTable`: its rows stay on disk until
    :attr:`table` is first read (a rebuild that keeps a source's derived rows never reads
    them). What a build needs up front (rows, indicators, lineage, territories, columns)
    :class:`SavedTable` has from the step's record."""

    report: SourceReport
    data: pa.Table | SavedTable | None = None
    findings: list[Finding] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    payloads: tuple[str, ...] = ()
    reused: bool = False
    saving: Future[None] | None = None
    """What the source left to the build's writer thread (``BuildContext.saver``): its
    copies' fsyncs and cache records, then its step; :func:`run_sources` settles it."""

    @property
    def table(self) -> pa.Table | None:
        """The source's canonical table, read from its step on first use when it was left
        there (a step found damaged then is made again, see :meth:`SavedTable.load`)."""
        data = self.data
        if isinstance(data, SavedTable):
            table = data.load()
            self.data = table
            self.settle(data)
            return table
        return data

    @table.setter
    def table(self, table: pa.Table | None) -> None:
        self.data = table

    @property
    def num_rows(self) -> int:
        """Rows of :attr:`table` (0 without one), its rows left unread."""
        return 0 if self.data is None else self.data.num_rows

    def settle(self, saved: SavedTable | None = None) -> None:
        """The report of a source whose saved step was found damaged when read and made
        again says so (``ok``, not ``reused``), as when the damage is found up front."""
        if saved is None and isinstance(self.data, SavedTable):
            saved = self.data
        if saved is not None and saved.remade and self.reused:
            self.reused = False
            self.report = self.report.model_copy(update={"status": "ok"})


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
    real_base: list[Any] = field(default_factory=list, repr=False)
    """The observatory folder's real path, resolved once for every source's fetch (see
    ``FetchContext``)."""
    lazy_steps: bool = False
    """Leave a reused source's rows in its step until they are first read
    (:class:`SavedTable`): the in-memory layout's sources, run in this process."""
    ahead: Future[Any] | None = None
    """The source's file as read ahead on another thread (see :func:`run_sources`)."""
    fetched: FetchNote | None = None
    """What the last build's sources read (:mod:`~welfare_observatory.build.fetch_note`):
    a source whose files are unchanged is not fetched; what this build's read is noted in
    it. The build loads it before the sources run and saves it after (None: no note)."""
    read_ahead: Callable[[], None] | None = None
    """Starts reading the next source's file ahead; called when this source parses."""
    step_stamps: StepStamps | None = None
    """The stamps of the step files the last build used (:mod:`.step_stamps`): a step whose
    file keeps its stamp is not read and hashed up front; the step files this build uses
    are noted in it. The build loads it before the sources run and saves it after (None:
    every reused step is read and hashed)."""

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


def load_step_stamps(steps_dir: Path, *, refresh: bool = False) -> StepStamps:
    """The note of the last build's step files (:mod:`.step_stamps`); an empty one with
    ``refresh`` (nothing is taken from a step then, what this build saves is noted)."""
    if refresh:
        return StepStamps(steps_dir, _STEP_SUFFIX, {})
    return StepStamps.load(steps_dir, _STEP_SUFFIX)


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


def run_sources(
    source_ids: Sequence[str],
    context: BuildContext,
    *,
    on_output: Callable[[SourceOutput], None] | None = None,
) -> list[SourceOutput]:
    """:func:`run_source` of each source in order, what they write finished on one other
    thread: the fsync and index record of each local file copied into the cache (one over
    ``sdk.HELD_FILE_BYTES``), then the source's step.

    Waiting for the disk (an fsync costs milliseconds of wall time) and writing a step
    (Parquet encoding, files) release the GIL, so they overlap the next source's parsing.
    What a build gets is the same as with everything written in line: a copy or a step that
    cannot be written fails its source with the error it failed with there (reported once
    every source ran).

    When a source parses, the next source's file (a table source's local CSV) is read and decoded
    ahead on a third thread (Arrow's CSV reader releases the GIL) while this one is
    harmonized; its parse takes that read when its payload holds the same bytes
    (:func:`~welfare_observatory.sources.table.read_ahead_job`). A source that is reused
    parses nothing, and a source that the fetch note shows unchanged and whose step is
    saved is not read ahead (:func:`_step_awaits`).

    ``on_output`` is called on this thread with each source's output as the source
    finishes, in order (its step may still be being written: a write that fails later
    makes the output returned for it another, failed one).
    """
    sources = context.env.config.sources
    if len(source_ids) < 2:
        alone = [run_source(s, sources[s], context) for s in source_ids]
        if on_output is not None:
            for output in alone:
                on_output(output)
        return alone
    outputs = []
    backlog: deque[Future[None]] = deque()
    reader = ThreadPoolExecutor(1, thread_name_prefix="read-ahead")
    pending: dict[str, Future[Any]] = {}
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="steps") as saver:
            writing = dataclasses.replace(context, saver=saver)
            for index, source_id in enumerate(source_ids):
                following = source_ids[index + 1] if index + 1 < len(source_ids) else None
                # A context of its own: a source that timed out keeps running on its
                # thread and must not see the next source's read.
                own = dataclasses.replace(
                    writing,
                    ahead=pending.pop(source_id, None),
                    read_ahead=(
                        functools.partial(_read_next, reader, pending, following, context)
                        if following is not None
                        else None
                    ),
                )
                output = run_source(source_id, sources[source_id], own)
                outputs.append(output)
                if on_output is not None:
                    on_output(output)
                if output.saving is not None:
                    backlog.append(output.saving)
                # A slow disk must not hold every source's table and open copy at once.
                while len(backlog) > _BACKLOG:
                    wait([backlog.popleft()])
    finally:
        reader.shutdown(wait=False, cancel_futures=True)
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


def _read_next(
    reader: ThreadPoolExecutor,
    pending: dict[str, Future[Any]],
    source_id: str,
    context: BuildContext,
) -> None:
    """Start reading ``source_id``'s file ahead on ``reader`` (once), when it is a table
    source's local CSV (declared tidy, or of layout ``auto``)."""
    if source_id in pending:
        return
    config = context.env.config.sources[source_id]
    if config.type != "table" or not config.enabled:
        return
    if _step_awaits(source_id, config, context):
        return
    from welfare_observatory.sources.table import read_ahead_job

    job = read_ahead_job(config.options, context.env.folder)
    if job is None:
        return
    try:
        pending[source_id] = reader.submit(job)
    except RuntimeError:  # shut down: called by a source that outlived its timeout
        return


def _step_awaits(source_id: str, config: SourceConfig, context: BuildContext) -> bool:
    """Whether ``source_id`` will take its payloads from the fetch note and find its step
    saved: reading its file ahead (a 750 KB file cost a rebuild about 20 ms of the other
    core) would be for nothing. A source whose rules or definitions changed misses its
    step and parses, and is read ahead as before; should the step turn out unusable, the
    source reads its file in line."""
    note = context.fetched
    if note is None or context.refresh:
        return False
    hashes = note.peek(source_id, note.inputs(config.type, config.options))
    if hashes is None:
        return False
    try:
        rules = _rules(source_id, config, context.env)
        definitions = context.env.fingerprint(_read_indicators(config, context.env))
    except (ConfigError, SourceError):
        return False
    key = _step_key(source_id, config, rules, hashes, definitions, context)
    return os.path.isfile(os.path.join(context.steps_dir, f"{key}.json"))  # noqa: PTH113, PTH118


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
        definitions = context.env.fingerprint(_read_indicators(config, context.env))
        got = _fetch(source_id, config, context, noted=True)
        key = _step_key(source_id, config, rules, got.hashes, definitions, context)
        reused = _load_step(context.steps_dir, key, context.step_stamps)
        save: PendingStep | None = None
        indicators: tuple[str, ...] | None = None
        table: pa.Table | SavedTable | None = None
        if reused is not None and not context.refresh:
            table, findings, steps, rows_in, indicators = reused
            if isinstance(table, SavedTable):
                if context.lazy_steps:
                    table.remake = functools.partial(
                        _remake,
                        table,
                        functools.partial(_fetched_again, got, source_id, config, context),
                        rules,
                        context,
                        source_id,
                        definitions,
                        steps,
                        key,
                    )
                else:
                    table = table.read()
            status = "reused"
        if table is None:
            if got.source is None:
                # Noted as unchanged, but its step cannot be used: fetched after all.
                got = _fetch(source_id, config, context, noted=False)
                key = _step_key(source_id, config, rules, got.hashes, definitions, context)
            made, findings, steps, rows_in = _parse_and_harmonize(
                got.source, got.payloads, rules, context, source_id, definitions
            )
            table = made
            status = "ok"
            indicators = _indicators(made) if made is not None else ()
            save = PendingStep(
                context.steps_dir,
                source_id,
                key,
                made,
                findings,
                steps,
                rows_in,
                indicators,
                stamps=context.step_stamps,
            )
        records, hashes = got.records, got.hashes
        if context.saver is not None and (save is not None or records):
            saving = context.saver.submit(_finish, records, save)
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
        # Only an eager table lacks them (a SavedTable's record lists them).
        indicators = (
            _indicators(table) if table is not None and not isinstance(table, SavedTable) else ()
        )
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


@dataclass
class _Fetched:
    """A source's fetch: its source object and payloads (None when taken from the note of
    the last build, :mod:`~welfare_observatory.build.fetch_note`), their digests, and the
    copies of local files still to be fsynced and indexed on the writer."""

    source: Any
    payloads: Sequence[Any]
    hashes: tuple[str, ...]
    records: list[Any]


def _fetch(source_id: str, config: SourceConfig, context: BuildContext, *, noted: bool) -> _Fetched:
    """``source_id``'s payloads: from the note when ``noted`` and its files are unchanged,
    else its plugin's fetch (noted for the next build when it read only local files)."""
    note = context.fetched
    with context.timed("fetch"):
        inputs = note.inputs(config.type, config.options) if note is not None else ""
        if noted and note is not None and not context.refresh:
            hashes = note.payloads(source_id, inputs)
            if hashes is not None:
                return _Fetched(None, (), hashes, [])
        source = context.env.plugins.create_source(source_id, config.type, config.options)
        fetching = _fetch_context(context, source_id, noting=note is not None)
        begun = time.time_ns()
        payloads = _checked_payloads(source.fetch(fetching))
        # Local files copied into the cache (large ones) are fsynced and indexed on the writer.
        records = list(fetching.cache.pending)
    # A structure message read alongside an SDMX payload changes how it parses.
    hashes = tuple(
        f"{p.sha256}+{p.meta['structure_sha256']}" if p.meta.get("structure_sha256") else p.sha256
        for p in payloads
    )
    if note is not None:
        if promises_local_files(type(source)):
            note.note(source_id, inputs, hashes, payloads, fetching._reads or (), begun=begun)
        else:
            note.forget(source_id)
    return _Fetched(source, payloads, hashes, records)


def _fetched_again(
    got: _Fetched, source_id: str, config: SourceConfig, context: BuildContext
) -> tuple[Any, Sequence[Any]]:
    """The source and payloads of ``got``, fetched now when the note stood in for them (a
    reused step found damaged as its rows were read, after the sources ran: its copies are
    fsynced in this thread)."""
    if got.source is not None:
        return got.source, got.payloads
    late = dataclasses.replace(context, saver=None, fetched=None)
    again = _fetch(source_id, config, late, noted=False)
    if again.hashes != got.hashes:
        raise SourceError(
            f"the saved step of source {source_id!r} was damaged, and its files changed "
            "since the build took them as unchanged",
            location=Location(source=source_id),
            hint="build again: the source is then fetched and made anew",
        )
    return again.source, again.payloads


def _step_key(
    source_id: str,
    config: SourceConfig,
    rules: Sequence[HarmonizeRule],
    hashes: tuple[str, ...],
    definitions: str,
    context: BuildContext,
) -> str:
    """The key of a source's step: its id, type, options, rules, payloads and the
    definitions of its indicators (and whether its checks are left to one pass). The id,
    because the step's lineage and findings name the source: a source renamed, or one
    declared twice under two ids, is made under its own name, never given another's.

    The :func:`~welfare_observatory.lineage.digest` of ``{"source", "type", "options",
    "rules", "payloads", "environment"}`` (:func:`_step_value`), its canonical JSON put
    together around the rules' text: the configuration's own rules serialised once
    (:attr:`BuildEnvironment.rules_texts`), any others here."""
    ours = context.env.config.sources.get(source_id) is config
    text_of_rules = context.env.rules_texts.get(source_id) if ours else None
    if text_of_rules is None or [id(r) for r in rules] != [id(r) for r in config.rules]:
        text_of_rules = rules_text(rules)
    # The keys in sorted order, as canonical_json writes them.
    text = (
        ('{"checks":"deferred",' if context.defer_checks else "{")
        + f'"environment":{canonical_json(definitions)},'
        + f'"options":{canonical_json(config.options)},'
        + f'"payloads":{canonical_json(list(hashes))},"rules":{text_of_rules},'
        + f'"source":{canonical_json(source_id)},"type":{canonical_json(config.type)}}}'
    )
    return "source-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _step_value(
    source_id: str,
    config: SourceConfig,
    rules: Sequence[HarmonizeRule],
    hashes: tuple[str, ...],
    definitions: str,
    context: BuildContext,
) -> dict[str, Any]:
    """What :func:`_step_key` digests, as one value (the reference for its tests)."""
    return {
        "source": source_id,
        "type": config.type,
        "options": config.options,
        "rules": [r.model_dump(mode="json", by_alias=True) for r in rules],
        "payloads": hashes,
        "environment": definitions,
        **({"checks": "deferred"} if context.defer_checks else {}),
    }


def _fetch_context(context: BuildContext, source_id: str, *, noting: bool = False) -> Any:
    """``noting``: the context lists the local files it reads (``FetchContext._reads``)."""
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
        _reads=[] if noting else None,
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
    from welfare_observatory.sources.tidy import reading_ahead

    cache = context.env.cache(context.cache_dir)
    steps: list[StepRecord] = []
    parsed = []
    with context.timed("parse"):
        if context.read_ahead is not None:
            context.read_ahead()  # the next source's file, while this one parses
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
            with reading_ahead(context.ahead):
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
    return _used(table, "indicator")


def _used(table: pa.Table, name: str) -> tuple[str, ...]:
    """:func:`distinct` of column ``name``, read off the dictionary indices in use."""
    import numpy as np
    import pyarrow as pa

    column = table.column(name)
    if not pa.types.is_dictionary(column.type) or column.null_count:
        return distinct(table, name)
    used: set[str] = set()
    for chunk in column.chunks:
        names = chunk.dictionary.to_pylist()
        counts = np.bincount(chunk.indices.to_numpy(), minlength=len(names))
        used.update(str(n) for n, c in zip(names, counts, strict=False) if c and n is not None)
    return tuple(sorted(used))


def _read_indicators(config: SourceConfig, env: BuildEnvironment) -> list[str] | None:
    """The indicators whose definitions a source's harmonize reads: those its rules can
    produce and, for an id the catalogue knows only as an alias (a former id), the
    indicator it now names (its rows move there, under that definition). None: all."""
    used = _used_indicators(config)
    if used is None:
        return None
    former = env.former_ids
    return used + [former[i] for i in used if i in former]


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
    steps_dir: Path | str, key: str, stamps: StepStamps | None = None
) -> (
    tuple[pa.Table | SavedTable, list[Finding], list[StepRecord], int, tuple[str, ...] | None]
    | None
):
    """A source's saved step (:func:`_save_step`) with the indicators its record lists
    (None when it lists none, which no sealed record a build wrote does), or None when it
    is absent, damaged, cut short or another key's: its record must hash to its seal
    (:mod:`~welfare_observatory._seal`) and name ``key``, and its data file's bytes must
    hash to the digest the record holds.

    The record is the one ``stamps`` holds for ``key`` (the last build's, read from the
    note's one file: :mod:`.step_stamps`) when it passes those checks, else the record's
    own file, which is not looked for when the folder's listing in ``stamps`` lacks it.
    The table is a :class:`SavedTable` when the record describes it (rows, columns,
    distinct values; every record a build seals does): its bytes are read and
    hash-checked here, decoded only when the table is first used. When ``stamps`` holds
    the record's digest for the file as it is, the bytes are read and hashed only when
    the table is first used; the file is noted in ``stamps`` for the next build either
    way."""
    import pyarrow as pa

    try:
        folder = os.fspath(steps_dir)
        noted = stamps.record(key) if stamps is not None else None
        if noted is not None:
            found = None
            with contextlib.suppress(ValueError):
                found = _record_of(noted, key)
            if found is not None:
                step = _step_with(folder, key, found, noted, stamps)
                if step is not None:
                    return step
        if stamps is not None and stamps.absent(f"{key}.json"):
            return None
        with open(os.path.join(folder, f"{key}.json"), "rb") as handle:  # noqa: PTH118, PTH123
            raw_record = handle.read()
        # Its own file when the note's record failed, or does not describe the data file
        # any more (a step written again for the key by a build that never saved its note).
        found = None if raw_record == noted else _record_of(raw_record, key)
        if found is None:
            return None
        return _step_with(folder, key, found, raw_record, stamps)
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
        # A missing or damaged cache entry is rebuilt, never trusted.
        return None


def _step_with(
    folder: str, key: str, record: Any, raw_record: bytes, stamps: StepStamps | None
) -> (
    tuple[pa.Table | SavedTable, list[Finding], list[StepRecord], int, tuple[str, ...] | None]
    | None
):
    """:func:`_load_step`'s step of the saved ``record`` of ``key`` (sealed as
    ``raw_record``), or None when the data file does not hash to the record's digest or
    does not decode."""
    path = os.path.join(folder, f"{key}{_STEP_SUFFIX}")  # noqa: PTH118
    shape, indicators = record.shape, record.indicators
    described = shape is not None and indicators is not None
    noted = stamps.digest(key, path) if stamps is not None and described else None
    table: pa.Table | SavedTable | None
    if noted is not None and noted[0] == record.sha256 and noted[1][0] == shape.size:
        assert stamps is not None and indicators is not None  # (described)
        stamps.saw(key, record.sha256, noted[1], raw_record)
        table = SavedTable(None, shape, indicators, steps_dir=folder, key=key, sha256=record.sha256)
    else:
        read = _step_bytes(path, record.sha256)
        if read is None:
            return None
        raw, stamp = read
        if stamps is not None and stamp is not None:
            stamps.saw(key, record.sha256, stamp, raw_record)
        if described and shape.size == len(raw):
            assert indicators is not None  # (described)
            table = SavedTable(raw, shape, indicators, steps_dir=folder, key=key)
        else:
            table = _decode(raw)
            if table is None:
                return None
    return table, list(record.findings), list(record.steps), record.rows_in, indicators


def _record_of(raw: bytes, key: str) -> Any:
    """The saved record (:func:`_saved_record`) in the sealed bytes ``raw`` when they pass
    their seal and name ``key``, else None; ValueError when they do not read as one."""
    sealed = unseal(raw)
    if sealed is None:
        return None
    record = _saved_record().model_validate_json(sealed)
    return record if record.key == key else None


def _step_bytes(path: str, sha256: str) -> tuple[bytes, list[int] | None] | None:
    """The bytes of the step file ``path`` and its stamp while it had them (None when it
    changed as it was read), or None when they do not hash to ``sha256`` (cut short by a
    crash: steps are not fsynced; or damaged)."""

    with open(path, "rb") as handle:  # noqa: PTH123
        before = os.fstat(handle.fileno())
        raw = handle.read()
        after = os.fstat(handle.fileno())
    if hashlib.sha256(raw).hexdigest() != sha256:
        return None
    stamp = file_stamp(before)
    return raw, stamp if file_stamp(after) == stamp else None


def _decode(raw: bytes) -> pa.Table | None:
    """The table of a step's hash-checked bytes, or None when they do not read as an
    Arrow stream (also one this pyarrow cannot read: a .steps folder shared with a build
    without LZ4 support)."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    try:
        # The batches are read in place from the bytes (the compressed buffers are
        # inflated): no decoding, the chunks and dictionaries the source had. In this
        # thread: a step's buffers are too small for a thread each to pay (it cost a
        # rebuild of 160 sources twice the time on two cores).
        options = ipc.IpcReadOptions(use_threads=False)
        return ipc.open_stream(pa.py_buffer(raw), options=options).read_all()
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
        return None


class SavedTable:
    """A reused source's canonical table, its step's bytes read and hash-checked but not
    decoded until the table is used.

    What a build needs of every source up front comes from the step's record: rows,
    columns and the distinct indicators, territories and lineage ids (what derive's
    indicator groups and scope are made of). :meth:`load` decodes the rows; a step that
    does not decode to the table its record describes is made again then (``remake``),
    never trusted. Pickled, it is the table (an executor's worker sends the rows back)."""

    __slots__ = (
        "_indicators",
        "key",
        "raw",
        "remade",
        "remake",
        "sha256",
        "shape",
        "steps_dir",
    )

    def __init__(
        self,
        raw: bytes | None,
        shape: Any,
        indicators: tuple[str, ...],
        *,
        steps_dir: str = "",
        key: str = "",
        sha256: str = "",
    ) -> None:
        self.raw = raw
        """The step's bytes, hash-checked; None until read (see :attr:`sha256`)."""
        self.sha256 = sha256
        """What the step file's bytes must hash to when :attr:`raw` is read at last."""
        self.shape = shape
        self._indicators = indicators
        self.steps_dir = steps_dir
        self.key = key
        self.remake: Callable[[], pa.Table] | None = None
        """Makes the source's table again from its payloads and saves its step."""
        self.remade = False

    @property
    def num_rows(self) -> int:
        return int(self.shape.rows)

    @property
    def column_names(self) -> list[str]:
        return list(self.shape.columns)

    def distinct(self, column: str) -> tuple[str, ...]:
        """:func:`distinct` of ``column`` (indicator, territory or lineage), rows unread."""
        if column == "indicator":
            return self._indicators
        if column == "territory":
            return tuple(self.shape.territories)
        if column == "lineage":
            return tuple(self.shape.lineage)
        return distinct(self.load(), column)

    def describes(self, table: pa.Table) -> bool:
        """True when ``table`` has the rows, columns and distinct values the record says."""
        made = _shape(table, self.shape.size)
        return made == self.shape and _indicators(table) == self._indicators

    def read(self) -> pa.Table | None:
        """The rows, or None when the bytes are no Arrow stream or not the table the
        record describes, or (read now) not the bytes the record vouches for."""
        if self.raw is None:
            try:
                path = os.path.join(self.steps_dir, f"{self.key}{_STEP_SUFFIX}")  # noqa: PTH118
                read = _step_bytes(path, self.sha256)
            except OSError:
                read = None
            if read is None:
                return None
            self.raw = read[0]
        table = _decode(self.raw)
        if table is None or table.num_rows != self.shape.rows:
            return None
        if table.column_names != list(self.shape.columns):
            return None
        return table

    def load(self) -> pa.Table:
        """:meth:`read`, or when the bytes held are damaged the step as its file holds it
        (intact there, or saved again by now), or the table made again."""
        table = self.read()
        if table is not None:
            return table
        again = _load_step(self.steps_dir, self.key) if self.key else None
        if again is not None:
            table = again[0].read() if isinstance(again[0], SavedTable) else again[0]
            if table is not None and self.describes(table):
                return table
        if self.remake is None:
            raise SourceError(
                f"the saved step {self.key!r} is damaged",
                hint="build again: the source is then made again",
            )
        table = self.remake()
        self.remade = True
        return table

    def __reduce__(self) -> tuple[Any, ...]:
        return (_same, (self.load(),))


def _same(table: pa.Table) -> pa.Table:
    return table


def _remake(
    saved: SavedTable,
    fetched: Callable[[], tuple[Any, Sequence[Any]]],
    rules: Sequence[HarmonizeRule],
    context: BuildContext,
    source_id: str,
    definitions: str,
    steps: Sequence[StepRecord],
    key: str,
) -> pa.Table:
    """A reused source's table made again from its payloads when its step was found
    damaged as it was decoded (after the source ran), and its step saved again. What the
    build already took from the record must hold for it: the same step ids, rows, columns
    and distinct values (the payloads are the same bytes, so they do).
    ``fetched`` gives the source and its payloads (fetching them when the build did not)."""
    source, payloads = fetched()
    table, found, made, rows_in = _parse_and_harmonize(
        source, payloads, rules, context, source_id, definitions
    )
    same = table is not None and [s.id for s in made] == [s.id for s in steps]
    if table is None or not same or not saved.describes(table):
        raise SourceError(
            f"the saved step of source {source_id!r} was damaged, and making it again gave "
            "another table than its record describes",
            location=Location(source=source_id),
            hint="build again: the step just saved is then read",
        )
    PendingStep(
        context.steps_dir, source_id, key, table, found, made, rows_in, saved.distinct("indicator")
    ).write()
    return table


@functools.cache
def _saved_record() -> Any:
    """The validator of a step's record (``<key>.json``): JSON parsed and the findings and
    lineage steps built in one pass of pydantic's, per record."""
    from pydantic import BaseModel, ConfigDict

    Shape = _saved_shape()  # noqa: N806 (a model class)

    class SavedRecord(BaseModel):
        model_config = ConfigDict(extra="ignore")

        key: str
        """The step's key: a record (and data file) copied under another key is not its."""
        findings: list[Finding]
        steps: list[StepRecord]
        rows_in: int
        sha256: str
        indicators: tuple[str, ...] | None = None
        """What :func:`_indicators` gave for the table (every sealed record lists them)."""
        shape: Shape | None = None  # type: ignore[valid-type]
        """What a build needs of the table without reading it (every sealed record has it)."""

    return SavedRecord


@functools.cache
def _saved_shape() -> Any:
    """The validator of a record's ``shape``: what :class:`SavedTable` knows of its rows."""
    from pydantic import BaseModel, ConfigDict

    class Shape(BaseModel):
        model_config = ConfigDict(extra="ignore")

        rows: int
        columns: list[str]
        territories: list[str]
        """The distinct territory codes (:func:`distinct`)."""
        lineage: list[str]
        """The distinct lineage ids."""
        size: int
        """Bytes of the step file."""

    return Shape


def _shape(table: pa.Table, size: int) -> Any:
    """The record's description of ``table`` (:class:`SavedTable`), its step ``size``
    bytes."""
    return _saved_shape()(
        rows=table.num_rows,
        columns=table.column_names,
        territories=list(_used(table, "territory")),
        lineage=list(_used(table, "lineage")),
        size=size,
    )


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
    stamps: StepStamps | None = None
    """Told of the step file written (see :mod:`.step_stamps`)."""

    def write(self) -> None:
        """:func:`_save_step`, a disk error as a StoreError naming the source's step."""
        from welfare_observatory.store.edition import disk_errors

        with disk_errors(self.steps_dir, f"the step of source {self.source_id!r}"):
            written = _save_step(
                self.steps_dir,
                self.key,
                self.table,
                self.findings,
                self.steps,
                self.rows_in,
                self.indicators,
            )
        if written is not None and self.stamps is not None:
            self.stamps.saw(self.key, *written)


def _save_step(
    steps_dir: Path,
    key: str,
    table: pa.Table | None,
    findings: list[Finding],
    steps: list[StepRecord],
    rows_in: int,
    indicators: Sequence[str] | None = None,
) -> tuple[str, list[int], bytes] | None:
    """Save a source's step; ``indicators``: what :func:`_indicators` gives for ``table``
    (worked out here when not given). The data file's sha256 and its stamp right after it
    was written (None when nothing was saved)."""

    import pyarrow as pa
    import pyarrow.ipc as ipc

    from welfare_observatory._atomic import atomic_write_bytes

    if table is None:
        return None
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
    data = steps_dir / f"{key}{_STEP_SUFFIX}"
    atomic_write_bytes(data, raw, sync=False)
    stamp = file_stamp(data.stat())
    sha256 = hashlib.sha256(raw).hexdigest()
    record = {
        "key": key,
        "findings": [f.model_dump(mode="json") for f in findings],
        "steps": [s.model_dump(mode="json") for s in steps],
        "rows_in": rows_in,
        "indicators": list(_indicators(table) if indicators is None else indicators),
        "shape": _shape(table, len(raw)).model_dump(mode="json"),
        "sha256": sha256,
        "saved": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    sealed = seal(record)
    atomic_write_bytes(steps_dir / f"{key}.json", sealed, sync=False)
    return sha256, stamp, sealed
