"""Which indicators a type of local body is asked for.

A data request asks for **counts** (catalogue entries without a formula whose measure is a
stock or a flow): rates are derived by the build from counts and populations, and survey
estimates (poverty, employment rates) are not something a municipality holds. The wanted
counts are the observatory's selection plus the operands of its formulas, minus the
indicators its sources already deliver.

Who supplies what, in this order:

1. a catalogue tag ``provider:<type>`` on the entry (several allowed) decides;
2. otherwise the domain: ``demography``, ``housing`` and ``education`` -> ``comune``
   (population registry, housing and school offices); ``health`` -> ``asl``;
   ``social_services`` -> ``consortium`` (the social-services consortium or the
   municipalities' associated office); ``third_sector`` and ``participation`` ->
   ``third_sector``. Other domains (labour, income, economy, safety, environment) come
   from national statistics and are never requested locally.

Only counts and euro amounts are requested (units ``person``, ``event``, ``organisation``,
``household``, ``bed``, ``enterprise``, ``euro``); averages (``POP_AVERAGE``), life
expectancies and areas are not.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, Any

from welfare_observatory.model.common import Text

if TYPE_CHECKING:
    from welfare_observatory.model import Indicator
    from welfare_observatory.observatory import Observatory

__all__ = [
    "COUNT_UNITS",
    "DOMAIN_PROVIDERS",
    "PROVIDERS",
    "PROVIDER_LABELS",
    "declared_indicators",
    "providers_of",
    "requested_indicators",
    "sheet_names",
]

PROVIDERS = ("comune", "asl", "consortium", "third_sector")

PROVIDER_LABELS: dict[str, Text] = {
    "comune": Text(it="Comuni (anagrafe, uffici casa e scuola)", en="Municipalities"),
    "asl": Text(it="Azienda sanitaria locale", en="Local health authority"),
    "consortium": Text(it="Consorzio dei servizi sociali", en="Social-services consortium"),
    "third_sector": Text(it="Enti del Terzo settore", en="Third Sector organisations"),
}

DOMAIN_PROVIDERS: dict[str, str] = {
    "demography": "comune",
    "housing": "comune",
    "education": "comune",
    "health": "asl",
    "social_services": "consortium",
    "third_sector": "third_sector",
    "participation": "third_sector",
}

_TAG = "provider:"


def providers_of(indicator: Indicator) -> set[str]:
    """The provider types that supply ``indicator`` (empty: not requested locally)."""
    tagged = {tag[len(_TAG) :] for tag in indicator.tags if tag.startswith(_TAG)}
    if tagged:
        return tagged & set(PROVIDERS)
    domain = str(getattr(indicator.domain, "value", indicator.domain))
    provider = DOMAIN_PROVIDERS.get(domain)
    return {provider} if provider else set()


COUNT_UNITS = frozenset({"person", "event", "organisation", "household", "bed", "enterprise"})
"""Units of what a local body counts; ``euro`` amounts (spending) are requested too."""
_REQUESTED_UNITS = COUNT_UNITS | {"euro"}


def _requestable(indicator: Indicator) -> bool:
    """A count or an amount a local body records, not an average or a model output."""
    measure = str(getattr(indicator.measure, "value", indicator.measure))
    reference = str(getattr(indicator.reference_point, "value", indicator.reference_point))
    return (
        indicator.formula is None
        and measure in ("stock", "flow")
        and indicator.unit in _REQUESTED_UNITS
        and reference != "year_average"
    )


def declared_indicators(rules: Any) -> set[str]:
    """Indicator ids that a source's rules name (constants and mapping targets)."""
    items = rules if isinstance(rules, list | tuple) else [rules] if rules else []
    ids: set[str] = set()
    for item in items:
        if hasattr(item, "indicator_ids"):  # a validated HarmonizeRule
            ids |= set(item.indicator_ids())
            continue
        indicator = item.get("indicator") if isinstance(item, dict) else None
        if isinstance(indicator, dict):
            if isinstance(indicator.get("value"), str):
                ids.add(indicator["value"])
            mapping = indicator.get("map") or {}
            if isinstance(mapping, dict):
                ids |= {str(v) for v in mapping.values()}
    return ids


def requested_indicators(observatory: Observatory, provider: str) -> list[Indicator]:
    """The counts ``provider`` is asked for, in catalogue order of the selection."""
    catalog = observatory.catalog
    wanted: list[str] = []
    for indicator in observatory.selection():
        wanted.append(indicator.id)
        if indicator.formula is not None:
            wanted += [indicator.formula.numerator, indicator.formula.denominator]
    delivered: set[str] = set()
    for source in observatory.config.sources.values():
        if source.enabled:
            delivered |= declared_indicators(source.rules)
    chosen = []
    for indicator_id in dict.fromkeys(wanted):
        if indicator_id in delivered:
            continue
        try:
            indicator = catalog.get(indicator_id)
        except LookupError:
            continue  # a formula operand missing from the catalogue: the build reports it
        if _requestable(indicator) and provider in providers_of(indicator):
            chosen.append(indicator)
    return chosen


def sheet_names(ids: Iterable[str]) -> dict[str, str]:
    """Unique Excel sheet names (at most 31 characters) for indicator ids."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for indicator_id in ids:
        name = indicator_id[:31]
        n = 2
        while name in used:
            suffix = f"~{n}"
            name = indicator_id[: 31 - len(suffix)] + suffix
            n += 1
        used.add(name)
        names[indicator_id] = name
    return names


def covered_elsewhere(
    indicator: Indicator, periods: Iterable[int], source_types: Iterable[str], today: date
) -> str | None:
    """Why a local body need not be asked for ``indicator`` in ``periods`` (an installed
    source reads it by municipality for every one of them), or None when it must be asked.

    Istat publishes what its catalogue entry names by dataset down to the municipality
    (``finest_level``) through its SDMX service, which the built-in ``sdmx`` source reads; a
    year counts as published ``release_lag_months`` (12 when unknown) after it ends.
    """
    provenance = indicator.source
    if not (
        "istat" in provenance.publisher.casefold()
        and provenance.dataset
        and "sdmx" in set(source_types)
        and str(getattr(indicator.finest_level, "value", indicator.finest_level)) == "municipality"
    ):
        return None
    lag = indicator.release_lag_months if indicator.release_lag_months is not None else 12
    latest = max(periods)
    months = 12 * (latest + 1) + lag
    published = date(months // 12, months % 12 + 1, 1)
    if published > today:
        return None
    return (
        f"Istat lo pubblica per comune (dataset {provenance.dataset}, anni fino al {latest}): "
        "si legge con una fonte sdmx, senza chiederlo"
    )
