"""What each ``register_*`` hook accepts: one validating collector per hook.

A collector turns the arguments a plugin passed to ``register(...)`` into ``(id, value)``
or raises ValueError with the reason; the manager then rejects duplicate ids and records
the plugin and distribution. Adding a hook = a spec in ``hookspecs`` plus an entry here.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from welfare_observatory.errors import closest
from welfare_observatory.sdk import SOURCE_TYPE, Source, SourceOptions

__all__ = ["COLLECTORS", "Collector", "PluginInfo", "Registration", "hook_hint"]

_CODELIST_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


@dataclass(frozen=True, slots=True)
class Collector:
    """How one hook's registrations are checked: ``kind`` names them in listings."""

    hook: str
    kind: str
    accept: Callable[..., tuple[str, object]]


def _accept_source(cls: Any) -> tuple[str, object]:
    if not (isinstance(cls, type) and issubclass(cls, Source)):
        raise ValueError(f"{cls!r} is not a subclass of welfare_observatory.sdk.Source")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        raise ValueError(f"{cls.__name__} does not implement {missing}")
    name = getattr(cls, "type", None)
    if not isinstance(name, str) or not SOURCE_TYPE.match(name):
        raise ValueError(f"{cls.__name__}.type must be a lower_snake_case name, not {name!r}")
    options = getattr(cls, "Options", None)
    if not (isinstance(options, type) and issubclass(options, SourceOptions)):
        raise ValueError(f"{cls.__name__}.Options must subclass sdk.SourceOptions")
    if not isinstance(getattr(cls, "description", ""), str):
        raise ValueError(f"{cls.__name__}.description must be a string")
    return name, cls


def _accept_unit(definition: Any) -> tuple[str, object]:
    if not isinstance(definition, str) or "=" not in definition or "\n" in definition:
        raise ValueError(f"a unit is one pint definition line 'name = ...', not {definition!r}")
    name = definition.split("=", 1)[0].strip()
    if not name:
        raise ValueError(f"unit definition {definition!r} has no name")
    return name, definition.strip()


def _accept_catalog(path: Any) -> tuple[str, object]:
    if not isinstance(path, str | Path):
        raise ValueError(f"a catalogue is registered by its file path, not {path!r}")
    resolved = Path(path).resolve()
    if resolved.suffix not in (".yaml", ".yml"):
        raise ValueError(f"catalogue file {resolved.name!r} is not a .yaml file")
    if not resolved.is_file():
        raise ValueError(f"catalogue file {str(resolved)!r} does not exist")
    return str(resolved), resolved


def _accept_codelist(name: Any, mapping: Any) -> tuple[str, object]:
    if not isinstance(name, str) or not _CODELIST_NAME.match(name):
        raise ValueError(f"code list name {name!r} must be an identifier like CL_ASL")
    if not isinstance(mapping, Mapping) or not mapping:
        raise ValueError(f"code list {name!r} must be a non-empty mapping of code -> label")
    bad = [k for k, v in mapping.items() if not (isinstance(k, str) and isinstance(v, str))]
    if bad:
        raise ValueError(f"code list {name!r}: codes and labels must be strings ({bad[0]!r})")
    return name, MappingProxyType(dict(mapping))


# The next three collectors live with what they collect; imported on first registration
# so that loading plugins does not load validation, publishing or the report.
def _accept_check(check_id: Any, check: Any) -> tuple[str, object]:
    from welfare_observatory.validate.checks import accept_check

    return accept_check(check_id, check)


def _accept_exporter(name: Any, exporter: Any, description: Any = "") -> tuple[str, object]:
    from welfare_observatory._hooktypes import accept_exporter

    return accept_exporter(name, exporter, description)


def _accept_section(section: Any) -> tuple[str, object]:
    from welfare_observatory._hooktypes import accept_section

    return accept_section(section)


COLLECTORS: dict[str, Collector] = {
    c.hook: c
    for c in (
        Collector("register_sources", "source", _accept_source),
        Collector("register_units", "unit", _accept_unit),
        Collector("register_catalogs", "catalog", _accept_catalog),
        Collector("register_codelists", "codelist", _accept_codelist),
        Collector("register_checks", "check", _accept_check),
        Collector("register_exporters", "exporter", _accept_exporter),
        Collector("register_report_sections", "report_section", _accept_section),
    )
}
"""hook name -> collector, in the order hooks are called."""


@dataclass(frozen=True, slots=True)
class Registration:
    """One thing a plugin registered: ``kind`` (source, unit, ...), its id and value."""

    kind: str
    id: str
    value: object
    plugin: str
    distribution: str | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """A loaded plugin, for ``welfare-observatory plugins``."""

    name: str
    distribution: str | None
    version: str | None
    origin: str
    """``builtin``, ``entry point`` or ``observatory <name>``."""
    hooks: tuple[str, ...]
    registers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def hook_hint(exc: Exception) -> str:
    """A hint for a pluggy validation error: the hook a misspelled name meant."""
    text = str(exc)
    hooks = ", ".join(COLLECTORS)
    if "Argument(s)" in text:
        return "check the hook's arguments: every hook takes one argument named 'register'"
    match = re.search(r"unknown hook '([^']+)'", text)
    if match:
        guess = closest(match.group(1), COLLECTORS)
        if guess:
            return f"did you mean {guess[0]!r}? hooks: {hooks}"
    return f"hooks: {hooks}"
