"""Reading catalogue files into checked indicators and profiles.

A catalogue is built from *layers*: the shipped files first, then each path an observatory
adds. Inside one layer an id may be defined once; a later layer may redefine an id of an
earlier one (an observatory adapting a shipped definition). Every problem is collected with
its file, line and field, and all of them are raised together as one
:class:`~welfare_observatory.catalog._model.CatalogValidationError`.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from welfare_observatory.catalog import _units
from welfare_observatory.catalog._model import (
    CatalogValidationError,
    DeprecatedIndicatorWarning,
    Profile,
)
from welfare_observatory.catalog._yaml import KEY_LINES, LINE, line_of, read_yaml, strip_lines
from welfare_observatory.errors import (
    CatalogError,
    Location,
    UndefinedUnitError,
    UnknownSdgError,
    closest,
)
from welfare_observatory.model.indicator import Indicator

PACKAGE = Path(__file__).parent
SHIPPED_DATA = PACKAGE / "data"
SHIPPED_PROFILES = PACKAGE / "profiles"


@dataclass
class Loaded:
    """What the layers define once checked: indicators, profiles and where each was written."""

    indicators: dict[str, Indicator] = field(default_factory=dict)
    profiles: dict[str, Profile] = field(default_factory=dict)
    origin: dict[str, Location] | Origins = field(default_factory=dict)
    """Where each indicator is defined: a dict as the files are read, :class:`Origins` when
    restored from the start-up cache."""
    overridden: list[str] = field(default_factory=list)
    errors: list[CatalogError] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    """Deprecation notices (a profile listing a former id), warned when the load ends."""
    definitions: dict[str, str] = field(default_factory=dict)
    """Each indicator's canonical JSON (:func:`definition_text`), made when the start-up
    cache stores the catalogue: a build digests every definition (its steps' fingerprints),
    and the text then costs no process more than reading it."""
    _raw: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    _raw_profiles: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)


def layer_files(path: Path) -> list[Path]:
    """The YAML files of a layer: the file itself, or a folder's files and its profiles/."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise CatalogError(
            f"no catalogue file or folder at {path}", location=Location(file=str(path))
        )
    files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    profiles = path / "profiles"
    if profiles.is_dir():
        files += sorted(p for p in profiles.iterdir() if p.suffix in (".yaml", ".yml"))
    for file in [*files, profiles]:
        if file.is_symlink():
            # Its definitions are published: a link would publish a file from anywhere.
            raise CatalogError(
                f"{file.name} in the catalogue folder {path} is a symbolic link",
                location=Location(file=str(file)),
                hint="copy the file into the folder: links are not followed",
            )
    return files


def shipped_layer() -> list[Path]:
    """The files shipped with the library: indicator files, then profiles."""
    files = sorted(SHIPPED_DATA.glob("*.yaml"))
    return files + sorted(SHIPPED_PROFILES.glob("*.yaml"))


def _error(
    file: str,
    raw: Any,
    loc: Sequence[int | str],
    message: str,
    hint: str | None = None,
) -> CatalogError:
    field_name = ".".join(str(part) for part in loc) or None
    return CatalogError(
        message,
        location=Location(file=file, line=line_of(raw, loc), field=field_name),
        hint=hint,
    )


def _entry_name(raw: Any) -> str:
    value = raw.get("id") if isinstance(raw, dict) else None
    return f"entry {value!r}" if isinstance(value, str) else "entry"


def _validation_errors(file: str, raw: Any, exc: ValidationError) -> list[CatalogError]:
    out = []
    for item in exc.errors(include_url=False):
        loc = [part for part in item["loc"] if part not in ("__root__",)]
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        out.append(_error(file, raw, loc, f"{_entry_name(raw)}: {message}"))
    return out


CACHED_LAYER_BYTES = 32_000
"""Layers at least this large (the shipped one, plugins' catalogues) have their parse cached."""


