"""Every string of the report's interface, in Italian and English, and number formatting.

Labels of indicators, SDGs and territories come from their registries; this module holds only
the words of the interface. A test checks that every key has both languages.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "LANGUAGES",
    "STRINGS",
    "UNITS",
    "Translator",
    "breakdown_label",
    "decimals_for",
    "format_number",
    "unit_label",
]

LANGUAGES = ("it", "en")

STRINGS: dict[str, tuple[str, str]] = {
    # key: (Italian, English)
    "report": ("Rapporto", "Report"),
    "edition": ("Edizione", "Edition"),
    "home": ("Sintesi", "Overview"),
    "indicators": ("Indicatori", "Indicators"),
    "indicator": ("Indicatore", "Indicator"),
    "territories": ("Territori", "Territories"),
    "municipalities": ("Comuni", "Municipalities"),
    "municipality": ("Comune", "Municipality"),
    "districts": ("Distretti sociali", "Social districts"),
    "district": ("Distretto sociale", "Social district"),
    "grouping": ("Area dell'osservatorio", "Area of the observatory"),
    "composite": ("Indici compositi", "Composite indices"),
    "deepdive": ("Approfondimento", "Deep-dive"),
    "sections": ("Altre sezioni", "Other sections"),
    "skip": ("Vai al contenuto", "Skip to content"),
    "navigation": ("Navigazione", "Navigation"),
    "at_a_glance": ("Il territorio in sintesi", "The territory at a glance"),
    "by_goal": ("Per obiettivo di sviluppo sostenibile", "By Sustainable Development Goal"),
    "by_domain": ("Per dominio", "By domain"),
    "goal": ("Obiettivo", "Goal"),
    "domain": ("Dominio", "Domain"),
    "n_indicators": ("Indicatori", "Indicators"),
    "improving": ("In miglioramento", "Improving"),
    "stable_or_mixed": ("Stabili", "Stable"),
    "worsening": ("In peggioramento", "Worsening"),
    "not_assessed": ("Non valutabili", "Not assessable"),
    "changes": ("Novità rispetto all'edizione precedente", "Changes since the last edition"),
    "no_previous": (
        "Questa è la prima edizione: non ci sono confronti con edizioni precedenti.",
        "This is the first edition: there is no earlier edition to compare with.",
    ),
    "changes_summary": (
        "Rispetto all'edizione {previous}: {new} valori nuovi, {revised} rivisti, {removed} "
        "rimossi.",
        "Compared with edition {previous}: {new} new values, {revised} revised, {removed} removed.",
    ),
    "change_new": ("nuovo", "new"),
    "change_revised": ("rivisto", "revised"),
    "change_removed": ("rimosso", "removed"),
    "change": ("Variazione", "Change"),
    "before": ("Prima", "Before"),
    "after": ("Ora", "Now"),
    "warnings": ("Segnali di allerta precoce", "Early warnings"),
    "warnings_intro": (
        "Comuni molto peggiori dei loro pari e in peggioramento (z robusto e tasso di variazione "
        "annuo, vedi la nota metodologica).",
        "Municipalities much worse than their peers and getting worse (robust z-score and "
        "annual rate of change; see the methods note).",
    ),
    "no_warnings": ("Nessun segnale di allerta.", "No early warning."),
    "warning_why": (
        "mediana dei comuni {median}; dal {start} al {end} {rate} % l'anno, nel verso peggiore",
        "municipal median {median}; {start} to {end} {rate} % a year, the worse way",
    ),
    "warning_why_level": ("mediana dei comuni {median}", "municipal median {median}"),
    "why": ("Perché", "Why"),
    "signals": ("Segnali", "Signals"),
    "robust_z": ("z robusto", "Robust z"),
    "territory": ("Territorio", "Territory"),
    "value": ("Valore", "Value"),
    "year": ("Anno", "Year"),
    "unit": ("Unità", "Unit"),
    "trend": ("Andamento", "Trend"),
    "rank": ("Posizione", "Rank"),
    "rank_of": ("{rank}ª su {n}", "{rank} of {n}"),
    "rank_peers": (
        "Posizione tra i territori di confronto presenti (1 = il migliore)",
        "Rank among the comparison territories present (1 = best)",
    ),
    "rank_provinces": ("{rank}ª su {n} province ({year})", "{rank} of {n} provinces ({year})"),
    "rank_provinces_note": (
        "Posizione tra le province italiane con un dato (1 = la migliore)",
        "Rank among Italy's provinces with a value (1 = best)",
    ),
    "rank_municipalities": (
        "Posizione tra i comuni con un dato (1 = il migliore)",
        "Rank among the municipalities with a value (1 = best)",
    ),
    "progress": ("Progresso", "Progress"),
    "progress_method_istat": (
        "Classi di progresso Istat (tasso di crescita annuo composto, ultimi 5 anni)",
        "Istat progress classes (compound annual growth rate, last 5 years)",
    ),
    "progress_method_eurostat": (
        "Classi di progresso Eurostat (tasso di crescita annuo composto, ultimi 5 anni)",
        "Eurostat progress classes (compound annual growth rate, last 5 years)",
    ),
    "definition": ("Definizione", "Definition"),
    "how_to_read": ("Come leggerlo", "How to read it"),
    "source": ("Fonte", "Source"),
    "sdg_links": ("Obiettivi di sviluppo sostenibile", "Sustainable Development Goals"),
    "no_sdg": ("Indicatore di contesto, senza legame SDG.", "Context indicator, no SDG link."),
    "notes": ("Note", "Notes"),
    "no_notes": ("Nessuna nota.", "No notes."),
    "comparison": ("Confronto", "Comparison"),
    "data_table": ("Dati del grafico", "Chart data"),
    "chart_of": ("Andamento di {label}", "Trend of {label}"),
    "chart_desc": (
        "Grafico a linee dal {first} al {last}: {series}.",
        "Line chart from {first} to {last}: {series}.",
    ),
    "sparkline_of": (
        "{label}: {first} nel {y0}, {last} nel {y1}",
        "{label}: {first} in {y0}, {last} in {y1}",
    ),
    "bar_chart_of": ("{label}: grafico a barre", "{label}: bar chart"),
    "no_data": ("Nessun dato pubblicabile.", "No publishable data."),
    "missing_value": ("n.d.", "n/a"),
    "status_P": ("provvisorio", "provisional"),
    "status_B": ("interruzione di serie", "break in series"),
    "status_E": ("stimato", "estimated"),
    "status_U": ("bassa affidabilità", "low reliability"),
    "status_I": ("imputato", "imputed"),
    "status_F": ("previsione", "forecast"),
    "status_suppressed": (
        "dato oscurato per tutela della riservatezza",
        "value suppressed to protect confidentiality",
    ),
    "legend": ("Legenda", "Legend"),
    "legend_markers": (
        "p provvisorio, b interruzione di serie, e stimato, u bassa affidabilità, "
        "s oscurato per riservatezza",
        "p provisional, b break in series, e estimated, u low reliability, "
        "s suppressed for confidentiality",
    ),
    "municipalities_of": ("Comuni del territorio", "Municipalities of the territory"),
    "districts_of": ("Distretti sociali del territorio", "Social districts of the territory"),
    "members": ("Comuni del distretto", "Municipalities of the district"),
    "groupings_of": ("Aree dell'osservatorio", "Areas of the observatory"),
    "grouping_members": ("Comuni dell'area", "Municipalities of the area"),
    "vs": ("confronto con", "compared with"),
    "latest": ("Ultimo dato", "Latest value"),
    "composite_intro": (
        "Indice composito AMPI (Istat, BES) per dominio: 100 = {territory} nel {year}; "
        "valori più alti indicano condizioni migliori.",
        "Composite AMPI index (Istat, BES) by domain: 100 = {territory} in {year}; higher "
        "values mean better conditions.",
    ),
    "composite_too_few": (
        "Indice non calcolato: solo {n} indicatori del dominio con una polarità e dati per i "
        "comuni (ne servono almeno {min}).",
        "Index not computed: only {n} indicators of the domain have a polarity and data for "
        "the municipalities (at least {min} are needed).",
    ),
    "composite_intro_each": (
        "Indice composito AMPI (Istat, BES) per dominio: 100 = il territorio e l'anno di "
        "riferimento indicati sotto ogni dominio; valori più alti indicano condizioni migliori.",
        "Composite AMPI index (Istat, BES) by domain: 100 = the reference territory and year "
        "given under each domain; higher values mean better conditions.",
    ),
    "composite_reference": ("100 = {territory} nel {year}.", "100 = {territory} in {year}."),
    "composite_none": (
        "Indice non calcolato: nessun indicatore del dominio ha una polarità e dati per i "
        "comuni (ne servono almeno {min}).",
        "Index not computed: no indicator of the domain has a polarity and data for the "
        "municipalities (at least {min} are needed).",
    ),
    "composite_used": ("Indicatori usati", "Indicators used"),
    "composite_missing": (
        "I comuni senza tutti i valori non ricevono un punteggio.",
        "Municipalities without every value get no score.",
    ),
    "score": ("Punteggio", "Score"),
    "deepdive_missing": (
        "L'osservatorio non ha indicato un approfondimento tematico per questa edizione.",
        "The observatory has not set a thematic deep-dive for this edition.",
    ),
    "figure": ("Figura", "Figure"),
    "not_available": ("non disponibile", "not available"),
    "ref_no_data": ("nessun dato in questa edizione", "no data in this edition"),
    "ref_default": ("implicito", "implied"),
    "ref_no_match": ("nessun dato per {filter}", "no data for {filter}"),
    "ref_no_match_but": (
        "nessun dato per {filter}; l'edizione ha: {available}",
        "no data for {filter}; the edition has: {available}",
    ),
    "ref_suppressed": ("dato riservato nel {year}", "value suppressed in {year}"),
    "composite_reference_none": (
        "Indice composito AMPI (Istat, BES) per dominio: 100 = {territory} nell'anno di "
        "riferimento del dominio; valori più alti indicano condizioni migliori.",
        "Composite AMPI index (Istat, BES) by domain: 100 = {territory} in the domain's "
        "reference year; higher values mean better conditions.",
    ),
    "figure_missing": (
        "{label}: nessun dato pubblicabile in questa edizione.",
        "{label}: no publishable data in this edition.",
    ),
    "generated": (
        "Generato dalla base di conoscenza, edizione {edition}, build {build}.",
        "Generated from the knowledge base, edition {edition}, build {build}.",
    ),
    "licence": ("Licenza dei dati", "Data licence"),
    "print_contents": ("Indice", "Contents"),
    "direction_up": ("in aumento", "rising"),
    "direction_down": ("in diminuzione", "falling"),
    "direction_flat": ("stabile", "flat"),
    "level_country": ("paese", "country"),
    "level_nuts1": ("ripartizione", "macro-region"),
    "level_region": ("regione", "region"),
    "level_province": ("provincia", "province"),
    "level_district": ("distretto", "district"),
    "level_grouping": ("area", "area"),
    # Names the registry holds in Italian only, said in English on the English site
    # (NUTS 1 names are official in Italian and stay so).
    "territory_IT": ("Italia", "Italy"),
    # Progress classes (Istat and Eurostat), as ``analyze`` names them.
    "clear_improvement": ("miglioramento netto", "clear improvement"),
    "slight_improvement": ("lieve miglioramento", "slight improvement"),
    "stable": ("stabile", "stable"),
    "slight_worsening": ("lieve peggioramento", "slight worsening"),
    "clear_worsening": ("peggioramento netto", "clear worsening"),
    "significant_progress": ("progresso significativo", "significant progress"),
    "moderate_progress": ("progresso moderato", "moderate progress"),
    "insufficient_progress": ("progresso insufficiente", "insufficient progress"),
    "moderate_movement_away": ("moderato allontanamento", "moderate movement away"),
    "significant_movement_away": ("allontanamento significativo", "significant movement away"),
    "movement_away": ("allontanamento", "movement away"),
    "not_assessable": ("non valutabile", "not assessable"),
    # Maps and the freshness of the data.
    "map_municipal": (
        "{label}: i comuni, {year}",
        "{label}: the municipalities, {year}",
    ),
    "map_provinces": (
        "{label}: {focus} tra le province italiane, {year}",
        "{label}: {focus} among the provinces of Italy, {year}",
    ),
    "map_desc": (
        "Mappa coropletica di {n} aree ({unit}); i valori sono nella tabella accanto.",
        "Choropleth map of {n} areas ({unit}); the values are in the table beside it.",
    ),
    "map_breaks": (
        "Classi: quantili dei {n} valori mostrati ({year}), fino a cinque classi con circa "
        "lo stesso numero di aree, così la mappa mostra l'ordine delle aree qualunque sia la "
        "distribuzione dei valori; colore più scuro = valore più alto.",
        "Classes: quantiles of the {n} values shown ({year}), up to five classes holding about "
        "as many areas each, so the map shows the order of the areas whatever the skew of the "
        "values; darker = higher value.",
    ),
    "map_missing": ("nessun valore", "no value"),
    "map_suppressed": ("riservato (non pubblicabile)", "confidential (not publishable)"),
    "map_values": ("Valori della mappa", "Values of the map"),
    "map_class": ("Classe", "Class"),
    "map_credit": ("Confini: {credit}.", "Boundaries: {credit}."),
    "map_no_shapes": (
        "Mappa dei comuni non disponibile in questa edizione.",
        "Map of the municipalities not available in this edition.",
    ),
    "map_unshaped": (
        "{n} aree senza confine nella versione dei confini usata: {names}.",
        "{n} areas without a shape in the boundaries used: {names}.",
    ),
    "map_overview": ("Mappa dell'indicatore:", "Map of the indicator:"),
    "maps": ("Mappe", "Maps"),
    "data_as_of": ("Dati {years}", "Data {years}"),
    "data_from": ("fonte: {sources}", "source: {sources}"),
    "data_freshness": (
        "Anni dei dati dei conteggi: {years} (ultimo anno disponibile per indicatore).",
        "Years of the data counted: {years} (latest year available per indicator).",
    ),
    "data_years": ("Anni dei dati", "Data years"),
    # Which territories the cited dataset covers (Indicator.coverage), when not all of them.
    "coverage": ("Copertura", "Coverage"),
    "coverage_provincial_capitals": (
        "solo i comuni capoluogo di provincia: non è un valore dell'intera provincia",
        "provincial capitals only: not a value for the whole province",
    ),
    "coverage_monitoring_stations": (
        "solo dove una stazione di misura rileva il dato",
        "only where a monitoring station measures",
    ),
    "coverage_survey_domains": (
        "solo i domini per cui l'indagine campionaria produce stime (regioni, alcune province)",
        "only the domains the sample survey estimates (regions, some provinces)",
    ),
    "source_derive": ("calcolato dagli altri dati", "computed from the other data"),
    "trend_window": ("periodo {start}–{end}", "window {start}–{end}"),
    "progress_horizons": ("Progressi per orizzonte", "Progress by horizon"),
    "horizon_short": ("breve periodo", "short term"),
    "horizon_long": ("lungo periodo", "long term"),
    "horizon_full": ("intera serie", "full series"),
    "analyses_computed": (
        "Questa edizione non contiene analisi salvate ({names}): il rapporto le ha calcolate "
        "dalla vista pubblicabile.",
        "This edition stores no analyses ({names}): the report computed them from the "
        "publishable view.",
    ),
    # Domains of the catalogue.
    "domain_demography": ("Demografia", "Demography"),
    "domain_health": ("Salute", "Health"),
    "domain_environment": ("Ambiente", "Environment"),
    "domain_education": ("Istruzione", "Education"),
    "domain_labour": ("Lavoro", "Labour"),
    "domain_income_poverty": ("Reddito e povertà", "Income and poverty"),
    "domain_housing": ("Abitazione", "Housing"),
    "domain_social_services": ("Servizi sociali", "Social services"),
    "domain_safety": ("Sicurezza", "Safety"),
    "domain_participation": ("Partecipazione", "Participation"),
    "domain_third_sector": ("Terzo settore", "Third sector"),
    "domain_economy": ("Economia", "Economy"),
}


class Translator:
    """``t("key", name=value)``: the string in the report's language, formatted."""

    def __init__(self, lang: str) -> None:
        if lang not in LANGUAGES:
            from welfare_observatory.errors import PublishError

            raise PublishError(
                f"the report has no language {lang!r}", hint="use --lang it or --lang en"
            )
        self.lang = lang
        self._index = 0 if lang == "it" else 1

    def __call__(self, key: str, **values: object) -> str:
        text = STRINGS[key][self._index]
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in STRINGS


