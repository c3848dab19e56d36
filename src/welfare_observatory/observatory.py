"""An observatory: its configuration, its plugins, its catalogue and its selection.

``load_observatory`` takes the folder of an ``observatory.yaml`` (or the file) or the name of
an installed territory package (entry-point group ``welfare_observatory.observatories``).
A territory package's own plugins are active only for its observatory.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from welfare_observatory.config import CONFIG_FILE, ObservatoryConfig, load_config, safe_path
from welfare_observatory.errors import ConfigError, Location, UnknownIdError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from welfare_observatory.build.environment import BuildEnvironment
    from welfare_observatory.build.orchestrator import BuildResult
    from welfare_observatory.build.strategies import Executor
    from welfare_observatory.catalog import Catalog
    from welfare_observatory.model import Indicator
    from welfare_observatory.protect import DisclosureRule
    from welfare_observatory.sources.manager import Plugins

__all__ = ["DEFAULT_KB", "Observatory", "load_observatory"]

DEFAULT_KB = "kb"
"""Default knowledge base folder of a build, relative to the current working directory."""


class Observatory:
    """A loaded observatory. Registries (plugins, catalogue) are built on first use."""

    def __init__(self, config: ObservatoryConfig, folder: Path, *, package: str | None = None):
        self.config = config
        self.folder = folder
        self.package = package
        """Name of the installed territory package, when loaded from one."""

    def __repr__(self) -> str:
        return f"Observatory({self.config.id!r}, folder={str(self.folder)!r})"

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def config_file(self) -> Path:
        return self.folder / CONFIG_FILE

    def path(self, relative: str, *, what: str = "path") -> Path:
        """A path inside the observatory's folder (never outside it)."""
        return safe_path(self.folder, relative, what=what)

    @cached_property
    def plugins(self) -> Plugins:
        from welfare_observatory.sources.manager import Plugins

        if self.package is not None:
            return Plugins.for_observatory(self.package).load()
        return Plugins().load()

    @cached_property
    def catalog(self) -> Catalog:
        """The shipped catalogue plus plugin catalogues and this observatory's own files."""
        from welfare_observatory.catalog import Catalog

        extra = [*self.plugins.catalogs()]
        extra += [
            self.path(p, what=f"indicators.catalog.{i}")
            for i, p in enumerate(self.config.indicators.catalog)
        ]
        if not extra:
            return _shipped_catalog()
        # An entry may use a unit a plugin registers; pint is built only when one does.
        units = self.plugins.unit_registry() if self.plugins.units() else None
        return Catalog.load(*extra, units=units)

    def disclosure_rule(self, **overrides: Any) -> DisclosureRule:
        """The disclosure rule of ``observatory.yaml`` (``disclosure:``), else the default,
        with ``overrides`` (e.g. ``threshold=5``) applied on top."""
        from welfare_observatory.protect import DisclosureRule, load_rule

        if self.config.disclosure is None:
            return DisclosureRule.model_validate(overrides)
        return load_rule(self.path(self.config.disclosure, what="disclosure"), **overrides)

    def selection(self) -> list[Indicator]:
        """The selected indicators: the profile, plus additions, minus removals."""
        chosen = self.config.indicators
        catalog = self.catalog
        ids: list[str] = []
        if chosen.profile is not None:
            try:
                ids = [indicator.id for indicator in catalog.profile(chosen.profile)]
            except UnknownIdError as exc:
                raise self._error(("indicators", "profile"), exc) from exc
        for index, wanted in enumerate(chosen.add):
            try:
                ids.append(catalog.resolve(wanted).warn().id)
            except UnknownIdError as exc:
                raise self._error(("indicators", "add", index), exc) from exc
        for index, unwanted in enumerate(chosen.remove):
            try:
                removed = catalog.resolve(unwanted).warn().id
            except UnknownIdError as exc:
                raise self._error(("indicators", "remove", index), exc) from exc
            ids = [i for i in ids if i != removed]
        return [catalog.get(i) for i in dict.fromkeys(ids)]

    def _error(self, loc: tuple[str | int, ...], exc: UnknownIdError) -> ConfigError:
        from welfare_observatory.yamlfile import load_yaml

        document = load_yaml(self.config_file)
        field = ".".join(str(p) for p in loc)
        return ConfigError(
            f"{field}: {exc.message}",
            location=Location(file=str(self.config_file), line=document.line_of(loc), field=field),
            hint=exc.hint,
        )

    def build(
        self,
        *,
        out: str | Path = DEFAULT_KB,
        offline: bool = False,
        only: Sequence[str] | None = None,
        refresh: bool = False,
        cache_dir: str | Path | None = None,
        progress: Callable[[str], None] | None = None,
        executor: Executor | str | None = None,
        source_timeout: float | None = 1800.0,
        on_loaded: Callable[[BuildEnvironment], object] | None = None,
    ) -> BuildResult:
        """Build this observatory's edition into the knowledge base folder ``out``.

        ``out`` defaults to ``kb`` in the **current working directory** (as the CLI's
        ``--out``), never inside the observatory's folder, which may be an installed package;
        pass it explicitly from library code. ``offline`` never touches the network
        (uncached sources are skipped with the reason); ``only`` builds these source ids
        (the others are reported as skipped); ``refresh`` fetches again what is cached;
        ``cache_dir`` holds fetched payloads (default ``<out>/.cache``); ``progress``
        receives one line per step; ``executor`` is ``"local"``, ``"dask"`` or an
        :class:`~welfare_observatory.build.strategies.Executor` (every executor gives the same
        build id); ``source_timeout`` (seconds, None for none) stops a source that takes
        longer and reports it as failed; ``on_loaded`` is called with the build environment
        when the load stage is over, before any source runs. The result's ``report`` is the
        build report;
        ``knowledge_base`` is the absolute path of ``out``.
        """
        from welfare_observatory.build.orchestrator import build

        return build(
            self,
            out=out,
            offline=offline,
            only=only,
            refresh=refresh,
            cache_dir=cache_dir,
            progress=progress,
            executor=executor,
            loader=load_observatory,
            source_timeout=source_timeout,
            on_loaded=on_loaded,
        )