def _cached_documents(files: Sequence[Path]) -> dict[str, Any]:
    """The parsed files of a large layer (file -> document), from the start-up cache when it
    has them: the same files parse to the same documents in every process.

    Empty for a small layer, or when a file does not parse or cannot be read: the caller then
    reads every file itself and reports each problem with its location."""
    from welfare_observatory import _startup_cache, yamlfile
    from welfare_observatory.catalog import _yaml

    def parse() -> dict[str, Any]:
        return {str(path): read_yaml(path) for path in files}

    try:
        if sum(path.stat().st_size for path in files) < CACHED_LAYER_BYTES:
            return {}
        key = _startup_cache.inputs_digest(
            [*files, Path(_yaml.__file__), Path(yamlfile.__file__)], *(str(path) for path in files)
        )
        documents = _startup_cache.cached("catalog", key, build=parse, keep=16)
    except (CatalogError, OSError):
        return {}
    return documents if set(documents) == {str(path) for path in files} else {}


def _read_layer(files: Iterable[Path], loaded: Loaded) -> None:
    """Parse one layer's files into ``loaded``; later layers override earlier ids."""
    seen: dict[str, Location] = {}
    seen_profiles: dict[str, Location] = {}
    files = list(files)
    documents = _cached_documents(files)
    for path in files:
        file = str(path)
        try:
            data = documents[file] if file in documents else read_yaml(path)
        except CatalogError as exc:
            loaded.errors.append(exc)
            continue
        if data is None:
            continue
        if isinstance(data, dict) and "indicators" in data:
            _read_profile(file, data, loaded, seen_profiles)
            continue
        if not isinstance(data, list):
            loaded.errors.append(
                CatalogError(
                    "a catalogue file is a list of entries, or a profile mapping",
                    location=Location(file=file, line=1),
                )
            )
            continue
        for position, raw in enumerate(data):
            line = data.lines[position] if hasattr(data, "lines") else None
            if not isinstance(raw, dict):
                loaded.errors.append(
                    CatalogError(
                        "an entry is a mapping of fields (id, label, unit, ...)",
                        location=Location(file=file, line=line),
                    )
                )
                continue
            try:
                indicator = Indicator.model_validate(strip_lines(raw))
            except ValidationError as exc:
                loaded.errors.extend(_validation_errors(file, raw, exc))
                continue
            where = Location(file=file, line=raw[LINE])
            if indicator.id in seen:
                loaded.errors.append(
                    _error(
                        file,
                        raw,
                        ["id"],
                        f"duplicate id {indicator.id!r} (also at {seen[indicator.id]})",
                        hint="ids are unique across the catalogue; rename one or make it an alias",
                    )
                )
                continue
            seen[indicator.id] = where
            if indicator.id in loaded.indicators:
                loaded.overridden.append(indicator.id)
            loaded.indicators[indicator.id] = indicator
            assert isinstance(loaded.origin, dict)  # (a catalogue being read)
            loaded.origin[indicator.id] = where
            loaded._raw[indicator.id] = (file, raw)


def _read_profile(
    file: str, raw: dict[str, Any], loaded: Loaded, seen: dict[str, Location]
) -> None:
    try:
        profile = Profile.model_validate(strip_lines(raw))
    except ValidationError as exc:
        loaded.errors.extend(_validation_errors(file, raw, exc))
        return
    if profile.id in seen:
        loaded.errors.append(
            _error(
                file,
                raw,
                ["id"],
                f"duplicate profile id {profile.id!r} (also at {seen[profile.id]})",
            )
        )
        return
    seen[profile.id] = Location(file=file, line=raw[LINE])
    loaded.profiles[profile.id] = profile
    loaded._raw_profiles[profile.id] = (file, raw)


def _check_aliases(loaded: Loaded) -> dict[str, str]:
    """Alias -> id; an alias may not be an id or another entry's alias."""
    aliases: dict[str, str] = {}
    for indicator in loaded.indicators.values():
        file, raw = loaded._raw[indicator.id]
        for position, alias in enumerate(indicator.aliases):
            clash = alias if alias in loaded.indicators else aliases.get(alias)
            if clash is not None and clash != indicator.id:
                loaded.errors.append(
                    _error(
                        file,
                        raw,
                        ["aliases", position],
                        f"{_entry_name(raw)}: alias {alias!r} is already used by {clash!r}",
                    )
                )
                continue
            aliases[alias] = indicator.id
    return aliases


