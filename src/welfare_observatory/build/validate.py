"""The validate stage of a build: the data checks once over every source's rows.

Each source's harmonized table is checked together with the others
(:func:`welfare_observatory.validate.batch.run_checks_by_source`), with the build
environment's checks (built-in and plugins'), territories, hierarchy and reliability
settings. Findings of an unchanged source are reused: they are kept in
``<kb>/.steps/checks.json`` by a key made of the source's step ids (content digests of its
payloads, options, rules and versions), the definitions of its indicators and the checks
that ran, so a rebuild after one file changed checks only that file's rows. A source whose
checks find an error is marked failed and its table dropped.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from welfare_observatory._seal import seal, unseal
from welfare_observatory.lineage import digest
from welfare_observatory.model.finding import Finding, Severity
from welfare_observatory.validate.batch import (
    Chunker,
    check_chunk,
    checks_of,
    in_severity_order,
    release_checks,
    run_checks_by_source,
)
from welfare_observatory.validate.builtin import close_connection
from welfare_observatory.validate.checks import Check, CheckContext

if TYPE_CHECKING:
    import pyarrow as pa

    from welfare_observatory.build.environment import BuildEnvironment
    from welfare_observatory.build.sources import BuildContext, SourceOutput
    from welfare_observatory.model import Indicator

__all__ = ["ChecksAlongside", "FindingsCache", "check_sources", "run_and_check"]

_CACHE = "checks.json"


class FindingsCache:
    """``<kb>/.steps/checks.json``, read once and written once for a build that checks its
    sources in several calls (the out-of-core layout checks each source before it leaves
    memory): :meth:`save` writes the findings of every call, not only of the last one."""

    def __init__(self, context: BuildContext) -> None:
        self.file = context.steps_dir / _CACHE
        self.cached, self._read = ({}, {}) if context.refresh else _load(self.file)
        self.results: dict[str, list[Finding]] = {}

    def save(self) -> None:
        # A source's findings taken from the file are written back as they were read,
        # not dumped again (a rebuild takes all but one source's).
        read = {k: self._read[k] for k, v in self.results.items() if v is self.cached.get(k)}
        _save(self.file, self.results, read)


def check_sources(
    outputs: Sequence[SourceOutput],
    context: BuildContext,
    *,
    cache: FindingsCache | None = None,
) -> list[SourceOutput]:
    """``outputs`` with the findings of the build's checks, and a source whose checks found
    an error marked failed (its table dropped), as the per-source validate did.

    With ``cache`` the findings join it and its owner saves it once; without, the findings
    cache holds those of ``outputs`` and is saved here."""
    env = context.env
    registry = env.checks
    only, common = _checks_and_common(context)
    # A reused source's rows are read only when its findings are not cached.
    checked = [o for o in outputs if o.num_rows]
    keys = _keys(checked, env, common)
    findings = cache if cache is not None else FindingsCache(context)
    cached = findings.cached
    results: dict[str, list[Finding]] = {}
    todo: dict[str, pa.Table] = {}
    for output in checked:
        source = output.report.id
        if keys[source] in cached:
            results[source] = cached[keys[source]]
        else:
            table = output.table
            assert table is not None
            todo[source] = table
    if todo:
        results.update(run_checks_by_source(todo, registry, _check_context(env), only=only))
    findings.results.update({keys[s]: results[s] for s in keys})
    if cache is None:
        findings.save()
    return [_with_findings(o, results.get(o.report.id, [])) for o in outputs]


_GIVE_BACK_ROWS = 100_000
"""Rows of the sources to check, when the first chunk goes to the checks alongside them,
below which what their parsing freed is not handed back first: a rebuild's changed sources
leave too little to pay for walking the whole C heap (about 10 ms at 4x)."""


_ALONGSIDE_ROWS = 100_000
"""Rows below which a chunk is checked on the build's thread at once: a thread of its own
would slow the next sources by as much as it saves."""


def _give_back() -> None:
    """Hand what Arrow's pool (the C heap, as the console script sets it) holds free back to
    the system."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def run_and_check(source_ids: Sequence[str], context: BuildContext) -> list[SourceOutput]:
    """:func:`~welfare_observatory.build.sources.run_sources` of ``source_ids`` in this
    process, checked as they finish (:class:`ChecksAlongside`): what :func:`check_sources`
    of their outputs gives. The ``validate`` timing is what the build waits for the checks
    once the sources are done. An exception in the sources stops the checks' thread
    before it is raised: nothing is checked or written after."""
    from welfare_observatory.build.sources import run_sources

    checks = ChecksAlongside(context, len(source_ids))
    try:
        outputs = run_sources(source_ids, context, on_output=checks.add)
    except BaseException:
        checks.close()
        raise
    with context.timed("validate"):
        return checks.finish(outputs)


