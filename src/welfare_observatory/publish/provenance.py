"""Licences and titles of an observatory's sources, read from its configuration.

A local data file of an observatory carries its provenance in a ``<file>.meta.yaml``
sidecar (``publisher``, ``licence``, ``origin``, ...): the scaffold writes one and the
examples' tests require it. The files a source reads are the string options of its
configuration (``path``, ``paths``, ...) that name a file inside the observatory folder.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from welfare_observatory.errors import ConfigError, Location
from welfare_observatory.model.common import Frozen
from welfare_observatory.yamlfile import parse_yaml

if TYPE_CHECKING:
    from welfare_observatory.observatory import Observatory
    from welfare_observatory.store import KnowledgeBase

__all__ = ["SIDECAR_SUFFIX", "SourceProvenance", "installed_observatory", "source_provenance"]

SIDECAR_SUFFIX = ".meta.yaml"


class SourceProvenance(Frozen):
    """What an observatory says about one of its sources."""

    id: str
    description: str | None = None
    publisher: str | None = None
    licence: str | None = None
    files: tuple[str, ...] = ()
    """Data files (relative to the observatory folder) whose sidecar was read."""


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _sidecar(path: Path) -> dict[str, Any]:
    """The mapping in ``<path>.meta.yaml``, or ``{}`` when there is none."""
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if sidecar.is_symlink():
        # What it says is published: a link would publish a file from anywhere.
        raise ConfigError(
            f"the provenance file {sidecar.name} is a symbolic link",
            location=Location(file=str(sidecar)),
            hint="copy the file beside the data: links are not followed",
        )
    if not sidecar.is_file():
        return {}
    try:
        # The configuration's loader: no aliases (a few hundred bytes of them expand to
        # gigabytes), no tags, a bounded depth.
        document = parse_yaml(sidecar.read_text(encoding="utf-8"), path=sidecar).data
    except (OSError, UnicodeDecodeError) as exc:  # YAML errors: parse_yaml's ConfigError
        raise ConfigError(
            f"cannot read the provenance file {sidecar.name}: {exc}",
            location=Location(file=str(sidecar)),
            hint="a <file>.meta.yaml is a YAML mapping: publisher, licence, origin, ...",
        ) from exc
    return document if isinstance(document, dict) else {}


def _local_file(observatory: Observatory, text: str, what: str) -> Path | None:
    """The file inside the observatory that ``text`` names, if it is one."""
    # Options are also URLs, column names, dataset ids, ...: only existing files count.
    with contextlib.suppress(ConfigError, OSError, ValueError):
        path = observatory.path(text, what=what)
        if path.is_file():
            return path
    return None


def source_provenance(observatory: Observatory) -> dict[str, SourceProvenance]:
    """Source id -> description, publisher and licence from the data files' sidecars.

    Several files of one source with different licences give them all, joined by ``; ``.
    """
    out: dict[str, SourceProvenance] = {}
    for sid, source in sorted(observatory.config.sources.items()):
        licences: dict[str, None] = {}
        publishers: dict[str, None] = {}
        files: list[str] = []
        for option, value in sorted(source.options.items()):
            for text in _strings(value):
                path = _local_file(observatory, text, f"sources.{sid}.options.{option}")
                if path is None:
                    continue
                meta = _sidecar(path)
                files.append(text)
                if meta.get("licence"):
                    licences[str(meta["licence"]).strip()] = None
                if meta.get("publisher"):
                    publishers[str(meta["publisher"]).strip()] = None
        out[sid] = SourceProvenance(
            id=sid,
            description=source.description,
            publisher="; ".join(publishers) or None,
            licence="; ".join(licences) or None,
            files=tuple(files),
        )
    return out


def installed_observatory(kb: KnowledgeBase, edition: str | None = None) -> Observatory | None:
    """The installed observatory package that built ``edition``, found by its id, or None."""
    from welfare_observatory.errors import WelfareObservatoryError
    from welfare_observatory.observatory import load_observatory
    from welfare_observatory.sources.manager import observatory_packages

    built = kb.manifest(kb.edition(edition).name).observatory
    if built not in observatory_packages():
        return None
    try:
        found = load_observatory(built)
    except WelfareObservatoryError:
        return None
    return found if found.config.id == built else None
