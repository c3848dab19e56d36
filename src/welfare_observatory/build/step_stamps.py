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

The note also holds each noted step's record (``record``), so that a rebuild opens none of
the 160 record files of an untouched observatory: the sealed bytes, one after the other, in
``step-records.bin``, where the note gives each its place. A record taken from there is
checked as one read from its own file is (its seal, and the key it names) and describes the
data file as that one does; one that fails is read from its own file. A build also lists
the folder when it reads the note: a step not there then is not looked for (a first build
of 160 sources opened 160 missing files, each a wait for the interpreter's lock while other
threads wrote steps and checked sources).

The note is ``<kb>/.steps/step-stamps.json``, written without an fsync (a cache, ignored whole
when it does not read as this format), after the records.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from welfare_observatory._file_stamp import file_stamp, unchanged_before_now

__all__ = ["NAME", "RECORDS", "StepStamps"]

NAME = "step-stamps.json"
"""The note's file in a knowledge base's ``.steps`` folder."""

RECORDS = "step-records.bin"
"""The records of the steps noted, one after the other, in the same folder."""

_FORMAT = 1


class StepStamps:
    """The note a build read (``noted``: step key -> stamp and digest; ``records``: step
    key -> its sealed record) and what it saw of the step files it used (``seen``,
    ``seen_records``), for the next note."""

    def __init__(
        self,
        steps_dir: Path,
        suffix: str,
        noted: dict[str, list[object]],
        records: dict[str, bytes] | None = None,
        present: frozenset[str] | None = None,
    ) -> None:
        self.steps_dir = steps_dir
        self.suffix = suffix
        """A step's data file is ``<steps_dir>/<key><suffix>``."""
        self.noted = noted
        self.records = records if records is not None else {}
        """Step key -> the sealed record the last build used (:meth:`record`)."""
        self.present = present
        """The names in ``steps_dir`` when the note was read (None: not listed)."""
        self.seen: dict[str, tuple[str, list[int]]] = {}
        """Step key -> (the digest of the file's bytes, its stamp when they had it)."""
        self.seen_records: dict[str, bytes] = {}
        """Step key -> the sealed record of the step seen."""

    @classmethod
    def load(cls, steps_dir: Path, suffix: str) -> StepStamps:
        """The note in ``steps_dir``, or an empty one (none, damaged, another format), with
        the names the folder holds."""
        try:
            present: frozenset[str] | None = frozenset(os.listdir(steps_dir))  # noqa: PTH208
        except FileNotFoundError:
            present = frozenset()
        except OSError:
            present = None
        noted: dict[str, list[object]] = {}
        records: dict[str, bytes] = {}
        try:
            with (steps_dir / NAME).open("rb") as handle:
                record = json.loads(handle.read())
            if isinstance(record, dict) and record.get("format") == _FORMAT:
                steps = record.get("steps")
                if isinstance(steps, dict):
                    noted = {str(k): v for k, v in steps.items() if _well_formed(v)}
                index = record.get("records")
                if isinstance(index, dict) and index:
                    records = _records(steps_dir / RECORDS, index)
        except (OSError, ValueError, RecursionError):
            pass  # every step is read and hashed
        return cls(steps_dir, suffix, noted, records, present)

    def record(self, key: str) -> bytes | None:
        """The sealed record of step ``key`` as the last build used it, or None. Unchecked:
        the caller unseals it and compares its key, as it does a record file's bytes."""
        return self.records.get(key)

    def absent(self, name: str) -> bool:
        """Whether the file ``name`` was not in the folder when the note was read (False
        when the folder was not listed). A build writes a step only for a key it found no
        step of, so a step listed as absent is never looked for on the disk."""
        return self.present is not None and name not in self.present

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

    def saw(self, key: str, sha256: str, stamp: list[int], record: bytes | None = None) -> None:
        """Step ``key``'s data file had the digest ``sha256`` while it had ``stamp``;
        ``record``: the step's sealed record, whose digest is ``sha256``."""
        self.seen[key] = (sha256, stamp)
        if record is not None:
            self.seen_records[key] = record
        else:
            self.seen_records.pop(key, None)

    def save(self) -> None:
        """Write the note of the step files seen that still have the stamp they were seen
        with, and whose times are earlier than the note's own on the file system's clock,
        with their records; the steps not seen are left out (hashed when next used)."""
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
        kept = {key: self.seen_records[key] for key in steps if key in self.seen_records}
        if (
            steps == self.noted
            and kept == {key: r for key, r in self.records.items() if key in steps}
            and (self.steps_dir / NAME).exists()
        ):
            return  # the same note: not written again
        index: dict[str, list[int]] = {}
        at = 0
        for key, sealed in kept.items():
            index[key] = [at, len(sealed)]
            at += len(sealed)
        # The records first: a note is never there with an index into records it lacks
        # (an index into other records only finds records that fail their seal or key).
        atomic_write_bytes(self.steps_dir / RECORDS, b"".join(kept.values()), sync=False)
        record = {"format": _FORMAT, "steps": steps, "records": index}
        atomic_write_bytes(self.steps_dir / NAME, json.dumps(record).encode("utf-8"), sync=False)


def _records(path: Path, index: dict[object, object]) -> dict[str, bytes]:
    """The records ``index`` (key -> offset and length) places in the file ``path``; an
    entry that is not two integers within the file is left out."""
    with path.open("rb") as handle:
        blob = handle.read()
    records: dict[str, bytes] = {}
    for key, place in index.items():
        if (
            isinstance(place, list)
            and len(place) == 2
            and all(type(n) is int and n >= 0 for n in place)
            and place[0] + place[1] <= len(blob)
        ):
            records[str(key)] = blob[place[0] : place[0] + place[1]]
    return records


def _well_formed(entry: object) -> bool:
    """A noted stamp (five integers) followed by a digest (64 hex digits)."""
    return (
        isinstance(entry, list)
        and len(entry) == 6
        and all(type(v) is int for v in entry[:5])
        and isinstance(entry[5], str)
        and len(entry[5]) == 64
    )
