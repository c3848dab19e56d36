"""The data checks run while the sources run (``build.validate.run_and_check``) give what
checking every source after them gives (``check_sources``): the same findings in the same
order, the same failed sources, the same findings cache; and a failure anywhere behaves as
it did (a step that cannot be written, a source that fails or times out, a check that
crashes, an exception on the checks' thread, an interrupt while the sources run)."""

from __future__ import annotations

import dataclasses
import functools
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.build import sources as pipeline
from welfare_observatory.build import validate
from welfare_observatory.build.environment import make_environment
from welfare_observatory.build.report import SourceReport
from welfare_observatory.build.sources import BuildContext, SavedTable, SourceOutput
from welfare_observatory.model.finding import Finding, Severity
from welfare_observatory.observatory import load_observatory
from welfare_observatory.validate import batch

from ._outputs import offline_context, plain
from ._sealed import read_record, write_record

CODES = ("017001", "017002", "017003", "017004", "017005", "017006", "017007", "017008")
YEARS = tuple(range(2015, 2023))


def _values(i: int) -> list[float | None]:
    """Source ``i``'s values, one per (code, year; None: no row): the third source has a
    gap (a warning) and a percentage past 100 (an error, found after the warning but
    listed first; the source fails), the fourth an outlier, the sixth a jump."""
    values: list[float | None] = [
        10.0 * i + n % 3 + (y - 2015) / 4 for n in range(len(CODES)) for y in YEARS
    ]
    if i == 3:
        values[5] = 180.0
        values = [None if k % len(YEARS) == 4 else v for k, v in enumerate(values)]
    if i == 4:
        values[len(YEARS) * 4 + 3] = 900.0
    if i == 6:
        values[len(YEARS) + 2] = 0.5
    return values