def _shipped_catalog() -> Catalog:
    from welfare_observatory.catalog import catalog

    return catalog()


def load_observatory(path_or_name: str | Path) -> Observatory:
    """Load an observatory from a folder, its ``observatory.yaml``, or an installed package."""
    from welfare_observatory.sources.manager import observatory_packages

    candidate = Path(path_or_name)
    name = str(path_or_name)
    # A folder named like an installed package but holding no observatory.yaml is the
    # package's project folder (``new cuneo`` then ``build cuneo`` from its parent): the
    # installed package is meant.
    project_folder = candidate.is_dir() and not (candidate / CONFIG_FILE).exists()
    if candidate.exists() and not (project_folder and name in observatory_packages()):
        folder = candidate if candidate.is_dir() else candidate.parent
        return _with_plugins(candidate, folder.resolve(), _package_of(folder))
    packages = observatory_packages()
    if name not in packages:
        raise UnknownIdError(
            name,
            candidates=packages,
            message=f"no observatory folder or installed observatory package {name!r}",
            hint=(
                "give the folder of an observatory.yaml, or one of the installed packages: "
                + ", ".join(sorted(packages))
                if packages
                else "give the folder of an observatory.yaml, or pip install an observatory package"
            ),
        )
    package = packages[name].load()
    folder = _folder_of(package, name)
    return _with_plugins(folder, folder, name)


def _with_plugins(config_path: Path, folder: Path, package: str | None) -> Observatory:
    """The observatory with its configuration validated against the installed plugins'
    source types too, so a plugin source's wrong option names the file and the line when
    ``observatory.yaml`` loads, not halfway through a build."""
    from welfare_observatory.sources.manager import Plugins

    plugins = Plugins.for_observatory(package) if package is not None else Plugins()
    config = load_config(config_path, source_types=plugins.load().sources())
    observatory = Observatory(config, folder, package=package)
    observatory.__dict__["plugins"] = plugins  # the cached property: loaded once
    return observatory


def _folder_of(package: Any, name: str) -> Path:
    if not isinstance(package, ModuleType) or getattr(package, "__file__", None) is None:
        raise ConfigError(
            f"observatory entry point {name!r} must name a package",
            hint="point the entry point at the package that holds observatory.yaml",
        )
    return Path(str(package.__file__)).parent.resolve()


def _package_of(folder: Path) -> str | None:
    """The installed observatory package whose folder is ``folder``, if any."""
    from welfare_observatory.sources.manager import observatory_packages

    target = folder.resolve()
    if not _holds_modules(target):
        # A package's folder holds its module file (the spec's origin): a folder without
        # one is no package's, whatever is installed (no scan of the entry points).
        return None
    for name, entry_point in observatory_packages().items():
        module_name = entry_point.value.split(":")[0]
        try:
            import importlib.util

            spec = importlib.util.find_spec(module_name)
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.origin and Path(spec.origin).parent.resolve() == target:
            return name
    return None


_MODULE_SUFFIXES = (".py", ".pyc", ".so", ".pyd")


def _holds_modules(folder: Path) -> bool:
    """Whether ``folder`` holds a file a module may be loaded from (True when unreadable)."""
    import os

    try:
        with os.scandir(folder) as entries:
            return any(entry.name.endswith(_MODULE_SUFFIXES) for entry in entries)
    except OSError:
        return True
