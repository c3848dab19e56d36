"""Open-data exports of an edition: the publishable view, in each format asked for.

Every export folder also gets ``metadata.json`` and ``README.md`` with the edition id, the
licence, the sources with their licences and the disclosure rule applied.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from welfare_observatory.errors import PublishError
from welfare_observatory.protect import DisclosureRule, publishable_view
from welfare_observatory.publish._files import write_text
from welfare_observatory.publish.labels import with_labels
from welfare_observatory.publish.metadata import (
    DEFAULT_LICENCE,
    ExportMetadata,
    export_metadata,
    readme,
)
from welfare_observatory.publish.registry import ExporterRegistry

if TYPE_CHECKING:
    import pyarrow as pa

    from welfare_observatory.model.indicator import Indicator
    from welfare_observatory.observatory import Observatory
    from welfare_observatory.store import KnowledgeBase

__all__ = ["ExportResult", "export"]


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: the data files per format, plus metadata.json and README.md."""

    out: Path
    files: dict[str, list[Path]]
    metadata: ExportMetadata


def export(
    kb: KnowledgeBase,
    formats: Sequence[str],
    out: Path,
    *,
    edition: str | None = None,
    rule: DisclosureRule | None = None,
    licence: str | None = None,
    source_licences: Mapping[str, str] | None = None,
    registry: ExporterRegistry | None = None,
    indicators: Mapping[str, Indicator] | Iterable[Indicator] | None = None,
    hierarchy: pa.Table | None = None,
    observatory: Observatory | str | Path | None = None,
    lang: str | None = None,
) -> ExportResult:
    """Write the publishable view of ``edition`` (default: the latest) in ``formats``.

    ``observatory`` (an Observatory, its folder or installed name) gives the licence
    (its ``licence:``, unless ``licence`` is given), its catalogue, and the licences of
    its sources (their data files' ``<file>.meta.yaml``). Unknown formats and editions
    fail before anything is written. Each file is written through a temporary file and
    a rename. The tables carry ``indicator_label`` and ``territory_name`` in ``lang``
    (default: the observatory's first language, else Italian).
    """
    if not formats:
        raise PublishError("no export format given", hint="e.g. --format csv")
    if licence is not None and not licence.strip():
        raise PublishError("the licence cannot be empty", hint=f"e.g. {DEFAULT_LICENCE}")
    if isinstance(observatory, str | Path):
        from welfare_observatory.observatory import load_observatory

        observatory = load_observatory(observatory)
    registry = registry or ExporterRegistry.default()
    entries = [registry.get(name) for name in dict.fromkeys(formats)]
    info = kb.edition(edition)
    rule = rule or DisclosureRule()
    if indicators is None and observatory is not None:
        indicators = list(observatory.catalog)
    if indicators is None:
        from welfare_observatory.catalog import catalog

        indicators = list(catalog())
    view = publishable_view(kb, info.name, rule, indicators=indicators, hierarchy=hierarchy)
    if lang is None:
        languages = observatory.config.report.languages if observatory is not None else ()
        lang = languages[0] if languages else "it"
    view = with_labels(view, indicators, lang)
    meta = export_metadata(
        kb,
        view,
        edition=info.name,
        licence=licence,
        rule=rule,
        indicators=indicators,
        source_licences=source_licences,
        observatory=observatory,
    )
    out = Path(out)
    _check_out(out)
    files: dict[str, list[Path]] = {}
    for entry in entries:
        files[entry.name] = list(entry.exporter(view, meta, out))
    names = sorted({_relative(path, out) for paths in files.values() for path in paths})
    document = {"metadata": meta.model_dump(mode="json"), "files": names}
    write_text(out / "metadata.json", json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    write_text(out / "README.md", readme(meta, [*names, "metadata.json"]))
    return ExportResult(out=out, files=files, metadata=meta)


def _check_out(out: Path) -> None:
    """``out`` is absent, empty or an earlier export (it holds the ``metadata.json`` an
    export writes): an export replaces its README.md and data files, so a folder of
    someone's own files (``--out .`` in a project) is refused, as ``report`` refuses it."""
    from welfare_observatory.errors import Location, PublishError

    if out.exists() and not out.is_dir():
        raise PublishError(f"{out} is a file, not a folder", location=Location(file=str(out)))
    if out.is_dir() and any(out.iterdir()) and not (out / "metadata.json").is_file():
        raise PublishError(
            f"folder {out} is not empty and holds no earlier export",
            location=Location(file=str(out)),
            hint="choose an empty or new folder (the default is open-data/EDITION); an "
            "export writes README.md and its data files there",
        )


def _relative(path: Path, out: Path) -> str:
    try:
        return path.relative_to(out).as_posix()
    except ValueError:
        return path.as_posix()
