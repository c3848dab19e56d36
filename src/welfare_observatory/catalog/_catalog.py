"""The indicator catalogue: lookup, search, SDG coverage and selection profiles."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from welfare_observatory.catalog._load import Origins, layer_files, load_layers, shipped_layer
from welfare_observatory.catalog._model import DeprecatedIndicatorWarning, Profile
from welfare_observatory.catalog._search import SearchIndex
from welfare_observatory.errors import (
    Location,
    UnknownIdError,
    UnknownIndicatorError,
    UnknownSdgError,
)
from welfare_observatory.model.indicator import Domain, Indicator

_SDG_QUERY = re.compile(r"^(1[0-7]|[1-9])(\.([0-9]{1,2}|[a-z])(\.[0-9]{1,2})?)?$")


def normalize_sdg_id(value: str) -> str:
    """``"8-5-2"``, ``" 8.5.2 "`` -> ``"8.5.2"``; raises UnknownSdgError for other shapes."""
    text = str(value).strip().replace("-", ".")
    if not _SDG_QUERY.match(text):
        raise UnknownSdgError(
            str(value), hint="an SDG goal, target or indicator id looks like 8, 8.5 or 8.5.2"
        )
    return text


def sdg_sort_key(sdg_id: str) -> tuple[tuple[int, int | str], ...]:
    """Natural order: 1.2 < 1.10 < 1.a."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in sdg_id.split("."))


@dataclass(frozen=True)
class Resolved:
    """What an id names: the surviving entry, and whether the id was a former one."""

    requested: str
    indicator: Indicator

    @property
    def deprecated(self) -> bool:
        """True when ``requested`` is an alias (a merged or renamed id), not the entry's id."""
        return self.requested.upper() != self.indicator.id

    @property
    def notice(self) -> str | None:
        """The deprecation message naming the new id, or None for a current id."""
        if not self.deprecated:
            return None
        return (
            f"indicator id {self.requested!r} is deprecated: it was merged into or renamed to "
            f"{self.indicator.id!r}; use {self.indicator.id!r}"
        )

    def warn(self, stacklevel: int = 2) -> Indicator:
        """Emit a :class:`DeprecatedIndicatorWarning` when deprecated; return the entry."""
        if self.notice is not None:
            warnings.warn(self.notice, DeprecatedIndicatorWarning, stacklevel=stacklevel + 1)
        return self.indicator


__all__ = ["Catalog", "DeprecatedIndicatorWarning", "Resolved", "catalog", "normalize_sdg_id"]


def _within(link: str, query: str) -> bool:
    """True when ``link`` is ``query`` or lies below it (8.5.2 lies below 8 and 8.5)."""
    return link == query or link.startswith(query + ".")


