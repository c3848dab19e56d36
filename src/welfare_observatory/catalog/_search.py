"""Accent- and case-insensitive ranked search over catalogue entries."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from welfare_observatory.model.indicator import Indicator

_WORD = re.compile(r"[a-z0-9]+")

# Where a query word is found decides its weight: an id outranks a label, a label a definition.
_WEIGHTS = (("id", 12.0), ("alias", 8.0), ("label", 5.0), ("tags", 3.0), ("definition", 1.0))


def fold(text: str) -> str:
    """Lower case without accents: ``"Età Média"`` and ``"eta media"`` fold the same."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str) -> list[str]:
    """The folded words of ``text`` (underscores and punctuation split words)."""
    return _WORD.findall(fold(text).replace("_", " "))


class SearchIndex:
    """Folded text per field for each indicator, built once per catalogue."""

    def __init__(self, indicators: Iterable[Indicator]) -> None:
        self._fields: list[tuple[Indicator, dict[str, str]]] = []
        for ind in indicators:
            self._fields.append(
                (
                    ind,
                    {
                        "id": " ".join(words(ind.id)),
                        "alias": " ".join(w for a in ind.aliases for w in words(a)),
                        "label": " ".join(words(f"{ind.label.it} {ind.label.en}")),
                        "tags": " ".join(w for t in ind.tags for w in words(t)),
                        "definition": " ".join(
                            words(
                                f"{ind.definition.it} {ind.definition.en} {ind.how_to_read.it} "
                                f"{ind.how_to_read.en}"
                            )
                        ),
                    },
                )
            )

    def search(self, text: str) -> list[Indicator]:
        """Entries matching every word of ``text`` somewhere, best first.

        A word matches the start of a word in a field; an exact id match ranks first.
        """
        query = words(text)
        if not query:
            return []
        whole = "_".join(query).upper()
        patterns = [
            (re.compile(rf"(?:^| ){re.escape(w)}"), re.compile(rf"(?:^| ){re.escape(w)}(?: |$)"))
            for w in query
        ]
        scored: list[tuple[float, str, Indicator]] = []
        for ind, fields in self._fields:
            total = 0.0
            for prefix, exact in patterns:
                best = 0.0
                for name, weight in _WEIGHTS:
                    if prefix.search(fields[name]):
                        bonus = 3.0 if exact.search(fields[name]) else 1.0
                        best = max(best, weight * bonus)
                if best == 0.0:
                    break
                total += best
            else:
                if ind.id == whole:
                    total += 1000.0
                scored.append((total, ind.id, ind))
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [ind for _, _, ind in scored]
