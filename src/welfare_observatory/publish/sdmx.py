"""SDMX-ML 2.1: a structure message (code lists, concepts, the DSD) and a generic data message.

Dimensions: ``INDICATOR``, ``REF_AREA``, one per breakdown (``SEX``, ``AGE``, ...) and
``TIME_PERIOD``; attributes ``UNIT_MEASURE``, ``OBS_STATUS`` and ``CONF_STATUS`` at the
observation. Missing and suppressed values are written as ``NaN``, as SDMX does. Codes are
SDMX ids (letters, digits, ``_``, ``@``, ``$``, ``-``): other characters become ``_`` and the
code's name keeps the original text (``district:T01024``, ``euro / person``).

The XML is text written by this module with every attribute value escaped; observations
are built as Arrow string columns, never one Python object per row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pyarrow as pa
import pyarrow.compute as pc

from welfare_observatory.errors import PublishError
from welfare_observatory.model.observation import (
    TOTAL,
    ConfStatus,
    ObsStatus,
    breakdown_columns,
)
from welfare_observatory.publish._files import atomic_output, plain_table
from welfare_observatory.publish.labels import LABEL_COLUMNS
from welfare_observatory.publish.metadata import ExportMetadata

__all__ = [
    "AGENCY",
    "NS",
    "dataflow_id",
    "dsd_id",
    "edition_annotations",
    "edition_id",
    "export_sdmx",
]

AGENCY = "WELFARE_OBSERVATORY"
VERSION = "1.0"
NS = {
    "mes": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message",
    "str": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure",
    "com": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common",
    "gen": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/generic",
}
_NOT_ID = r"[^A-Za-z0-9_@$\-]"
_SCHEME = "CS_WELFARE_OBSERVATORY"
_SEX_NAMES = {"F": "Females", "M": "Males", TOTAL: "Total"}


def _sdmx_id(text: str) -> str:
    import re

    return re.sub(_NOT_ID, "_", text) or "_"


def dsd_id(meta: ExportMetadata) -> str:
    """The id of the data structure definition of an export."""
    return _sdmx_id(f"DSD_{meta.observatory}".upper())


def _ids(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.replace_substring_regex(column, _NOT_ID, "_")


def dataflow_id(meta: ExportMetadata) -> str:
    """The id of the dataflow of an edition: it carries the edition's annotations."""
    return _sdmx_id(f"DF_{meta.observatory}_{meta.edition}".upper())


def _codes(column: pa.ChunkedArray, what: str) -> dict[str, str]:
    """SDMX id -> original text for the distinct values of ``column``."""
    originals = [str(v) for v in pc.unique(column.drop_null()).to_pylist()]
    mapping: dict[str, str] = {}
    for original in sorted(originals):
        code = _sdmx_id(original)
        if code in mapping and mapping[code] != original:
            raise PublishError(
                f"{what} codes {mapping[code]!r} and {original!r} are the same SDMX id {code!r}",
                hint="SDMX ids allow letters, digits, _, @, $ and -: rename one of them",
            )
        mapping[code] = original
    return mapping


def _attr(text: str) -> str:
    return quoteattr(text)


def _name(text: str, lang: str = "en") -> str:
    return f'<com:Name xml:lang="{lang}">{escape(text)}</com:Name>'


def _ref(id: str, *, cls: str, package: str, parent: str | None = None) -> str:
    if parent is not None:
        return (
            f"<Ref id={_attr(id)} maintainableParentID={_attr(parent)} "
            f'maintainableParentVersion="{VERSION}" agencyID="{AGENCY}" '
            f'package="{package}" class="{cls}"/>'
        )
    return (
        f'<Ref id={_attr(id)} version="{VERSION}" agencyID="{AGENCY}" '
        f'package="{package}" class="{cls}"/>'
    )


def _header(message_id: str, extra: str = "") -> str:
    prepared = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return (
        f"<mes:Header><mes:ID>{escape(message_id)}</mes:ID><mes:Test>false</mes:Test>"
        f'<mes:Prepared>{prepared}</mes:Prepared><mes:Sender id="{AGENCY}"/>'
        f"{extra}</mes:Header>"
    )


