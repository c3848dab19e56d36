"""Publishing: open-data exports of the publishable view (and, in ``report``, the report).

Importing this package is cheap; exporters load on first use::

    from welfare_observatory.publish import export
    export(kb, ["csv", "datapackage"], Path("open-data/2025"), edition="2025")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from welfare_observatory._lazy import lazy_exports

if TYPE_CHECKING:
    from welfare_observatory.publish._files import atomic_output
    from welfare_observatory.publish.exporting import ExportResult, export
    from welfare_observatory.publish.metadata import ExportMetadata, export_metadata
    from welfare_observatory.publish.registry import (
        Exporter,
        ExporterRegistry,
        RegisterExporter,
        UnknownFormatError,
        accept_exporter,
    )

__all__ = [
    "ExportMetadata",
    "ExportResult",
    "Exporter",
    "ExporterRegistry",
    "RegisterExporter",
    "UnknownFormatError",
    "accept_exporter",
    "atomic_output",
    "export",
    "export_metadata",
]

_LAZY = {
    "ExportMetadata": "welfare_observatory.publish.metadata",
    "ExportResult": "welfare_observatory.publish.exporting",
    "Exporter": "welfare_observatory.publish.registry",
    "ExporterRegistry": "welfare_observatory.publish.registry",
    "RegisterExporter": "welfare_observatory.publish.registry",
    "UnknownFormatError": "welfare_observatory.publish.registry",
    "accept_exporter": "welfare_observatory.publish.registry",
    "atomic_output": "welfare_observatory.publish._files",
    "export": "welfare_observatory.publish.exporting",
    "export_metadata": "welfare_observatory.publish.metadata",
}


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
