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
def atomic_path(path: Path, *, mode: int | None = None) -> Iterator[Path]:
    """A temporary path beside ``path``; what the block writes there replaces ``path`` when
    the block ends without error (fsynced first), and is removed on any failure.

    ``mode``: permissions of the result (``mkstemp`` makes 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        if mode is not None:
            tmp.chmod(mode)
        yield tmp
        with tmp.open("rb+") as handle:
            os.fsync(handle.fileno())
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_chunks(path: Path, chunks: Iterable[bytes]) -> None:
    """Write ``chunks`` to ``path`` atomically."""
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        for chunk in chunks:
            handle.write(chunk)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_write_chunks(path, (data,))
