"""Reading and writing the records a build seals (``welfare_observatory._seal``), for tests
that edit one as a later version, a hand or a damaged disk might."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from welfare_observatory._seal import KEY, seal


def read_record(path: Path) -> Any:
    """The record in ``path``, without its seal."""
    record = json.loads(path.read_bytes())
    if isinstance(record, dict):
        record.pop(KEY, None)
    return record


def write_record(path: Path, record: Any) -> None:
    """``record`` (its old seal, if any, dropped) sealed into ``path``, as the build writes
    it."""
    if isinstance(record, dict):
        record = {k: v for k, v in record.items() if k != KEY}
    path.write_bytes(seal(record))