class ChecksAlongside:
    """The validate stage run while the sources still run (the in-memory layout, local
    executor): as soon as the sources done so far fill a chunk of whole sources
    (:class:`~welfare_observatory.validate.batch.Chunker`, the chunks
    :func:`~welfare_observatory.validate.batch.run_checks_by_source` makes), or a source
    whose findings are cached follows them, the chunk is checked on a thread of its own
    while the build's thread runs the next sources (the checks are mostly numpy sorts,
    Arrow compute and DuckDB, which release the GIL); a chunk of fewer than
    :data:`_ALONGSIDE_ROWS` rows is checked on the build's thread at once. :meth:`finish`
    then gives what :func:`check_sources` gives for the outputs: a chunk's findings depend
    on its own sources' rows only, whatever the chunks.

    Whatever would make them differ leaves the outputs to :func:`check_sources` after the
    sources, as before: a source checked here that failed since (its step could not be
    written), a failure here (raised there as it was), a reused source whose table could
    not be read. A reused source whose findings are cached is never read here."""

    def __init__(
        self, context: BuildContext, sources: int, *, chunk_rows: int | None = None
    ) -> None:
        """``sources``: how many outputs :meth:`add` will be given; ``chunk_rows``: as
        :func:`~welfare_observatory.validate.batch.run_checks_by_source` has it."""
        self.context = context
        self._only, self._common = _checks_and_common(context)
        self._key = _key_maker(context.env, self._common)
        self._cache = FindingsCache(context)
        self._left = sources
        self._chunker = Chunker(chunk_rows)
        self._to_check = 0
        """Rows of the sources given to be checked so far."""
        self._tables: dict[str, pa.Table] = {}
        self._sent: dict[str, str] = {}
        """Findings key of each source sent to be checked, in order."""
        self._keyed: dict[str, tuple[Any, list[str], str]] = {}
        """Each source's findings key as :meth:`add` made it, with what it was made of
        (the report, the step ids): the outputs :meth:`finish` gets are copies."""
        self._futures: list[Future[dict[str, list[Finding]]]] = []
        self._pool: ThreadPoolExecutor | None = None
        self._checks: list[tuple[str, Check]] = []
        self._ctx = CheckContext()
        self._given_up = False
        self._in_line = False
        """Whether a chunk was checked on the build's thread (:meth:`close` releases it)."""

    def add(self, output: SourceOutput) -> None:
        """Take a finished source's output (on the build's thread, in the sources' order)."""
        self._left -= 1
        if self._given_up:
            return
        try:
            self._add(output)
        except Exception:
            # Left to check_sources after the sources, where it is raised as it was.
            self._give_up()

    def _add(self, output: SourceOutput) -> None:
        if output.num_rows:
            source = output.report.id
            key = self._key(output)
            self._keyed[source] = (output.report, [s.id for s in output.steps], key)
            if key not in self._cache.cached:
                table = output.table
                assert table is not None
                self._tables[source] = table
                self._sent[source] = key
                self._to_check += table.num_rows
                self._send(self._chunker.add(source, table.num_rows))
            else:
                # A source whose findings are kept closes the run so far (a chunk's
                # findings are its sources' own): a rebuild checks its changed sources
                # while it looks up the others, not after them.
                self._send(self._chunker.rest())
        if self._left == 0:
            self._send(self._chunker.rest())

    def _send(self, chunk: list[str] | None) -> None:
        if chunk is None:
            return
        registry = self.context.env.checks
        if not self._futures:
            # What run_checks_by_source gives back before its first chunk, when the sources
            # to check so far hold enough rows for their parsing to have left some.
            if self._to_check >= _GIVE_BACK_ROWS:
                _give_back()
            self._checks = checks_of(registry, self._only)
            self._ctx = _check_context(self.context.env)
        tables = {s: self._tables.pop(s) for s in chunk}
        if sum(t.num_rows for t in tables.values()) < _ALONGSIDE_ROWS:
            self._in_line = True
            done: Future[dict[str, list[Finding]]] = Future()
            try:
                done.set_result(check_chunk(chunk, tables, self._checks, self._ctx, registry))
            except Exception as exc:
                done.set_exception(exc)
            self._futures.append(done)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="checks")
        self._futures.append(
            self._pool.submit(check_chunk, chunk, tables, self._checks, self._ctx, registry)
        )

    def finish(self, outputs: Sequence[SourceOutput]) -> list[SourceOutput]:
        """:func:`check_sources` of ``outputs`` (every source's, as the sources gave them),
        with the chunks checked so far; the findings cache saved."""
        found: dict[str, list[Finding]] = {}
        if self._left != 0:
            # Not every source was given to add: the last chunk was never sent.
            self._give_up()
        try:
            for future in self._futures:
                if self._given_up:
                    break
                try:
                    found.update(future.result())
                except Exception:
                    self._give_up()
        finally:
            self.close()
        if self._given_up:
            return check_sources(outputs, self.context)
        if self._futures:
            # What the sources' parsing left free in this thread goes back, as
            # run_checks_by_source gives it back after the sources.
            _give_back()
        checked = [o for o in outputs if o.num_rows]
        keys = {o.report.id: self._key_of(o) for o in checked}
        cached = self._cache.cached
        todo = {s: k for s, k in keys.items() if k not in cached}
        if list(todo.items()) != list(self._sent.items()):
            # A source sent was failed since (its step could not be written): the
            # chunks would not be those run_checks_by_source makes of the others.
            return check_sources(outputs, self.context)
        results = {s: cached[k] for s, k in keys.items() if s not in todo}
        results.update(in_severity_order(found))
        self._cache.results.update({keys[s]: results[s] for s in keys})
        self._cache.save()
        return [_with_findings(o, results.get(o.report.id, [])) for o in outputs]

    def _key_of(self, output: SourceOutput) -> str:
        """The findings key :meth:`add` made of the same report (a frozen model: the same
        object, as the build's copy of an output keeps it) and step ids, else made now (a
        source failed since has a report of its own)."""
        given = self._keyed.get(output.report.id)
        if given is None:
            return self._key(output)
        report, steps, key = given
        same = report is output.report and steps == [s.id for s in output.steps]
        return key if same else self._key(output)

    def close(self) -> None:
        """Stop: chunks not begun are dropped, the one being checked is waited for, and
        the checks' thread gives back what it held (the build's thread, its DuckDB
        connection, when it checked a chunk). Nothing runs here afterwards."""
        if self._in_line:
            # What the in-line checks may have opened (a DuckDB connection, when values
            # not finite sent a check to its query), as the checks' thread gives it back.
            self._in_line = False
            close_connection()
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for future in self._futures:
            future.cancel()
        pool.submit(release_checks)
        pool.shutdown(wait=True)

    def _give_up(self) -> None:
        self._given_up = True
        self._tables.clear()
        self.close()


