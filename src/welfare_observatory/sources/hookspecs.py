"""Hook specs: what a plugin may register. Each hook hands the plugin a ``register`` callback.

The core checks every registration (type, unique id) and records which plugin and which
distribution provided it. A capability that needs a new kind of plugin adds one spec here
and one collector in :mod:`welfare_observatory.sources.collectors`.
"""

from __future__ import annotations

import pluggy

from welfare_observatory.sdk import (
    PROJECT,
    RegisterCatalog,
    RegisterCheck,
    RegisterCodelist,
    RegisterExporter,
    RegisterReportSection,
    RegisterSource,
    RegisterUnit,
)

hookspec = pluggy.HookspecMarker(PROJECT)


@hookspec
def register_sources(register: RegisterSource) -> None:
    """Register Source subclasses: ``register(MySource)``; ``MySource.type`` is the id."""


@hookspec
def register_units(register: RegisterUnit) -> None:
    """Register pint definition lines: ``register("bed_place = bed")``."""


@hookspec
def register_catalogs(register: RegisterCatalog) -> None:
    """Register extra indicator catalogue files: ``register(Path(...) / "extra.yaml")``."""


@hookspec
def register_codelists(register: RegisterCodelist) -> None:
    """Register code lists: ``register("CL_ASL_BIELLA", {"203": "ASL Biella"})``."""


@hookspec
def register_checks(register: RegisterCheck) -> None:
    """Register validation checks: ``register("myplugin.totals", check)``.

    ``check(table, context)`` returns findings; ids are kebab-case, prefixed by the plugin.
    """


@hookspec
def register_exporters(register: RegisterExporter) -> None:
    """Register open-data formats: ``register("geojson", exporter, "description")``."""


@hookspec
def register_report_sections(register: RegisterReportSection) -> None:
    """Register report sections: ``register(ReportSection(id=..., title=..., render=...))``."""
