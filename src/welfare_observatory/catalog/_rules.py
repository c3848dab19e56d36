"""Content rules for catalogue files: honest provenance, levels, SDG relations, reading text.

The loader checks that entries are well formed; these rules check that what they claim holds
up, and run in ``welfare-observatory catalog validate`` on the shipped files and on an
observatory's own. Each problem is a :class:`CatalogError` with file, line, field and hint.

- a verified entry whose note says the page was read on a mirror or proxy;
- a verified Eurostat code that is a folder or metadata code, or not confirmed as a table
  (``_eurostat_tables.json`` lists the codes confirmed on Eurostat's own pages);
- a ``finest_level`` finer than the level of the cited Eurostat table;
- a count claiming ``identical``/``similar`` to a UN indicator that is a rate;
- a "how to read" sentence longer than eight words written in two entries;
- an entry of a profile without a real definition and "how to read" in both languages.

An unverified entry without a note saying what was not confirmed is a warning.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from welfare_observatory.catalog._yaml import line_of, read_yaml, strip_lines
from welfare_observatory.errors import CatalogError, Location
from welfare_observatory.model.indicator import Aggregation, Indicator, Relation
from welfare_observatory.model.territory import TerritoryLevel

EUROSTAT_TABLES = Path(__file__).parent / "data" / "_eurostat_tables.json"

MIRROR = re.compile(r"\b(mirror\w*|prox(y|ies)|web archive|third[- ]party cop\w*)\b", re.I)
"""Words saying the page read was a copy, not the publisher's own."""

RATE_TITLE = re.compile(
    r"\b(rate|ratio|proportion|percentage|share|per (capita|\d|cent|unit|[0-9,]+)|"
    r"per 1\d*|prevalence|incidence|density|average|mean|index|coverage)\b",
    re.I,
)
"""Words of a UN indicator title that make it a rate, share or index, not a count."""

LONG_SENTENCE = 8
"""A "how to read" sentence longer than this many words may appear in one entry only."""

BOILERPLATE = frozenset(
    {
        "higher values are worse",
        "higher values are better",
        "higher is better",
        "lower is better",
        "higher is worse",
        "a count, operand of a rate",
        "valori più alti sono peggiori",
        "valori più alti sono migliori",
        "più alto è meglio",
        "più basso è meglio",
        "conteggio, operando di un tasso",
    }
)
"""Polarity alone is not reading guidance: a profile entry needs more than this."""

MIN_READING_WORDS = 6
"""A "how to read" text of a profile entry has at least this many words in each language."""

_LEVEL_WORDS = {"country": TerritoryLevel.COUNTRY, "region": TerritoryLevel.REGION,
                "province": TerritoryLevel.PROVINCE}  # fmt: skip


@dataclass
class RuleReport:
    """Problems found by the content rules: ``errors`` fail validation, ``warnings`` do not."""

    errors: list[CatalogError] = field(default_factory=list)
    warnings: list[CatalogError] = field(default_factory=list)
    entries: int = 0


@dataclass(frozen=True)
class _Entry:
    file: str
    raw: dict[str, Any]
    indicator: Indicator

    def error(self, loc: Sequence[int | str], message: str, hint: str) -> CatalogError:
        return CatalogError(
            f"entry {self.indicator.id!r}: {message}",
            location=Location(
                file=self.file,
                line=line_of(self.raw, loc),
                field=".".join(str(p) for p in loc) or None,
            ),
            hint=hint,
        )


@lru_cache(maxsize=1)
def eurostat_tables() -> dict[str, dict[str, Any]]:
    """Eurostat codes checked on Eurostat's own pages: ``{code: {kind, level, evidence}}``.

    ``kind`` is ``table``, ``folder`` or ``metadata``; ``level`` the finest geography of a
    table (``country``, ``region`` for NUTS 2, ``province`` for NUTS 3).
    """
    data = json.loads(EUROSTAT_TABLES.read_text(encoding="utf-8"))
    codes: dict[str, dict[str, Any]] = data["codes"]
    return codes


def _words(text: str) -> list[str]:
    return re.findall(r"[\w'’]+", text)


def _norm(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.casefold())
    return " ".join(_words("".join(c for c in folded if not unicodedata.combining(c))))