def format_number(value: float | None, lang: str, decimals: int = 1) -> str:
    """``value`` with ``decimals`` digits, Italian (1.234,5) or English (1,234.5) separators;
    an empty string for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = f"{value:,.{decimals}f}"
    if lang == "it":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


UNITS: dict[str, tuple[str, str]] = {
    "percent": ("%", "%"),
    "per_thousand": ("per 1.000", "per 1,000"),
    "per_ten_thousand": ("per 10.000", "per 10,000"),
    "per_hundred_thousand": ("per 100.000", "per 100,000"),
    "person": ("persone", "persons"),
    "household": ("famiglie", "households"),
    "event": ("eventi", "events"),
    "organisation": ("organizzazioni", "organisations"),
    "enterprise": ("imprese", "enterprises"),
    "euro": ("euro", "euro"),
    "euro / person": ("euro per abitante", "euro per person"),
    "euro / household": ("euro per famiglia", "euro per household"),
    "ratio": ("rapporto", "ratio"),
    "year": ("anni", "years"),
    "index_points": ("punti indice", "index points"),
    "bed": ("posti letto", "beds"),
    "day": ("giorni", "days"),
}

_COUNT_UNITS = frozenset({"person", "household", "event", "organisation", "enterprise", "bed"})


def unit_label(unit: str, lang: str) -> str:
    """A readable unit: the shipped wording for common units, else the unit text itself."""
    pair = UNITS.get(unit)
    if pair is None:
        return unit
    return pair[0] if lang == "it" else pair[1]


def decimals_for(unit: str) -> int:
    """Digits shown: none for counts, one otherwise."""
    return 0 if unit in _COUNT_UNITS else 1


# The built-in code lists of harmonize/codelists.py, in readers' words.
_BREAKDOWN_WORDS: dict[tuple[str, str], tuple[str, str]] = {
    ("sex", "F"): ("donne", "women"),
    ("sex", "M"): ("uomini", "men"),
    ("sex", "_T"): ("totale", "total"),
    ("citizenship", "FOR"): ("stranieri", "foreigners"),
    ("citizenship", "NAT"): ("italiani", "Italians"),
    ("citizenship", "_T"): ("totale", "total"),
    ("age", "_T"): ("tutte le età", "all ages"),
}
_AGE = re.compile(r"^Y(?:(?P<lo>\d+)T(?P<hi>\d+)|_GE(?P<ge>\d+)|_LT(?P<lt>\d+)|(?P<one>\d+))$")


def breakdown_label(dimension: str, code: str, lang: str) -> str:
    """A breakdown value as readers say it (``sex``/``F`` is "donne" or "women"; ages
    ``Y65T74``, ``Y_GE75``, ``Y_LT5``, ``Y23`` in years); other codes are shown as they are."""
    it = lang == "it"
    pair = _BREAKDOWN_WORDS.get((dimension, code))
    if pair is not None:
        return pair[0] if it else pair[1]
    found = _AGE.match(code) if dimension == "age" else None
    if found is None:
        return code
    if found["lo"] is not None:
        return f"{found['lo']}-{found['hi']} anni" if it else f"aged {found['lo']}-{found['hi']}"
    if found["ge"] is not None:
        return f"{found['ge']} anni e oltre" if it else f"aged {found['ge']} and over"
    if found["lt"] is not None:
        return f"meno di {found['lt']} anni" if it else f"under {found['lt']}"
    return f"{found['one']} anni" if it else f"aged {found['one']}"