def _check_units(loaded: Loaded, registry: Any = None) -> set[str]:
    """Report units pint cannot parse; return the ids that have one."""
    bad: dict[str, UndefinedUnitError] = {}
    for indicator in loaded.indicators.values():
        try:
            _units.parse(indicator.unit, registry)
        except UndefinedUnitError as exc:
            bad[indicator.id] = exc
    for ident, problem in bad.items():
        file, raw = loaded._raw[ident]
        loaded.errors.append(
            _error(file, raw, ["unit"], f"{_entry_name(raw)}: {problem.message}", hint=problem.hint)
        )
    return set(bad)


def _check_formulas(
    loaded: Loaded, aliases: dict[str, str], bad_units: set[str], registry: Any = None
) -> None:
    ids = list(loaded.indicators)
    for indicator in loaded.indicators.values():
        formula = indicator.formula
        if formula is None:
            continue
        file, raw = loaded._raw[indicator.id]
        operands = {"numerator": formula.numerator, "denominator": formula.denominator}
        missing = False
        for role, operand in operands.items():
            if operand in loaded.indicators:
                continue
            missing = True
            if operand in aliases:
                hint: str | None = f"{operand!r} is a former id: use {aliases[operand]!r}"
            else:
                near = closest(operand, ids)
                hint = "did you mean " + ", ".join(map(repr, near)) + "?" if near else None
            loaded.errors.append(
                _error(
                    file,
                    raw,
                    ["formula", role],
                    f"{_entry_name(raw)}: formula {role} {operand!r} is not in the catalogue",
                    hint=hint,
                )
            )
        # a bad unit is reported once, on its own entry, not again on every formula using it
        if missing or bad_units & {indicator.id, *operands.values()}:
            continue
        problem = _units.formula_problem(
            indicator.unit,
            loaded.indicators[formula.numerator].unit,
            loaded.indicators[formula.denominator].unit,
            formula.multiplier,
            registry,
        )
        if problem:
            loaded.errors.append(
                _error(
                    file,
                    raw,
                    ["formula"],
                    f"{_entry_name(raw)}: {problem}",
                    hint="a rate relates two counts; percent needs multiplier 100, "
                    "per_thousand 1000",
                )
            )


def _framework_resolver() -> Any:
    """``resolve(id, version)`` from the SDG framework, or None while it is not installed."""
    try:
        from welfare_observatory import sdg
    except ImportError:
        return None
    framework = getattr(sdg, "framework", None)
    if framework is None:
        return None

    def resolve(sdg_id: str, version: str) -> None:
        framework(version).resolve(sdg_id)

    return resolve


def _check_sdg(loaded: Loaded) -> None:
    resolve = _framework_resolver()
    if resolve is None:
        return  # SdgLink already checked the shape of every id
    for indicator in loaded.indicators.values():
        file, raw = loaded._raw[indicator.id]
        for position, link in enumerate(indicator.sdg):
            try:
                resolve(link.id, link.framework)
            except UnknownSdgError as exc:
                loaded.errors.append(
                    _error(
                        file,
                        raw,
                        ["sdg", position, "id"],
                        f"{_entry_name(raw)}: unknown SDG id {link.id!r}",
                        hint=exc.hint,
                    )
                )
            except (LookupError, ValueError) as exc:
                loaded.errors.append(
                    _error(
                        file,
                        raw,
                        ["sdg", position, "framework"],
                        f"{_entry_name(raw)}: {exc}",
                    )
                )