def edition_id(meta: ExportMetadata) -> str:
    """``observatory/edition/build``: the edition id every export carries."""
    return f"{meta.observatory}/{meta.edition}/{meta.build}"


def _annotation(kind: str, title: str, text: str = "", url: str | None = None) -> str:
    link = f"<com:AnnotationURL>{escape(url)}</com:AnnotationURL>" if url else ""
    body = f'<com:AnnotationText xml:lang="en">{escape(text)}</com:AnnotationText>' if text else ""
    return (
        f"<com:Annotation><com:AnnotationTitle>{escape(title)}</com:AnnotationTitle>"
        f"<com:AnnotationType>{kind}</com:AnnotationType>{link}{body}</com:Annotation>"
    )


def edition_annotations(meta: ExportMetadata) -> str:
    """Edition, licence, sources and disclosure rule as SDMX annotations."""
    items = [
        _annotation(
            "EDITION",
            edition_id(meta),
            f"{meta.title}: build {meta.build} ({meta.status}), created {meta.created}, "
            f"reference date {meta.reference_date}, territory {meta.territory}",
        ),
        _annotation(
            "LICENCE", meta.licence, f"Licence of the data: {meta.licence}", meta.licence_url
        ),
    ]
    for source in meta.sources:
        licence = source.licence or "not recorded (see the publisher terms)"
        publisher = f"; publisher {source.publisher}" if source.publisher else ""
        items.append(
            _annotation("SOURCE", source.title, f"licence {licence}{publisher}", source.url)
        )
    items.append(_annotation("DISCLOSURE", "Disclosure control", meta.disclosure))
    return f"<com:Annotations>{''.join(items)}</com:Annotations>"


def _summary(meta: ExportMetadata) -> str:
    sources = "; ".join(f"{s.id} ({s.licence or 'licence not recorded'})" for s in meta.sources)
    return (
        f"{meta.title} ({edition_id(meta)}), licence {meta.licence}. Sources: {sources or 'none'}."
    )


def _namespaces() -> str:
    return " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in NS.items())


def _codelist(list_id: str, title: str, codes: dict[str, str]) -> str:
    items = "".join(
        f"<str:Code id={_attr(code)}>{_name(name)}</str:Code>" for code, name in codes.items()
    )
    return (
        f'<str:Codelist id={_attr(list_id)} agencyID="{AGENCY}" version="{VERSION}">'
        f"{_name(title)}{items}</str:Codelist>"
    )


def _component(tag: str, concept: str, codelist: str | None, extra: str = "") -> str:
    concept_ref = _ref(concept, cls="Concept", package="conceptscheme", parent=_SCHEME)
    identity = f"<str:ConceptIdentity>{concept_ref}</str:ConceptIdentity>"
    if codelist is None:
        representation = ""
    else:
        ref = _ref(codelist, cls="Codelist", package="codelist")
        representation = (
            f"<str:LocalRepresentation><str:Enumeration>{ref}</str:Enumeration>"
            "</str:LocalRepresentation>"
        )
    body = f"{identity}{representation}{_relation(tag)}"
    return f"<str:{tag} id={_attr(concept)}{extra}>{body}</str:{tag}>"


def _relation(tag: str) -> str:
    if tag != "Attribute":
        return ""
    return (
        '<str:AttributeRelationship><str:PrimaryMeasure><Ref id="OBS_VALUE"/>'
        "</str:PrimaryMeasure></str:AttributeRelationship>"
    )


