"""Built-in ``table`` source: one CSV or XLSX file, local or downloaded, read as published.

YAML::

    sources:
      stranieri_istruzione:
        type: table
        path: data/NI2024-Stranieri_altri_dati_2.csv   # or url: https://...
        section_column: titolo_studio

Python::

    TableSource("stranieri_istruzione", {"path": "data/ni2024.csv"})

Everything besides ``path``/``url`` is a :class:`TabularOptions` field (separator, encoding,
decimal, header rows, markers, ...); see ``docs/sources.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import model_validator

from welfare_observatory.errors import Location, ParseError
from welfare_observatory.sdk import FetchContext, Payload, RegisterSource, Source, hookimpl
from welfare_observatory.sdk import SourceOptions as _SourceOptions
from welfare_observatory.sources.tabular_options import TabularOptions

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    import pyarrow as pa

__all__ = ["TableOptions", "TableSource", "read_ahead_job", "register_sources"]


class TableOptions(_SourceOptions, TabularOptions):
    """Where the file is (``path`` inside the observatory folder, or ``url``) and how to read it."""

    path: str | None = None
    url: str | None = None
    layout: Literal["auto", "tidy"] = "auto"
    """``tidy``: a CSV with one header row and one record per row, read without layout
    detection (:mod:`welfare_observatory.sources.tidy`)."""

    @model_validator(mode="after")
    def _one_place(self) -> TableOptions:
        if (self.path is None) == (self.url is None):
            raise ValueError("give exactly one of path (inside the observatory folder) or url")
        if self.url is not None and not self.url.startswith(("https://", "http://")):
            raise ValueError("url must start with https:// or http://")
        return self


class TableSource(Source[TableOptions]):
    """A CSV or XLSX table as Italian public bodies publish it, into a typed source table."""

    type: ClassVar[str] = "table"
    Options = TableOptions
    description: ClassVar[str] = (
        "one CSV or XLSX file (local or URL): Italian separators, encodings, titles, markers"
    )
    local_files_only: ClassVar[bool] = True  # ``path``: that one file (``url`` downloads)

    @property
    def table_options(self) -> TableOptions:
        """The options (kept for callers written before ``Source`` was generic)."""
        return self.options

    def fetch(self, ctx: FetchContext) -> list[Payload]:
        """The file, read where it is (``path``) or downloaded through the cache (``url``)."""
        options = self.table_options
        if options.path is not None:
            return [ctx.read_file(options.path)]
        assert options.url is not None
        return [ctx.get(options.url)]

    def parse(self, payload: Payload) -> pa.Table:
        """The payload as a source table (see :mod:`welfare_observatory.sources.tabular`)."""
        try:
            data = payload.read_bytes()
        except OSError as exc:
            raise self.parse_error(
                payload, f"cannot read the cached payload: {exc}", hint="fetch it again"
            ) from None
        try:
            # The detecting reader's modules (CSV grids, spreadsheets, number formats) are
            # imported only for a file that needs them, never for a plain tidy CSV.
            if self.table_options.layout == "tidy":
                from welfare_observatory.sources.tidy import read_tidy as read
            else:
                from welfare_observatory.sources.tidy import read_auto as read
            return read(data, self.table_options, file=payload.origin, source=self.id)
        except ParseError as exc:
            if exc.location is None:
                exc.location = Location(source=self.id, file=payload.origin)
            raise


_AHEAD_BYTES = (1 << 18, 1 << 26)
"""Sizes of the files a build reads ahead: from 256 KiB (a smaller file decodes in well
under a millisecond, less than handing it to a thread costs: measured on 160 files of
185 KiB, reading them ahead cost 10 % more CPU for no gain) to 64 MiB."""


def read_ahead_job(options: Mapping[str, Any], folder: str | Path) -> Callable[[], Any] | None:
    """What reads a table source's local CSV ahead of its source (``options``: the
    source's, from observatory.yaml; ``folder``: the observatory's), to run on another
    thread: the file's bytes and Arrow's first read of them
    (:func:`~welfare_observatory.sources.tidy.read_ahead`). None for any other source.

    What it reads is used only when the source's payload holds the same bytes (the file
    did not change in between) and its options are the same: a path that fetch refuses,
    a file that is not there, a read that fails are read ahead for nothing, never used.
    Only a regular file is opened (a pipe or a device could block the thread)."""
    try:
        table = TableOptions.model_validate(options)
    except ValueError:
        return None
    if table.path is None or table.format == "xlsx" or (table.header_rows or 1) > 1:
        return None
    if table.layout == "auto" and table.path.lower().endswith((".xlsx", ".xlsm", ".xls")):
        return None  # a workbook: read by layout detection, never by the tidy reader
    import os
    import stat

    name = os.path.join(folder, table.path)  # noqa: PTH118
    smallest, largest = _AHEAD_BYTES

    def fits(known: os.stat_result) -> bool:
        return stat.S_ISREG(known.st_mode) and smallest <= known.st_size <= largest

    try:
        if not fits(os.stat(name)):  # noqa: PTH116
            return None
    except OSError:
        return None

    def job() -> Any:
        from welfare_observatory.sources.tidy import read_ahead

        try:
            # Not blocking: opening a pipe to read waits for a writer (the file may have
            # been replaced since it was looked at).
            fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK)
            with os.fdopen(fd, "rb") as handle:
                if not fits(os.fstat(fd)):
                    return None
                data = handle.read()
        except OSError:
            return None
        return read_ahead(data, table)

    return job


@hookimpl
def register_sources(register: RegisterSource) -> None:
    """Register the built-in ``table`` source."""
    register(TableSource)
