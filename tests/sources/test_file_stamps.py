"""A local file copied into the cache (``put_file``; ``read_file`` copies a file larger than
``sdk.HELD_FILE_BYTES``) and unchanged since the last build is not read and hashed again
(issue 19): its stamp (size, times, inode, device) and its cached copy's stamp are recorded
with the digest. Any change to either, and a refresh, reads the file again; the digest is
always the bytes'."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from welfare_observatory import sdk
from welfare_observatory.sdk import FetchContext
from welfare_observatory.sources import cache as cache_module
from welfare_observatory.sources.cache import Cache


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files count as settled at once (the real rule waits 2 s after the last change)."""
    monkeypatch.setattr(cache_module, "_SETTLED_NS", -(10**12))


def copies(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files the cache reads and copies, from now on."""
    seen: list[Path] = []
    original = Cache._store_file

    def spy(self: Cache, path: Path) -> str:
        seen.append(path)
        return original(self, path)

    monkeypatch.setattr(Cache, "_store_file", spy)
    return seen


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_an_unchanged_file_is_not_read_again(
    tmp_path: Path, settled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "a.csv"
    file.write_bytes(b"A,B\n1,2\n")
    cache = Cache(tmp_path / "cache")
    first = cache.put_file("s", "file:a.csv", file, meta={"path": "a.csv"})
    seen = copies(monkeypatch)
    again = cache.put_file("s", "file:a.csv", file, meta={"path": "a.csv"})
    assert seen == []
    assert (again.sha256, again.path, again.meta) == (first.sha256, first.path, first.meta)
    assert again.sha256 == sha(b"A,B\n1,2\n") and again.read_bytes() == b"A,B\n1,2\n"


def test_a_changed_file_is_read_again_even_with_size_and_mtime_restored(
    tmp_path: Path, settled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "a.csv"
    file.write_bytes(b"A,B\n1,2\n")
    before = file.stat()
    cache = Cache(tmp_path / "cache")
    cache.put_file("s", "file:a.csv", file)
    file.write_bytes(b"A,B\n1,3\n")  # same size
    os.utime(file, ns=(before.st_atime_ns, before.st_mtime_ns))  # same mtime: ctime moved
    seen = copies(monkeypatch)
    assert cache.put_file("s", "file:a.csv", file).sha256 == sha(b"A,B\n1,3\n")
    assert seen == [file]


def test_a_touched_cached_copy_a_refresh_and_other_options_read_the_file_again(
    tmp_path: Path, settled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "a.csv"
    file.write_bytes(b"A,B\n1,2\n")
    cache = Cache(tmp_path / "cache")
    first = cache.put_file("s", "file:a.csv", file)
    seen = copies(monkeypatch)
    first.path.unlink()
    first.path.write_bytes(b"A,B\n9,9\n")  # a damaged copy under the right name
    assert cache.put_file("s", "file:a.csv", file).read_bytes() == b"A,B\n1,2\n"
    assert len(seen) == 1
    cache.put_file("s", "file:a.csv", file, trust_stamps=False)
    assert len(seen) == 2
    cache.put_file("s", "file:a.csv", file, media_type="text/csv")
    assert len(seen) == 3
    cache.put_file("t", "file:a.csv", file)  # another source's record
    assert len(seen) == 4


def test_a_file_changed_just_now_is_never_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "a.csv"
    file.write_bytes(b"A,B\n1,2\n")
    cache = Cache(tmp_path / "cache")
    cache.put_file("s", "file:a.csv", file)
    seen = copies(monkeypatch)
    cache.put_file("s", "file:a.csv", file)
    assert seen == [file]  # within the clock's resolution a change may keep the stamp


def test_a_refreshing_fetch_context_reads_local_files_again(
    tmp_path: Path, settled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file over sdk.HELD_FILE_BYTES is copied into the cache (a smaller one is read and
    # hashed by every fetch, never copied).
    monkeypatch.setattr(sdk, "HELD_FILE_BYTES", 4)
    (tmp_path / "a.csv").write_bytes(b"A,B\n1,2\n")
    cache = Cache(tmp_path / "cache")

    def context(refresh: bool) -> FetchContext:
        return FetchContext(
            cache=cache,
            http=None,
            base_dir=tmp_path,
            refresh=refresh,
            source="s",  # type: ignore[arg-type]
        )

    context(False).read_file("a.csv")
    seen = copies(monkeypatch)
    context(False).read_file("a.csv")
    assert seen == []
    context(True).read_file("a.csv")
    assert len(seen) == 1


def test_a_stat_the_caller_took_gives_what_the_cache_s_own_stat_gives(
    tmp_path: Path, settled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``read_file`` hands ``put_file`` the file's lstat taken as the path was checked (no
    second system call): the payloads, the files read and the recorded stamps are those
    of a ``put_file`` that stats the file itself; a changed file or a damaged copy is read
    again all the same."""
    file = tmp_path / "a.csv"
    file.write_bytes(b"A,B\n1,2\n")
    own, given = Cache(tmp_path / "own"), Cache(tmp_path / "given")
    for cache, status in ((own, None), (given, os.lstat(file))):
        cache.put_file("s", "file:a.csv", file, meta={"path": "a.csv"}, status=status)
    record = hashlib.sha256(b"s\0file:a.csv").hexdigest() + ".json"
    index = Path("index") / record[:2] / record
    assert _same_but_time(own.root / index, given.root / index)
    seen = copies(monkeypatch)
    first = given.put_file("s", "file:a.csv", file, status=os.lstat(file), meta={"path": "a.csv"})
    assert seen == [] and first.read_bytes() == b"A,B\n1,2\n"
    first.path.unlink()
    first.path.write_bytes(b"A,B\n9,9\n")  # a damaged copy under the right name
    again = given.put_file("s", "file:a.csv", file, status=os.lstat(file), meta={"path": "a.csv"})
    assert seen == [file] and again.read_bytes() == b"A,B\n1,2\n"
    file.write_bytes(b"A,B\n3,4\n")
    changed = given.put_file("s", "file:a.csv", file, status=os.lstat(file), meta={"path": "a.csv"})
    assert seen == [file, file] and changed.sha256 == sha(b"A,B\n3,4\n")


def _same_but_time(one: Path, other: Path) -> bool:
    """Two index records alike but for when they were written."""
    import json

    a, b = json.loads(one.read_text()), json.loads(other.read_text())
    for record in (a, b):
        record["meta"].pop("fetched_at")
        record["stamps"].pop("object")  # each cache's own copy
    return bool(a == b)


@pytest.mark.parametrize("held", [4, sdk.HELD_FILE_BYTES], ids=["copied", "held"])
def test_read_file_asks_for_the_file_s_status_once(
    tmp_path: Path, settled: None, monkeypatch: pytest.MonkeyPatch, held: int
) -> None:
    """The unchanged-file check of a build's local file costs one system call for the file
    (its lstat on the way through the folder), not an lstat and a stat; a file read whole
    into its payload is not asked for its stat either (the read's own descriptor is)."""
    monkeypatch.setattr(sdk, "HELD_FILE_BYTES", held)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_bytes(b"A,B\n1,2\n")
    cache = Cache(tmp_path / "cache")
    context = FetchContext(cache=cache, http=None, base_dir=tmp_path, source="s")  # type: ignore[arg-type]
    first = context.read_file("data/a.csv")
    asked: list[str] = []
    real_stat = os.stat

    def counting(path: object, *args: object, **kwargs: object) -> os.stat_result:
        asked.append(os.fspath(path))  # type: ignore[arg-type]
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", counting)
    again = context.read_file("data/a.csv")
    assert again.sha256 == first.sha256 and again.path == first.path
    target = os.path.realpath(tmp_path / "data" / "a.csv")
    assert target not in asked  # the copy's stat is the cache's own, the file's is not asked
