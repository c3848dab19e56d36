"""A file's stamp: what tells, without reading it, that its bytes may have changed.

The payload cache trusts a local file whose stamp is the one it recorded, a build trusts a
saved result's file whose stamp its note holds (``build/reuse.py``), a source step whose
file keeps its noted stamp is not read up front (``build/step_stamps.py``), and a source whose
files keep the stamps its last fetch noted is not fetched (``build/fetch_note.py``). A program
can set a file's modification time back, never its change time, which writing to the file
or adding or removing a link moves.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

__all__ = ["SETTLED_NS", "file_stamp", "settled", "unchanged_before_now"]

K = TypeVar("K")

SETTLED_NS = 2_000_000_000
"""How long (ns) a file must have been still before its stamp is trusted: a file changed
within the clock's resolution of its stamp could change again without a new stamp (the
"racy" case)."""


def file_stamp(status: os.stat_result) -> list[int]:
    """Size, modification and change times (ns), inode and device of ``status``."""
    return [status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino, status.st_dev]


def settled(status: os.stat_result, at_ns: int, window_ns: int = SETTLED_NS) -> bool:
    """Whether the file of ``status`` had been still (neither written nor relinked) for
    more than ``window_ns`` at ``at_ns`` (``time.time_ns``): its stamp may be trusted."""
    return at_ns - max(status.st_mtime_ns, status.st_ctime_ns) > window_ns


def unchanged_before_now(folder: Path, seen: Mapping[K, tuple[Path, list[int]]]) -> set[K] | None:
    """Which of ``seen`` (each a file and the full stamp it was seen with) still have that
    stamp and were last changed before now on the file system's own clock (a file made in
    ``folder`` for it, then removed): a later change of such a file's bytes or links gives
    it a later change time, whatever the clock's resolution, so its stamp may be noted (one
    changed within the tick it is noted in never is). None when no file can be made."""
    try:
        fd, clock = tempfile.mkstemp(dir=folder, prefix=".clock-", suffix=".tmp")
    except OSError:
        return None
    try:
        now = os.fstat(fd).st_mtime_ns
    finally:
        os.close(fd)
        Path(clock).unlink(missing_ok=True)
    found: set[K] = set()
    for name, (path, stamp) in seen.items():
        try:
            status = path.stat()
        except OSError:
            continue
        if file_stamp(status) == stamp and max(status.st_mtime_ns, status.st_ctime_ns) < now:
            found.add(name)
    return found
