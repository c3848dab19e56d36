"""The built-in ``sdmx`` source: Istat and Eurostat dataflows, or local SDMX files.

Observatory YAML::

    sources:
      pop_istat:
        type: sdmx
        options:
          service: istat            # or eurostat, or url: https://.../rest
          dataflow: "22_289"
          key: "A.IT.JAN.9.TOTAL.99"
          start_period: "2019"
      pop_local:
        type: sdmx
        options:
          path: data/22_289.xml     # SDMX-ML, SDMX-JSON or SDMX-CSV, inside the observatory
          structure_path: data/22_289-structure.xml

sdmx1 builds the URLs and reads the messages; the library's HTTP client sends the
requests (cached, rate-limited per host: Istat allows about 5 a minute). Structure-specific
XML needs its data structure (DSD): from ``structure_path``, from the ``structure`` id, or
from the dataflow (one request with ``references=datastructure``). The data payload's
``meta["structure_sha256"]`` names the structure payload it is read with, and
``meta["structure_file"]`` where it is: its copy in the cache, or the local file (a local
file is not copied; its bytes are checked against the digest when parse reads them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

from pydantic import AliasChoices, Field, model_validator

from welfare_observatory.errors import FetchError, Location
from welfare_observatory.sdk import (
    FetchContext,
    Payload,
    RegisterSource,
    Source,
    SourceOptions,
    SourceWarning,
    hookimpl,
)

if TYPE_CHECKING:
    import pyarrow as pa
    from sdmx.source import Source as SdmxService

# Registering the source type (every command that loads the plugins) needs only the classes
# here; the readers (pyarrow, the HTTP client) are imported when an SDMX source runs.

__all__ = ["SdmxOptions", "SdmxSource", "register_sources"]

SERVICES: dict[str, tuple[str, str]] = {"istat": ("ISTAT", "IT1"), "eurostat": ("ESTAT", "ESTAT")}
"""service name -> (sdmx1 source id, SDMX agency id)."""

ACCEPT = {
    "xml": "application/vnd.sdmx.structurespecificdata+xml;version=2.1",
    "csv": "application/vnd.sdmx.data+csv;version=1.0.0",
    "json": "application/vnd.sdmx.data+json;version=1.0.0",
}
_KEY = re.compile(r"^[A-Za-z0-9_@$\-+.]*$")
_PERIOD = re.compile(r"^\d{4}(-(\d{2}|Q[1-4]|S[12]|W\d{2}|\d{2}-\d{2}))?$")


class SdmxOptions(SourceOptions):
    """What an observatory may say about an SDMX source."""

    service: Literal["istat", "eurostat"] | None = None
    """A known SDMX web service (Istat: agency IT1; Eurostat: ESTAT)."""
    url: str | None = Field(default=None, pattern=r"^https?://")
    """The REST base URL of another SDMX 2.1 service (overrides the service's)."""
    agency: str | None = None
    """The agency id for structure queries (defaults to the service's)."""
    dataflow: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_@$\-]+$",
        validation_alias=AliasChoices("dataflow", "flow"),
    )
    key: str = ""
    """Dot-separated series key (``A.IT.JAN..TOTAL.99``); empty: every series."""
    start_period: str | None = None
    end_period: str | None = None
    structure: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_@$\-]+$")
    """The DSD id to fetch; when absent the DSD comes with the dataflow."""
    with_structure: bool = True
    """Fetch the DSD for XML data; off saves a request when sdmx1 can infer the structure
    from the message itself (Eurostat's structure-specific messages)."""
    path: str | None = None
    """A local SDMX-ML/JSON/CSV file, relative to the observatory folder."""
    structure_path: str | None = None
    format: Literal["xml", "csv", "json"] = "xml"
    """What to ask the service for; local files are recognised from their content."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra request headers; secrets as ``env:VAR_NAME`` (read from the environment)."""

    @model_validator(mode="before")
    @classmethod
    def _service_from_agency(cls, data: Any) -> Any:
        # ``agency: IT1`` alone names Istat's service (and ESTAT Eurostat's).
        if isinstance(data, dict) and not data.get("service") and not data.get("url"):
            known = {agency: name for name, (_, agency) in SERVICES.items()}
            if data.get("agency") in known:
                return {**data, "service": known[data["agency"]]}
        return data

    @model_validator(mode="after")
    def _one_origin(self) -> Self:
        if (self.path is None) == (self.dataflow is None):
            raise ValueError("give either path (a local file) or dataflow (a web service)")
        if self.dataflow is not None and self.service is None and self.url is None:
            raise ValueError("a dataflow needs service (istat, eurostat) or url")
        if not _KEY.match(self.key):
            raise ValueError(f"key {self.key!r} may hold only codes, '.' and '+'")
        for period in (self.start_period, self.end_period):
            if period is not None and not _PERIOD.match(period):
                raise ValueError(f"period {period!r} is not like 2020, 2020-Q1 or 2020-01")
        start, end = self.start_period, self.end_period
        if start is not None and end is not None:
            # Periods of one form (2020-Q3, 2021-Q1) compare as text; of different forms
            # (2020-Q3 and 2020-06), by year only.
            same_form = re.sub(r"\d", "9", start) == re.sub(r"\d", "9", end)
            if (start > end) if same_form else (start[:4] > end[:4]):
                raise ValueError(f"start_period {start} is after end_period {end}")
        return self


