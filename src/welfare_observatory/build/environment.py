"""The build environment: everything a build reads besides its payloads, made once.

A :class:`BuildEnvironment` is made from an observatory and its installed plugins at the
start of a build (and again on each remote worker, from the same folder): the territory
registry at the reference date, a pint registry with the plugins' units, the code lists
(built-in and the plugins'), the indicators, the checks, the HTTP client with its limiter
and the payload cache. Stages take Arrow tables plus this object or plain settings; no
stage reads a module-level registry or the observatory itself.

:meth:`BuildEnvironment.fingerprint` is what step reuse keys are made of: a change to an
indicator definition, a unit or code-list definition or a version gives new keys, so a
rebuild never reuses a step computed under other definitions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from welfare_observatory.lineage import canonical_json, digest

if TYPE_CHECKING:
    import pint
    import pyarrow as pa

    from welfare_observatory.config import ObservatoryConfig
    from welfare_observatory.harmonize import CodeTable
    from welfare_observatory.harmonize.rules import HarmonizeRule
    from welfare_observatory.model import Indicator
    from welfare_observatory.sources.manager import Plugins
    from welfare_observatory.store.edition import DisclosureRecord
    from welfare_observatory.territory import TerritoryRegistry
    from welfare_observatory.validate.checks import CheckRegistry

__all__ = ["BuildEnvironment", "ObservatoryLike", "make_environment"]


class ObservatoryLike(Protocol):
    """What the environment reads from an observatory (``welfare_observatory.Observatory``)."""

    config: ObservatoryConfig
    folder: Path

    @property
    def id(self) -> str: ...

    @property
    def config_file(self) -> Path: ...

    @property
    def plugins(self) -> Plugins: ...

    @property
    def catalog(self) -> Iterable[Indicator]: ...

    def selection(self) -> list[Indicator]: ...

    def path(self, relative: str, *, what: str = "path") -> Path: ...


Loader = Callable[[str], ObservatoryLike]
"""Loads an observatory from its folder (remote workers make their environment with it)."""


@dataclass
class BuildEnvironment:
    """The registries, definitions and clients of one build; read-only once made.

    ``indicators`` is the whole catalogue (id -> definition), ``selection`` the ids the
    observatory publishes. ``versions`` are the library's, the engines' (``_version.ENGINES``)
    and the plugins'. ``unit_definitions`` are the pint lines behind ``units``
    (library's, then the plugins'); ``codelists`` maps a code-list name to
    ``{code: label}``. ``loader`` reloads the observatory from ``folder`` on a worker.
    """

    config: ObservatoryConfig
    folder: Path
    config_file: Path
    plugins: Plugins
    indicators: Mapping[str, Indicator]
    selection: tuple[Indicator, ...]
    versions: Mapping[str, str]
    unit_definitions: tuple[str, ...]
    codelists: Mapping[str, Mapping[str, str]]
    overrides: Path | None = None
    loader: Loader | None = None
    definition_texts: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Canonical JSON of indicators' definitions already made (the catalogue's, from the
    start-up cache): :meth:`fingerprint` uses it for an indicator of ``indicators``
    instead of serialising the definition again (the same text)."""
    _units: Any = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def reference(self) -> date:
        """Reference date of the territory list: codes and hierarchy are those in force."""
        return self.config.territory.reference_date

    @cached_property
    def config_json(self) -> str:
        """The canonical JSON of the configuration's dump (it is frozen), made once: the
        keys of the build's saved results and the manifest digest it (about 10 ms each for
        160 sources)."""
        return canonical_json(self.config.model_dump(mode="json"))

    @cached_property
    def rules_texts(self) -> Mapping[str, str]:
        """Each source's rules as canonical JSON (dumped by alias): what its step key
        digests of them. From the start-up cache when this configuration was seen before:
        160 sources' rules take about 10 ms to serialise in every build."""
        return rules_texts(self.config, self.config_json)

    @cached_property
    def sidecars(self) -> dict[str, list[tuple[Path, bytes | None]]]:
        """The sources' data-file sidecars (``<file>.meta.yaml``) and their bytes, read
        once per build: derive decides between two sources of one value by their release
        dates, and the key of a saved result digests the same bytes
        (:func:`~welfare_observatory.derive.releases.sidecars`)."""
        from welfare_observatory.derive.releases import sidecars

        return sidecars(self.config, self.folder)

    @cached_property
    def sidecars_digest(self) -> str:
        """sha256 of :attr:`sidecars`' bytes by source (what a saved result depends on)."""
        listed = {
            sid: [hashlib.sha256(raw).hexdigest() if raw is not None else None for _, raw in files]
            for sid, files in sorted(self.sidecars.items())
        }
        return digest(listed)

    @cached_property
    def former_ids(self) -> dict[str, str]:
        """Each former id of the catalogue (an alias no current entry has) -> the id of
        the entry that now holds it: harmonize moves a former id's rows there."""
        from welfare_observatory.harmonize.engine import former_ids

        return former_ids(self.indicators)

    def edition_inputs(self, environment: str | None = None) -> str:
        """Digest of what an edition depends on besides its configuration and the steps
        of its lineage: every definition (:meth:`fingerprint`; ``environment`` when the
        caller has it), the selection, the overrides file, the data files' sidecars and
        the order the sources are declared in (the configuration's digest sorts its keys;
        the sources' findings are listed in that order). Part of the build id: two builds
        of one id hold the same edition (the store keeps a build of the id it would write),
        so nothing an edition reads may be left out."""
        overrides = self.overrides
        return digest(
            {
                "declared": list(self.config.sources),
                "environment": environment if environment is not None else self.fingerprint(),
                "overrides": hashlib.sha256(overrides.read_bytes()).hexdigest()
                if overrides is not None
                else None,
                "selection": [i.id for i in self.selection],
                "sidecars": self.sidecars_digest,
            }
        )

    @cached_property
    def territories(self) -> TerritoryRegistry:
        from welfare_observatory.territory import registry

        return registry()

    @cached_property
    def codes(self) -> CodeTable:
        """Every territory key a source may use, for harmonize."""
        from welfare_observatory.harmonize import CodeTable

        return CodeTable.from_registry(self.territories)

    @cached_property
    def disclosure(self) -> DisclosureRecord | None:
        """The observatory's own disclosure rule file and its digest, for the manifest
        (None when it declares none). Read when the build starts (:meth:`prepare`), so a
        broken rule file stops it then, with its file and line."""
        declared = self.config.disclosure
        if declared is None:
            return None
        from welfare_observatory.protect import load_rule
        from welfare_observatory.store.edition import DisclosureRecord
        from welfare_observatory.yamlfile import safe_path

        path = safe_path(self.folder, declared, what="disclosure")
        load_rule(path)
        return DisclosureRecord(file=declared, sha256=hashlib.sha256(path.read_bytes()).hexdigest())

    @property
    def units(self) -> pint.UnitRegistry[Any]:
        """The build's pint registry: the library's units plus the plugins'."""
        if self._units is None:
            self._units = self.plugins.unit_registry()
        registry: pint.UnitRegistry[Any] = self._units
        return registry

    @property
    def units_when_needed(self) -> Any:
        """:attr:`units`, built on first use when no plugin defines units: most builds convert
        nothing and need no pint registry (a quarter of a second with the import). A plugin's
        definitions are checked at once, whether a conversion happens or not."""
        if self._units is None and not self.plugins.units():
            from welfare_observatory.units import LazyRegistry

            return LazyRegistry(lambda: self.units)
        return self.units

    @cached_property
    def known_territories(self) -> Collection[str]:
        """Codes the build may meet: the registry's, the declared groupings and districts."""
        settings = self.config.territory
        known = set(self.codes.territories)
        known.update(settings.groupings)
        if isinstance(settings.districts, dict):
            known.update(settings.districts)
        return frozenset(known)

    @cached_property
    def hierarchy(self) -> pa.Table:
        """One row per municipality in force on the reference date, a column per level."""
        settings = self.config.territory
        if isinstance(settings.districts, dict):
            return self.territories.hierarchy(self.reference, districts=settings.districts)
        return self.territories.hierarchy(self.reference)

    @cached_property
    def checks(self) -> CheckRegistry:
        """The built-in validation checks plus the plugins'."""
        from typing import cast

        from welfare_observatory.validate.builtin import default_checks
        from welfare_observatory.validate.checks import Check

        plugin_checks = self.plugins.registrations("check")
        return default_checks(
            # The check collector accepted only callables with the Check signature.
            extra={r.id: cast(Check, r.value) for r in plugin_checks},
            owners={r.id: r.distribution or r.plugin for r in plugin_checks},
        )

    def prepare(self) -> BuildEnvironment:
        """Build the registries the sources read now, so no source's time (and timeout)
        pays for them (the pint registry only when plugins define units: else the first
        conversion builds it); returns itself."""
        names = ("codes", "units_when_needed", "hierarchy", "known_territories", "checks")
        for name in (*names, "disclosure"):
            getattr(self, name)
        return self

    def http(self) -> Any:
        """The HTTP client of the build: one per process, so per-host limits hold."""
        from welfare_observatory.sources.http import shared_client

        return shared_client()

    def cache(self, root: Path) -> Any:
        """The content-addressed payload cache under ``root``."""
        from welfare_observatory.sources.cache import Cache

        return Cache(root)

    def fingerprint(self, indicators: Iterable[str] | None = None) -> str:
        """Digest of the definitions a step may read: ``indicators`` (all when None), the
        unit and code-list definitions, the reference date and the versions.

        The :func:`~welfare_observatory.lineage.digest` of ``{"codelists", "indicators",
        "reference_date", "units", "versions"}``, its canonical JSON assembled from parts made
        once per build (each source asks with its few indicators; :meth:`_fingerprint_value`
        is the value it digests)."""
        ids = sorted(self.indicators if indicators is None else set(indicators))
        parts, done = self._fingerprint_parts, self._indicator_parts
        listed = ",".join(done[i] if i in done else self._indicator_json(i) for i in ids)
        # Hashed in three pieces, not one string made of them: with every indicator the
        # list is over 1 MB, copied once more for nothing (about 1 ms a build).
        digest = hashlib.sha256(f'{{"codelists":{parts["codelists"]},"indicators":['.encode())
        digest.update(listed.encode("utf-8"))
        digest.update(
            f'],"reference_date":{parts["reference_date"]},"units":{parts["units"]},'
            f'"versions":{parts["versions"]}}}'.encode()
        )
        return digest.hexdigest()

    def _fingerprint_value(self, indicators: Iterable[str] | None = None) -> dict[str, Any]:
        """What :meth:`fingerprint` digests, as one value (the reference for its tests)."""
        ids = sorted(self.indicators if indicators is None else set(indicators))
        return {
            "indicators": [
                self.indicators[i].model_dump(mode="json") if i in self.indicators else i
                for i in ids
            ],
            **self._fingerprint_rest(),
        }

    def _fingerprint_rest(self) -> dict[str, Any]:
        return {
            "units": list(self.unit_definitions),
            "codelists": {k: dict(sorted(v.items())) for k, v in sorted(self.codelists.items())},
            "reference_date": self.reference.isoformat(),
            "versions": dict(sorted(self.versions.items())),
        }

    def _indicator_json(self, ident: str) -> str:
        known = self.definition_texts.get(ident)
        if known is not None and ident in self.indicators:
            self._indicator_parts[ident] = known
            return known
        value: Any = (
            self.indicators[ident].model_dump(mode="json") if ident in self.indicators else ident
        )
        text = canonical_json(value)
        if ident in self.indicators:
            self._indicator_parts[ident] = text
        return text

    @cached_property
    def _fingerprint_parts(self) -> dict[str, str]:
        """Canonical JSON of the parts besides the indicators (the environment is read-only
        once made, so a part never changes)."""
        return {k: canonical_json(v) for k, v in self._fingerprint_rest().items()}

    @cached_property
    def _indicator_parts(self) -> dict[str, str]:
        """Canonical JSON of each indicator's definition, made when first asked for."""
        return {}


