"""Which of several same-named territories a name means (pure functions, no data access)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

from welfare_observatory.model.territory import OPEN_END, Territory, TerritoryLevel
from welfare_observatory.territory._aliases import NAME_ALIASES
from welfare_observatory.territory.names import normalize_name

__all__ = ["add_aliases", "best_by_name", "rank_matches"]


def add_aliases(names: dict[str, list[str]], order: Mapping[str, int]) -> None:
    """Add :data:`NAME_ALIASES` to the name index, keeping each list in ``order``."""
    for alias, (codes, _why) in NAME_ALIASES.items():
        key = normalize_name(alias)
        known = [c for c in codes if c in order]
        names[key] = sorted({*names.get(key, []), *known}, key=order.__getitem__)


def best_by_name(
    found: list[Territory],
    when: date | None,
    by_code: Mapping[str, Territory],
    successors: Callable[[str], list[str]],
) -> list[Territory]:
    """The candidates a name means on ``when`` (``None``: today's list), largest level only.

    Records in force win. With none, a ceased record whose one successor (``successors``
    of its code on ``when``) has the same Belfiore code is the same comune under a new code
    (Aosta 001875 -> 007003) and gives way to it; then one record is kept per comune, the
    latest: Bezzecca 802030 (Austrian-era code until 1923) and 022014 are one comune.
    More than one result means the name is ambiguous.
    """

    def same_comune(territory: Territory) -> Territory:
        if territory.level != TerritoryLevel.MUNICIPALITY or not territory.belfiore:
            return territory
        heirs = successors(territory.code)
        if len(heirs) == 1 and by_code[heirs[0]].belfiore == territory.belfiore:
            return by_code[heirs[0]]
        return territory

    in_force = [t for t in found if (t.valid_at(when) if when else t.valid_to == OPEN_END)]
    if in_force:
        current = in_force
    else:
        latest: dict[str, Territory] = {}
        for t in map(same_comune, found):
            key = t.belfiore or t.code
            if key not in latest or latest[key].valid_to < t.valid_to:
                latest[key] = t
        current = list(latest.values())
    current = sorted(dict.fromkeys(current), key=lambda t: t.level.rank)
    return [t for t in current if t.level.rank == current[0].level.rank]


def rank_matches(
    names: Mapping[str, list[str]],
    by_code: Mapping[str, Territory],
    text: str,
    first: list[str],
    limit: int,
) -> list[Territory]:
    """Codes ``first``, then names equal to, starting with, containing ``text``'s key.

    In force territories first, then names that start with the key, larger levels first.
    """
    key = normalize_name(text)
    found = list(first)
    if key:
        found += names.get(key, [])
        found += [c for k, codes in names.items() if k.startswith(key) for c in codes]
        found += [c for k, codes in names.items() if key in k for c in codes]
    unique = [by_code[c] for c in dict.fromkeys(found)]
    unique.sort(
        key=lambda t: (
            t.valid_to != OPEN_END,
            not normalize_name(t.name).startswith(key),
            t.level.rank,
        )
    )
    return unique[:limit]