def _check_profiles(loaded: Loaded, aliases: dict[str, str]) -> None:
    """Profiles list existing, verified entries once each.

    A former id (an alias) still works, so that nobody's profile breaks when entries are
    merged or renamed: it is replaced by the surviving id, with a
    :class:`DeprecatedIndicatorWarning` naming the file, line and new id.
    """
    ids = list(loaded.indicators)
    for profile in list(loaded.profiles.values()):
        file, raw = loaded._raw_profiles[profile.id]
        seen: set[str] = set()
        listed: list[str] = []
        for position, ident in enumerate(profile.indicators):
            loc: list[int | str] = ["indicators", position]
            name = f"profile {profile.id!r}"
            if ident not in loaded.indicators and ident in aliases:
                new = aliases[ident]
                loaded.notices.append(
                    f"{file}:{line_of(raw, loc)}: {name} lists {ident!r}, a deprecated id: it "
                    f"was merged into or renamed to {new!r}; use {new!r}"
                )
                ident = new
            listed.append(ident)
            if ident in seen:
                loaded.errors.append(_error(file, raw, loc, f"{name}: {ident!r} is listed twice"))
            seen.add(ident)
            indicator = loaded.indicators.get(ident)
            if indicator is None:
                near = closest(ident, ids)
                hint = "did you mean " + ", ".join(map(repr, near)) + "?" if near else None
                loaded.errors.append(
                    _error(file, raw, loc, f"{name}: unknown indicator {ident!r}", hint=hint)
                )
            elif not indicator.source.verified:
                loaded.errors.append(
                    _error(
                        file,
                        raw,
                        loc,
                        f"{name}: {ident!r} is not verified (source.verified is false)",
                        hint="profiles list only entries whose definition was checked on the "
                        "publisher's own material",
                    )
                )
        if tuple(listed) != profile.indicators:
            loaded.profiles[profile.id] = profile.model_copy(update={"indicators": tuple(listed)})


def load_layers(layers: Sequence[Sequence[Path]], units: Any = None) -> Loaded:
    """Read and check every layer (a list of files each); raise all problems together.

    ``units``: the pint registry units are checked against (with plugins' units; the
    library's when None). A profile that lists a former id warns
    (:class:`DeprecatedIndicatorWarning`), whether the result comes from the start-up cache
    or not."""
    key = _checked_key(layers) if units is None else None
    if key is None:
        loaded = _check_layers(layers, units)
    else:
        from welfare_observatory import _startup_cache

        loaded = _startup_cache.cached(
            "catalog_checked",
            key,
            build=lambda: _check_layers(layers, None),
            dump=_storable,
            keep=16,  # one per observatory (and library version) in use
        )
    for notice in loaded.notices:
        warnings.warn(notice, DeprecatedIndicatorWarning, stacklevel=1)
    if loaded.errors:
        raise CatalogValidationError(loaded.errors)
    return loaded


def _check_layers(layers: Sequence[Sequence[Path]], units: Any) -> Loaded:
    loaded = Loaded()
    for files in layers:
        _read_layer(files, loaded)
    aliases = _check_aliases(loaded)
    bad_units = _check_units(loaded, units)
    _check_formulas(loaded, aliases, bad_units, units)
    _check_sdg(loaded)
    _check_profiles(loaded, aliases)
    loaded._raw.clear()
    loaded._raw_profiles.clear()
    return loaded


def _storable(loaded: Loaded) -> Loaded:
    """A checked catalogue as the start-up cache stores it: only one without errors (a
    broken file is read, and reported with its lines, again the next time).

    The entry holds copies of the indicators whose equal parts are one object (``Text``,
    ``Provenance``, SDG links and strings that many entries repeat: a third fewer objects
    to unpickle in every process) and the places as file and line (:class:`Origins`)."""
    import copy

    if loaded.errors:
        raise ValueError("a catalogue with errors is not cached")
    loaded.definitions = {i: definition_text(ind) for i, ind in loaded.indicators.items()}
    copies = copy.deepcopy(loaded.indicators)
    return dataclasses.replace(
        loaded,
        indicators=_shared(copies),
        origin=Origins.of(loaded.origin),
    )


def _shared(indicators: dict[str, Indicator]) -> dict[str, Indicator]:
    """``indicators`` (copies nothing else holds) with each set of equal strings, and of
    equal immutable models within them, made one object, in place: pickled, each is then
    written once. Sharing is invisible: the models are frozen, and only those whose values
    are all immutable are shared."""
    import pickle

    from pydantic import BaseModel

    strings: dict[str, str] = {}
    models: dict[tuple[type, bytes], BaseModel] = {}

    def one(value: Any) -> tuple[Any, bool]:
        """The shared form of ``value``, and whether it is immutable."""
        if isinstance(value, str):
            return strings.setdefault(value, value), True
        if value is None or isinstance(value, bool | int | float | Enum):
            return value, True
        if isinstance(value, tuple):
            items = [one(v) for v in value]
            return tuple(v for v, _ in items), all(fixed for _, fixed in items)
        if isinstance(value, BaseModel):
            fixed = bool(value.model_config.get("frozen"))
            fixed = fixed and not value.__pydantic_extra__ and not value.__pydantic_private__
            state = value.__dict__
            for name, item in list(state.items()):
                state[name], item_fixed = one(item)
                fixed = fixed and item_fixed
            if not fixed:
                return value, False
            return models.setdefault((type(value), pickle.dumps(value, protocol=5)), value), True
        return value, False

    return {strings.setdefault(k, k): one(v)[0] for k, v in indicators.items()}