class Catalog:
    """A checked set of indicators and selection profiles.

    Build it with :meth:`load`; the shipped one is :func:`catalog`. Lookups accept former ids
    (aliases). Iteration yields indicators in id order.
    """

    def __init__(
        self,
        indicators: Mapping[str, Indicator],
        profiles: Mapping[str, Profile] | None = None,
        origin: Mapping[str, Location] | None = None,
        overridden: Iterable[str] = (),
        definitions: Mapping[str, str] | None = None,
    ) -> None:
        self._indicators = dict(sorted(indicators.items()))
        self._definitions = dict(definitions or {})
        self._profiles = dict(sorted((profiles or {}).items()))
        # Kept as given when restored compact (its places made when asked for).
        self._origin = origin if isinstance(origin, Origins) else dict(origin or {})
        self.overridden: tuple[str, ...] = tuple(overridden)
        """Ids that a later layer redefined (an observatory's own version of an entry)."""
        self._aliases = {a: ind.id for ind in self._indicators.values() for a in ind.aliases}

    @classmethod
    def load(cls, *paths: str | Path, shipped: bool = True, units: Any = None) -> Catalog:
        """The shipped catalogue (unless ``shipped=False``) with ``paths`` layered over it.

        Each path is a YAML file or a folder of them (plus its ``profiles/``). An id defined
        again in a later path replaces the earlier definition. Raises CatalogError listing
        every problem with file, line and field. ``units`` is the pint registry entries'
        units are checked against (``Plugins.unit_registry()`` lets an entry use a unit a
        plugin registers); the library's units when None.
        """
        layers = [shipped_layer()] if shipped else []
        layers += [layer_files(Path(p)) for p in paths]
        loaded = load_layers(layers, units)
        return cls(
            loaded.indicators,
            loaded.profiles,
            loaded.origin,
            loaded.overridden,
            definitions=loaded.definitions,
        )

    @staticmethod
    def shipped() -> Catalog:
        """The catalogue shipped with the library, loaded once per process (:func:`catalog`)."""
        return catalog()

    # -- lookup ---------------------------------------------------------------------------
    def get(self, id_or_alias: str) -> Indicator:
        """The indicator with this id or former id; UnknownIndicatorError with close ids."""
        key = str(id_or_alias).strip()
        found = self._indicators.get(key) or self._indicators.get(self._aliases.get(key, ""))
        if found is None:
            upper = key.upper()
            found = self._indicators.get(upper) or self._indicators.get(
                self._aliases.get(upper, "")
            )
        if found is None:
            raise UnknownIndicatorError(key, candidates=[*self._indicators, *self._aliases])
        return found

    def resolve(self, id_or_alias: str) -> Resolved:
        """The entry an id names, with a deprecation notice when the id is a former one.

        A merged or renamed id stays an alias of the surviving entry: lookups keep working,
        and ``Resolved.notice`` (or ``.warn()``) names the id to use instead.
        """
        key = str(id_or_alias).strip()
        return Resolved(requested=key, indicator=self.get(key))

    @property
    def aliases(self) -> dict[str, str]:
        """Former id -> current id, for every merged or renamed entry."""
        return dict(self._aliases)

    def origin(self, indicator_id: str) -> Location | None:
        """File and line where an indicator was defined."""
        return self._origin.get(self.get(indicator_id).id)

    def definition_texts(self) -> Mapping[str, str]:
        """Indicator id -> canonical JSON of its definition, for the indicators whose text
        the start-up cache kept (none when the catalogue was read without it): what a
        build fingerprint digests, the same text as computing it from the indicator."""
        return MappingProxyType(self._definitions)

    def __iter__(self) -> Iterator[Indicator]:
        return iter(self._indicators.values())

    def __len__(self) -> int:
        return len(self._indicators)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, Indicator):
            return self._indicators.get(item.id) == item
        return isinstance(item, str) and (item in self._indicators or item in self._aliases)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._indicators)

    def by_domain(self, domain: Domain | str) -> list[Indicator]:
        """Indicators of one domain (``"demography"``, ``Domain.HEALTH``), in id order."""
        try:
            wanted = Domain(domain)
        except ValueError:
            raise UnknownIdError(
                str(domain),
                candidates=[d.value for d in Domain],
                message=f"unknown domain {domain!r}",
            ) from None
        return [ind for ind in self if ind.domain is wanted]

    # -- search ---------------------------------------------------------------------------
    @cached_property
    def _search_index(self) -> SearchIndex:
        return SearchIndex(self)

    def search(self, text: str) -> list[Indicator]:
        """Entries whose id, labels, definitions or tags contain every word of ``text``.

        Case and accents do not matter (``"eta media"`` finds ``Età media``); best first.
        """
        return self._search_index.search(text)

    # -- SDG ------------------------------------------------------------------------------
    def covering(self, sdg_ids: str | Iterable[str]) -> list[Indicator]:
        """Indicators linked to any of ``sdg_ids`` or to anything below them.

        A goal covers its targets and their indicators: ``covering("8")`` includes entries
        linked to 8.5 and 8.5.2. ``covering(["8", "10", "17"])`` answers "which indicators
        cover SDG 8, 10 and 17".
        """
        queries = [
            normalize_sdg_id(s) for s in ([sdg_ids] if isinstance(sdg_ids, str) else sdg_ids)
        ]
        return [
            ind for ind in self if any(_within(link.id, q) for link in ind.sdg for q in queries)
        ]

    def uncovered_targets(
        self,
        selection: Iterable[str | Indicator] | None = None,
        goals: Iterable[str | int] | None = None,
        *,
        framework: Any = None,
    ) -> list[str]:
        """SDG target ids (of ``goals``, or all) with no indicator of ``selection`` below them.

        ``selection`` is indicator ids or indicators (default: the whole catalogue).
        ``framework`` defaults to ``welfare_observatory.sdg.framework()``; anything with a
        ``targets`` attribute listing target ids (or objects with an ``id``) works.
        """
        if framework is None:
            framework = _default_framework()
        chosen = (
            list(self)
            if selection is None
            else [item if isinstance(item, Indicator) else self.get(item) for item in selection]
        )
        links = {link.id for ind in chosen for link in ind.sdg}
        wanted = None if goals is None else {normalize_sdg_id(str(g)) for g in goals}
        targets = [getattr(t, "id", t) for t in framework.targets]
        out = []
        for target in targets:
            target = normalize_sdg_id(str(target))
            if wanted is not None and target.split(".")[0] not in wanted:
                continue
            if not any(_within(link, target) for link in links):
                out.append(target)
        return sorted(set(out), key=sdg_sort_key)

    # -- profiles -------------------------------------------------------------------------
    def profiles(self) -> list[Profile]:
        """Every selection profile, in id order."""
        return list(self._profiles.values())

    def get_profile(self, name: str) -> Profile:
        """The profile called ``name``; UnknownIdError with close names, else all names."""
        try:
            return self._profiles[name]
        except KeyError:
            error = UnknownIdError(
                name, candidates=self._profiles, message=f"unknown profile {name!r}"
            )
            if not error.suggestions:
                # nothing close: the list is short, so show every profile there is
                names = ", ".join(sorted(self._profiles)) or "none"
                error = UnknownIdError(
                    name, message=f"unknown profile {name!r}", hint=f"profiles: {names}"
                )
            raise error from None

    def profile(self, name: str) -> list[Indicator]:
        """The indicators of profile ``name``, in the profile's order."""
        return [self.get(ident) for ident in self.get_profile(name).indicators]


def _default_framework() -> Any:
    try:
        from welfare_observatory.sdg import framework
    except ImportError as exc:
        raise UnknownIdError(
            "sdg",
            message="the SDG framework (welfare_observatory.sdg) is not available",
            hint="pass framework= explicitly",
        ) from exc
    return framework()


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    """The catalogue shipped with the library, loaded and checked once per process."""
    return Catalog.load()