def rules_text(rules: Iterable[HarmonizeRule]) -> str:
    """Harmonization rules as the canonical JSON a step key digests (dumped by alias)."""
    return canonical_json([r.model_dump(mode="json", by_alias=True) for r in rules])


def rules_texts(config: ObservatoryConfig, config_json: str) -> dict[str, str]:
    """:attr:`BuildEnvironment.rules_texts` of ``config`` (whose canonical JSON is
    ``config_json``). Cached by that text and the modules that dump it: the rules go
    through the serialiser that made ``config_json``, so one configuration text, under one
    code, is one set of rules texts. (A source's options are not: they are kept as written,
    and two values the dump writes alike, ``inf`` and ``None``, must not share a key.)"""
    import inspect

    from welfare_observatory import _startup_cache, lineage
    from welfare_observatory.harmonize import rules as rules_module

    def made() -> dict[str, str]:
        return {sid: rules_text(source.rules) for sid, source in config.sources.items()}

    try:
        # The configuration's module by its class (the build does not import it: it sits
        # above the build).
        code = [Path(inspect.getfile(type(config)))]
        code += [Path(m.__file__ or "") for m in (rules_module, lineage)]
        key = _startup_cache.inputs_digest(code, hashlib.sha256(config_json.encode()).hexdigest())
    except (OSError, TypeError):  # a class without a file (made at run time): not cached
        return made()
    texts = _startup_cache.cached("rules_texts", key, build=made)
    if not isinstance(texts, dict) or texts.keys() != config.sources.keys():
        return made()  # a foreign entry under this key: never trusted
    if not all(isinstance(text, str) for text in texts.values()):
        return made()
    return texts


def make_environment(
    observatory: ObservatoryLike, *, loader: Loader | None = None
) -> BuildEnvironment:
    """The environment of ``observatory``'s build (plugins loaded, catalogue read)."""
    from welfare_observatory._version import __version__, engine_versions
    from welfare_observatory.units import DEFINITIONS

    plugins = observatory.plugins
    versions = {"welfare-observatory": __version__, **engine_versions()}
    for plugin in plugins.plugins():
        if plugin.distribution and plugin.version:
            versions[plugin.distribution] = plugin.version
    config = observatory.config
    catalog = observatory.catalog
    texts = getattr(catalog, "definition_texts", None)
    return BuildEnvironment(
        config=config,
        folder=Path(observatory.folder),
        config_file=observatory.config_file,
        plugins=plugins,
        indicators={i.id: i for i in catalog},
        selection=tuple(observatory.selection()),
        versions=versions,
        unit_definitions=(*DEFINITIONS, *plugins.units()),
        codelists={k: dict(v) for k, v in plugins.codelists().items()},
        overrides=observatory.path(config.overrides, what="overrides")
        if config.overrides
        else None,
        loader=loader,
        definition_texts=texts() if callable(texts) else {},
    )