def sentences(text: str) -> list[str]:
    """The sentences of a text: split after ``.``, ``!`` or ``?`` followed by a space."""
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text or "") if s.strip()]


def _read_entries(paths: Iterable[Path]) -> tuple[list[_Entry], list[tuple[str, dict[str, Any]]]]:
    entries: list[_Entry] = []
    profiles: list[tuple[str, dict[str, Any]]] = []
    for path in paths:
        data = read_yaml(path)
        if isinstance(data, dict) and "indicators" in data:
            profiles.append((str(path), data))
            continue
        for raw in data if isinstance(data, list) else ():
            if not isinstance(raw, dict):
                continue
            try:
                indicator = Indicator.model_validate(strip_lines(raw))
            except ValidationError:
                continue  # the loader reports malformed entries
            entries.append(_Entry(str(path), raw, indicator))
    return entries, profiles


def _check_mirror(entry: _Entry, out: RuleReport) -> None:
    source = entry.indicator.source
    if source.verified and source.note and MIRROR.search(source.note):
        out.errors.append(
            entry.error(
                ["source", "verified"],
                "verified, but its note says the page was read on a mirror or proxy",
                "read the definition on the publisher's own site and cite that page, or set "
                "verified: false and keep the note",
            )
        )


def _check_eurostat(entry: _Entry, out: RuleReport) -> None:
    source = entry.indicator.source
    if source.agency != "ESTAT" or not source.dataset:
        return
    known = eurostat_tables().get(source.dataset)
    if source.verified and known is None:
        out.errors.append(
            entry.error(
                ["source", "dataset"],
                f"verified, but Eurostat code {source.dataset!r} is not confirmed as a table",
                "confirm the code on Eurostat's own dataset page and add it with its evidence "
                "to catalog/data/_eurostat_tables.json, or set verified: false with a note",
            )
        )
        return
    if known is None:
        return
    if known["kind"] != "table":
        if source.verified:
            out.errors.append(
                entry.error(
                    ["source", "dataset"],
                    f"verified, but Eurostat code {source.dataset!r} is a {known['kind']} "
                    "code, not a table",
                    f"cite a table of it ({known.get('evidence', 'see Eurostat')}), or set "
                    "verified: false",
                )
            )
        return
    level = _LEVEL_WORDS.get(str(known.get("level")))
    if level is not None and entry.indicator.finest_level.rank > level.rank:
        out.errors.append(
            entry.error(
                ["finest_level"],
                f"finest_level {entry.indicator.finest_level.value} is finer than the cited "
                f"table {source.dataset} ({level.value})",
                "finest_level is the level of the cited dataset: lower it, or cite the "
                "release that has the finer level",
            )
        )


def _un_titles() -> dict[str, str]:
    try:
        from welfare_observatory.sdg import framework
    except ImportError:  # pragma: no cover - the SDG package ships with the library
        return {}
    return {ind.id: ind.title.en for ind in framework().indicators}


def _check_count_relations(entry: _Entry, titles: dict[str, str], out: RuleReport) -> None:
    ind = entry.indicator
    if ind.aggregation is not Aggregation.SUM:
        return
    for position, link in enumerate(ind.sdg):
        if link.relation not in (Relation.IDENTICAL, Relation.SIMILAR):
            continue
        title = titles.get(link.id)
        if title and RATE_TITLE.search(title):
            out.errors.append(
                entry.error(
                    ["sdg", position, "relation"],
                    f"a count claims {link.relation.value!r} to {link.id}, which is a rate "
                    f"({title[:70]})",
                    "a count is at most 'partial' (an operand) of a rate indicator",
                )
            )


def _check_note(entry: _Entry, out: RuleReport) -> None:
    source = entry.indicator.source
    if not source.verified and not (source.note or "").strip():
        out.warnings.append(
            entry.error(
                ["source"],
                "unverified without a note saying what was not confirmed",
                "add source.note: what was not checked (definition, dataset id, level)",
            )
        )


