"""The observatory file (``observatory.yaml``) as typed, frozen models.

Nothing in it is executed. Paths stay inside the observatory's folder. Codes stay text
(see :mod:`welfare_observatory.yamlfile`). Errors name the file, the line and the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Self

from pydantic import (
    Field,
    GetCoreSchemaHandler,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import core_schema

from welfare_observatory.errors import ConfigError, Location
from welfare_observatory.harmonize.rules import HarmonizeRule
from welfare_observatory.model.common import Frozen, Text
from welfare_observatory.model.override import Override
from welfare_observatory.model.reliability import ReliabilitySettings
from welfare_observatory.yamlfile import (
    CONFIG_FILE,
    YamlDocument,
    load_yaml,
    safe_path,
    validation_error,
)

if TYPE_CHECKING:
    from welfare_observatory.sdk import Source

__all__ = [
    "CONFIG_FILE",
    "Grouping",
    "GroupingMembers",
    "IndicatorSelection",
    "ObservatoryConfig",
    "Override",
    "ReportSettings",
    "SourceConfig",
    "TerritorySettings",
    "load_config",
    "safe_path",
]

_ID = r"^[a-z][a-z0-9_-]*$"


_PARTICLES = frozenset({"a", "al", "d", "da", "dal", "de", "dei", "del", "della", "delle"})
_PARTICLES |= {"di", "e", "ed", "in", "la", "le", "lo", "sul", "sulla"}


def readable_id(key: str) -> str:
    """``valle_del_cervo`` -> ``Valle del Cervo``: words capitalized, short Italian
    articles and prepositions kept lower case after the first word."""
    words = [w for w in re.split(r"[_-]+", key) if w]
    return " ".join(
        w if i and w in _PARTICLES else w[:1].upper() + w[1:] for i, w in enumerate(words)
    )


class Grouping(Frozen):
    """One declared grouping as written: its members and, optionally, its name."""

    members: tuple[str, ...] = Field(min_length=1)
    """Municipality codes (six digits, text)."""
    name: Text | None = None
    """Name per language; without one the report shows the id made readable."""

    @model_validator(mode="before")
    @classmethod
    def _list_form(cls, data: Any) -> Any:
        # ``valle_cervo: ["096004", ...]``: the short form, members only.
        if isinstance(data, GroupingMembers):
            return {"members": tuple(data), "name": data.name}
        if isinstance(data, list | tuple):
            return {"members": data}
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            # ``name: Valle Cervo``: one name for every language.
            return {**data, "name": {"it": data["name"], "en": data["name"]}}
        if not isinstance(data, dict | Grouping):
            raise ValueError(
                "a grouping is a list of municipality codes or "
                "{name: {it: ..., en: ...}, members: [...]}"
            )
        return data


class GroupingMembers(tuple[str, ...]):
    """The member codes of a declared grouping (a tuple: what the build aggregates), with
    the grouping's declared ``name`` (None when the file gives the list form only)."""

    name: Text | None

    def __new__(cls, members: tuple[str, ...], name: Text | None = None) -> Self:
        made = super().__new__(cls, members)
        made.name = name
        return made

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # Validated as ``Grouping`` (errors name ``members``/``name``), kept as a tuple.
        return core_schema.no_info_after_validator_function(
            lambda grouping: cls(grouping.members, grouping.name),
            handler.generate_schema(Grouping),
            serialization=core_schema.plain_serializer_function_ser_schema(cls._dump),
        )

    @staticmethod
    def _dump(members: GroupingMembers) -> Any:
        if members.name is None:
            return list(members)
        return {"name": members.name.model_dump(), "members": list(members)}


class TerritorySettings(Frozen):
    """The observatory's territory and what it is compared with."""

    code: str = Field(min_length=2)
    """Canonical territory id: a province (``096``), a region, or a declared grouping."""
    reference_date: date
    """Date of the territory list every series is reconciled to (recorded in the manifest)."""
    comparisons: tuple[str, ...] = ()
    """Comparison territories: region, NUTS 1 area, ``IT``, peer provinces."""
    groupings: dict[str, GroupingMembers] = Field(default_factory=dict)
    """Declared groupings: id -> municipality codes (ids become ``grouping:<id>``), each
    written as a list of codes or as ``{name: {it, en}, members: [...]}``."""
    districts: bool | dict[str, tuple[str, ...]] = True
    """``true``: aggregate to the social districts whose membership the library knows;
    ``false``: no district aggregates; a mapping ``T01024: [096004, ...]`` declares the
    members of Istat's districts (ids with or without ``district:``)."""

    @field_validator("groupings")
    @classmethod
    def _grouping_ids(cls, value: dict[str, GroupingMembers]) -> dict[str, GroupingMembers]:
        for key in value:
            if not re.match(_ID, key):
                raise ValueError(f"grouping id {key!r} must be lower_snake_case")
        return value

    def grouping_name(self, key: str) -> Text:
        """The name of grouping ``key`` (declared, else the id made readable)."""
        declared = self.groupings[key].name
        if declared:
            return declared
        readable = readable_id(key)
        return Text(it=readable, en=readable)


