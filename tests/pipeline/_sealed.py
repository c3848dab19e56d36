"""Reading and writing the records a build seals (``welfare_observatory._seal``), for tests
that edit one as a later version, a hand or a damaged disk might."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from welfare_observatory._seal import KEY, seal
from welfare_observatory.build.step_stamps import NAME


def read_record(path: Path) -> Any:
    """The record in ``path``, without its seal."""
    record = json.loads(path.read_bytes())
    if isinstance(record, dict):
        record.pop(KEY, None)
    return record


def write_record(path: Path, record: Any) -> None:
    """``record`` (its old seal, if any, dropped) sealed into ``path``, as the build writes
    it. A source step's record written here is the one the next build reads: the copy the
    note of the steps holds (``build/step_stamps.py``), which that build would read
    instead, is dropped from the note."""
    if isinstance(record, dict):
        record = {k: v for k, v in record.items() if k != KEY}
    path.write_bytes(seal(record))
    note = path.parent / NAME
    if path.name.startswith("source-") and note.exists():
        noted = json.loads(note.read_bytes())
        records = noted.get("records") if isinstance(noted, dict) else None
        if isinstance(records, dict) and records.pop(path.stem, None) is not None:
            note.write_text(json.dumps(noted), encoding="utf-8")
