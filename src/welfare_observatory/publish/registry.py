"""Exporters by format name: the built-ins and those plugins contribute.

An exporter is a callable ``(view, metadata, out_dir) -> [written paths]`` that writes the
publishable view in one format, atomically. Exporters are registered through a
``register_exporters(register)`` function, where ``register`` is
:meth:`ExporterRegistry.register`: the built-ins in :mod:`welfare_observatory.publish.builtin`
use exactly that; plugins do the same from their hook once the plugin manager collects
registrations of kind ``exporter`` (see :func:`accept_exporter`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

# The types and their check live low in the package (the plugin manager checks exporters
# when plugins load); they are re-exported here, where they always were.
from welfare_observatory._hooktypes import Exporter, ExporterEntry, accept_exporter
from welfare_observatory.errors import PluginError, UnknownIdError

if TYPE_CHECKING:
    from welfare_observatory.sources.manager import Plugins

__all__ = [
    "Exporter",
    "ExporterEntry",
    "ExporterRegistry",
    "RegisterExporter",
    "UnknownFormatError",
    "accept_exporter",
]


RegisterExporter = Callable[..., None]
"""``register(name, exporter, description="")``: what a ``register_exporters`` hook receives."""


class UnknownFormatError(UnknownIdError):
    kind = "export format"


class ExporterRegistry:
    """Exporters by format name, in registration order. Build one per run or test."""

    def __init__(self) -> None:
        self._entries: dict[str, ExporterEntry] = {}

    def register(
        self,
        name: str,
        exporter: Exporter,
        description: str = "",
        *,
        owner: str = "welfare-observatory",
    ) -> None:
        """Add ``exporter`` as format ``name`` (kebab-case, unique)."""
        try:
            accept_exporter(name, exporter, description)
        except ValueError as exc:
            raise PluginError(str(exc), hint="register(name, exporter, description)") from exc
        if name in self._entries:
            raise PluginError(
                f"export format {name!r} is registered twice "
                f"(by {self._entries[name].owner} and {owner})",
                hint="choose another format name",
            )
        self._entries[name] = ExporterEntry(name, exporter, description, owner)

    @classmethod
    def default(cls, plugins: Plugins | None = None) -> ExporterRegistry:
        """The built-in exporters plus any that ``plugins`` collected (kind ``exporter``)."""
        from welfare_observatory.publish.builtin import BUILTIN_PLUGIN, register_exporters

        registry = cls()
        collected = plugins.registrations("exporter") if plugins is not None else []
        # Once the plugin manager loads the built-ins itself, they come with the others.
        if not any(r.plugin == BUILTIN_PLUGIN for r in collected):
            register_exporters(registry.register)
        for registration in collected:
            entry = registration.value
            if not isinstance(entry, ExporterEntry):
                raise PluginError(
                    f"plugin {registration.plugin!r} registered exporter "
                    f"{registration.id!r} without the exporter collector",
                    hint="the plugin manager's collector must use publish.accept_exporter",
                )
            registry.register(
                entry.name, entry.exporter, entry.description, owner=registration.plugin
            )
        return registry

    def get(self, name: str) -> ExporterEntry:
        """The exporter of format ``name`` (UnknownFormatError with the closest names)."""
        found = self._entries.get(name)
        if found is None:
            raise UnknownFormatError(
                name,
                candidates=self._entries,
                hint=None if _close(name, self._entries) else "formats: " + ", ".join(self),
            )
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[ExporterEntry]:
        return list(self._entries.values())


def _close(name: str, names: dict[str, ExporterEntry]) -> bool:
    from welfare_observatory.errors import closest

    return bool(closest(name, names))
