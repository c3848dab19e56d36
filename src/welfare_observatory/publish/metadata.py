"""What travels with every export: edition, licence, sources and their licences, columns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from welfare_observatory.model.common import Frozen

if TYPE_CHECKING:
    import pyarrow as pa

    from welfare_observatory.model.indicator import Indicator
    from welfare_observatory.observatory import Observatory
    from welfare_observatory.protect.rule import DisclosureRule
    from welfare_observatory.store import KnowledgeBase

__all__ = [
    "COLUMN_DESCRIPTIONS",
    "ColumnInfo",
    "ExportMetadata",
    "IndicatorInfo",
    "SourceInfo",
    "export_metadata",
    "readme",
]

DEFAULT_LICENCE = "CC-BY-4.0"

LICENCE_URLS = {
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC-BY-SA-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "ODbL-1.0": "https://opendatacommons.org/licenses/odbl/1-0/",
    "IODL-2.0": "https://www.dati.gov.it/iodl/2.0/",
}
"""SPDX-style licence ids and where their text is."""

PUBLISHER_LICENCES = {
    "istat": "CC-BY-4.0",
    "eurostat": "CC-BY-4.0",
}
"""Licences the publishers state for their open data (Istat legal notes; Eurostat copyright
notice), matched on a publisher name that contains the key (case-insensitive)."""

COLUMN_DESCRIPTIONS = {
    "indicator": "Indicator id in the welfare-observatory catalogue",
    "territory": "Territory id: IT, NUTS 1 code, 2-digit region, 3-digit province, "
    "6-digit municipality (Istat codes) or a namespaced grouping id",
    "period": "SDMX time period: 2024, 2024-Q1, 2024-03, a date or a range like 2023-09-01/P1Y",
    "period_start": "First day of the period",
    "value": "The value in 'unit'; empty when missing or suppressed (see conf_status)",
    "unit": "Unit of the value (pint notation), multiplier applied",
    "obs_status": "SDMX OBS_STATUS: A normal, E estimated, P provisional, O missing, ...",
    "conf_status": "SDMX CONF_STATUS: F free, C confidential (small count), "
    "D suppressed to protect a confidential cell, N not for publication",
    "flags": "The publisher's own flags, verbatim",
    "source": "Source id in the observatory's configuration",
    "lineage": "Id of the build step that produced the row",
    "domain": "Thematic domain of the indicator",
    "indicator_label": "The indicator's label in the export's language",
    "territory_name": "The territory's name (empty for an id the territory registry lacks)",
}


class ColumnInfo(Frozen):
    name: str
    type: str
    """``string``, ``number`` or ``date``."""
    description: str


class SourceInfo(Frozen):
    """A source or a publisher the data comes from, with its licence when known."""

    id: str
    title: str
    licence: str | None = None
    url: str | None = None
    publisher: str | None = None


class IndicatorInfo(Frozen):
    id: str
    label: str
    unit: str
    publisher: str | None = None
    url: str | None = None


class ExportMetadata(Frozen):
    """Edition, licence and provenance of an export; serialised next to the data."""

    observatory: str
    edition: str
    build: str
    status: str
    created: str
    reference_date: str
    territory: str
    library_version: str
    licence: str = DEFAULT_LICENCE
    licence_url: str | None = LICENCE_URLS[DEFAULT_LICENCE]
    sources: tuple[SourceInfo, ...] = ()
    indicators: tuple[IndicatorInfo, ...] = ()
    columns: tuple[ColumnInfo, ...] = ()
    disclosure: str = ""
    rows: int = 0

    @property
    def title(self) -> str:
        return f"{self.observatory} welfare observatory, edition {self.edition}"


def _column_type(data_type: pa.DataType) -> str:
    import pyarrow as pa

    if pa.types.is_dictionary(data_type):
        data_type = data_type.value_type
    if pa.types.is_floating(data_type) or pa.types.is_integer(data_type):
        return "number"
    if pa.types.is_date(data_type):
        return "date"
    return "string"


def _publisher_licence(publisher: str) -> str | None:
    folded = publisher.casefold()
    for key, licence in PUBLISHER_LICENCES.items():
        if key in folded:
            return licence
    return None


def export_metadata(
    kb: KnowledgeBase,
    view: pa.Table,
    *,
    edition: str | None = None,
    licence: str | None = None,
    rule: DisclosureRule | None = None,
    indicators: Mapping[str, Indicator] | Iterable[Indicator] | None = None,
    source_licences: Mapping[str, str] | None = None,
    observatory: Observatory | None = None,
) -> ExportMetadata:
    """Metadata of ``view`` (the publishable view of ``edition``).

    Sources are the edition's configured sources (licence from ``source_licences`` by
    source id, else from the ``<file>.meta.yaml`` of the source's data files in
    ``observatory``) and the publishers of the indicators present (licence from
    ``source_licences`` by publisher, else the publisher's stated licence when known).
    ``licence`` defaults to the observatory's ``licence:``, else CC-BY-4.0.
    """
    import pyarrow.compute as pc

    from welfare_observatory.protect.rule import DisclosureRule
    from welfare_observatory.publish.provenance import SourceProvenance, source_provenance

    info = kb.edition(edition)
    manifest = kb.manifest(info.name)
    overrides = dict(source_licences or {})
    declared: dict[str, SourceProvenance] = {}
    if observatory is not None:
        _same_observatory(observatory, manifest.observatory)
        declared = source_provenance(observatory)
        licence = licence or observatory.config.licence
    licence = licence or DEFAULT_LICENCE
    if indicators is None:
        from welfare_observatory.catalog import catalog

        indicators = list(catalog())
    pool = indicators.values() if isinstance(indicators, Mapping) else indicators
    by_id = {i.id: i for i in pool}
    present = sorted(
        str(v) for v in pc.unique(view["indicator"].cast("string")).to_pylist() if v is not None
    )
    sources = []
    for sid, record in sorted(manifest.sources.items()):
        known = declared.get(sid)
        described = f": {known.description}" if known and known.description else ""
        sources.append(
            SourceInfo(
                id=sid,
                title=f"{sid} ({record.type}){described}",
                licence=overrides.get(sid) or (known.licence if known else None),
                publisher=known.publisher if known else None,
            )
        )
    publishers: dict[str, SourceInfo] = {}
    infos = []
    for indicator_id in present:
        found = by_id.get(indicator_id)
        if found is None:
            continue
        provenance = found.source
        infos.append(
            IndicatorInfo(
                id=found.id,
                label=found.label.get("en"),
                unit=found.unit,
                publisher=provenance.publisher,
                url=provenance.url,
            )
        )
        publishers.setdefault(
            provenance.publisher,
            SourceInfo(
                id=provenance.publisher,
                title=provenance.publisher,
                licence=overrides.get(provenance.publisher)
                or _publisher_licence(provenance.publisher),
            ),
        )
    columns = [
        ColumnInfo(
            name=field.name,
            type=_column_type(field.type),
            description=COLUMN_DESCRIPTIONS.get(field.name, f"Breakdown dimension {field.name}"),
        )
        for field in view.schema
    ]
    return ExportMetadata(
        observatory=manifest.observatory,
        edition=info.name,
        build=info.build,
        status=info.status,
        created=manifest.created,
        reference_date=manifest.reference_date,
        territory=manifest.territory,
        library_version=manifest.library_version,
        licence=licence,
        licence_url=LICENCE_URLS.get(licence),
        sources=(*sources, *sorted(publishers.values(), key=lambda s: s.id)),
        indicators=tuple(infos),
        columns=tuple(columns),
        disclosure=(rule or DisclosureRule()).describes,
        rows=view.num_rows,
    )


def _same_observatory(observatory: Observatory, built: str) -> None:
    from welfare_observatory.errors import Location, PublishError

    if observatory.config.id != built:
        raise PublishError(
            f"the edition was built by observatory {built!r}, not {observatory.config.id!r}",
            location=Location(file=str(observatory.config_file), field="id"),
            hint=f"pass --observatory {built} (or its folder)",
        )


_MARKUP = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "[": "\\[", "]": "\\]"})


def _text(value: str) -> str:
    """``value`` (a title, publisher or licence the observatory's files give) as text in
    Markdown: no HTML tag, no link or image a portal rendering the README would follow."""
    return " ".join(value.split()).translate(_MARKUP)


def _web(url: str | None) -> bool:
    """Whether ``url`` is an http(s) address with nothing that ends a Markdown autolink."""
    return (
        bool(url)
        and str(url).startswith(("https://", "http://"))
        and not any(c in str(url) for c in "<> \n")
    )


def readme(meta: ExportMetadata, files: Iterable[str]) -> str:
    """A short README.md for the export folder (Markdown, UTF-8). Titles, publishers and
    licences are written as text (:func:`_text`)."""
    lines = [
        f"# {_text(meta.title)}",
        "",
        f"- Edition: `{meta.edition}` (build `{meta.build}`, {meta.status}), "
        f"created {meta.created}, territory `{meta.territory}`, "
        f"reference date {meta.reference_date}",
        f"- Licence: {_text(meta.licence)}"
        + (f" <{meta.licence_url}>" if _web(meta.licence_url) else ""),
        f"- Rows: {meta.rows}",
        f"- Disclosure control: {meta.disclosure}",
        f"- Produced by welfare-observatory {meta.library_version}",
        "",
        "## Files",
        "",
        *(f"- `{name}`" for name in files),
        "",
        "## Sources",
        "",
        *(
            f"- {_text(s.title)}: licence "
            + (_text(s.licence) if s.licence else "not recorded (see the publisher terms)")
            + (f"; publisher {_text(s.publisher)}" if s.publisher else "")
            for s in meta.sources
        ),
        "",
        "## Columns",
        "",
        *(f"- `{c.name}` ({c.type}): {c.description}" for c in meta.columns),
        "",
    ]
    return "\n".join(lines)