class Origins(Mapping[str, Location]):
    """Indicator id -> where it is defined, kept as file and line, each :class:`Location`
    made when asked for: a catalogue restored from the start-up cache makes 900 of them
    otherwise (2 ms in every process), and only an error or ``Catalog.origin`` reads one."""

    def __init__(self, places: Mapping[str, tuple[str | None, int | None] | Location]) -> None:
        self._places = dict(places)

    @classmethod
    def of(cls, origin: Mapping[str, Location]) -> Origins:
        """``origin`` kept compact: a place of only a file and a line as the pair."""
        files: dict[str | None, str | None] = {}
        places: dict[str, tuple[str | None, int | None] | Location] = {}
        for ident, where in origin.items():
            if where == Location(file=where.file, line=where.line):
                places[ident] = (files.setdefault(where.file, where.file), where.line)
            else:
                places[ident] = where
        return cls(places)

    def __getitem__(self, ident: str) -> Location:
        place = self._places[ident]
        if isinstance(place, Location):
            return place
        return Location(file=place[0], line=place[1])

    def __iter__(self) -> Iterator[str]:
        return iter(self._places)

    def __len__(self) -> int:
        return len(self._places)


def definition_text(indicator: Indicator) -> str:
    """The canonical JSON of an indicator's definition, as build fingerprints digest it."""
    from welfare_observatory.lineage import canonical_json

    return canonical_json(indicator.model_dump(mode="json"))


def _checked_key(layers: Sequence[Sequence[Path]]) -> str | None:
    """The start-up cache key of the checked layers: the files (paths, layer by layer, and
    bytes) and everything that reads or checks them (this package's code and unit table,
    the models, the SDG framework, the units, errors and YAML code, and the installed pint
    and PyYAML, which parse units and files). None when a file cannot be read: the slow
    path reports it."""
    from welfare_observatory import _startup_cache, errors, lineage, units, yamlfile
    from welfare_observatory.model import common

    sdg = Path(errors.__file__).parent / "sdg"
    code = [
        *sorted(PACKAGE.glob("*.py")),
        PACKAGE / "data" / "_units.json",
        *sorted(Path(common.__file__).parent.glob("*.py")),
        *sorted(sdg.glob("*.py")),
        *sorted((sdg / "data").glob("*.json")),
        Path(units.__file__),
        Path(errors.__file__),
        Path(yamlfile.__file__),
        Path(lineage.__file__),  # canonical JSON of the stored definitions
    ]
    files = [path for files in layers for path in files]
    where = [
        str(len(layers)),
        *(str(path) for files in layers for path in (*files, "|")),
        _startup_cache.distribution("pint", "pint"),
        _startup_cache.distribution("yaml", "PyYAML"),
    ]
    try:
        return _startup_cache.inputs_digest([*files, *code], *where)
    except OSError:
        return None


def shipped_units() -> set[str]:
    """Every unit string written in the shipped indicator files (no validation), and the
    :data:`~welfare_observatory.catalog._units.COMMON_UNITS` of plugin catalogues."""
    units: set[str] = set(_units.COMMON_UNITS)
    for path in sorted(SHIPPED_DATA.glob("*.yaml")):
        data = read_yaml(path)
        for raw in data or ():
            if isinstance(raw, dict) and isinstance(raw.get("unit"), str):
                units.add(raw["unit"].strip())
    return units


__all__ = ["KEY_LINES", "Loaded", "Origins", "layer_files", "load_layers", "shipped_layer"]