class IndicatorSelection(Frozen):
    """A profile of the catalogue plus additions and removals."""

    profile: str | None = None
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    catalog: tuple[str, ...] = ()
    """Extra catalogue files of this observatory (paths inside its folder)."""

    @model_validator(mode="after")
    def _something_selected(self) -> Self:
        if self.profile is None and not self.add:
            raise ValueError("select indicators with 'profile' and/or 'add'")
        overlap = set(self.add) & set(self.remove)
        if overlap:
            raise ValueError("ids both added and removed: " + ", ".join(sorted(overlap)))
        return self


class SourceConfig(Frozen):
    """One source: its plugin type, the plugin's options and the harmonization rules."""

    type: str = Field(min_length=1)
    description: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    """The source type's options as written; :func:`load_config` validates them against
    the type's ``Options`` model when it knows the type (see ``source_types``)."""
    rules: tuple[HarmonizeRule, ...] = ()
    """Harmonization rules (one mapping or a list in the file), validated when the file
    loads: an error names the file, the line and the field."""
    enabled: bool = True
    priority: int = 0
    """When two sources give the same value, the higher priority wins (docs/methods.md)."""

    @field_validator("rules", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if value is None:
            return ()
        return [value] if isinstance(value, dict | HarmonizeRule) else value


class ReportSettings(Frozen):
    title: Text = Text()
    languages: tuple[str, ...] = ("it", "en")
    deepdive: str | None = None
    """Markdown file of the thematic deep-dive, inside the observatory's folder (with a
    per-language mapping in the file, the first language's file)."""
    deepdives: dict[str, str] = Field(default_factory=dict)
    """Deep-dive per language, from ``deepdive: {it: a.md, en: b.md}`` in the file."""
    progress_method: str = "istat"
    templates: str | None = None
    """Folder of report template overrides inside the observatory, searched first."""

    @model_validator(mode="before")
    @classmethod
    def _deepdive_per_language(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("deepdive"), dict):
            return data
        files = {str(k): str(v) for k, v in data["deepdive"].items()}
        unknown = [lang for lang in files if lang not in ("it", "en")]
        if unknown or not files:
            raise ValueError("deepdive: a file, or a mapping {it: file, en: file}")
        order = [*(data.get("languages") or ()), "it", "en"]
        first = next(files[lang] for lang in order if lang in files)
        return {**data, "deepdive": first, "deepdives": files}

    def deepdive_for(self, lang: str) -> str | None:
        """The deep-dive file of ``lang`` (the single file when there is no mapping)."""
        return self.deepdives.get(lang, self.deepdive)

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [lang for lang in value if lang not in ("it", "en")]
        if unknown:
            raise ValueError(f"languages must be 'it' or 'en', not {', '.join(unknown)}")
        return value


class ObservatoryConfig(Frozen):
    """The whole ``observatory.yaml``."""

    id: str = Field(pattern=_ID)
    name: Text
    edition: str = Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]*$")
    """Name of the edition a build produces (``2025``); published editions are frozen."""
    periodicity: str = "annual"
    territory: TerritorySettings
    indicators: IndicatorSelection
    sources: dict[str, SourceConfig] = Field(default_factory=dict)
    overrides: str | None = None
    """YAML file of hand corrections (a list of overrides), inside the folder."""
    governance: str | None = None
    report: ReportSettings = ReportSettings()
    licence: str = "CC-BY-4.0"
    """Licence of the observatory's open data (an SPDX id such as CC-BY-4.0)."""
    disclosure: str | None = None
    """YAML file of the disclosure rule (threshold, levels, indicator groups) that
    ``publish`` and ``report`` apply, inside the folder; without it, the default rule."""
    reliability: ReliabilitySettings = ReliabilitySettings()
    """When a rate is marked low reliability (obs_status U); see docs/methods.md."""

    @field_validator("sources")
    @classmethod
    def _source_ids(cls, value: dict[str, SourceConfig]) -> dict[str, SourceConfig]:
        for key in value:
            if not re.match(_ID, key):
                raise ValueError(f"source id {key!r} must be lower_snake_case")
        return value


