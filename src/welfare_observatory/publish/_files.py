"""Atomic file output and the text safety rules shared by the exporters."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from welfare_observatory.errors import Location, PublishError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["FORMULA_START", "atomic_output", "neutralise", "plain_table"]

FORMULA_START = r"^[=+\-@\t\r]"
"""Text a spreadsheet would read as a formula (or a DDE call): ``=``, ``+``, ``-``, ``@``,
tab and carriage return at the start of a cell."""


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto it when the block ends without error.

    A reader never sees a half-written export; on failure the temporary file is removed
    and an OSError becomes a PublishError naming the file.
    """
    from welfare_observatory._atomic import atomic_path

    try:
        # mkstemp creates 0600; a published file is for everyone to read, like one open() makes.
        with atomic_path(path, mode=0o666 & ~_umask()) as tmp:
            yield tmp
    except OSError as exc:
        raise _write_error(path, exc) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _umask() -> int:
    """The process umask, read without changing it where the system allows (Linux)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: set and restore, the only portable way to read it
    os.umask(mask)
    return mask


def _write_error(path: Path, exc: OSError) -> PublishError:
    return PublishError(
        f"cannot write {path}: {exc.strerror or exc}",
        location=Location(file=str(path)),
        hint="check the output folder's permissions and free space",
    )


def write_text(path: Path, text: str) -> Path:
    """Write UTF-8 text atomically; returns ``path``."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")
    return path


def plain_table(table: pa.Table) -> pa.Table:
    """Dictionary columns decoded to their values (writers want plain strings)."""
    from welfare_observatory._arrow import plain

    return plain(table)


def neutralise(table: pa.Table) -> pa.Table:
    """Text cells that a spreadsheet would run as a formula, prefixed with ``'``.

    Numbers, dates and nulls stay as they are: only string columns change, and only the
    cells that start with ``=``, ``+``, ``-``, ``@``, tab or carriage return.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    table = plain_table(table)
    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = pc.fill_null(pc.match_substring_regex(column, FORMULA_START), False)
            column = pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
        columns.append(column)
    return pa.table(columns, names=table.column_names)