def structure_message(meta: ExportMetadata, table: pa.Table, breakdowns: list[str]) -> str:
    """The SDMX-ML 2.1 structure message of ``table`` (a plain, decoded table)."""
    from welfare_observatory.territory import registry

    labels = {i.id: i.label for i in meta.indicators}
    indicator_codes = {
        c: labels.get(o, o) for c, o in _codes(table["indicator"], "indicator").items()
    }
    reg = registry()
    areas = {}
    for code, original in _codes(table["territory"], "territory").items():
        areas[code] = reg.get(original).name if original in reg else original
    codelists = [
        _codelist("CL_INDICATOR", "Indicators", indicator_codes),
        _codelist("CL_AREA", "Territories", areas),
        _codelist("CL_UNIT", "Units", _codes(table["unit"], "unit")),
        _codelist(
            "CL_OBS_STATUS",
            "Observation status",
            {s.value: s.name.replace("_", " ").capitalize() for s in ObsStatus},
        ),
        _codelist(
            "CL_CONF_STATUS",
            "Confidentiality status",
            {s.value: s.name.replace("_", " ").capitalize() for s in ConfStatus},
        ),
    ]
    dimensions = []
    concepts = {"INDICATOR": "Indicator", "REF_AREA": "Reference area"}
    for name in breakdowns:
        dim = _sdmx_id(name.upper())
        codes = _codes(table[name], name)
        names = {c: (_SEX_NAMES.get(o, o) if name == "sex" else o) for c, o in codes.items()}
        codelists.append(_codelist(f"CL_{dim}", name.replace("_", " ").capitalize(), names))
        concepts[dim] = name.replace("_", " ").capitalize()
    concepts |= {
        "TIME_PERIOD": "Time period",
        "OBS_VALUE": "Observation value",
        "UNIT_MEASURE": "Unit of measure",
        "OBS_STATUS": "Observation status",
        "CONF_STATUS": "Confidentiality status",
    }
    position = 0
    for concept, codelist in [
        ("INDICATOR", "CL_INDICATOR"),
        ("REF_AREA", "CL_AREA"),
        *[(_sdmx_id(b.upper()), f"CL_{_sdmx_id(b.upper())}") for b in breakdowns],
    ]:
        position += 1
        dimensions.append(_component("Dimension", concept, codelist, f' position="{position}"'))
    time = _component("TimeDimension", "TIME_PERIOD", None, f' position="{position + 1}"')
    attributes = "".join(
        _component("Attribute", concept, codelist, ' assignmentStatus="Mandatory"')
        for concept, codelist in [
            ("UNIT_MEASURE", "CL_UNIT"),
            ("OBS_STATUS", "CL_OBS_STATUS"),
            ("CONF_STATUS", "CL_CONF_STATUS"),
        ]
    )
    measure = _component("PrimaryMeasure", "OBS_VALUE", None)
    scheme = "".join(
        f"<str:Concept id={_attr(c)}>{_name(n)}</str:Concept>" for c, n in concepts.items()
    )
    dsd = (
        f'<str:DataStructure id={_attr(dsd_id(meta))} agencyID="{AGENCY}" version="{VERSION}">'
        f"{_name(meta.title)}<str:DataStructureComponents>"
        '<str:DimensionList id="DimensionDescriptor">'
        f"{''.join(dimensions)}{time}</str:DimensionList>"
        f'<str:AttributeList id="AttributeDescriptor">{attributes}</str:AttributeList>'
        f'<str:MeasureList id="MeasureDescriptor">{measure}</str:MeasureList>'
        "</str:DataStructureComponents></str:DataStructure>"
    )
    dsd_ref = _ref(dsd_id(meta), cls="DataStructure", package="datastructure")
    dataflow = (
        f'<str:Dataflows><str:Dataflow id={_attr(dataflow_id(meta))} agencyID="{AGENCY}" '
        f'version="{VERSION}">{edition_annotations(meta)}{_name(meta.title)}'
        f"<str:Structure>{dsd_ref}</str:Structure></str:Dataflow></str:Dataflows>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<mes:Structure {_namespaces()}>{_header(f'{dsd_id(meta)}_STRUCTURE')}"
        f"<mes:Structures>{dataflow}<str:Codelists>{''.join(codelists)}</str:Codelists>"
        f'<str:Concepts><str:ConceptScheme id="{_SCHEME}" agencyID="{AGENCY}" version="{VERSION}">'
        f"{_name('Concepts of the welfare observatory')}{scheme}</str:ConceptScheme></str:Concepts>"
        f"<str:DataStructures>{dsd}</str:DataStructures></mes:Structures></mes:Structure>\n"
    )