def load_config(
    path: Path, *, source_types: Mapping[str, type[Source]] | None = None
) -> ObservatoryConfig:
    """Read and validate ``observatory.yaml`` (``path`` is the file or its folder).

    The options of every source whose type is in ``source_types`` (type name -> Source
    class; by default the built-in ``table``, ``sdmx`` and ``ckan``) are validated against
    the type's ``Options`` model here, so a wrong option names the file and the line.
    """
    file = path / CONFIG_FILE if path.is_dir() else path
    if not file.exists():
        raise ConfigError(
            f"no {CONFIG_FILE} at {file.parent}",
            location=Location(file=str(file)),
            hint="create one with 'welfare-observatory new NAME --territory CODE'",
        )
    document = _parsed(file)
    if not isinstance(document.data, dict):
        raise ConfigError(
            f"{file.name} must be a mapping of keys to values",
            location=Location(file=str(file), line=1),
        )
    try:
        config = ObservatoryConfig.model_validate(document.data)
    except ValidationError as exc:
        raise validation_error(exc, document, model=ObservatoryConfig) from exc
    base = file.parent
    inside = _Inside(base)
    for loc, relative in _paths(config):
        field = ".".join(str(part) for part in loc)
        try:
            target = inside(relative, what=field)
        except ConfigError as exc:
            raise ConfigError(
                exc.message,
                location=Location(file=str(file), line=document.line_of(loc), field=field),
                hint=exc.hint,
            ) from None
        if not target.exists():
            raise ConfigError(
                f"{field}: {relative!r} does not exist",
                location=Location(file=str(file), line=document.line_of(loc), field=field),
            )
    for loc, relative in _source_paths(config):
        # Refused here, at load, not only when the source is fetched.
        field = ".".join(str(part) for part in loc)
        try:
            inside(relative, what=field)
        except ConfigError as exc:
            raise ConfigError(
                exc.message,
                location=Location(file=str(file), line=document.line_of(loc), field=field),
                hint="local files of a source must sit inside the observatory folder; "
                "use a path relative to it",
            ) from None
    _check_territories(config, document, file)
    _check_options(config, document, _builtin_types() if source_types is None else source_types)
    return config


