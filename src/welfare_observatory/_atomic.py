"""The package's one atomic file writer.

Every file the library writes for others to read (a step, a manifest, a pointer, an export,
a cached payload, a spreadsheet) is written to a temporary file beside it, flushed to disk
and renamed onto its name, so a reader or a killed process never sees half a file. The
temporary name is ``.<name>.<random>.tmp``: clean-ups recognise leftovers by it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_chunks"]


@contextlib.contextmanager
def atomic_path(path: Path, *, mode: int | None = None, sync: bool = True) -> Iterator[Path]:
    """A temporary path beside ``path``; what the block writes there replaces ``path`` when
    the block ends without error (fsynced first), and is removed on any failure.

    ``mode``: permissions of the result (``mkstemp`` makes 0600). ``sync`` False skips the
    fsync, for a cache entry its reader verifies (a digest, a parse) and rebuilds when a
    crash left it incomplete: the rename still keeps readers from half a file.
    """
    fd, name = _temporary(Path(path))
    os.close(fd)
    tmp = Path(name)
    try:
        if mode is not None:
            tmp.chmod(mode)
        yield tmp
        if sync:
            with tmp.open("rb+") as handle:
                os.fsync(handle.fileno())
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_chunks(path: Path, chunks: Iterable[bytes], *, sync: bool = True) -> None:
    """Write ``chunks`` to ``path`` atomically (``sync``: see :func:`atomic_path`).

    :func:`atomic_path`'s file, written through the descriptor ``mkstemp`` opened (not
    closed and opened again by name) and its folder made only when missing: a build writes
    three small files a source (its step, its record, its cache record)."""
    fd, name = _temporary(path)
    try:
        with open(fd, "wb") as handle:  # noqa: PTH123
            for chunk in chunks:
                handle.write(chunk)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(name, path)  # noqa: PTH105
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)  # noqa: PTH108
        raise


def atomic_write_bytes(path: Path, data: bytes, *, sync: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (``sync``: see :func:`atomic_path`)."""
    atomic_write_chunks(path, (data,), sync=sync)


def _temporary(path: Path) -> tuple[int, str]:
    """An open descriptor and the name of a new ``.<name>.<random>.tmp`` beside ``path``
    (the name the clean-ups recognise); the folder is made only when it is missing."""
    folder = os.path.dirname(path) or "."  # noqa: PTH120 (no Path built per file)
    prefix = f".{os.path.basename(path)}."  # noqa: PTH119
    try:
        return tempfile.mkstemp(dir=folder, prefix=prefix, suffix=".tmp")
    except FileNotFoundError:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(dir=folder, prefix=prefix, suffix=".tmp")