def _checks_and_common(context: BuildContext) -> tuple[list[str], dict[str, Any]]:
    """The data checks that run (every registered one but ``schema``, which harmonize
    ran) and what every source's findings key holds besides its own steps."""
    env = context.env
    registry = env.checks
    # Schema problems were reported by harmonize already; the data checks run here.
    only = [check_id for check_id in registry if check_id != "schema"]
    common = {
        "checks": [(c, registry.owner(c)) for c in only],
        "versions": dict(sorted(context.versions.items())),
        "territory": env.config.territory.model_dump(mode="json"),
        "min_events": env.config.reliability.min_events,
    }
    return only, common


def _check_context(env: BuildEnvironment) -> CheckContext:
    return CheckContext(
        indicators=env.indicators,
        territories=env.known_territories,
        hierarchy=env.hierarchy,
        min_events=env.config.reliability.min_events,
    )


def _keys(
    outputs: Sequence[SourceOutput], env: BuildEnvironment, common: Mapping[str, Any]
) -> dict[str, str]:
    """:func:`_key` of each output, by source id (:func:`_key_maker`)."""
    key = _key_maker(env, common)
    return {o.report.id: key(o) for o in outputs}


def _key_maker(env: BuildEnvironment, common: Mapping[str, Any]) -> Callable[[SourceOutput], str]:
    """:func:`_key` of an output: the same digest, its canonical JSON assembled from parts
    made once per build (the common part, each indicator's definition as
    ``env.fingerprint`` has it), not serialised again for every source."""
    import hashlib

    from welfare_observatory.lineage import canonical_json

    indicators = env.indicators
    if sorted(common) != ["checks", "min_events", "territory", "versions"]:
        return lambda o: _key(o, indicators, common)
    # Sorted keys: checks, indicators, min_events, source, steps, territory, versions.
    head = '{"checks":' + canonical_json(common["checks"]) + ',"indicators":['
    middle = ',"min_events":' + canonical_json(common["min_events"]) + ',"source":'
    tail = (
        ',"territory":'
        + canonical_json(common["territory"])
        + ',"versions":'
        + canonical_json(common["versions"])
        + "}"
    )

    def key(output: SourceOutput) -> str:
        used = sorted(output.report.indicators)
        listed = ",".join(env._indicator_json(i) for i in used if i in indicators)
        text = (
            head
            + listed
            + "]"
            + middle
            + canonical_json(output.report.id)
            + ',"steps":'
            + canonical_json([s.id for s in output.steps])
            + tail
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    return key


def _key(output: SourceOutput, indicators: Mapping[str, Indicator], common: Any) -> str:
    """The findings cache's key of a source's checks (what :func:`_keys` assembles)."""
    used = sorted(output.report.indicators)
    return digest(
        {
            "source": output.report.id,
            "steps": [s.id for s in output.steps],
            "indicators": [indicators[i].model_dump(mode="json") for i in used if i in indicators],
            **common,
        }
    )


def _with_findings(output: SourceOutput, found: list[Finding]) -> SourceOutput:
    if not found:
        return output
    findings = [*output.findings, *found]
    errors = [f for f in findings if f.severity is Severity.ERROR]
    report = output.report.model_copy(
        update={
            "status": "failed" if errors else output.report.status,
            "rows_out": 0 if errors else output.report.rows_out,
            "errors": len(errors),
            "warnings": sum(1 for f in findings if f.severity is Severity.WARNING),
            "error": str(errors[0]) if errors else None,
        }
    )
    return dataclasses.replace(
        output, report=report, findings=findings, data=None if errors else output.data
    )


def _load(path: Path) -> tuple[dict[str, list[Finding]], dict[str, Any]]:
    """The findings in the cache file by key, and each key's JSON as read."""
    try:
        # Sealed (welfare_observatory._seal): a finding changed since, though it still
        # parses, would be published as this build's.
        body = unseal(path.read_bytes())
        if body is None:
            return {}, {}
        record = json.loads(body)
        return {k: [Finding.model_validate(f) for f in v] for k, v in record.items()}, record
    except (OSError, ValueError, TypeError, AttributeError):
        return {}, {}  # a damaged cache is rebuilt, never trusted


def _save(
    path: Path, results: Mapping[str, list[Finding]], read: Mapping[str, Any] | None = None
) -> None:
    """Write ``results``; ``read``: the JSON of keys whose findings are those read from the
    file (they validated into them, so they dump back to it)."""
    from welfare_observatory._atomic import atomic_write_bytes

    read = read or {}
    record = {
        k: read[k] if k in read else [f.model_dump(mode="json") for f in v]
        for k, v in sorted(results.items())
    }
    # Not fsynced: a cache, read back whole or not at all (a file a crash left short or
    # zeroed is no JSON and is rebuilt; the rename keeps the old file or the new).
    atomic_write_bytes(path, seal(record), sync=False)
