"""The package's atomic writer (``_atomic.atomic_write_chunks``): written through the
descriptor ``mkstemp`` opened, its folder made only when missing. A reader never sees half
a file, a failed write leaves no file of its own and the old version whole, and a crash
leaves only a ``.<name>.<random>.tmp`` the clean-ups recognise."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory import _atomic
from welfare_observatory._atomic import atomic_path, atomic_write_bytes, atomic_write_chunks


def test_a_missing_folder_is_made(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "step.json"
    atomic_write_bytes(target, b"{}", sync=False)
    assert target.read_bytes() == b"{}"
    assert os.listdir(target.parent) == ["step.json"]


def test_a_relative_path_is_written_beside_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    atomic_write_bytes(Path("plain.txt"), b"x")
    atomic_write_chunks("text.txt", [b"a", b"b"])  # type: ignore[arg-type]
    assert sorted(os.listdir(tmp_path)) == ["plain.txt", "text.txt"]
    assert (tmp_path / "text.txt").read_bytes() == b"ab"


def test_sync_flushes_the_file_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.fstat(fd).st_size)
        real(fd)

    monkeypatch.setattr(_atomic.os, "fsync", fsync)
    atomic_write_chunks(tmp_path / "f", [b"abc", b"de"])
    atomic_write_chunks(tmp_path / "g", [b"abc"], sync=False)
    assert synced == [5]  # the whole file, once, and only when asked


def test_a_rename_that_fails_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def refuse(src: str, dst: object) -> None:
        raise OSError("read-only file system")

    monkeypatch.setattr(_atomic.os, "replace", refuse)
    with pytest.raises(OSError, match="read-only"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_chunks_that_fail_part_way_leave_the_old_file_and_no_descriptor(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def chunks() -> Iterator[bytes]:
        yield b"half"
        raise ValueError("the source of the chunks failed")

    fds = os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else None
    for _ in range(20):
        with pytest.raises(ValueError, match="failed"):
            atomic_write_chunks(target, chunks())
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]
    if fds is not None:
        assert len(os.listdir("/proc/self/fd")) <= len(fds)


def test_a_killed_write_leaves_a_name_the_clean_ups_know(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A kill between the write and the rename: the file left is named as atomic_path's.
    monkeypatch.setattr(_atomic.os, "replace", lambda src, dst: None)
    atomic_write_bytes(tmp_path / "EDITION.json", b"{}")
    (left,) = os.listdir(tmp_path)
    assert left.startswith(".EDITION.json.") and left.endswith(".tmp")
    with atomic_path(tmp_path / "EDITION.json") as tmp:
        assert tmp.name.startswith(".EDITION.json.") and tmp.name.endswith(".tmp")
        tmp.write_bytes(b"")


@settings(max_examples=40, deadline=None)
@given(chunks=st.lists(st.binary(max_size=3000), max_size=5), sync=st.booleans())
def test_the_file_holds_the_chunks_as_atomic_path_writes_them(
    tmp_path_factory: pytest.TempPathFactory, chunks: list[bytes], sync: bool
) -> None:
    folder = tmp_path_factory.mktemp("w")
    atomic_write_chunks(folder / "new", chunks, sync=sync)
    with atomic_path(folder / "old", sync=sync) as tmp, tmp.open("wb") as handle:
        for chunk in chunks:
            handle.write(chunk)
    assert (folder / "new").read_bytes() == (folder / "old").read_bytes() == b"".join(chunks)
    assert (folder / "new").stat().st_mode == (folder / "old").stat().st_mode
    assert sorted(os.listdir(folder)) == ["new", "old"]
