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

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import model_validator

from welfare_observatory.errors import Location, ParseError
from welfare_observatory.sdk import FetchContext, Payload, RegisterSource, Source, hookimpl
from welfare_observatory.sdk import SourceOptions as _SourceOptions
from welfare_observatory.sources.tabular_options import TabularOptions

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["TableOptions", "TableSource", "register_sources"]


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

    @property
    def table_options(self) -> TableOptions:
        """The options (kept for callers written before ``Source`` was generic)."""
        return self.options

    def fetch(self, ctx: FetchContext) -> list[Payload]:
        """The file, copied into the cache (``path``) or downloaded through it (``url``)."""
        options = self.table_options
        if options.path is not None:
            return [ctx.read_file(options.path)]
        assert options.url is not None
        return [ctx.get(options.url)]

    def parse(self, payload: Payload) -> pa.Table:
        """The payload as a source table (see :mod:`welfare_observatory.sources.tabular`)."""
        from welfare_observatory.sources.tabular import read_table
        from welfare_observatory.sources.tidy import read_tidy

        try:
            data = payload.read_bytes()
        except OSError as exc:
            raise self.parse_error(
                payload, f"cannot read the cached payload: {exc}", hint="fetch it again"
            ) from None
        try:
            read = read_tidy if self.table_options.layout == "tidy" else read_table
            return read(data, self.table_options, file=payload.origin, source=self.id)
        except ParseError as exc:
            if exc.location is None:
                exc.location = Location(source=self.id, file=payload.origin)
            raise


@hookimpl
def register_sources(register: RegisterSource) -> None:
    """Register the built-in ``table`` source."""
    register(TableSource)
