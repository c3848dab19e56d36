"""A tidy CSV read ahead on another thread (the next source's file, while a build
harmonizes this one) gives the table, findings and errors of the file read in line."""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.errors import ParseError
from welfare_observatory.sources.table import TableOptions, read_ahead_job
from welfare_observatory.sources.tidy import _ahead, read_ahead, read_tidy, reading_ahead


def options(**extra: object) -> TableOptions:
    return TableOptions.model_validate({"path": "data.csv", "layout": "tidy", **extra})


def done(value: object) -> Future[object]:
    future: Future[object] = Future()
    future.set_result(value)
    return future


def outcome(data: bytes, opts: TableOptions, ahead: Future[object] | None) -> object:
    """The table with its findings, or the error (message and place)."""
    try:
        with reading_ahead(ahead):
            table = read_tidy(data, opts, file="f.csv", source="s")
    except ParseError as exc:
        return ("error", str(exc), exc.location, exc.hint)
    return (table.combine_chunks(), table.schema.metadata)


def same_both_ways(data: bytes, opts: TableOptions) -> None:
    inline = outcome(data, opts, None)
    ahead = outcome(data, opts, done(read_ahead(data, opts)))
    if isinstance(inline, tuple) and inline[0] == "error":
        assert ahead == inline
        return
    assert isinstance(ahead, tuple) and isinstance(inline, tuple)
    table, meta = ahead
    assert isinstance(table, pa.Table) and isinstance(inline[0], pa.Table)
    assert table.schema == inline[0].schema and table.equals(inline[0])
    assert meta == inline[1]  # the findings the reader attached


MALFORMED = [
    b"",
    b"  \n\n",
    b"A,,C\n1,2,3\n",
    b"A,B,A\n1,2,3\n",
    b"A,B,C\n1,2,3\n4,5,6,7\n",
    b"A,Value\nx,1\ny,1,5 (a)\n",
    b"A,Value\nx,1\ny,1 kg\n",
    b"A\x00,B\n",
    b"A,B\n\xc3\xa8,1\n\xe8,2\n",
    b"A,B,C\n1,2\n3,4,5\n",  # a short row: read, with a finding
    b"A,Value\n",  # a header without rows
    b"\n\nA,B\n1,2\n",
    b'A,B\n"x\ny",1\n',
    b"A;Value\nx;1,5\ny;-\n",
    b"PK\x03\x04 not a workbook",
]


@pytest.mark.parametrize("data", MALFORMED)
@pytest.mark.parametrize("extra", [{}, {"value_columns": ["Value"]}, {"skip_rows": 1}])
def test_malformed_and_odd_files_fail_or_read_the_same_read_ahead(
    data: bytes, extra: dict[str, object]
) -> None:
    same_both_ways(data, options(**extra))


_cell = st.text(alphabet='ab ,;"\n\xe8', max_size=5)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(_cell, min_size=1, max_size=5), min_size=1, max_size=8),
    st.sampled_from([",", ";"]),
    st.sampled_from([{}, {"value_columns": ["b"]}, {"separator": ","}]),
)
def test_any_file_reads_or_fails_the_same_read_ahead(
    rows: list[list[str]], sep: str, extra: dict[str, object]
) -> None:
    data = "\n".join(sep.join(row) for row in [["a", "b", "c"], *rows]).encode()
    same_both_ways(data, options(**extra))


def test_a_read_of_other_bytes_or_options_is_not_taken() -> None:
    data = b"A,B\nx,1\n"
    other = b"A,B\nx,2\n"
    ahead = read_ahead(other, options())
    assert ahead is not None
    with reading_ahead(done(ahead)):
        assert _ahead(data, options()) is None
        assert _ahead(other, options(separator=";")) is None
        assert _ahead(other, options()) is ahead
        assert _ahead(other, options(), plain=True) is None  # read as tidy, not as plain
    assert read_tidy(data, options()).column("B").to_pylist() == [1.0]


def test_a_cancelled_or_failed_read_is_made_again() -> None:
    data = b"A,B\nx,1\n"
    cancelled: Future[object] = Future()
    cancelled.cancel()
    failed: Future[object] = Future()
    failed.set_exception(RuntimeError("the thread died"))
    for future in (cancelled, failed, done(None), done("not a read")):
        with reading_ahead(future):
            assert _ahead(data, options()) is None
            assert read_tidy(data, options()).column("A").to_pylist() == ["x"]


