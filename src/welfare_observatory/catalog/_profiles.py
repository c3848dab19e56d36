"""Rebuild the shipped selection profiles from the verified entries.

Usage: ``python -m welfare_observatory.catalog._profiles`` (rewrites ``profiles/*.yaml``).

Profiles list verified entries only, so they must follow the content: run this after entries
are added or (un)verified, review the diff, and commit it. The rules are deliberately simple
and written down here, so a reviewer can see why an indicator is in a profile.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import yaml

from welfare_observatory.catalog._load import SHIPPED_DATA, SHIPPED_PROFILES, load_layers
from welfare_observatory.catalog._rules import reading_problems
from welfare_observatory.model.indicator import Indicator, MeasureKind

DOMAIN_ORDER = (
    "demography", "labour", "income_poverty", "education", "health", "housing",
    "social_services", "safety", "environment", "participation", "third_sector", "economy",
)  # fmt: skip
"""Reading order of a report: context first, then the welfare domains, then the rest."""

MATURE_SIZE = 160
FIRST_REPORT_SIZE = 100
KEY_COUNTS = frozenset({
    "POP_TOTAL", "POP_FOREIGN", "BIRTHS", "DEATHS", "NATURAL_BALANCE", "NET_MIGRATION_TOTAL",
    "ACQUISITIONS_OF_CITIZENSHIP", "NON_EU_RESIDENCE_PERMITS", "POP_IN_INSTITUTIONS", "MARRIAGES",
})  # fmt: skip
"""Demographic counts a report shows as such; the other counts are operands of rates."""

POPULATION_COUNT = re.compile(
    r"^POP_(TOTAL|FEMALE|MALE|NON_WORKING_AGE|FEMALE_15_49|\d+_\d+|\d+_PLUS)$"
)
"""Residents on 1 January by sex and age class: what the shipped population baseline gives."""

Text = dict[str, str]
THEMES: dict[str, tuple[str, str | None, Text, Text]] = {
    # name: (words to find in id, tags or labels; ids to leave out; label; description)
    "ageing": (
        r"\bageing\b|elderly|older|65_PLUS|75_PLUS|80_PLUS|OLD_AGE|DEMENTIA|PENSION|HOME_CARE"
        r"|anzian|LIVING_ALONE|NURSING|RESIDENTIAL_CARE",
        None,
        {"it": "Invecchiamento", "en": "Ageing"},
        {"it": "Struttura per età, anziani, salute e servizi per le persone anziane.",
         "en": "Age structure, older people, health and services for older people."},
    ),
    "youth_at_risk": (
        r"\byouth\b|\bchildren\b|NEET|EARLY_LEAV|15_29|18_24|0_17|MINOR|YOUNG|giovan|minor"
        r"|SCHOOL|DROPOUT|student|ADOLESCENT",
        r"^(POP_0_2|POP_0_4|POP_0_5|POP_3_5|POP_6_10|ELDERLY_PER_CHILD)$",
        {"it": "Giovani a rischio", "en": "Young people at risk"},
        {"it": "Giovani e minori: istruzione, abbandono, NEET, lavoro, emigrazione.",
         "en": "Young people and minors: education, early leaving, NEET, work, emigration."},
    ),
    "women_and_work": (
        r"\bgender\b|FEMALE|WOMEN|\bwomen\b|donne|femminil|GENDER|MATERN|CHILDCARE|NURSERY"
        r"|PART_TIME|CARE_WORK|FIRST_BIRTH",
        r"^(POP_MALE|HOMICIDE_.*)$",
        {"it": "Donne tra lavoro e cura", "en": "Women between work and care"},
        {"it": "Occupazione femminile, divari di genere, maternità, servizi di cura.",
         "en": "Women's employment, gender gaps, motherhood, care services."},
    ),
    "migration_and_integration": (
        r"\bmigration\b|\bintegration\b|FOREIGN|CITIZENSHIP|stranier|MIGRA|PERMIT",
        r"^HOSPITAL_OUTMIGRATION$",  # patients treated in another region, not migrants
        {"it": "Migrazioni e integrazione", "en": "Migration and integration"},
        {"it": "Presenza straniera, movimenti migratori, permessi, cittadinanza.",
         "en": "Foreign residents, migration flows, permits, citizenship."},
    ),
}  # fmt: skip


def _ordered(items: Iterable[Indicator]) -> list[Indicator]:
    return sorted(items, key=lambda i: (DOMAIN_ORDER.index(i.domain.value), i.id))


def _from_population(ind: Indicator, counts: set[str]) -> bool:
    """A count of residents by sex and age on 1 January, or a ratio of two such counts."""
    if ind.domain.value != "demography" or ind.reference_point.value != "jan_1":
        return False
    if ind.formula is not None:
        return {ind.formula.numerator, ind.formula.denominator} <= counts
    return ind.id in counts


def _reportable(ind: Indicator) -> bool:
    return ind.domain.value != "demography" or (
        ind.measure is MeasureKind.RATIO or ind.id in KEY_COUNTS
    )


def _matching(pool: list[Indicator], pattern: str, exclude: str | None) -> list[Indicator]:
    rx = re.compile(pattern, re.IGNORECASE)
    chosen = [i for i in pool if rx.search(" ".join([i.id, *i.tags, i.label.en, i.label.it]))]
    if exclude:
        chosen = [i for i in chosen if not re.match(exclude, i.id)]
    return _ordered(chosen)


def _rank(ind: Indicator) -> tuple[bool, bool, bool, str]:
    """Report-worthy first: rates and key counts, then SDG-linked ones, then ratios."""
    return (not _reportable(ind), not ind.sdg, ind.measure is not MeasureKind.RATIO, ind.id)


def _proportional(items: list[Indicator], size: int) -> list[Indicator]:
    """``size`` of ``items``, each domain in proportion (largest remainder), best ranked first."""
    if len(items) <= size:
        return _ordered(items)
    by_domain: dict[str, list[Indicator]] = {}
    for ind in sorted(items, key=_rank):
        by_domain.setdefault(ind.domain.value, []).append(ind)
    shares = {d: size * len(v) / len(items) for d, v in by_domain.items()}
    quota = {d: max(1, math.floor(share)) for d, share in shares.items()}
    for d in sorted(shares, key=lambda d: shares[d] - math.floor(shares[d]), reverse=True):
        if sum(quota.values()) >= size:
            break
        quota[d] += 1
    chosen = [ind for d, v in by_domain.items() for ind in v[: quota[d]]]
    return _ordered(sorted(chosen, key=_rank)[:size])


def build(indicators: Iterable[Indicator]) -> dict[str, tuple[list[Indicator], Text, Text]]:
    """Profile name -> (indicators, label, description), from the verified entries only.

    An entry whose data cover only some territories (``coverage`` other than ``all``) is
    never offered, nor one a report card could not explain (no real definition or "how to
    read" in both languages, see ``_rules.reading_problems``).
    """
    verified = [
        i
        for i in indicators
        if i.source.verified and i.coverage.complete and not reading_problems(i)
    ]
    reportable = [i for i in verified if _reportable(i)]
    population = {i.id for i in verified if POPULATION_COUNT.match(i.id) and i.formula is None}
    if len(reportable) >= MATURE_SIZE:
        mature = _proportional(reportable, MATURE_SIZE)
    else:  # as large as verified content allows: the rates, then the counts behind them
        counts = sorted((i for i in verified if not _reportable(i)), key=_rank)
        mature = _ordered(reportable + counts[: MATURE_SIZE - len(reportable)])
    first = _proportional(mature, FIRST_REPORT_SIZE)
    out: dict[str, tuple[list[Indicator], Text, Text]] = {
        "mature": (
            mature,
            {"it": "Osservatorio maturo", "en": "Mature observatory"},
            {"it": "La selezione ampia di un osservatorio avviato (come OsservaBiella, circa 160 "
                   "indicatori), limitata alle voci verificate.",
             "en": "The broad selection of an established observatory (like OsservaBiella, "
                   "about 160 indicators), limited to verified entries."},
        ),
        "first_report": (
            first,
            {"it": "Primo rapporto", "en": "First report"},
            {"it": "Un primo rapporto di circa 100 indicatori in tutti i domini (come il primo "
                   "rapporto di OsservaBrescia), solo voci verificate.",
             "en": "A first report of about 100 indicators across every domain (like "
                   "OsservaBrescia's first report), verified entries only."},
        ),
        "demographic_context": (
            _ordered(i for i in verified if i.domain.value == "demography" and _reportable(i)),
            {"it": "Contesto demografico", "en": "Demographic context"},
            {"it": "Struttura e dinamica della popolazione: il quadro di apertura di un rapporto.",
             "en": "Population structure and change: the opening picture of every report."},
        ),
        "sdg_8_10_17": (
            _ordered(i for i in verified if i.sdg_goals & {8, 10, 17}),
            {"it": "Lavoro, disuguaglianze, partenariati (SDG 8, 10, 17)",
             "en": "Work, inequalities, partnerships (SDG 8, 10, 17)"},
            {"it": "Le voci verificate collegate agli obiettivi 8, 10 e 17.",
             "en": "Verified entries linked to goals 8, 10 and 17."},
        ),
        "starter": (
            _ordered(i for i in verified if _from_population(i, population)),
            {"it": "Primo avvio: struttura della popolazione",
             "en": "Starter: population structure"},
            {"it": "Le voci verificate che la sola popolazione al 1° gennaio per sesso e classe "
                   "di età produce: ciò che 'welfare-observatory new' costruisce subito, offline.",
             "en": "The verified entries that residents on 1 January by sex and age class alone "
                   "give: what 'welfare-observatory new' builds at once, offline."},
        ),
    }  # fmt: skip
    for name, (pattern, exclude, label, description) in THEMES.items():
        out[name] = (_matching(verified, pattern, exclude), label, description)
    return {name: value for name, value in out.items() if value[0]}


def write(profiles: dict[str, tuple[list[Indicator], Text, Text]], folder: Path) -> None:
    """One YAML file per profile in ``folder``; other YAML files there are removed."""
    for old in folder.glob("*.yaml"):
        old.unlink()
    for name, (items, label, description) in profiles.items():
        data = {"id": name, "label": label, "description": description,
                "indicators": [i.id for i in items]}  # fmt: skip
        text = f"# Selection profile '{name}': {len(items)} verified indicators.\n"
        text += yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")


def main(echo: Callable[[str], None] = print) -> None:
    """Rebuild ``profiles/*.yaml`` from the shipped indicator files."""
    loaded = load_layers([sorted(SHIPPED_DATA.glob("*.yaml"))])
    profiles = build(loaded.indicators.values())
    write(profiles, SHIPPED_PROFILES)
    for name, (items, _, _) in profiles.items():
        echo(f"{name}: {len(items)} indicators")


if __name__ == "__main__":
    main()