def _check_duplicate_sentences(entries: Sequence[_Entry], out: RuleReport) -> None:
    seen: dict[tuple[str, str], str] = {}
    for entry in entries:
        for lang in ("it", "en"):
            for sentence in dict.fromkeys(sentences(getattr(entry.indicator.how_to_read, lang))):
                if len(_words(sentence)) <= LONG_SENTENCE:
                    continue
                key = (lang, _norm(sentence))
                first = seen.setdefault(key, entry.indicator.id)
                if first != entry.indicator.id:
                    out.errors.append(
                        entry.error(
                            ["how_to_read", lang],
                            f"'how to read' repeats a sentence of {first!r}: {sentence[:60]!r}",
                            "say what this indicator's value means and what to be careful "
                            "about for it; shared caveats fit in eight words or fewer",
                        )
                    )


def _real(text: str, label: str) -> bool:
    normalized = _norm(text)
    return bool(normalized) and normalized != _norm(label)


def reading_problems(ind: Indicator) -> list[tuple[list[int | str], str]]:
    """What keeps an entry from being shown on a report card: (field, problem) pairs."""
    problems: list[tuple[list[int | str], str]] = []
    for lang in ("it", "en"):
        definition = getattr(ind.definition, lang)
        if not _real(definition, getattr(ind.label, lang)):
            problems.append((["definition", lang], f"no definition in {lang} beyond the label"))
        reading = getattr(ind.how_to_read, lang)
        normalized = _norm(reading)
        if (
            len(_words(reading)) < MIN_READING_WORDS
            or normalized in {_norm(b) for b in BOILERPLATE}
            or all(_norm(s) in {_norm(b) for b in BOILERPLATE} for s in sentences(reading))
        ):
            problems.append((["how_to_read", lang], f"no real 'how to read' in {lang}"))
    if ind.how_to_read.it and ind.how_to_read.it == ind.how_to_read.en:
        problems.append((["how_to_read"], "'how to read' is the same text in both languages"))
    return problems


def _check_profiles(
    profiles: Sequence[tuple[str, dict[str, Any]]],
    entries: dict[str, _Entry],
    out: RuleReport,
) -> None:
    reported: set[str] = set()
    for file, raw in profiles:
        for position, ident in enumerate(raw.get("indicators") or ()):
            entry = entries.get(str(ident))
            if entry is not None and entry.indicator.id != str(ident):
                out.warnings.append(
                    CatalogError(
                        f"profile {raw.get('id')!r} lists {ident!r}, a deprecated id merged into "
                        f"or renamed to {entry.indicator.id!r}",
                        location=Location(
                            file=file,
                            line=line_of(raw, ["indicators", position]),
                            field=f"indicators.{position}",
                        ),
                        hint=f"write {entry.indicator.id!r}: the former id still works, with a "
                        "deprecation warning",
                    )
                )
            if entry is None or entry.indicator.id in reported:
                continue
            reported.add(entry.indicator.id)
            for loc, problem in reading_problems(entry.indicator):
                error = entry.error(
                    loc,
                    f"{problem} (listed in profile {raw.get('id')!r}, {file}:"
                    f"{line_of(raw, ['indicators', position])})",
                    "a report card shows the definition and how to read it: write both, in "
                    "Italian and English, or leave the entry out of the profile",
                )
                out.errors.append(error)


def check_rules(paths: Sequence[Path], *, against: Sequence[Path] = ()) -> RuleReport:
    """Run the content rules on the catalogue files ``paths`` (entries and profiles).

    ``against`` are files already checked (the shipped ones): their "how to read" sentences
    count as taken, and their entries resolve ids listed in the profiles of ``paths``.
    """
    report = RuleReport()
    entries, profiles = _read_entries(paths)
    others, _ = _read_entries(against)
    report.entries = len(entries)
    titles = _un_titles()
    for entry in entries:
        _check_mirror(entry, report)
        _check_eurostat(entry, report)
        _check_count_relations(entry, titles, report)
        _check_note(entry, report)
    own = {e.indicator.id for e in entries}
    _check_duplicate_sentences([*[e for e in others if e.indicator.id not in own], *entries],
                               report)  # fmt: skip
    by_id: dict[str, _Entry] = {}
    for entry in [*others, *entries]:
        by_id[entry.indicator.id] = entry
        for alias in entry.indicator.aliases:
            by_id[alias] = entry
    _check_profiles(profiles, by_id, report)
    # errors in the files already checked are theirs, not these files'
    mine = {str(p) for p in paths}
    report.errors = [e for e in report.errors if e.location and e.location.file in mine]
    return report
