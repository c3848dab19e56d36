"""The plugin manager: loads plugins lazily, once, and collects what they register.

Plugins come from three places, in this order: the built-ins (``DEFAULT_PLUGINS``), the
``welfare_observatory`` entry-point group (plugins any observatory may use, restricted by
the ``WELFARE_OBSERVATORY_PLUGINS`` allow-list) and, for :meth:`Plugins.for_observatory`,
the plugin modules of one territory package (entry-point group
``welfare_observatory.observatories``). A plugin that fails to import, implements a hook
that does not exist, raises in a hook or registers something invalid is recorded in
``problems`` as a PluginError naming it; the other plugins still load.
"""

from __future__ import annotations

import importlib
import importlib.metadata as metadata
import importlib.util
import logging
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from welfare_observatory.errors import Location, PluginError, UnknownIdError
from welfare_observatory.sdk import PROJECT, Source, SourceOptions
from welfare_observatory.sources import hookspecs
from welfare_observatory.sources.collectors import (
    COLLECTORS,
    PluginInfo,
    Registration,
    hook_hint,
)

if TYPE_CHECKING:
    import pint

__all__ = [
    "DEFAULT_PLUGINS",
    "ENV_ALLOW",
    "OBSERVATORY_GROUP",
    "PluginInfo",
    "Plugins",
    "Registration",
    "UnknownSourceTypeError",
    "default_plugins",
    "observatory_packages",
]

log = logging.getLogger(__name__)

DEFAULT_PLUGINS: tuple[str, ...] = (
    "welfare_observatory.sources.sdmx",
    "welfare_observatory.sources.table",
    "welfare_observatory.sources.ckan",
    "welfare_observatory.publish.builtin",
    "welfare_observatory.governance.report_plugin",
)
"""Built-in plugin modules: registered through the same hooks as anyone's."""

ENV_ALLOW = "WELFARE_OBSERVATORY_PLUGINS"
"""Comma-separated entry-point or distribution names to load; empty: only built-ins."""

OBSERVATORY_GROUP = f"{PROJECT}.observatories"
_BUILTIN_DIST = "welfare-observatory"


class UnknownSourceTypeError(UnknownIdError):
    kind = "source type"


def _allow_list() -> frozenset[str] | None:
    raw = os.environ.get(ENV_ALLOW)
    if raw is None:
        return None
    return frozenset(_norm(part) for part in raw.split(",") if part.strip())


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def observatory_packages() -> dict[str, metadata.EntryPoint]:
    """Installed territory packages: entry-point name -> entry point."""
    return {ep.name: ep for ep in metadata.entry_points(group=OBSERVATORY_GROUP)}