class SdmxSource(Source[SdmxOptions]):
    """SDMX 2.1 data from Istat, Eurostat, another REST service or a local file."""

    type = "sdmx"
    local_files_only = True  # with ``path``: it and ``structure_path``
    Options = SdmxOptions
    description = "SDMX 2.1 data: Istat, Eurostat or any REST service; local SDMX-ML/JSON/CSV"

    @property
    def opts(self) -> SdmxOptions:
        """The options (kept for callers written before ``Source`` was generic)."""
        return self.options

    # -- fetch -----------------------------------------------------------------------------
    def fetch(self, ctx: FetchContext) -> list[Payload]:
        ctx = ctx if ctx.source == self.id else ctx.for_source(self.id)
        o = self.opts
        if o.path is not None:
            data = ctx.read_file(o.path)
            structure = ctx.read_file(o.structure_path) if o.structure_path else None
            return [_link(data, structure)]
        headers = {"Accept": ACCEPT[o.format], **o.headers}
        structure = None
        if o.format == "xml" and o.with_structure:
            structure = self._get(ctx, self._structure_url(), {**o.headers})
        data = self._get(ctx, self._data_url(), headers, accept_status=(404,))
        from welfare_observatory.sources import sdmx_read
        from welfare_observatory.sources.http import HttpStatusError

        if data.status == 404 and not sdmx_read.NO_RECORDS.search(data.read_bytes()[:4096]):
            ctx.cache.forget(ctx.source, data.key)  # the cache keeps only answers that parse
            raise HttpStatusError(data.origin, 404, data.read_bytes(), source=self.id)
        return [_link(data, structure)]

    def _service(self) -> tuple[SdmxService, str]:
        from sdmx.source import Source as SdmxService
        from sdmx.source import sources

        o = self.opts
        known, agency = SERVICES.get(o.service or "", (None, o.agency or "all"))
        if o.url is not None:
            service = SdmxService(id=agency, url=o.url.rstrip("/"), name=self.id)
        else:
            assert known is not None  # the options require service or url
            service = sources[known]
        return service, o.agency or agency

    def _data_url(self) -> str:
        from sdmx.rest.common import Resource
        from sdmx.rest.v21 import URL

        o = self.opts
        service, _ = self._service()
        query = {
            k: v
            for k, v in (("start_period", o.start_period), ("end_period", o.end_period))
            if v is not None
        }
        url = URL(service, Resource.data, resource_id=o.dataflow, key=o.key or None, **query)
        return str(url.join())

    def _structure_url(self) -> str:
        from sdmx.rest.common import Resource
        from sdmx.rest.v21 import URL

        o = self.opts
        service, agency = self._service()
        if o.structure is not None:
            kind, rid, refs = Resource.datastructure, o.structure, "none"
        else:
            kind, rid, refs = Resource.dataflow, str(o.dataflow), "datastructure"
        url = URL(service, kind, resource_id=rid, agency_id=agency, references=refs)
        return str(url.join())

    def _get(
        self,
        ctx: FetchContext,
        url: str,
        headers: dict[str, str],
        *,
        accept_status: tuple[int, ...] = (),
    ) -> Payload:
        from welfare_observatory.sources import sdmx_read
        from welfare_observatory.sources.http import HttpStatusError

        try:
            return ctx.get(url, headers=headers, accept_status=accept_status)
        except HttpStatusError as exc:
            text = sdmx_read.error_text(exc.body)
            if text is None:
                raise
            raise FetchError(
                f"HTTP {exc.status} from {exc.url}: the service says {text}",
                location=Location(source=self.id, key=exc.url),
                hint="check the dataflow id and the key (one code per dimension, in order)",
            ) from None

    # -- parse -----------------------------------------------------------------------------
    def parse(self, payload: Payload) -> pa.Table:
        from welfare_observatory.sources import sdmx_read

        data = payload.read_bytes()
        if payload.status == 404:
            warnings.warn(
                f"source {self.id!r}: the service has no records for {payload.origin}",
                SourceWarning,
                stacklevel=2,
            )
            return sdmx_read.empty_table()
        if not data.strip():
            raise self.parse_error(
                payload, "the payload is empty", hint="fetch it again (--refresh)"
            )
        fmt = sdmx_read.sniff(data)
        try:
            if fmt == "csv":
                return sdmx_read.read_csv(data)
            return sdmx_read.read_message(data, fmt, self._structure_bytes(payload))
        except sdmx_read.MessageError as exc:
            raise self.parse_error(
                payload, str(exc), hint=exc.hint, row=exc.row, column=exc.column, line=exc.line
            ) from None

    def _structure_bytes(self, payload: Payload) -> bytes | None:
        sha = payload.meta.get("structure_sha256")
        if not sha:
            return None
        # Where fetch found the structure: its copy in the cache, or a local file (not
        # copied). A payload linked without saying where (one made by hand) has it next
        # to the data's copy in the cache.
        named = payload.meta.get("structure_file")
        path = Path(named) if named else payload.path.parents[1] / sha[:2] / sha
        try:
            data = path.read_bytes()
        except OSError:
            raise self.parse_error(
                payload,
                f"the structure payload {sha[:12]} is not in the cache"
                if not named
                else f"the structure file {payload.meta.get('structure')!r} cannot be read",
                hint="fetch the source again",
            ) from None
        if named and hashlib.sha256(data).hexdigest() != sha:
            raise self.parse_error(
                payload,
                f"the structure file {payload.meta.get('structure')!r} changed since it was "
                "fetched",
                hint="build again: the source is then fetched anew",
            )
        return data


def _link(data: Payload, structure: Payload | None) -> Payload:
    if structure is None:
        return data
    meta = {
        **data.meta,
        "structure_sha256": structure.sha256,
        "structure": structure.origin,
        "structure_file": os.fspath(structure.path),
    }
    return dataclasses.replace(data, meta=meta)


@hookimpl
def register_sources(register: RegisterSource) -> None:
    register(SdmxSource)