class _Inside:
    """:func:`safe_path` for the many paths of one observatory: the same paths and errors,
    with the folder and each parent folder resolved once (a path's link-free last part adds
    nothing to its folder's resolution), not twice per path: 160 sources' files cost a
    hundredth of a second otherwise. Anything unusual (``..``, a link, an absolute path,
    a path outside) goes through :func:`safe_path` itself."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base.resolve()
        self._folders: dict[Path, Path] = {}

    def __call__(self, relative: str, *, what: str) -> Path:
        pure = PurePosixPath(relative.replace("\\", "/"))
        parts = pure.parts
        if not parts or pure.is_absolute() or ".." in parts or ":" in parts[0]:
            return safe_path(self.base, relative, what=what)
        target = self.base.joinpath(*parts)
        if target.is_symlink():
            return safe_path(self.base, relative, what=what)
        folder = target.parent
        real = self._folders.get(folder)
        if real is None:
            real = self._folders[folder] = folder.resolve()
        resolved = real / target.name
        if resolved != self.root and self.root not in resolved.parents:
            return safe_path(self.base, relative, what=what)  # raises, with the hint
        return resolved


CACHED_CONFIG_BYTES = 32_000
"""A configuration at least this large (a hundred sources and more) has its parse cached."""


def _parsed(file: Path) -> YamlDocument:
    """``load_yaml(file)``, from the start-up cache for a large file: the same bytes parse
    to the same document (values and lines) in every process, and a 160-source file takes
    a tenth of a second to parse, a hundredth to unpickle. A file that does not parse is
    never cached (the error is raised again each time, with its line)."""
    try:
        size = file.stat().st_size
    except OSError:
        size = 0
    if size < CACHED_CONFIG_BYTES:
        return load_yaml(file)
    from welfare_observatory import _startup_cache, yamlfile

    try:
        key = _startup_cache.inputs_digest([file, Path(yamlfile.__file__)], str(file))
    except OSError:
        return load_yaml(file)
    return _startup_cache.cached("config", key, build=lambda: load_yaml(file))


def _builtin_types() -> dict[str, type[Source]]:
    from welfare_observatory.sources.ckan import CkanSource
    from welfare_observatory.sources.sdmx import SdmxSource
    from welfare_observatory.sources.table import TableSource

    return {cls.type: cls for cls in (TableSource, SdmxSource, CkanSource)}


def _check_options(
    config: ObservatoryConfig, document: Any, types: Mapping[str, type[Source]]
) -> None:
    for source_id, source in config.sources.items():
        cls = types.get(source.type)
        if cls is None:
            continue  # a plugin's type: validated when the plugins are loaded
        try:
            cls.Options.model_validate(source.options)
        except ValidationError as exc:
            error = validation_error(
                exc, document, model=cls.Options, prefix=("sources", source_id, "options")
            )
            error.hint = error.hint or f"see the options of source type {source.type!r}"
            raise error from exc


def _paths(config: ObservatoryConfig) -> list[tuple[tuple[str | int, ...], str]]:
    paths: list[tuple[tuple[str | int, ...], str]] = []
    if config.overrides:
        paths.append((("overrides",), config.overrides))
    if config.governance:
        paths.append((("governance",), config.governance))
    if config.disclosure:
        paths.append((("disclosure",), config.disclosure))
    if config.report.deepdives:
        paths += [(("report", "deepdive", lang), f) for lang, f in config.report.deepdives.items()]
    elif config.report.deepdive:
        paths.append((("report", "deepdive"), config.report.deepdive))
    if config.report.templates:
        paths.append((("report", "templates"), config.report.templates))
    paths += [(("indicators", "catalog", i), p) for i, p in enumerate(config.indicators.catalog)]
    return paths


_PATH_KEY = re.compile(r"^(.*_)?paths?$")


def _source_paths(config: ObservatoryConfig) -> list[tuple[tuple[str | int, ...], str]]:
    """Local file options of the sources: keys ``path``, ``*_path`` (text) and ``paths``,
    ``*_paths`` (lists of text), the convention of the shipped source types."""
    paths: list[tuple[tuple[str | int, ...], str]] = []
    for source_id, source in config.sources.items():
        for key, value in source.options.items():
            if not _PATH_KEY.match(str(key)):
                continue
            loc: tuple[str | int, ...] = ("sources", source_id, "options", key)
            if isinstance(value, str):
                paths.append((loc, value))
            elif isinstance(value, list | tuple):
                paths += [((*loc, i), v) for i, v in enumerate(value) if isinstance(v, str)]
    return paths


def _check_territories(config: ObservatoryConfig, document: Any, file: Path) -> None:
    """The territory, the comparisons and the grouping members exist in the registry."""
    from welfare_observatory.errors import WelfareObservatoryError
    from welfare_observatory.model.territory import TerritoryLevel
    from welfare_observatory.territory import registry

    reg = registry()
    settings = config.territory
    declared = {f"grouping:{name}" for name in settings.groupings}

    def fail(loc: tuple[str | int, ...], code: str, problem: str, hint: str | None) -> None:
        field = ".".join(str(part) for part in loc)
        raise ConfigError(
            f"{field}: {problem}",
            location=Location(file=str(file), line=document.line_of(loc), field=field),
            hint=hint,
        )

    def known(loc: tuple[str | int, ...], code: str, *, municipality: bool = False) -> None:
        if code in declared and not municipality:
            return
        try:
            territory = reg.get(code)
        except WelfareObservatoryError:
            fail(loc, code, f"unknown territory code {code!r}", _closest_code(code, reg))
            return
        if municipality and territory.level is not TerritoryLevel.MUNICIPALITY:
            fail(
                loc,
                code,
                f"{code!r} is a {territory.level}, not a municipality",
                "grouping members are municipality codes (six digits, e.g. 096004)",
            )

    known(("territory", "code"), settings.code)
    for index, code in enumerate(settings.comparisons):
        known(("territory", "comparisons", index), code)
    for name, grouping in settings.groupings.items():
        # The long form ``{name, members}`` puts the codes one level deeper.
        where: tuple[str, ...] = ("territory", "groupings", name)
        if (*where, "members") in document.lines:
            where = (*where, "members")
        for index, code in enumerate(grouping):
            known((*where, index), code, municipality=True)
    if isinstance(settings.districts, dict):
        from welfare_observatory.territory.tables import declared_districts

        for key, members in settings.districts.items():
            for index, code in enumerate(members):
                known(("territory", "districts", key, index), code, municipality=True)
        try:
            declared_districts(reg, settings.reference_date, settings.districts)
        except WelfareObservatoryError as exc:
            key = exc.location.key if exc.location and exc.location.key else ""
            key = next((k for k in settings.districts if key.endswith(k)), key)
            fail(("territory", "districts", key), key, exc.message, exc.hint)


def _closest_code(code: str, reg: Any) -> str:
    """A hint naming the closest known codes, preferring the same province for a
    municipality code (``096999`` -> codes of Biella), or the territory a name/NUTS/
    abbreviation stands for."""
    from welfare_observatory.errors import WelfareObservatoryError, closest

    try:
        found = reg.find(code)
    except WelfareObservatoryError:
        found = None
    if found is not None:
        return f"did you mean {found.code!r} ({found.name})? territories are given by code"
    codes = [str(t.code) for t in reg]
    pool = [c for c in codes if len(c) == len(code) and c[:3] == code[:3]] or codes
    near = closest(code, pool)
    if not near:
        return "see 'welfare-observatory territory search TEXT' for codes"
    return "closest known: " + ", ".join(f"{c} ({reg.get(c).name})" for c in near)