def test_what_interrupts_the_wait_goes_on_up(monkeypatch: pytest.MonkeyPatch) -> None:
    # The source's timeout interrupts the main thread wherever it waits: the wait for a
    # read ahead must not swallow it.
    import concurrent.futures

    class WaitInterruptedError(Exception):
        pass

    def interrupted(_futures: object) -> None:
        raise WaitInterruptedError

    monkeypatch.setattr(concurrent.futures, "wait", interrupted)
    with reading_ahead(Future()), pytest.raises(WaitInterruptedError):
        _ahead(b"A\n1\n", options())


@pytest.fixture
def any_size(monkeypatch: pytest.MonkeyPatch) -> None:
    from welfare_observatory.sources import table

    monkeypatch.setattr(table, "_AHEAD_BYTES", (0, 1 << 26))


def test_only_files_of_a_size_worth_a_thread_are_read_ahead(tmp_path: Path) -> None:
    from welfare_observatory.sources import table

    smallest, largest = table._AHEAD_BYTES
    (tmp_path / "small.csv").write_bytes(b"A,B\n" + b"x,1\n" * ((smallest - 5) // 4))
    (tmp_path / "enough.csv").write_bytes(b"A,B\n" + b"x,1\n" * (smallest // 4))
    assert read_ahead_job({"path": "small.csv", "layout": "tidy"}, tmp_path) is None
    job = read_ahead_job({"path": "enough.csv", "layout": "tidy"}, tmp_path)
    assert job is not None
    ahead = job()
    assert ahead is not None and ahead.table.num_rows == smallest // 4 + 1
    # a file that shrank (or grew past the largest) since it was looked at is not read
    (tmp_path / "enough.csv").write_bytes(b"A,B\nx,1\n")
    assert job() is None
    assert largest >= 1 << 26


@pytest.mark.usefixtures("any_size")
def test_the_job_reads_only_a_local_csv(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_bytes(b"A,B\nx,1\n")
    # Declared tidy, or not declared: a CSV whose layout is detected may be plain tidy.
    for options in ({"path": "data.csv", "layout": "tidy"}, {"path": "data.csv"}):
        job = read_ahead_job(options, tmp_path)
        assert job is not None
        ahead = job()
        assert ahead is not None and ahead.data == b"A,B\nx,1\n"
    assert read_ahead_job({"url": "https://example.org/x.csv", "layout": "tidy"}, tmp_path) is None
    # What the tidy reader never reads: a workbook, a header of several rows.
    assert read_ahead_job({"path": "data.csv", "header_rows": 2}, tmp_path) is None
    (tmp_path / "book.XLSX").write_bytes(b"A,B\nx,1\n")
    assert read_ahead_job({"path": "book.XLSX"}, tmp_path) is None
    assert read_ahead_job({"path": "x.xlsx", "layout": "tidy", "format": "xlsx"}, tmp_path) is None
    assert read_ahead_job({"layout": "tidy"}, tmp_path) is None  # invalid options
    for missing in ("nothing.csv", "."):
        assert read_ahead_job({"path": missing, "layout": "tidy"}, tmp_path) is None
    # a file removed or replaced by a pipe after it was looked at
    job = read_ahead_job({"path": "data.csv", "layout": "tidy"}, tmp_path)
    assert job is not None
    (tmp_path / "data.csv").unlink()
    assert job() is None


@pytest.mark.usefixtures("any_size")
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_is_not_read_and_does_not_block(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.csv")
    assert read_ahead_job({"path": "pipe.csv", "layout": "tidy"}, tmp_path) is None
    (tmp_path / "data.csv").write_bytes(b"A,B\nx,1\n")
    job = read_ahead_job({"path": "data.csv", "layout": "tidy"}, tmp_path)
    assert job is not None
    (tmp_path / "data.csv").unlink()
    os.mkfifo(tmp_path / "data.csv")
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(job()), daemon=True)
    worker.start()
    worker.join(5)
    assert not worker.is_alive() and result == [None]


def test_a_file_of_layout_auto_is_read_ahead_as_read_auto_reads_it() -> None:
    from welfare_observatory.sources.tidy import read_auto

    data = b"A;B\nx;1\ny;2\n"
    auto = TableOptions.model_validate({"path": "data.csv"})
    ahead = read_ahead(data, auto)
    assert ahead is not None and ahead.plain
    with reading_ahead(done(ahead)):
        assert _ahead(data, auto, plain=True) is ahead
        assert read_auto(data, auto).column("B").to_pylist() == [1.0, 2.0]
