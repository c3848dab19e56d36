"""Exporters are registered by name through a ``register`` callback, by built-ins and plugins."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from welfare_observatory.errors import PluginError
from welfare_observatory.publish import ExporterRegistry, UnknownFormatError, accept_exporter
from welfare_observatory.publish.builtin import BUILTIN_PLUGIN
from welfare_observatory.sources import hookspecs
from welfare_observatory.sources.collectors import COLLECTORS, Collector
from welfare_observatory.sources.manager import Plugins

BUILTIN_FORMATS = ["csv", "csv-it", "xlsx", "parquet", "json", "datapackage", "sdmx"]


def test_the_built_in_formats_in_order_with_descriptions() -> None:
    registry = ExporterRegistry.default()
    assert list(registry) == BUILTIN_FORMATS
    assert all(e.description and e.owner == "welfare-observatory" for e in registry.entries())


def test_an_unknown_format_names_the_closest_or_lists_them_all() -> None:
    registry = ExporterRegistry.default()
    with pytest.raises(UnknownFormatError) as close:
        registry.get("jsno")
    assert close.value.hint == "did you mean 'json'?"
    with pytest.raises(UnknownFormatError) as far:
        registry.get("pdf")
    assert far.value.hint is not None and "datapackage" in far.value.hint


def test_registering_the_built_ins_imports_nothing_heavy() -> None:
    code = (
        "import sys; from welfare_observatory.publish import ExporterRegistry; "
        "ExporterRegistry.default(); "
        "print(sorted(m for m in ('pyarrow', 'duckdb', 'openpyxl', 'sdmx') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


def test_accept_exporter_checks_what_a_plugin_registers() -> None:
    def exporter(view: object, meta: object, out: Path) -> list[Path]:
        return []

    assert accept_exporter("tsv", exporter, "tabs")[0] == "tsv"
    for bad in [("TSV", exporter, ""), ("tsv", "not callable", ""), ("tsv", exporter, 3)]:
        with pytest.raises(ValueError):
            accept_exporter(*bad)


def spec_register_exporters(register):  # type: ignore[no-untyped-def]
    """Register open-data exporters: ``register("tsv", export_tsv, "Tab-separated")``."""


@pytest.fixture
def exporter_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hook spec and collector proposed for the plugin manager, added for this test."""
    spec = hookspecs.hookspec(spec_register_exporters)
    spec.__name__ = "register_exporters"
    monkeypatch.setattr(hookspecs, "register_exporters", spec, raising=False)
    monkeypatch.setitem(
        COLLECTORS,
        "register_exporters",
        Collector("register_exporters", "exporter", accept_exporter),
    )


def test_plugins_exporters_arrive_through_the_plugin_manager(
    exporter_hook: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "wo_test_tsv.py").write_text(
        textwrap.dedent(
            """
            from welfare_observatory.sdk import hookimpl

            def export_tsv(view, meta, out):
                return []

            @hookimpl
            def register_exporters(register):
                register("tsv", export_tsv, "tab-separated values")
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = Plugins(builtins=(BUILTIN_PLUGIN, "wo_test_tsv"), entry_points=False).load()
    assert plugins.problems == []
    registry = ExporterRegistry.default(plugins)
    assert list(registry) == [*BUILTIN_FORMATS, "tsv"]
    assert registry.get("tsv").owner == "wo_test_tsv"
    assert registry.get("csv").owner == BUILTIN_PLUGIN


def test_a_plugin_cannot_take_a_built_in_format(
    exporter_hook: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "wo_test_csv.py").write_text(
        "from welfare_observatory.sdk import hookimpl\n\n"
        "@hookimpl\n"
        "def register_exporters(register):\n"
        "    register('csv', lambda view, meta, out: [], 'mine')\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = Plugins(builtins=(BUILTIN_PLUGIN, "wo_test_csv"), entry_points=False).load()
    assert "already registered" in str(plugins.problems[0])
    assert ExporterRegistry.default(plugins).get("csv").owner == BUILTIN_PLUGIN
    with pytest.raises(PluginError, match="registered twice"):
        ExporterRegistry.default(Plugins(builtins=("wo_test_csv",), entry_points=False))