class Plugins:
    """A plugin manager instance; build one per test, or use :func:`default_plugins`.

    ``builtins`` are module names or objects; ``plugins`` are extra plugin objects
    (modules or instances with ``@hookimpl`` methods, e.g. in tests); ``entry_points``
    turns discovery of installed plugins on or off; ``allow`` overrides the environment
    allow-list; ``strict`` raises the first problem instead of recording it.
    """

    def __init__(
        self,
        *,
        builtins: Sequence[str | object] = DEFAULT_PLUGINS,
        plugins: Sequence[object] = (),
        entry_points: bool = True,
        observatory: str | None = None,
        observatory_plugins: Sequence[str | object] = (),
        allow: Iterable[str] | None = None,
        strict: bool = False,
    ) -> None:
        self._builtins = tuple(builtins)
        self._extra = tuple(plugins)
        self._use_entry_points = entry_points
        self.observatory = observatory
        self._observatory_plugins = tuple(observatory_plugins)
        self._allow = frozenset(map(_norm, allow)) if allow is not None else _allow_list()
        self.strict = strict
        self.problems: list[PluginError] = []
        self._registrations: dict[str, dict[str, Registration]] = {}
        self._origins: dict[str, tuple[str, str | None, str | None]] = {}
        self._pm: pluggy.PluginManager | None = None
        self._lock = threading.RLock()

    @classmethod
    def for_observatory(cls, name: str, **kwargs: Any) -> Plugins:
        """The global plugins plus those of the installed territory package ``name``.

        The entry point names the package; its plugin modules are those it lists in
        ``PLUGIN_MODULES`` or else its ``plugins`` submodule, when it has one.
        """
        packages = observatory_packages()
        if name not in packages:
            raise UnknownIdError(
                name,
                candidates=packages,
                message=f"no installed observatory package {name!r}",
                hint=(
                    f"installed: {', '.join(sorted(packages))}"
                    if packages
                    else f"pip install the observatory package (entry point {OBSERVATORY_GROUP})"
                ),
            )
        package = packages[name].load()
        modules: Sequence[str] = ()
        if isinstance(package, ModuleType):
            listed = getattr(package, "PLUGIN_MODULES", None)
            if listed is not None:
                modules = tuple(listed)
            elif importlib.util.find_spec(f"{package.__name__}.plugins") is not None:
                modules = (f"{package.__name__}.plugins",)
        return cls(observatory=name, observatory_plugins=modules, **kwargs)

    # -- loading ---------------------------------------------------------------------------
    @property
    def pm(self) -> pluggy.PluginManager:
        """The underlying pluggy manager (loads the plugins on first use)."""
        self.load()
        assert self._pm is not None
        return self._pm

    def load(self) -> Plugins:
        """Load every plugin and collect its registrations; later calls do nothing."""
        with self._lock:
            if self._pm is not None:
                return self
            pm = pluggy.PluginManager(PROJECT)
            pm.add_hookspecs(hookspecs)
            self._pm = pm
            dist = (_BUILTIN_DIST, _own_version())
            for plugin in self._builtins:
                self._add(plugin, "builtin", *dist)
            for plugin in self._extra:
                self._add(plugin, "extra", None, None)
            if self._use_entry_points:
                self._add_entry_points()
            for plugin in self._observatory_plugins:
                self._add(plugin, f"observatory {self.observatory}", None, None)
            self._collect()
            return self

    def _problem(self, message: str, *, plugin: str, hint: str | None = None) -> None:
        error = PluginError(message, location=Location(key=plugin), hint=hint)
        if self.strict:
            raise error
        log.warning("%s", error)
        self.problems.append(error)

    def _add_entry_points(self) -> None:
        for ep in metadata.entry_points(group=PROJECT):
            dist_name = version = None
            if ep.dist is not None:
                # ``dist.name`` and ``dist.version`` each parse the whole metadata file again
                fields = ep.dist.metadata
                dist_name, version = fields["Name"], fields["Version"]
            names = {_norm(ep.name), _norm(dist_name or "")}
            if self._allow is not None and not names & self._allow:
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                self._problem(
                    f"plugin {ep.name!r} failed to import: {type(exc).__name__}: {exc}",
                    plugin=ep.name,
                    hint=f"fix or uninstall {dist_name or ep.value}",
                )
                continue
            self._add(plugin, "entry point", dist_name, version, name=ep.name)

    def _add(
        self,
        plugin: str | object,
        origin: str,
        dist: str | None,
        version: str | None,
        *,
        name: str | None = None,
    ) -> None:
        if isinstance(plugin, str):
            label = name or plugin
            try:
                plugin = importlib.import_module(plugin)
            except Exception as exc:
                self._problem(
                    f"plugin {label!r} failed to import: {type(exc).__name__}: {exc}",
                    plugin=label,
                )
                return
        label = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        if dist is None and isinstance(plugin, ModuleType):
            dist, version = _distribution_of(plugin)
        assert self._pm is not None
        try:
            registered = self._pm.register(plugin, name=label)
            self._pm.check_pending()
        except (pluggy.PluginValidationError, ValueError) as exc:
            if self._pm.is_registered(plugin):
                self._pm.unregister(plugin)
            self._problem(f"plugin {label!r} is invalid: {exc}", plugin=label, hint=hook_hint(exc))
            return
        if registered is not None:
            self._origins[registered] = (origin, dist, version)

    def _collect(self) -> None:
        assert self._pm is not None
        for hook_name, collector in COLLECTORS.items():
            self._registrations.setdefault(collector.kind, {})
            for impl in getattr(self._pm.hook, hook_name).get_hookimpls():
                self._call(impl, collector.kind, collector.accept)

    def _call(self, impl: Any, kind: str, accept: Any) -> None:
        plugin = impl.plugin_name
        _, dist, version = self._origins.get(plugin, ("", None, None))

        def register(*args: Any) -> None:
            try:
                key, value = accept(*args)
            except (TypeError, ValueError) as exc:
                raise _Rejected(f"{kind} rejected: {exc}") from None
            taken = self._registrations[kind].get(key)
            if taken is not None:
                raise _Rejected(f"{kind} {key!r} is already registered by plugin {taken.plugin!r}")
            self._registrations[kind][key] = Registration(kind, key, value, plugin, dist, version)

        try:
            impl.function(**dict.fromkeys(impl.argnames, register))
        except _Rejected as exc:
            self._problem(f"plugin {plugin!r}: {exc}", plugin=plugin)
        except Exception as exc:
            self._problem(
                f"plugin {plugin!r} raised in {impl.function.__name__}: "
                f"{type(exc).__name__}: {exc}",
                plugin=plugin,
            )

    # -- what was registered ---------------------------------------------------------------
    def registrations(self, kind: str | None = None) -> list[Registration]:
        """Every registration (of one kind), in load order."""
        self.load()
        kinds = [kind] if kind is not None else list(self._registrations)
        return [r for k in kinds for r in self._registrations.get(k, {}).values()]

    def sources(self) -> Mapping[str, type[Source]]:
        """Source type name -> Source subclass."""
        self.load()
        return MappingProxyType(
            {k: r.value for k, r in self._registrations["source"].items()}  # type: ignore[misc]
        )

    def source_class(self, type_name: str) -> type[Source]:
        """The Source subclass registered as ``type_name`` (UnknownSourceTypeError if none)."""
        found = self.sources().get(type_name)
        if found is None:
            raise UnknownSourceTypeError(type_name, candidates=self.sources())
        return found

    def create_source(
        self, id: str, type_name: str, options: SourceOptions | Mapping[str, Any] | None = None
    ) -> Source:
        """An instance of the ``type_name`` source with validated options."""
        return self.source_class(type_name)(id, options)

    def units(self) -> tuple[str, ...]:
        """Pint definition lines registered by plugins, in load order."""
        return tuple(str(r.value) for r in self.registrations("unit"))

    def unit_registry(self) -> pint.UnitRegistry[Any]:
        """A fresh pint registry with the library's and the plugins' unit definitions."""
        import pint

        from welfare_observatory.units import make_registry

        registry = make_registry()
        for reg in self.registrations("unit"):
            if reg.id in registry:
                # pint only warns on redefinition; a plugin must not change a unit.
                raise PluginError(
                    f"plugin {reg.plugin!r} redefines the unit {reg.id!r}",
                    location=Location(key=reg.plugin),
                    hint="choose a new name: units already defined cannot change meaning",
                )
            try:
                registry.define(str(reg.value))
            except (pint.errors.DefinitionSyntaxError, pint.errors.RedefinitionError) as exc:
                raise PluginError(
                    f"plugin {reg.plugin!r} registered an invalid unit {reg.value!r}: {exc}",
                    location=Location(key=reg.plugin),
                    hint="definitions use pint's syntax: 'name = value * unit = alias'",
                ) from exc
        return registry

    def catalogs(self) -> tuple[Path, ...]:
        """Extra catalogue files registered by plugins."""
        return tuple(Path(str(r.value)) for r in self.registrations("catalog"))

    def codelists(self) -> Mapping[str, Mapping[str, str]]:
        """Code list name -> {code: label}."""
        return MappingProxyType(
            {r.id: r.value for r in self.registrations("codelist")}  # type: ignore[misc]
        )

    def plugins(self) -> list[PluginInfo]:
        """The loaded plugins with their distribution, version and what they register."""
        pm = self.pm
        infos = []
        for name, plugin in pm.list_name_plugin():
            origin, dist, version = self._origins.get(name, ("extra", None, None))
            registers: dict[str, list[str]] = {}
            for reg in self.registrations():
                if reg.plugin == name:
                    registers.setdefault(reg.kind, []).append(reg.id)
            hooks = tuple(sorted(impl.name for impl in pm.get_hookcallers(plugin) or ()))
            infos.append(
                PluginInfo(
                    name,
                    dist,
                    version,
                    origin,
                    hooks,
                    {k: tuple(v) for k, v in registers.items()},
                )
            )
        return infos


class _Rejected(Exception):  # noqa: N818 - internal signal, not an error users see
    """A registration the core refused (reported as a PluginError by the caller)."""


def _distribution_of(module: ModuleType) -> tuple[str | None, str | None]:
    top = module.__name__.split(".")[0]
    names = metadata.packages_distributions().get(top, [])
    if not names:
        return None, None
    try:
        return names[0], metadata.version(names[0])
    except metadata.PackageNotFoundError:
        return names[0], None


def _own_version() -> str:
    from welfare_observatory._version import __version__

    return __version__


_default: Plugins | None = None
_default_lock = threading.Lock()


def default_plugins() -> Plugins:
    """The process-wide manager for convenience (built on first use, loaded lazily)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Plugins()
        return _default