def _observatory(folder: Path, count: int = 7) -> Path:
    (folder / "data").mkdir(parents=True)
    (folder / "indicators").mkdir()
    entries, sources = [], []
    for i in range(1, count + 1):
        ident = f"T_IND_{i}"
        rows = ["Year,GeoCode,Value"] + [
            f"{year},{code},{value}"
            for (code, year), value in zip(
                [(c, y) for c in CODES for y in YEARS], _values(i), strict=True
            )
            if value is not None
        ]
        (folder / "data" / f"t{i}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        unit = "percent" if i % 2 else "year"
        entries.append(
            f"- id: {ident}\n  label: {{it: Indicatore {i}, en: Indicator {i}}}\n  unit: {unit}\n"
            "  polarity: neutral\n  domain: health\n  measure: ratio\n"
            "  reference_point: calendar_year\n  aggregation: none\n"
            "  source: {publisher: Test, document: tests/pipeline/test_checks_alongside.py}\n"
        )
        sources.append(
            f"  s{i}:\n    type: table\n    options:\n      path: data/t{i}.csv\n"
            "      value_columns: [Value]\n      layout: tidy\n"
            f"    rules:\n      indicator: {{value: {ident}}}\n"
            "      territory: {column: GeoCode, scheme: istat}\n"
            "      period: {column: Year}\n      value: {column: Value}\n"
        )
    (folder / "indicators" / "own.yaml").write_text("".join(entries), encoding="utf-8")
    names = ", ".join(f"T_IND_{i}" for i in range(1, count + 1))
    (folder / "observatory.yaml").write_text(
        "id: alongside\nname: {it: Accanto, en: Alongside}\nedition: '2024'\n"
        "territory:\n  code: '017'\n  reference_date: 2024-01-01\n"
        f"indicators:\n  add: [{names}]\n  catalog: [indicators/own.yaml]\n"
        "sources:\n" + "".join(sources),
        encoding="utf-8",
    )
    return folder


@pytest.fixture(autouse=True)
def every_chunk_on_the_checks_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """These sources are small: a build would check every chunk of them on its own thread
    at once (``_ALONGSIDE_ROWS``). The tests below that are about checking in line say so."""
    monkeypatch.setattr(validate, "_ALONGSIDE_ROWS", 0)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _observatory(tmp_path_factory.mktemp("obs") / "obs")


@pytest.fixture(scope="module")
def environment(folder: Path) -> Any:
    return make_environment(load_observatory(folder)).prepare()


def _context(env: Any, kb: Path, **changes: Any) -> BuildContext:
    return offline_context(env, kb, defer_checks=True, lazy_steps=True, **changes)


def _after(env: Any, kb: Path, **changes: Any) -> list[SourceOutput]:
    """What the build did before: every source, then the checks."""
    context = _context(env, kb, **changes)
    outputs = pipeline.run_sources(list(env.config.sources), context)
    return validate.check_sources(outputs, context)


def _alongside(env: Any, kb: Path, **changes: Any) -> list[SourceOutput]:
    return validate.run_and_check(list(env.config.sources), _context(env, kb, **changes))


def _cache(kb: Path) -> Any:
    path = kb / ".steps" / "checks.json"
    return read_record(path) if path.exists() else None


def _both(
    env: Any, kb: Path, monkeypatch: pytest.MonkeyPatch, **changes: Any
) -> tuple[list[Any], list[Any]]:
    """The outputs and findings cache of checking after, then alongside (one folder for
    both: messages name it)."""
    after = _after(env, kb, **changes)
    expected = (plain(after), _cache(kb))
    shutil.rmtree(kb)
    along = _alongside(env, kb, **changes)
    return [expected[0], expected[1]], [plain(along), _cache(kb)]


def _no_checks_thread() -> bool:
    return not any(t.name.startswith("checks") for t in threading.enumerate())


def _chunk_rows(monkeypatch: pytest.MonkeyPatch, rows: int) -> None:
    """Chunks of about ``rows`` rows, alongside and after the sources alike."""
    monkeypatch.setattr(batch, "CHUNK_ROWS", rows)
    monkeypatch.setattr(
        validate,
        "run_checks_by_source",
        functools.partial(batch.run_checks_by_source, chunk_rows=rows),
    )


@pytest.mark.parametrize("chunk_rows", [1, 130, 10**6])
def test_checked_alongside_is_checked_after(
    environment: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_rows: int
) -> None:
    _chunk_rows(monkeypatch, chunk_rows)
    sent: list[list[str]] = []
    check_chunk = validate.check_chunk

    def spy(ids: list[str], *args: Any) -> Any:
        sent.append(list(ids))
        return check_chunk(ids, *args)

    monkeypatch.setattr(validate, "check_chunk", spy)
    expected, got = _both(environment, tmp_path / "kb", monkeypatch)
    assert got == expected
    outputs = expected[0]
    # The cases above really are found, on the right sources: s3 fails by its error.
    codes = {r.id: {f.code for f in findings} for r, _t, findings, _s, _p, _r in outputs}
    assert "out-of-range" in codes["s3"] and outputs[2][0].status == "failed"
    listed = [f.code for f in outputs[2][2]]
    assert listed.index("out-of-range") < listed.index("missing-periods")
    assert outputs[2][1] is None
    assert "implausible-jump" in codes["s4"]
    assert all(f.source == r.id for r, _t, findings, _s, _p, _r in outputs for f in findings)
    # Checked alongside, in the chunks run_checks_by_source makes (s3's rows included).
    assert [s for chunk in sent for s in chunk] == [f"s{i}" for i in range(1, 8)]
    assert len(sent) == {1: 7, 130: 4, 10**6: 1}[chunk_rows]
    # A rebuild takes every source's findings from the cache.
    again = _alongside(environment, tmp_path / "kb")
    assert [o.report.status for o in again] == ["reused"] * 2 + ["failed"] + ["reused"] * 4
    assert [o.findings for o in again] == [findings for _r, _t, findings, _s, _p, _u in outputs]


@pytest.mark.parametrize("chunk_rows", [1, 10**6])
def test_chunks_of_few_rows_are_checked_in_line_as_they_would_be_after(
    environment: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_rows: int
) -> None:
    """A chunk of fewer rows than ``_ALONGSIDE_ROWS`` is checked on the build's thread as
    soon as it is complete: on another thread it would slow the sources that follow (the
    two threads take turns with the interpreter's lock) by about as much as it saves."""
    monkeypatch.setattr(validate, "_ALONGSIDE_ROWS", 10**9)
    _chunk_rows(monkeypatch, chunk_rows)
    threads: list[str] = []
    check_chunk = validate.check_chunk

    def spy(ids: list[str], *args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return check_chunk(ids, *args)

    monkeypatch.setattr(validate, "check_chunk", spy)
    expected, got = _both(environment, tmp_path / "kb", monkeypatch)
    assert got == expected
    assert threads and set(threads) == {threading.main_thread().name}
    assert _no_checks_thread()


def test_checks_in_line_give_back_the_duckdb_connection_they_opened_on_the_builds_thread(
    environment: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Values a check cannot take in numpy (not finite) send it to its DuckDB query, on a
    connection of the thread it runs on: the build's own, in line. It is closed once the
    checks are done, as the checks' thread closes its own, before derive and analyze need
    the memory."""
    from welfare_observatory.validate import builtin

    monkeypatch.setattr(validate, "_ALONGSIDE_ROWS", 10**9)
    monkeypatch.setattr(builtin, "fast_values", lambda _column: False)
    opened: list[str] = []
    connection = builtin._connection

    def spy() -> Any:
        opened.append(threading.current_thread().name)
        return connection()

    monkeypatch.setattr(builtin, "_connection", spy)
    builtin.close_connection()
    expected, got = _both(environment, tmp_path / "kb", monkeypatch)
    assert got == expected
    assert threading.main_thread().name in opened
    assert getattr(builtin._local, "con", None) is None


def test_a_chunk_of_many_rows_goes_to_the_checks_thread_and_a_small_one_is_checked_in_line(
    environment: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chunks of at most 130 rows: s1+s2, s3+s4, s5+s6 (over 100 rows each), then s7 (64).
    monkeypatch.setattr(validate, "_ALONGSIDE_ROWS", 100)
    _chunk_rows(monkeypatch, 130)
    sent: list[tuple[list[str], int, str]] = []
    check_chunk = validate.check_chunk

    def spy(ids: list[str], tables: Any, *args: Any) -> Any:
        rows = sum(t.num_rows for t in tables.values())
        sent.append((list(ids), rows, threading.current_thread().name))
        return check_chunk(ids, tables, *args)

    monkeypatch.setattr(validate, "check_chunk", spy)
    expected, got = _both(environment, tmp_path / "kb", monkeypatch)
    assert got == expected
    # (check_sources checks through run_checks_by_source, not this spy: these are alongside.)
    along = sorted(sent)  # a chunk on the checks' thread is seen when it starts there
    assert [ids for ids, _r, _t in along] == [["s1", "s2"], ["s3", "s4"], ["s5", "s6"], ["s7"]]
    for _ids, rows, thread in along:
        assert thread.startswith("checks") is (rows >= 100)
    assert along[-1][2] == threading.main_thread().name


def test_reused_sources_whose_findings_are_cached_are_not_read(
    environment: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb = tmp_path / "kb"
    first = _alongside(environment, kb)
    sent: list[str] = []
    check_chunk = validate.check_chunk

    def spy(ids: list[str], *args: Any) -> Any:
        sent.extend(ids)
        return check_chunk(ids, *args)

    monkeypatch.setattr(validate, "check_chunk", spy)
    again = _alongside(environment, kb)
    assert sent == []
    assert all(isinstance(o.data, SavedTable) for o in again if o.report.status == "reused")
    assert [o.findings for o in again] == [o.findings for o in first]


def test_reused_sources_are_read_and_checked_when_the_checks_changed(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb = tmp_path / "kb"
    env = make_environment(load_observatory(folder)).prepare()
    _alongside(env, kb)
    # Another check: every key changes; the reused sources' steps are read and checked.
    changed = make_environment(load_observatory(folder)).prepare()

    def few(data: pa.Table, ctx: Any) -> list[Finding]:
        return [
            Finding(
                code="few-rows",
                severity=Severity.INFO,
                message=f"{data.num_rows} rows",
                source=ctx.source,
            )
        ]

    changed.checks.register("demo.few", few, owner="demo-plugin")
    saved = kb.with_name("saved")
    shutil.copytree(kb, saved)
    expected = plain(_after(changed, kb))
    shutil.rmtree(kb)
    shutil.copytree(saved, kb)
    got = _alongside(changed, kb)
    assert plain(got) == expected
    assert [o.report.status for o in got].count("reused") == 6
    assert all(o.data is None or isinstance(o.data, pa.Table) for o in got)
    assert [f.code for f in got[0].findings].count("few-rows") == 1


def test_a_step_that_cannot_be_written_fails_its_source_as_when_checked_after(
    environment: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    save = pipeline._save_step

    def full_for_s5(steps_dir: Path, key: str, table: Any, *rest: Any) -> None:
        if table is not None and "s5" in table.column("source").to_pylist():
            time.sleep(0.2)  # the source is checked before its write fails
            raise OSError(errno.ENOSPC, "No space left on device")
        save(steps_dir, key, table, *rest)

    monkeypatch.setattr(pipeline, "_save_step", full_for_s5)
    fallback: list[int] = []
    check_sources = validate.check_sources

    def spy(outputs: Any, context: Any, **kwargs: Any) -> Any:
        fallback.append(len(outputs))
        return check_sources(outputs, context, **kwargs)

    expected, _ = _both(environment, tmp_path / "kb", monkeypatch)
    monkeypatch.setattr(validate, "check_sources", spy)
    shutil.rmtree(tmp_path / "kb")
    got = _alongside(environment, tmp_path / "kb")
    assert [plain(got), _cache(tmp_path / "kb")] == expected
    assert got[4].report.status == "failed" and "No space left" in (got[4].report.error or "")
    assert fallback == [7], "the chunks are those of the sources that are left"


def test_sources_that_fail_or_time_out_are_left_out_as_when_checked_after(
    environment: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parse = pipeline._parse_and_harmonize

    def misbehaving(source: Any, payloads: Any, rules: Any, context: Any, source_id: str, *a: Any):  # type: ignore[no-untyped-def]
        if source_id == "s2":
            raise RuntimeError("the plugin has a bug")
        if source_id == "s6":
            time.sleep(5)
        return parse(source, payloads, rules, context, source_id, *a)

    monkeypatch.setattr(pipeline, "_parse_and_harmonize", misbehaving)
    expected, got = _both(environment, tmp_path / "kb", monkeypatch, timeout=1.0)
    assert got == expected
    statuses = [r.status for r, *_ in got[0]]
    assert statuses == ["ok", "failed", "failed", "ok", "ok", "failed", "ok"]
    assert "did not finish within" in (got[0][5][0].error or "")


@pytest.mark.parametrize("in_line", [False, True])
@pytest.mark.parametrize("batched", [False, True])
def test_a_check_that_crashes_fails_the_source_it_crashed_on(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batched: bool, in_line: bool
) -> None:
    if in_line:
        monkeypatch.setattr(validate, "_ALONGSIDE_ROWS", 10**9)
    env = make_environment(load_observatory(folder)).prepare()
    seen: list[tuple[str | None, bool]] = []

    def fragile(data: pa.Table, ctx: Any) -> list[Finding]:
        seen.append((ctx.source, threading.current_thread().name.startswith("checks")))
        if ctx.source == "s5" or (batched and ctx.source is None):
            raise ValueError("cannot")
        return []

    if batched:
        # The built-in batched check crashes on a batch, then on s5 alone.
        monkeypatch.setitem(env.checks._checks, "status", fragile)
        monkeypatch.setitem(batch.BATCHED, "status", fragile)
    else:
        env.checks.register("demo.fragile", fragile, owner="demo-plugin")
    expected, got = _both(env, tmp_path / "kb", monkeypatch)
    assert got == expected
    by_source = {r.id: (r, findings) for r, _t, findings, _s, _p, _r in got[0]}
    report, findings = by_source["s5"]
    assert report.status == "failed"
    assert [f.code for f in findings if f.code == "check-failed"] == ["check-failed"]
    assert "cannot" in (report.error or "")
    assert all(
        "check-failed" not in {f.code for f in found}
        for s, (_r, found) in by_source.items()
        if s != "s5"
    )
    # Plugin checks see one source at a time, on the checks' thread when alongside (on
    # the build's own when every chunk is checked in line).
    assert any(on_thread for _s, on_thread in seen) is not in_line


def test_an_exception_on_the_checks_thread_is_raised_as_after(
    environment: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from welfare_observatory.model import observation

    def broken(tables: Any) -> Any:
        raise MemoryError("no memory for the batch")

    monkeypatch.setattr(observation, "unify_breakdowns", broken)
    kb = tmp_path / "kb"
    with pytest.raises(MemoryError, match="no memory for the batch"):
        _after(environment, kb)
    shutil.rmtree(kb)
    raised_on: list[str] = []
    check_sources = validate.check_sources

    def spy(outputs: Any, context: Any, **kwargs: Any) -> Any:
        raised_on.append(threading.current_thread().name)
        return check_sources(outputs, context, **kwargs)

    monkeypatch.setattr(validate, "check_sources", spy)
    with pytest.raises(MemoryError, match="no memory for the batch"):
        _alongside(environment, kb)
    assert raised_on == [threading.current_thread().name]
    assert _no_checks_thread()
    assert _cache(kb) is None


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_an_interrupt_while_the_sources_run_leaves_no_check_running(
    environment: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: type
) -> None:
    monkeypatch.setattr(batch, "CHUNK_ROWS", 1)
    run_source = pipeline.run_source
    check_chunk = validate.check_chunk
    started: list[str] = []
    ended: list[float] = []

    def slow(ids: list[str], *args: Any) -> Any:
        started.extend(ids)
        time.sleep(0.3)
        try:
            return check_chunk(ids, *args)
        finally:
            ended.append(time.perf_counter())

    def interrupted(source_id: str, *args: Any) -> SourceOutput:
        if source_id == "s4":
            time.sleep(0.1)  # the first chunk is being checked
            raise error()
        return run_source(source_id, *args)

    monkeypatch.setattr(validate, "check_chunk", slow)
    monkeypatch.setattr(pipeline, "run_source", interrupted)
    with pytest.raises(error):
        _alongside(environment, tmp_path / "kb")
    returned = time.perf_counter()
    assert _no_checks_thread()
    assert started and len(ended) == len(started) < 3, "chunks not begun were dropped"
    assert max(ended) <= returned
    assert _cache(tmp_path / "kb") is None
    time.sleep(0.4)
    assert len(ended) == len(started)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_any_order_chunking_reuse_and_late_failure_give_the_findings_of_checking_after(
    outputs: list[SourceOutput],
    environment: Any,
    tmp_path_factory: pytest.TempPathFactory,
    data: st.DataObject,
) -> None:
    """Sources in any order, with any values, in chunks of any size, some findings cached
    and some sources failed after they were checked: the outputs and the findings cache
    are those of :func:`check_sources` of what the sources gave."""
    order = data.draw(st.permutations(range(len(outputs))))
    factors = data.draw(
        st.lists(st.sampled_from([1.0, -1.0, 3.5, 1e6, 0.0]), min_size=7, max_size=7)
    )
    cached = data.draw(st.sets(st.sampled_from(range(len(outputs)))))
    late = data.draw(st.sets(st.sampled_from(range(len(outputs))), max_size=2))
    chunk_rows = data.draw(st.sampled_from([1, 64, 200, 10**6]))
    made = []
    for i in order:
        output = outputs[i]
        table = output.table
        if table is not None:
            value = table.schema.get_field_index("value")
            scaled = pc.multiply(table.column(value), factors[i])
            table = table.set_column(value, "value", scaled)
        made.append((i, dataclasses.replace(output, data=table)))
    arriving = [o for _i, o in made]
    final = [
        SourceOutput(SourceReport(id=o.report.id, type="table", status="failed", error="full"))
        if i in late
        else o
        for i, o in made
    ]
    steps = tmp_path_factory.mktemp("kb")
    first = _context(environment, steps)
    validate.check_sources([o for i, o in made if i in cached], first)
    other = tmp_path_factory.mktemp("kb")
    shutil.copytree(steps, other, dirs_exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            validate,
            "run_checks_by_source",
            functools.partial(batch.run_checks_by_source, chunk_rows=chunk_rows),
        )
        expected = validate.check_sources(final, _context(environment, steps))
        checks = validate.ChecksAlongside(
            _context(environment, other), len(arriving), chunk_rows=chunk_rows
        )
        for output in arriving:
            checks.add(output)
        got = checks.finish(final)
    assert plain(got) == plain(expected)
    assert _cache(other) == _cache(steps)
    assert _no_checks_thread()


@pytest.fixture(scope="module")
def outputs(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> list[SourceOutput]:
    """The sources' outputs as they finish, before any check."""
    env = make_environment(load_observatory(folder)).prepare()
    context = _context(env, tmp_path_factory.mktemp("kb"))
    return pipeline.run_sources(list(env.config.sources), context)


def _counting_alongside(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """On two CPUs: an entry for each build that checks alongside its sources."""
    from welfare_observatory.build.strategies import in_memory

    monkeypatch.setattr(in_memory, "usable_cores", lambda: 2)
    alongside: list[int] = []
    run_and_check = validate.run_and_check
    monkeypatch.setattr(
        validate, "run_and_check", lambda *a: alongside.append(1) or run_and_check(*a)
    )
    return alongside


def test_an_executor_of_its_own_keeps_checking_after(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from welfare_observatory.build.strategies.base import LocalExecutor

    class Counting(LocalExecutor):
        calls = 0

        def run_sources(self, context: Any, source_ids: Any) -> list[SourceOutput]:
            Counting.calls += 1
            return super().run_sources(context, source_ids)

    alongside = _counting_alongside(monkeypatch)
    plain = load_observatory(folder).build(out=tmp_path / "a", offline=True).report
    assert alongside == [1]
    own = load_observatory(folder).build(out=tmp_path / "b", offline=True, executor=Counting())
    assert alongside == [1] and Counting.calls == 1
    assert own.report.build == plain.build
    assert own.report.findings == plain.findings
    # 'validate' is still timed: what the build waited for the checks after the sources.
    assert "validate" in plain.timings and "validate" in own.report.timings


def test_on_one_core_the_checks_run_after_the_sources(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from welfare_observatory.build.strategies import in_memory

    alongside = _counting_alongside(monkeypatch)
    plain = load_observatory(folder).build(out=tmp_path / "a", offline=True).report
    monkeypatch.setattr(in_memory, "usable_cores", lambda: 1)
    alone = load_observatory(folder).build(out=tmp_path / "b", offline=True).report
    assert alongside == [1]
    assert alone.build == plain.build
    assert alone.findings == plain.findings


def test_a_source_never_given_leaves_the_checks_to_after(
    environment: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Told of one source more than it is given (one that had no rows to check, say): the
    # last chunk was never sent, so the checks alongside must not answer for its sources
    # (they would have no findings at all).
    kb = tmp_path / "kb"
    expected = (plain(_after(environment, kb)), _cache(kb))
    shutil.rmtree(kb)
    context = _context(environment, kb)
    ids = list(environment.config.sources)
    outputs = pipeline.run_sources(ids, context)
    checks = validate.ChecksAlongside(context, len(ids) + 1)
    for output in outputs:
        checks.add(output)
    got = checks.finish(outputs)
    assert (plain(got), _cache(kb)) == expected
    assert _no_checks_thread()


def _changed(environment: Any, kb: Path, *changed: int) -> tuple[list[SourceOutput], Any]:
    """Every source run and checked alongside once, then the findings of the sources at
    ``changed`` forgotten (as if they changed): the outputs, and a function that puts the
    findings cache back in that state (checking writes it)."""
    context = _context(environment, kb)
    ids = list(environment.config.sources)
    outputs = pipeline.run_sources(ids, context)
    first = validate.ChecksAlongside(context, len(ids))
    for output in outputs:
        first.add(output)
    first.finish(outputs)
    cache = kb / ".steps" / "checks.json"
    record = read_record(cache)
    for index in changed:
        del record[first._key(outputs[index])]

    def forget() -> None:
        write_record(cache, record)

    forget()
    return outputs, forget


def test_a_source_to_check_goes_to_the_checks_once_a_source_whose_findings_are_kept_follows(
    environment: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A rebuild of one changed file: its source is checked while the build looks up the
    # others, not after the last of them; the findings are those of checking after.
    kb = tmp_path / "kb"
    outputs, forget = _changed(environment, kb, 1)  # s2 changed: it is checked again
    expected = plain(validate.check_sources(outputs, _context(environment, kb)))
    forget()
    sent: list[tuple[int, list[str]]] = []
    check_chunk = validate.check_chunk
    given = 0

    def spy(ids: list[str], *args: Any) -> Any:
        sent.append((given, list(ids)))
        return check_chunk(ids, *args)

    monkeypatch.setattr(validate, "check_chunk", spy)
    checks = validate.ChecksAlongside(_context(environment, kb), len(outputs))
    for output in outputs:
        given += 1
        checks.add(output)
        if given == 3:
            checks._futures[0].result()  # sent when s3 (whose findings are kept) came
    assert plain(checks.finish(outputs)) == expected
    assert sent == [(3, ["s2"])]


def test_changed_sources_between_kept_ones_are_checked_as_after(
    environment: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # s1 and s3 changed, s2 kept: checked alongside in two chunks ([s1], [s3]) where checking
    # after makes one ([s1, s3]); a chunk's findings are its sources' own, so they agree.
    kb = tmp_path / "kb"
    outputs, forget = _changed(environment, kb, 0, 2)
    sent: list[list[str]] = []
    check_chunk = batch.check_chunk

    def spy(chunk: list[str], *args: Any) -> Any:
        sent.append(list(chunk))
        return check_chunk(chunk, *args)

    monkeypatch.setattr(batch, "check_chunk", spy)
    monkeypatch.setattr(validate, "check_chunk", spy)
    expected = (plain(validate.check_sources(outputs, _context(environment, kb))), _cache(kb))
    forget()
    checks = validate.ChecksAlongside(_context(environment, kb), len(outputs))
    for output in outputs:
        checks.add(output)
    got = (plain(checks.finish(outputs)), _cache(kb))
    assert sent == [["s1", "s3"], ["s1"], ["s3"]]  # after, then alongside
    assert got == expected


@pytest.mark.parametrize("threshold", [0, 10**9])
def test_memory_is_handed_back_before_the_first_chunk_only_after_many_rows(
    environment: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threshold: int
) -> None:
    """The C heap is walked to hand memory back before the first chunk when the sources
    parsed so far hold enough rows to have left some (a fresh build), not for a rebuild's
    few changed sources; either way the findings are those of checking after."""
    kb = tmp_path / "kb"
    outputs, forget = _changed(environment, kb, 0, 2)
    expected = (plain(validate.check_sources(outputs, _context(environment, kb))), _cache(kb))
    forget()
    given: list[str] = []
    monkeypatch.setattr(validate, "_give_back", lambda: given.append("back"))
    monkeypatch.setattr(validate, "_GIVE_BACK_ROWS", threshold)
    checks = validate.ChecksAlongside(_context(environment, kb), len(outputs))
    for output in outputs:
        checks.add(output)
        if output.report.id == "s2":
            # s2's findings are kept: the first chunk ([s1]) has gone to the checks.
            assert given == ([] if threshold else ["back"])
    got = (plain(checks.finish(outputs)), _cache(kb))
    assert got == expected
    # finish hands back what the checks left, whatever the first chunk's rows.
    assert given == (["back"] if threshold else ["back", "back"])


def test_each_sources_findings_key_is_made_once_unless_its_report_changed(
    environment: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``finish`` takes the key ``add`` made for a source (the outputs it gets are the
    build's copies of those ``add`` got), with the findings and cache of checking after;
    an output whose report or steps are not those ``add`` saw (a reused step made again
    has a report of its own) gets its key made anew."""
    made: list[str] = []
    key_maker = validate._key_maker

    def counting(*args: Any) -> Any:
        key = key_maker(*args)

        def counted(output: SourceOutput) -> str:
            made.append(output.report.id)
            return str(key(output))

        return counted

    kb = tmp_path / "kb"
    expected, _ = _both(environment, kb, monkeypatch)
    shutil.rmtree(kb)
    monkeypatch.setattr(validate, "_key_maker", counting)
    got = _alongside(environment, kb)
    assert [plain(got), _cache(kb)] == expected
    assert sorted(made) == [f"s{i}" for i in range(1, 8)], "one key a source"

    checks = validate.ChecksAlongside(_context(environment, kb), 1)
    output = got[0]
    checks.add(output)
    made.clear()
    key = checks._key_of(dataclasses.replace(output, saving=None))
    assert made == []
    copied = output.report.model_copy(update={"status": "ok"})
    assert checks._key_of(dataclasses.replace(output, report=copied)) == key
    fewer = dataclasses.replace(output, steps=output.steps[:-1])
    assert checks._key_of(fewer) != key
    assert made == ["s1", "s1"]
    checks.close()
