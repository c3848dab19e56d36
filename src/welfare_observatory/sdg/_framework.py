"""The UN global indicator framework: goals, targets and indicators as frozen models.

The framework is package data (``data/framework_<version>.json``, rebuilt by
``tools/build_sdg_data.py``); loading it reads one small JSON file and validates it once.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any

from pydantic import Field, PrivateAttr

from welfare_observatory.errors import UnknownIdError, UnknownSdgError
from welfare_observatory.model.common import Frozen, Text

__all__ = [
    "VERSIONS",
    "Framework",
    "Goal",
    "SdgIndicator",
    "Target",
    "UnknownSdgVersionError",
    "framework",
    "is_sdg_id",
    "normalize_id",
]

VERSIONS: tuple[str, ...] = ("2023",)
"""Framework versions shipped with the library (the year of the UN refinement)."""

_ID = re.compile(r"^(1[0-7]|[1-9])(\.([0-9]{1,2}|[a-z])(\.[0-9]{1,2})?)?$")


class UnknownSdgVersionError(UnknownIdError):
    kind = "SDG framework version"


class SdgIndicator(Frozen):
    """One indicator as listed under one target (``8.5.2``)."""

    id: str
    title: Text
    code: str = ""
    """UNSD indicator code (``C080502``); the same code for every listing of a repeated one."""
    repeated_in: tuple[str, ...] = ()
    """Ids of the other listings of the same indicator under other targets."""
    note: str = ""
    """UNSD footnote, when the framework has one."""
    origin: dict[str, str] = Field(default_factory=dict)
    """Where each language's title comes from (``{"it": "project"}``): a key of
    ``Framework.translations[lang]["origins"]``; English titles are the UN's own."""

    @property
    def target(self) -> str:
        """Id of the target the indicator is listed under (``8.5``)."""
        return self.id.rsplit(".", 1)[0]

    @property
    def goal(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def is_repeated(self) -> bool:
        return bool(self.repeated_in)


class Target(Frozen):
    """A target of the 2030 Agenda (``10.2``, ``1.a``) with the indicators listed under it."""

    id: str
    title: Text
    indicators: tuple[SdgIndicator, ...] = ()
    note: str = ""
    origin: dict[str, str] = Field(default_factory=dict)
    """Where each language's title comes from (``{"it": "project"}``): a key of
    ``Framework.translations[lang]["origins"]``; English titles are the UN's own."""

    @property
    def goal(self) -> str:
        """Id of the goal (``10``)."""
        return self.id.split(".", 1)[0]


class Goal(Frozen):
    """One of the 17 Sustainable Development Goals."""

    id: str
    title: Text
    short: Text = Text()
    """The short name (``No Poverty``, ``Nessuna povertà``)."""
    targets: tuple[Target, ...] = ()
    note: str = ""
    origin: dict[str, str] = Field(default_factory=dict)
    """Where each language's title comes from (``{"it": "project"}``): a key of
    ``Framework.translations[lang]["origins"]``; English titles are the UN's own."""

    @property
    def number(self) -> int:
        return int(self.id)

    @property
    def indicators(self) -> tuple[SdgIndicator, ...]:
        return tuple(i for t in self.targets for i in t.indicators)


Node = Goal | Target | SdgIndicator


class Framework(Frozen):
    """A version of the global indicator framework, with lookups by id."""

    version: str
    title: str
    publisher: str
    url: str
    licence: str
    translations: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Who provides the titles in languages other than English, per language."""
    goals: tuple[Goal, ...]

    _index: dict[str, Node] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        index: dict[str, Node] = {}
        for goal in self.goals:
            index[goal.id] = goal
            for target in goal.targets:
                index[target.id] = target
                for indicator in target.indicators:
                    index[indicator.id] = indicator
        self._index = index

    @property
    def targets(self) -> tuple[Target, ...]:
        return tuple(t for g in self.goals for t in g.targets)

    @property
    def indicators(self) -> tuple[SdgIndicator, ...]:
        """Every listing, repeated indicators included once per target they serve."""
        return tuple(i for g in self.goals for t in g.targets for i in t.indicators)

    @property
    def unique_indicators(self) -> tuple[SdgIndicator, ...]:
        """One listing per distinct indicator (the first in framework order)."""
        seen: set[str] = set()
        out: list[SdgIndicator] = []
        for indicator in self.indicators:
            if indicator.id not in seen:
                out.append(indicator)
                seen.update((indicator.id, *indicator.repeated_in))
        return tuple(out)

    def ids(self) -> tuple[str, ...]:
        """Every goal, target and indicator id in framework order."""
        return tuple(self._index)

    def __contains__(self, sdg_id: object) -> bool:
        return isinstance(sdg_id, str) and normalize_id(sdg_id) in self._index

    def __len__(self) -> int:
        return len(self._index)

    def resolve(self, sdg_id: str) -> Goal | Target | SdgIndicator:
        """The goal, target or indicator for ``"17"``, ``"10.2"``, ``"8.5.2"`` or ``"1-a-1"``.

        Raises :class:`UnknownSdgError` with the closest valid ids as hint.
        """
        key = normalize_id(sdg_id)
        node = self._index.get(key)
        if node is None:
            raise UnknownSdgError(sdg_id, candidates=self._candidates(key))
        return node

    def parent(self, sdg_id: str) -> Goal | Target | None:
        """The target of an indicator, the goal of a target, None for a goal."""
        node = self.resolve(sdg_id)
        if isinstance(node, Goal):
            return None
        parent = self._index[node.target if isinstance(node, SdgIndicator) else node.goal]
        assert isinstance(parent, Goal | Target)
        return parent

    def by_code(self, code: str) -> tuple[SdgIndicator, ...]:
        """Every listing of the indicator with UNSD code ``code`` (``C200303`` gives three)."""
        wanted = code.strip().upper()
        found = tuple(i for i in self.indicators if i.code.upper() == wanted)
        if not found:
            codes = sorted({i.code for i in self.indicators if i.code})
            raise UnknownSdgError(code, candidates=codes)
        return found

    def _candidates(self, key: str) -> list[str]:
        # Nearby ids first (same goal or target), so the hint is useful for typos like 8.5.9.
        parts = key.split(".")
        for depth in range(len(parts) - 1, 0, -1):
            prefix = ".".join(parts[:depth]) + "."
            near = [i for i in self._index if i.startswith(prefix)]
            if near:
                return near
        return list(self._index)


def normalize_id(sdg_id: str) -> str:
    """``" 1-A-1 "`` -> ``"1.a.1"``: strip, dashes to dots, lower-case target letters."""
    text = sdg_id.strip().lower().replace("-", ".").replace("_", ".")
    for prefix in ("sdg", "goal", "target", "indicator"):
        if text.startswith(prefix):
            text = text[len(prefix) :].strip(" .:")
    return text


def is_sdg_id(text: str) -> bool:
    """Whether ``text`` has the shape of an SDG id (it may still not exist)."""
    return bool(_ID.match(normalize_id(text)))


def framework(version: str = "2023") -> Framework:
    """The shipped framework ``version`` (cached: every call returns the same instance)."""
    if version not in VERSIONS:
        raise UnknownSdgVersionError(
            version, candidates=VERSIONS, hint="shipped versions: " + ", ".join(VERSIONS)
        )
    return _load(version)


# keyed on the version alone, so framework() and framework("2023") share one instance
@lru_cache(maxsize=len(VERSIONS))
def _load(version: str) -> Framework:
    resource = resources.files("welfare_observatory.sdg").joinpath(
        "data", f"framework_{version}.json"
    )
    data = json.loads(resource.read_text(encoding="utf-8"))
    return Framework.model_validate(data)
