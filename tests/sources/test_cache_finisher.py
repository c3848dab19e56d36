"""A local file copied into the cache with a ``finisher`` (the build's writer thread) is
fsynced and indexed there, in that order: the payload, the copy and the record are those of
the copy finished in line, a failure is the error ``put_file`` raises in line, and whoever
reads or removes the record waits for it."""

from __future__ import annotations

import errno
import json
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from welfare_observatory.errors import FetchError
from welfare_observatory.sources import cache as cache_module
from welfare_observatory.sources.cache import Cache

DATA = b"Year,GeoCode,Value\n2020,017001,1.5\n"


class Held(ThreadPoolExecutor):
    """One thread whose tasks start only once :attr:`go` is set."""

    def __init__(self) -> None:
        super().__init__(1)
        self.go = threading.Event()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        def held() -> Any:
            self.go.wait(10)
            return fn(*args, **kwargs)

        return super().submit(held)


def record(cache: Cache, source: str, key: str) -> dict[str, Any] | None:
    path = cache._index_path(source, key)
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    data["meta"].pop("fetched_at")
    data.pop("stamps", None)  # inode and times of each copy
    return data


def test_a_copy_finished_on_the_writer_is_the_copy_finished_in_line(tmp_path: Path) -> None:
    file = tmp_path / "a.csv"
    file.write_bytes(DATA)
    inline = Cache(tmp_path / "inline")
    expected = inline.put_file("s", "file:a.csv", file, meta={"path": "a.csv"})
    with Held() as writer:
        deferred = Cache(tmp_path / "deferred", finisher=writer)
        payload = deferred.put_file("s", "file:a.csv", file, meta={"path": "a.csv"})
        # Readable at once, indexed only once finished.
        assert payload.read_bytes() == DATA
        assert record(deferred, "s", "file:a.csv") is None
        writer.go.set()
        [task] = deferred.pending
        task.result()
    assert (payload.sha256, payload.key, payload.media_type) == (
        expected.sha256,
        expected.key,
        expected.media_type,
    )
    assert record(deferred, "s", "file:a.csv") == record(inline, "s", "file:a.csv")
    assert deferred.lookup("s", "file:a.csv") is not None


def test_a_copy_that_cannot_be_synced_fails_as_in_line_and_is_never_indexed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "a.csv"
    file.write_bytes(DATA)

    def broken(_fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(cache_module.os, "fsync", broken)
    with pytest.raises(FetchError) as inline:
        Cache(tmp_path / "inline").put_file("s", "file:a.csv", file)
    with ThreadPoolExecutor(1) as writer:
        deferred = Cache(tmp_path / "deferred", finisher=writer)
        deferred.put_file("s", "file:a.csv", file)
        [task] = deferred.pending
        error = task.exception()
    assert isinstance(error, FetchError)
    assert str(error) == str(inline.value)
    assert record(deferred, "s", "file:a.csv") is None


def test_forgetting_an_answer_waits_for_its_record(tmp_path: Path) -> None:
    file = tmp_path / "a.csv"
    file.write_bytes(DATA)
    with Held() as writer:
        cache = Cache(tmp_path / "cache", finisher=writer)
        payload = cache.put_file("s", "file:a.csv", file)
        threading.Timer(0.2, writer.go.set).start()
        # An answer that did not parse leaves the index: not re-added by its late record.
        cache.discard(payload)
        assert cache.pending[0].done()
    assert record(cache, "s", "file:a.csv") is None
    assert Cache(tmp_path / "cache").lookup("s", "file:a.csv") is None


class SlowLookups(dict[Path, "Future[None]"]):
    """The pending-records table, where a lookup from the writer thread takes a while: a
    finished write's clean-up then overlaps the next write's registration."""

    def get(self, key: Path, default: Any = None) -> Any:
        found = super().get(key, default)
        if threading.current_thread() is not threading.main_thread():
            threading.Event().wait(0.2)
        return found


def test_a_finished_record_does_not_unregister_a_newer_one_for_the_same_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_module, "_PENDING", SlowLookups())
    file = tmp_path / "a.csv"
    file.write_bytes(DATA)
    with ThreadPoolExecutor(1) as writer:
        cache = Cache(tmp_path / "cache", finisher=writer)
        cache.put_file("s", "k", file, trust_stamps=False)
        cache.pending[0].result()  # its clean-up is now running on the writer
        gate = threading.Event()
        writer.submit(gate.wait, 10)  # the second record waits behind this
        file.write_bytes(DATA + b"2021,017001,2.5\n")
        cache.put_file("s", "k", file, trust_stamps=False)
        threading.Event().wait(0.4)  # the first clean-up is over
        try:
            assert not cache.pending[1].done()
            assert cache_module._PENDING.get(cache._index_path("s", "k")) is cache.pending[1]
        finally:
            gate.set()
        cache.pending[1].result()
    assert cache_module._PENDING.get(cache._index_path("s", "k")) is None


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_copies_waiting_for_their_fsync_hold_no_open_file(tmp_path: Path) -> None:
    files = []
    for n in range(20):
        file = tmp_path / f"f{n}.csv"
        file.write_bytes(DATA + str(n).encode() + b"\n")
        files.append(file)
    with Held() as writer:
        cache = Cache(tmp_path / "cache", finisher=writer)
        before = len(list(Path("/proc/self/fd").iterdir()))
        for n, file in enumerate(files):
            cache.put_file("s", f"k{n}", file)
        held = len(list(Path("/proc/self/fd").iterdir())) - before
        writer.go.set()
        for task in cache.pending:
            task.result()
    assert held <= 1  # (the writer's thread may hold its own)
    assert all(record(cache, "s", f"k{n}") is not None for n in range(20))
