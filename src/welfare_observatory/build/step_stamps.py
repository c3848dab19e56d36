"""A note of the saved steps' data files' stamps, so that a rebuild takes an untouched step's
digest from the note instead of reading and hashing its bytes up front.

A reused source's step (``build/sources.py``) is checked before the build trusts it: its data
file must hash to the digest its record holds, or the source is made again up front, even
when its rows are never read. A rebuild of 160 sources read and hashed all of them (13 MB at
4x, about 25 ms) to use one or two. After the sources ran, the build notes each step file it
used with its stamp (size, modification and change times, inode and device:
:func:`~welfare_observatory._file_stamp.file_stamp`) and the digest its bytes had when this
build wrote, read or trusted them. The next build takes that digest when the file still has
the stamp: a program can set a file's modification time back, never its change time, which
writing to the file moves. A file is noted only when its times are earlier than the noting
itself on the file system's own clock (a file made for it): one changed within the clock's
tick of the note would keep its stamp. The bytes of a step whose digest came from the note
are read, and hashed, when its rows are first needed (``SavedTable``).

The note is ``<kb>/.steps/step-stamps.json``, written without an fsync (a cache, ignored whole
when it does not read as this format).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from welfare_observatory._file_stamp import file_stamp, unchanged_before_now

__all__ = ["NAME", "StepStamps"]

NAME = "step-stamps.json"
"""The note's file in a knowledge base's ``.steps`` folder."""

_FORMAT = 1


class StepStamps:
    """The note a build read (``noted``: step key -> stamp and digest) and what it saw of the
    step files it used (``seen``), for the next note."""

    def __init__(self, steps_dir: Path, suffix: str, noted: dict[str, list[object]]) -> None:
        self.steps_dir = steps_dir
        self.suffix = suffix
        """A step's data file is ``<steps_dir>/<key><suffix>``."""
        self.noted = noted
        self.seen: dict[str, tuple[str, list[int]]] = {}
        """Step key -> (the digest of the file's bytes, its stamp when they had it)."""

    @classmethod
    def load(cls, steps_dir: Path, suffix: str) -> StepStamps:
        """The note in ``steps_dir``, or an empty one (none, damaged, another format)."""
        noted: dict[str, list[object]] = {}
        try:
            with (steps_dir / NAME).open("rb") as handle:
                record = json.loads(handle.read())
            if isinstance(record, dict) and record.get("format") == _FORMAT:
                steps = record.get("steps")
                if isinstance(steps, dict):
                    noted = {str(k): v for k, v in steps.items() if _well_formed(v)}
        except (OSError, ValueError, RecursionError):
            pass  # every step is read and hashed
        return cls(steps_dir, suffix, noted)

    def digest(self, key: str, path: str) -> tuple[str, list[int]] | None:
        """The digest the note holds for step ``key`` whose data file is ``path``, with the
        file's stamp, when the file still has the stamp noted with it; else None."""
        entry = self.noted.get(key)
        if entry is None:
            return None
        try:
            stamp = file_stamp(os.stat(path))  # noqa: PTH116
        except OSError:
            return None
        if stamp != entry[:5]:
            return None
        return str(entry[5]), stamp

    def saw(self, key: str, sha256: str, stamp: list[int]) -> None:
        """Step ``key``'s data file had the digest ``sha256`` while it had ``stamp``."""
        self.seen[key] = (sha256, stamp)

    def save(self) -> None:
        """Write the note of the step files seen that still have the stamp they were seen
        with, and whose times are earlier than the note's own on the file system's clock;
        the steps not seen are left out (hashed when next used)."""
        from welfare_observatory._atomic import atomic_write_bytes

        seen = {
            key: (self.steps_dir / f"{key}{self.suffix}", stamp)
            for key, (_, stamp) in self.seen.items()
        }
        current = unchanged_before_now(self.steps_dir, seen)
        if current is None:
            return
        steps: dict[str, list[object]] = {
            key: [*self.seen[key][1], self.seen[key][0]] for key in sorted(current)
        }
        if steps == self.noted and (self.steps_dir / NAME).exists():
            return  # the same note: not written again
        record = {"format": _FORMAT, "steps": steps}
        atomic_write_bytes(self.steps_dir / NAME, json.dumps(record).encode("utf-8"), sync=False)


def _well_formed(entry: object) -> bool:
    """A noted stamp (five integers) followed by a digest (64 hex digits)."""
    return (
        isinstance(entry, list)
        and len(entry) == 6
        and all(type(v) is int for v in entry[:5])
        and isinstance(entry[5], str)
        and len(entry[5]) == 64
    )
