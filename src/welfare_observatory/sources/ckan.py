"""Built-in ``ckan`` source: a resource of a CKAN open-data portal (dati.trentino.it, ...).

``package_show`` finds the resource (by id, name or format); then the rows come from the
DataStore API (``datastore_search``, paged with limit/offset) or from the resource file,
read with the table reader. YAML::

    sources:
      trento_residenti:
        type: ckan
        portal: https://dati.trentino.it
        package: popolazione-residente-per-comune
        resource_format: CSV
        table: {separator: ";"}

Paging is guarded: a page seen twice, a total that changes, more rows than the total, or
paging that never ends (``max_pages``) is a FetchError, never a silently wrong table.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator

from welfare_observatory.errors import FetchError, Location, ParseError, closest
from welfare_observatory.sdk import (
    FetchContext,
    Payload,
    RegisterSource,
    Source,
    SourceOptions,
    hookimpl,
)
from welfare_observatory.sources.tabular_options import TabularOptions

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["CkanOptions", "CkanSource", "register_sources"]

DATASTORE_ACTION = "/api/3/action/datastore_search"


class CkanOptions(SourceOptions):
    """Which portal, package and resource, how to page, and how to read a file resource."""

    portal: str
    package: str
    resource: str | None = None
    resource_format: str | None = None
    mode: Literal["auto", "datastore", "file"] = "auto"
    page_size: int = Field(default=1000, ge=1, le=32000)
    max_pages: int = Field(default=1000, ge=1)
    table: TabularOptions = TabularOptions()

    @field_validator("portal")
    @classmethod
    def _http_portal(cls, portal: str) -> str:
        if not portal.startswith(("https://", "http://")):
            raise ValueError("portal must be the portal's base URL, https://...")
        return portal.rstrip("/")


class CkanSource(Source[CkanOptions]):
    """Rows of one CKAN resource, from the DataStore API or from the resource's file."""

    type: ClassVar[str] = "ckan"
    Options = CkanOptions
    description: ClassVar[str] = "a CKAN portal resource (DataStore API, paged, or its file)"

    @property
    def ckan_options(self) -> CkanOptions:
        """The options (kept for callers written before ``Source`` was generic)."""
        return self.options

    def fetch(self, ctx: FetchContext) -> list[Payload]:
        """``package_show``, then every DataStore page or the resource file."""
        options = self.ckan_options
        package = self._action(ctx, "package_show", {"id": options.package})
        resource = self._resource(package)
        use_datastore = options.mode == "datastore" or (
            options.mode == "auto" and bool(resource.get("datastore_active"))
        )
        if use_datastore:
            return self._pages(ctx, str(resource["id"]))
        url = resource.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise FetchError(
                f"resource {resource.get('id')!r} has no downloadable URL ({url!r})",
                location=Location(source=self.id, key=options.package),
                hint="use mode: datastore if the portal loaded it into the DataStore",
            )
        return [ctx.get(url)]

    def _action(
        self, ctx: FetchContext, action: str, params: dict[str, str]
    ) -> tuple[Payload, dict[str, Any]]:
        """One Action API call: the payload and its ``result``; errors name the portal's text."""
        from welfare_observatory.sources.http import HttpStatusError

        url = f"{self.ckan_options.portal}/api/3/action/{action}"
        try:
            payload = ctx.get(url, params=params)
        except HttpStatusError as exc:
            raise FetchError(
                f"CKAN {action} failed with HTTP {exc.status}: {_ckan_message(exc.body)}",
                location=Location(source=self.id, key=exc.url),
                hint=f"check the package id {self.ckan_options.package!r} and the portal URL"
                if exc.status == 404
                else exc.hint,
            ) from None
        body = _json(payload.read_bytes())
        if not isinstance(body, dict) or body.get("success") is not True:
            raise FetchError(
                f"CKAN {action} answered success=false: {_ckan_message(payload.read_bytes())}",
                location=Location(source=self.id, key=payload.key),
                hint="the portal refused the request; check ids and parameters",
            )
        result = body.get("result")
        if not isinstance(result, dict):
            raise FetchError(
                f"CKAN {action} answer has no result object",
                location=Location(source=self.id, key=payload.key),
                hint="is this URL really a CKAN portal?",
            )
        return payload, result

    def _resource(self, package: tuple[Payload, dict[str, Any]]) -> dict[str, Any]:
        options = self.ckan_options
        payload, result = package
        resources = [r for r in result.get("resources") or [] if isinstance(r, dict)]
        where = Location(source=self.id, key=payload.key)
        if options.resource is not None:
            chosen = [r for r in resources if options.resource in (r.get("id"), r.get("name"))]
            labels = [str(r.get("name") or r.get("id")) for r in resources]
            if not chosen:
                near = closest(options.resource, labels)
                raise FetchError(
                    f"package {options.package!r} has no resource {options.resource!r}",
                    location=where,
                    hint=("did you mean " + ", ".join(map(repr, near)) + "? " if near else "")
                    + "resources: "
                    + ", ".join(labels),
                )
            resources = chosen
        if options.resource_format is not None:
            wanted = options.resource_format.casefold()
            resources = [r for r in resources if str(r.get("format", "")).casefold() == wanted]
        if len(resources) > 1 and options.mode != "file":
            # Several files, one of them loaded into the DataStore: that one is the table.
            active = [r for r in resources if r.get("datastore_active")]
            resources = active if len(active) == 1 else resources
        if len(resources) != 1:
            found = "no" if not resources else f"{len(resources)}"
            raise FetchError(
                f"{found} resources of package {options.package!r} match",
                location=where,
                hint="name exactly one with resource (id or name) and/or resource_format",
            )
        return resources[0]

    def _pages(self, ctx: FetchContext, resource_id: str) -> list[Payload]:
        options = self.ckan_options
        pages: list[Payload] = []
        seen: set[str] = set()
        total: int | None = None
        offset = 0
        for _page in range(options.max_pages):
            params = {
                "resource_id": resource_id,
                "limit": str(options.page_size),
                "offset": str(offset),
            }
            payload, result = self._action(ctx, "datastore_search", params)
            records = result.get("records")
            where = Location(source=self.id, key=payload.key)
            if not isinstance(records, list):
                raise FetchError("datastore_search answer has no records list", location=where)
            page_total = result.get("total")
            if total is None and isinstance(page_total, int):
                total = page_total
            elif page_total != total:
                raise FetchError(
                    f"the total changed while paging ({total} then {page_total})",
                    location=where,
                    hint="the resource changed during the download; fetch again",
                )
            if not records:
                break
            digest = hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest()
            if digest in seen:
                raise FetchError(
                    f"the portal returned the same page twice (offset {offset}): paging loops",
                    location=where,
                    hint="the portal ignores offset; lower page_size or download the file "
                    "(mode: file)",
                )
            seen.add(digest)
            pages.append(payload)
            offset += len(records)
            if total is not None and offset >= total:
                break
        else:
            raise FetchError(
                f"paging did not end after {options.max_pages} pages ({offset} rows)",
                location=Location(source=self.id, key=resource_id),
                hint="raise max_pages or page_size if the resource really is that large",
            )
        if total is not None and offset != total:
            raise FetchError(
                f"the portal announced {total} rows but returned {offset}",
                location=Location(source=self.id, key=resource_id),
                hint="the DataStore answer is inconsistent; try mode: file",
            )
        return pages

    def parse(self, payload: Payload) -> pa.Table:
        """A DataStore page or a resource file as a source table."""
        from welfare_observatory.sources.ckan_datastore import datastore_table
        from welfare_observatory.sources.tidy import read_auto

        where = Location(source=self.id, file=payload.origin)
        data = payload.read_bytes()
        if DATASTORE_ACTION in payload.key:
            return datastore_table(data, self.ckan_options.table, where)
        try:
            return read_auto(data, self.ckan_options.table, file=payload.origin, source=self.id)
        except ParseError as exc:
            if exc.location is None:
                exc.location = where
            raise


def _json(data: bytes) -> Any:
    from welfare_observatory.sources.json_text import loads

    try:
        return loads(data)
    except ValueError:
        return None


def _ckan_message(body: bytes) -> str:
    """The ``error`` text of a CKAN answer (``{"success": false, "error": {...}}``)."""
    doc = _json(body)
    error = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(error, dict):
        parts = [f"{k}: {v}" for k, v in error.items() if k != "__type"]
        kind = error.get("__type")
        return (f"{kind}: " if kind else "") + ("; ".join(parts) or "no message")
    text = body[:200].decode("utf-8", "replace").strip()
    return text or "empty answer"


@hookimpl
def register_sources(register: RegisterSource) -> None:
    """Register the built-in ``ckan`` source."""
    register(CkanSource)
