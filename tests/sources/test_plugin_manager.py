"""The plugin manager: hooks, built-ins, entry points, allow-list, observatory plugins, problems.

Every hook spec has a ``test_hook_<name>`` here (checked by a meta-test). Plugins are small
modules written into a temporary folder; entry points are faked per test.
"""

from __future__ import annotations

import importlib.metadata as metadata
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from welfare_observatory.errors import PluginError, UnknownIdError
from welfare_observatory.sources import hookspecs, manager
from welfare_observatory.sources.manager import (
    ENV_ALLOW,
    OBSERVATORY_GROUP,
    Plugins,
    UnknownSourceTypeError,
    default_plugins,
)
from welfare_observatory.sources.sdmx import SdmxSource

SOURCE_PLUGIN = """
import pyarrow as pa
from welfare_observatory.sdk import Source, SourceOptions, hookimpl

class {cls}(Source):
    type = "{type}"
    Options = SourceOptions
    description = "test source"

    def fetch(self, ctx):
        return []

    def parse(self, payload):
        return pa.table({{}})

@hookimpl
def register_sources(register):
    register({cls})
"""


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(ENV_ALLOW, raising=False)
    return tmp_path


def write(folder: Path, name: str, code: str) -> str:
    path = folder / (name.replace(".", "/") + ".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(code))
    return name


def source_plugin(folder: Path, name: str, type_name: str) -> str:
    cls = "S_" + type_name.replace("-", "_")
    return write(folder, name, SOURCE_PLUGIN.format(cls=cls, type=type_name))


def fake_entry_points(monkeypatch, groups: dict[str, dict[str, str]]) -> None:
    def entry_points(*, group: str):
        return [metadata.EntryPoint(n, v, group) for n, v in groups.get(group, {}).items()]

    monkeypatch.setattr(manager.metadata, "entry_points", entry_points)


def only(*plugins: object, **kwargs) -> Plugins:
    return Plugins(builtins=(), plugins=plugins, entry_points=False, **kwargs)


# -- one test per hook ---------------------------------------------------------------------
def test_hook_register_sources(plugin_dir):
    source_plugin(plugin_dir, "wo_test_beds", "beds")
    plugins = Plugins(builtins=("wo_test_beds",), entry_points=False)
    assert list(plugins.sources()) == ["beds"]
    assert plugins.source_class("beds").__name__ == "S_beds"
    assert plugins.create_source("asl_beds", "beds", {}).id == "asl_beds"
    [reg] = plugins.registrations("source")
    assert (reg.kind, reg.id, reg.plugin) == ("source", "beds", "wo_test_beds")


def test_hook_register_units(plugin_dir):
    write(
        plugin_dir,
        "wo_test_units",
        """
        from welfare_observatory.sdk import hookimpl

        @hookimpl
        def register_units(register):
            register("bed_place = bed = bed_places")
    """,
    )
    plugins = Plugins(builtins=("wo_test_units",), entry_points=False)
    assert plugins.units() == ("bed_place = bed = bed_places",)
    registry = plugins.unit_registry()
    assert registry.Quantity(3, "bed_places").to("bed").magnitude == 3


def test_hook_register_catalogs(plugin_dir):
    (plugin_dir / "extra.yaml").write_text("[]\n")
    write(
        plugin_dir,
        "wo_test_catalogs",
        f"""
        from pathlib import Path
        from welfare_observatory.sdk import hookimpl

        @hookimpl
        def register_catalogs(register):
            register(Path({str(plugin_dir / "extra.yaml")!r}))
    """,
    )
    plugins = Plugins(builtins=("wo_test_catalogs",), entry_points=False)
    assert plugins.catalogs() == ((plugin_dir / "extra.yaml").resolve(),)


def test_hook_register_codelists(plugin_dir):
    write(
        plugin_dir,
        "wo_test_codelists",
        """
        from welfare_observatory.sdk import hookimpl

        @hookimpl
        def register_codelists(register):
            register("CL_ASL", {"203": "ASL Biella", "204": "ASL Vercelli"})
    """,
    )
    plugins = Plugins(builtins=("wo_test_codelists",), entry_points=False)
    assert dict(plugins.codelists()["CL_ASL"]) == {"203": "ASL Biella", "204": "ASL Vercelli"}


def test_hook_register_checks(plugin_dir):
    write(
        plugin_dir,
        "wo_test_checks",
        """
        from welfare_observatory import Finding
        from welfare_observatory.sdk import hookimpl

        def too_few_rows(table, context):
            if table.num_rows >= 2:
                return []
            return [Finding(severity="warning", code="too-few-rows", message="fewer than 2 rows")]

        @hookimpl
        def register_checks(register):
            register("wo-test.rows", too_few_rows)
    """,
    )
    import pyarrow as pa

    from welfare_observatory.validate import default_checks, run_checks
    from welfare_observatory.validate.checks import CheckContext

    plugins = Plugins(builtins=("wo_test_checks",), entry_points=False)
    [reg] = plugins.registrations("check")
    assert (reg.kind, reg.id, reg.plugin) == ("check", "wo-test.rows", "wo_test_checks")
    registry = default_checks(extra={reg.id: reg.value})
    [finding] = run_checks(pa.table({"x": [1]}), CheckContext(), registry, only=["wo-test.rows"])
    assert finding.code == "too-few-rows"


def test_a_check_with_a_bad_id_is_refused(plugin_dir):
    write(
        plugin_dir,
        "wo_test_badcheck",
        """
        from welfare_observatory.sdk import hookimpl

        @hookimpl
        def register_checks(register):
            register("Not An Id", lambda table, context: [])
    """,
    )
    plugins = Plugins(builtins=("wo_test_badcheck",), entry_points=False).load()
    assert plugins.registrations("check") == []
    [problem] = plugins.problems
    assert "wo_test_badcheck" in str(problem) and "kebab-case" in str(problem)


def test_hook_register_exporters(plugin_dir):
    write(
        plugin_dir,
        "wo_test_exporters",
        """
        from welfare_observatory.sdk import hookimpl

        def export_lines(view, meta, out):
            path = out / "rows.txt"
            path.write_text(str(view.num_rows))
            return [path]

        @hookimpl
        def register_exporters(register):
            register("rows-txt", export_lines, "the number of rows, as text")
    """,
    )
    from welfare_observatory.publish.registry import ExporterRegistry

    plugins = Plugins(builtins=("wo_test_exporters",), entry_points=False)
    registry = ExporterRegistry.default(plugins)
    assert "rows-txt" in registry and "csv" in registry
    entry = registry.get("rows-txt")
    assert (entry.description, entry.owner) == ("the number of rows, as text", "wo_test_exporters")


def test_hook_register_report_sections(plugin_dir):
    write(
        plugin_dir,
        "wo_test_sections",
        """
        from welfare_observatory import Text
        from welfare_observatory.publish.report import ReportSection
        from welfare_observatory.sdk import hookimpl

        @hookimpl
        def register_report_sections(register):
            register(ReportSection(
                id="focus",
                title=Text(it="Approfondimento", en="Focus"),
                render=lambda data: "<p>focus</p>",
            ))
    """,
    )
    from welfare_observatory.publish.report.sections import SectionRegistry

    plugins = Plugins(builtins=("wo_test_sections",), entry_points=False)
    registry = SectionRegistry.from_plugins(plugins)
    assert [s.id for s in registry] == ["focus"]
    assert registry.origin("focus") == "wo_test_sections"


def test_the_built_ins_register_exporters_and_the_governance_section():
    plugins = Plugins(entry_points=False)
    exporters = {r.id for r in plugins.registrations("exporter")}
    assert {"csv", "csv-it", "xlsx", "parquet", "json", "datapackage", "sdmx"} <= exporters
    assert [r.id for r in plugins.registrations("report_section")] == ["governance"]


def test_every_hook_has_a_test_and_takes_one_register_argument():
    specs = [
        n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("register_")
    ]
    assert specs == sorted(manager.COLLECTORS)
    for name in specs:
        assert f"test_hook_{name}" in globals(), f"hook {name} has no test_hook_{name}"
        assert list(inspect.signature(getattr(hookspecs, name)).parameters) == ["register"]


# -- built-ins and loading -----------------------------------------------------------------
def test_built_in_sources_are_plugins_registered_by_the_library():
    plugins = Plugins(entry_points=False)
    assert plugins.source_class("sdmx") is SdmxSource
    info = {p.name: p for p in plugins.plugins()}["welfare_observatory.sources.sdmx"]
    assert info.distribution == "welfare-observatory" and info.origin == "builtin"
    assert info.registers == {"source": ("sdmx",)} and info.hooks == ("register_sources",)


def test_plugins_load_lazily_and_once(plugin_dir):
    source_plugin(plugin_dir, "wo_test_lazy", "lazy")
    plugins = Plugins(builtins=("wo_test_lazy",), entry_points=False)
    assert "wo_test_lazy" not in sys.modules
    first = plugins.pm
    assert "wo_test_lazy" in sys.modules
    assert plugins.load().pm is first and len(plugins.registrations()) == 1


def test_importing_the_manager_loads_no_plugin():
    code = (
        "import sys, welfare_observatory.sources.manager as m; m.Plugins(); "
        "print('welfare_observatory.sources.sdmx' in sys.modules, 'sdmx' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_an_unknown_source_type_suggests_the_registered_ones():
    with pytest.raises(UnknownSourceTypeError, match="unknown source type 'sdnx'") as info:
        Plugins(entry_points=False).source_class("sdnx")
    assert "did you mean 'sdmx'" in info.value.hint


def test_the_default_manager_is_one_shared_instance():
    assert default_plugins() is default_plugins()


# -- entry points and the allow-list -------------------------------------------------------
def test_entry_point_plugins_load_and_the_allow_list_restricts_them(plugin_dir, monkeypatch):
    source_plugin(plugin_dir, "wo_test_ep_a", "alpha")
    source_plugin(plugin_dir, "wo_test_ep_b", "beta")
    fake_entry_points(
        monkeypatch, {"welfare_observatory": {"a": "wo_test_ep_a", "b": "wo_test_ep_b"}}
    )
    assert set(Plugins(builtins=()).sources()) == {"alpha", "beta"}
    monkeypatch.setenv(ENV_ALLOW, "b")
    assert set(Plugins(builtins=()).sources()) == {"beta"}
    monkeypatch.setenv(ENV_ALLOW, "")
    assert set(Plugins().sources()) <= {"sdmx", "table", "ckan"}
    assert "alpha" not in Plugins().sources() and "sdmx" in Plugins().sources()
    assert set(Plugins(builtins=(), allow=["a"]).sources()) == {"alpha"}


def test_a_plugin_that_fails_to_import_is_reported_and_the_others_load(plugin_dir, monkeypatch):
    source_plugin(plugin_dir, "wo_test_good", "good")
    write(plugin_dir, "wo_test_broken", "raise RuntimeError('missing dependency foo')\n")
    fake_entry_points(
        monkeypatch, {"welfare_observatory": {"broken": "wo_test_broken", "good": "wo_test_good"}}
    )
    plugins = Plugins(builtins=())
    assert list(plugins.sources()) == ["good"]
    [problem] = plugins.problems
    assert isinstance(problem, PluginError)
    assert "'broken' failed to import" in str(problem) and "missing dependency foo" in str(problem)


def test_a_misspelled_hook_fails_loudly_with_a_suggestion(plugin_dir):
    write(
        plugin_dir,
        "wo_test_typo",
        """
        from welfare_observatory.sdk import hookimpl

        @hookimpl
        def register_source(register):
            pass
    """,
    )
    plugins = Plugins(builtins=("wo_test_typo",), entry_points=False)
    [problem] = plugins.load().problems
    assert "wo_test_typo" in str(problem) and "register_source" in str(problem)
    assert "did you mean 'register_sources'" in problem.hint
    with pytest.raises(PluginError, match="register_source"):
        Plugins(builtins=("wo_test_typo",), entry_points=False, strict=True).load()


def test_a_plugin_that_raises_in_a_hook_is_reported_by_name(plugin_dir):
    source_plugin(plugin_dir, "wo_test_fine", "fine")
    write(
        plugin_dir,
        "wo_test_raises",
        """
        from welfare_observatory.sdk import hookimpl

        @hookimpl
        def register_sources(register):
            raise KeyError("oops")
    """,
    )
    plugins = Plugins(builtins=("wo_test_raises", "wo_test_fine"), entry_points=False)
    assert list(plugins.sources()) == ["fine"]
    [problem] = plugins.problems
    assert "wo_test_raises" in str(problem) and "register_sources" in str(problem)


def test_duplicate_ids_are_refused_naming_the_first_plugin(plugin_dir):
    source_plugin(plugin_dir, "wo_test_dup", "sdmx")
    plugins = Plugins(
        builtins=("welfare_observatory.sources.sdmx", "wo_test_dup"), entry_points=False
    )
    assert plugins.source_class("sdmx") is SdmxSource
    [problem] = plugins.problems
    assert "already registered by plugin 'welfare_observatory.sources.sdmx'" in str(problem)


class _Plain:
    pass


@pytest.mark.parametrize(
    ("hook", "args", "message"),
    [
        ("register_sources", (_Plain,), "not a subclass"),
        ("register_sources", (SdmxSource.__mro__[1],), "does not implement"),
        ("register_units", ("no equals sign",), "pint definition line"),
        ("register_catalogs", ("/nonexistent/extra.yaml",), "does not exist"),
        ("register_catalogs", ("extra.txt",), "not a .yaml"),
        ("register_codelists", ("CL X", {"a": "b"}), "identifier"),
        ("register_codelists", ("CL_X", {1: "b"}), "strings"),
        ("register_codelists", ("CL_X", {}), "non-empty"),
    ],
)
def test_invalid_registrations_are_refused(hook, args, message):
    class Plugin:
        pass

    def impl(register):
        register(*args)

    from welfare_observatory.sdk import hookimpl

    setattr(Plugin, hook, staticmethod(hookimpl(impl)))
    impl.__name__ = hook
    plugins = only(Plugin())
    plugins.load()
    [problem] = plugins.problems
    assert message in str(problem)
    assert plugins.registrations() == []


def test_a_bad_source_type_name_is_refused(plugin_dir):
    source_plugin(plugin_dir, "wo_test_badname", "Bad-Name")
    plugins = Plugins(builtins=("wo_test_badname",), entry_points=False)
    assert not plugins.sources() and "lower_snake_case" in str(plugins.problems[0])


def test_an_invalid_unit_definition_names_the_plugin(plugin_dir):
    write(
        plugin_dir,
        "wo_test_badunit",
        """
        from welfare_observatory.sdk import hookimpl

        @hookimpl
        def register_units(register):
            register("person = [population]")
    """,
    )
    with pytest.raises(PluginError, match="wo_test_badunit"):
        Plugins(builtins=("wo_test_badunit",), entry_points=False).unit_registry()


# -- observatory packages --------------------------------------------------------------------
def test_an_observatory_adds_its_own_plugins_only_while_it_is_loaded(plugin_dir, monkeypatch):
    write(plugin_dir, "osserva_test/__init__", '"""A territory package."""\n')
    source_plugin(plugin_dir, "osserva_test.plugins", "asl_test")
    fake_entry_points(monkeypatch, {OBSERVATORY_GROUP: {"testland": "osserva_test"}})
    with_obs = Plugins.for_observatory("testland")
    assert "asl_test" in with_obs.sources() and "sdmx" in with_obs.sources()
    info = {p.name: p for p in with_obs.plugins()}["osserva_test.plugins"]
    assert info.origin == "observatory testland"
    assert "asl_test" not in Plugins().sources()


def test_an_observatory_can_list_its_plugin_modules(plugin_dir, monkeypatch):
    write(plugin_dir, "osserva_listed/__init__", 'PLUGIN_MODULES = ["osserva_listed.sources"]\n')
    source_plugin(plugin_dir, "osserva_listed.sources", "listed")
    fake_entry_points(monkeypatch, {OBSERVATORY_GROUP: {"listed": "osserva_listed"}})
    assert "listed" in Plugins.for_observatory("listed", entry_points=False).sources()


def test_an_unknown_observatory_lists_the_installed_ones(monkeypatch):
    fake_entry_points(monkeypatch, {OBSERVATORY_GROUP: {"biella": "x"}})
    with pytest.raises(UnknownIdError, match="bielle") as info:
        Plugins.for_observatory("bielle")
    assert "biella" in info.value.hint


def test_a_hook_with_the_wrong_argument_name_is_reported(plugin_dir):
    write(
        plugin_dir,
        "wo_test_badarg",
        """
        from welfare_observatory.sdk import hookimpl

        @hookimpl
        def register_sources(callback):
            pass
        """,
    )
    [problem] = Plugins(builtins=("wo_test_badarg",), entry_points=False).load().problems
    assert "wo_test_badarg" in str(problem) and "callback" in str(problem)
    assert "argument named 'register'" in problem.hint


def test_an_installed_plugin_is_recorded_with_its_distribution_and_version(monkeypatch):
    # Name and version come from one read of the metadata: the same as importlib.metadata's
    # ``dist.name`` and ``dist.version``, which read it once each.
    monkeypatch.delenv(ENV_ALLOW, raising=False)
    installed = {
        ep.name: (ep.dist.name, ep.dist.version)
        for ep in metadata.entry_points(group="welfare_observatory")
        if ep.dist is not None
    }
    if not installed:
        pytest.skip("no plugin distribution installed (pip install -e plugins/eurostat-tsv)")
    found = {p.name: (p.distribution, p.version) for p in Plugins().plugins()}
    for name, expected in installed.items():
        assert found[name] == expected