def _escaped(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Text safe inside a double-quoted XML attribute."""
    for raw, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;")):
        column = pc.replace_substring(column, raw, entity)
    for raw, entity in (("\t", "&#9;"), ("\n", "&#10;"), ("\r", "&#13;")):
        column = pc.replace_substring(column, raw, entity)
    return column


def observation_lines(table: pa.Table, breakdowns: list[str]) -> pa.ChunkedArray:
    """One ``<gen:Obs>`` element per row, as an Arrow string column."""
    keys = [("INDICATOR", "indicator"), ("REF_AREA", "territory")]
    keys += [(_sdmx_id(b.upper()), b) for b in breakdowns]
    parts: list[pa.ChunkedArray | str] = ["<gen:Obs><gen:ObsKey>"]
    for concept, column in keys:
        parts += [f'<gen:Value id="{concept}" value="', _ids(table[column]), '"/>']
    parts += ['<gen:Value id="TIME_PERIOD" value="', _escaped(table["period"]), '"/>']
    value = pc.fill_null(table["value"].cast(pa.string()), "NaN")
    parts += ['</gen:ObsKey><gen:ObsValue value="', value, '"/><gen:Attributes>']
    for concept, column in (
        ("UNIT_MEASURE", "unit"),
        ("OBS_STATUS", "obs_status"),
        ("CONF_STATUS", "conf_status"),
    ):
        parts += [f'<gen:Value id="{concept}" value="', _ids(table[column]), '"/>']
    parts.append("</gen:Attributes></gen:Obs>\n")
    return pc.binary_join_element_wise(*parts, "")


def _utf8_bytes(lines: pa.Array) -> bytes:
    """The concatenated UTF-8 bytes of a string array without nulls (its data buffer)."""
    if len(lines) == 0:
        return b""
    offsets = lines.buffers()[1]
    data = lines.buffers()[2]
    width = 8 if pa.types.is_large_string(lines.type) else 4
    import numpy as np

    positions = np.frombuffer(offsets, dtype=np.int64 if width == 8 else np.int32)
    start = int(positions[lines.offset])
    end = int(positions[lines.offset + len(lines)])
    return data.slice(start, end - start).to_pybytes() if data is not None else b""


def export_sdmx(view: pa.Table, meta: ExportMetadata, out: Path) -> list[Path]:
    """``observations-structure.xml`` (DSD and code lists) and ``observations-sdmx.xml``."""
    table = plain_table(view)
    if "conf_status" not in table.column_names:
        table = table.append_column("conf_status", pa.array(["F"] * table.num_rows))
    # Labels travel in the code lists here, not as dimensions.
    breakdowns = [
        b for b in breakdown_columns(table.column_names) if b not in ("domain", *LABEL_COLUMNS)
    ]
    structure_path = out / "observations-structure.xml"
    with atomic_output(structure_path) as tmp:
        tmp.write_text(structure_message(meta, table, breakdowns), encoding="utf-8")
    data_path = out / "observations-sdmx.xml"
    ref = _ref(dsd_id(meta), cls="DataStructure", package="datastructure")
    structure = (
        f'<mes:Structure structureID="{dsd_id(meta)}" dimensionAtObservation="AllDimensions">'
        f"<com:Structure>{ref}</com:Structure></mes:Structure>"
        f"<mes:DataSetID>{_sdmx_id(edition_id(meta))}</mes:DataSetID>"
        f'<mes:Source xml:lang="en">{escape(_summary(meta))}</mes:Source>'
    )
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<mes:GenericData {_namespaces()}>"
        + _header(f"{dsd_id(meta)}_{_sdmx_id(meta.edition)}", structure)
        + f'\n<mes:DataSet structureRef="{dsd_id(meta)}">\n'
    )
    with atomic_output(data_path) as tmp, tmp.open("wb") as handle:
        handle.write(head.encode("utf-8"))
        for batch in table.to_batches(max_chunksize=100_000):
            lines = observation_lines(pa.Table.from_batches([batch]), breakdowns)
            handle.write(_utf8_bytes(lines.combine_chunks()))
        handle.write(b"</mes:DataSet></mes:GenericData>\n")
    return [structure_path, data_path]
