"""Relations between indicators that disclosure control must respect.

Two kinds, both :class:`~welfare_observatory.protect.rule.IndicatorGroup`:

- declared ones, in the rule (``indicator_groups``) or shipped with the library
  (``protect/data/indicator_groups.yaml``: women and men, non-working age, natural change);
- derived ones: every way the resident-population age classes present in a table
  (``POP_0_14``, ``POP_15_64``, ``POP_65_PLUS``, ...; ``POP_TOTAL`` is all ages) partition
  another class, read from the catalogue ids, whose definitions say "aged a-b" (inclusive)
  and "aged a and over".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from importlib import resources

import yaml

from welfare_observatory.protect.rule import DisclosureRule, IndicatorGroup

__all__ = ["MAX_PARTITIONS", "age_partitions", "groups_for", "standard_groups"]

_AGE_CLASS = re.compile(r"^POP_(\d+)_(\d+|PLUS)$")
_ALL_AGES = "POP_TOTAL"
MAX_PARTITIONS = 1_000
"""Partitions listed per total at most (a safety net: real catalogues have a few dozen)."""


@functools.cache
def _shipped() -> tuple[IndicatorGroup, ...]:
    text = resources.files("welfare_observatory.protect").joinpath("data/indicator_groups.yaml")
    entries = yaml.safe_load(text.read_text(encoding="utf-8")) or []
    return tuple(IndicatorGroup.model_validate(entry) for entry in entries)


def _interval(indicator_id: str) -> tuple[int, float] | None:
    """``[first, last]`` age (inclusive) of a population age-class id, else None."""
    if indicator_id == _ALL_AGES:
        return (0, float("inf"))
    match = _AGE_CLASS.fullmatch(indicator_id)
    if match is None:
        return None
    first = int(match.group(1))
    last = float("inf") if match.group(2) == "PLUS" else float(match.group(2))
    return (first, last) if last >= first else None


def age_partitions(ids: Iterable[str]) -> list[IndicatorGroup]:
    """Every partition of an age class into other classes among ``ids`` (adjacent, no gap).

    ``POP_0_14, POP_15_64, POP_65_PLUS, POP_TOTAL`` give ``POP_TOTAL = POP_0_14 +
    POP_15_64 + POP_65_PLUS``. Each partition is a path through the classes ordered by age.
    """
    classes = {i: span for i in set(ids) if (span := _interval(i)) is not None}
    starting: dict[int, list[str]] = {}
    for name, (first, _) in sorted(classes.items(), key=lambda kv: (kv[1], kv[0])):
        starting.setdefault(first, []).append(name)
    groups: list[IndicatorGroup] = []
    for total, (first, last) in sorted(classes.items()):
        for path in _paths(classes, starting, total, first, last):
            groups.append(IndicatorGroup(total=total, parts=tuple(path)))
    return groups


def _paths(
    classes: dict[str, tuple[int, float]],
    starting: dict[int, list[str]],
    total: str,
    first: int,
    last: float,
) -> list[list[str]]:
    """Sequences of adjacent classes other than ``total`` covering ages ``first..last``."""
    found: list[list[str]] = []
    stack: list[tuple[int, list[str]]] = [(first, [])]
    while stack and len(found) < MAX_PARTITIONS:
        age, path = stack.pop()
        for name in starting.get(age, []):
            end = classes[name][1]
            if name == total or end > last:
                continue
            if end == last:
                found.append([*path, name])
            elif end != float("inf"):
                stack.append((int(end) + 1, [*path, name]))
    return sorted(found)


def standard_groups(ids: Iterable[str]) -> list[IndicatorGroup]:
    """The library's relations among ``ids``: shipped identities and age partitions."""
    present = set(ids)
    shipped = [g for g in _shipped() if all(member.indicator in present for member in g.members)]
    return [*shipped, *age_partitions(present)]


def groups_for(rule: DisclosureRule, ids: Iterable[str]) -> list[IndicatorGroup]:
    """The indicator groups ``rule`` applies to a table holding the indicators ``ids``.

    Groups with a member absent from the table are left out: an absent cell is unknown,
    so such a relation cannot give a hidden cell away.
    """
    present = set(ids)
    declared = [g for g in rule.indicator_groups if all(m.indicator in present for m in g.members)]
    derived = standard_groups(present) if rule.standard_groups else []
    unique: dict[tuple[object, ...], IndicatorGroup] = {}
    for group in (*declared, *derived):
        key = (group.members[0], frozenset(group.members[1:]))
        unique.setdefault(key, group)
    return list(unique.values())
