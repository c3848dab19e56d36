"""Eurostat bulk TSV source for welfare-observatory (``type: eurostat_tsv``).

YAML::

    sources:
      pop_nuts3:
        type: eurostat_tsv
        dataset: demo_r_gind3          # or path: data/demo_r_gind3.tsv.gz, or url: https://...

The plugin registers itself through the ``welfare_observatory`` entry-point group; it uses
only the public API of welfare-observatory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import Field, model_validator

from welfare_observatory import ParseError
from welfare_observatory.sdk import (
    FetchContext,
    Payload,
    RegisterSource,
    Source,
    SourceOptions,
    hookimpl,
)

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["EUROSTAT_TSV_URL", "EurostatTsvOptions", "EurostatTsvSource", "register_sources"]

__version__ = "0.1.0"

EUROSTAT_TSV_URL = "https://ec.europa.eu/eurostat/api/dissemination/sdmx/2.1/data/{dataset}"
"""Eurostat's dissemination API; ``format=TSV&compressed=true`` returns the bulk TSV, gzipped."""


class EurostatTsvOptions(SourceOptions):
    """Exactly one of ``dataset`` (a Eurostat code), ``path`` (in the observatory) or ``url``."""

    dataset: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_$]+$")
    path: str | None = None
    url: str | None = None
    max_uncompressed_bytes: int = Field(default=512 * 1024 * 1024, gt=0)

    @model_validator(mode="after")
    def _one_place(self) -> EurostatTsvOptions:
        given = [name for name in ("dataset", "path", "url") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of dataset, path or url")
        if self.url is not None and not self.url.startswith(("https://", "http://")):
            raise ValueError("url must start with https:// or http://")
        return self


class EurostatTsvSource(Source[EurostatTsvOptions]):
    """A Eurostat dataset in its bulk TSV layout, as a long table with flags and statuses."""

    type: ClassVar[str] = "eurostat_tsv"
    Options = EurostatTsvOptions
    description: ClassVar[str] = "a Eurostat bulk TSV (dataset code, file or URL; gzip allowed)"
    local_files_only: ClassVar[bool] = True  # with ``path``, that file is all it reads

    @property
    def tsv_options(self) -> EurostatTsvOptions:
        return self.options

    def fetch(self, ctx: FetchContext) -> list[Payload]:
        """The TSV file (copied into the cache) or its download (through the cache)."""
        options = self.tsv_options
        if options.path is not None:
            return [ctx.read_file(options.path)]
        if options.url is not None:
            return [ctx.get(options.url)]
        url = EUROSTAT_TSV_URL.format(dataset=options.dataset)
        return [ctx.get(url, params={"format": "TSV", "compressed": "true"})]

    def parse(self, payload: Payload) -> pa.Table:
        """The payload as a long table: dimensions, TIME_PERIOD, OBS_VALUE and flags."""
        from welfare_observatory_eurostat_tsv.reader import read_eurostat_tsv

        data = payload.read_bytes()
        if not data.strip():
            raise self.parse_error(payload, "the payload is empty", hint="fetch it again")
        try:
            return read_eurostat_tsv(
                data,
                max_uncompressed_bytes=self.tsv_options.max_uncompressed_bytes,
                file=payload.origin,
                source=self.id,
            )
        except ParseError:
            raise
        except (ValueError, KeyError, IndexError) as exc:  # a layout the checks did not foresee
            raise self.parse_error(
                payload, f"cannot read the TSV: {exc}", hint="is this a Eurostat bulk TSV?"
            ) from None


@hookimpl
def register_sources(register: RegisterSource) -> None:
    """Register the ``eurostat_tsv`` source."""
    register(EurostatTsvSource)
