"""Write the catalogue entries and the selection profile of ``plugins/italy-baseline``.

BES entries take Istat's label, definition and source from the BES metadata file; SDG
measures take Istat's name and the UN indicator the SDG workbook files them under; the
other entries are written below from the upstream files' own column labels. Polarity comes
from the publisher where the shipped material states one; it does not for BES and SDG
measures, so there it is argued in the entry's note from the definition.

Usage (from the repository root, after ``tools/build_baseline_data.py``)::

    .venv/bin/python tools/build_baseline_catalog.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_baseline_data as data

PLUGIN = data.REPO / "plugins" / "italy-baseline" / "src" / "welfare_observatory_italy_baseline"
CATALOG = PLUGIN / "catalog" / "baseline.yaml"
PROFILE = PLUGIN / "catalog" / "profile_baseline.yaml"
BES_URL = (
    "https://www.istat.it/statistiche-per-temi/focus/benessere-e-sostenibilita/bes-dei-territori/"
)
SDG_URL = "https://www.istat.it/statistiche-per-temi/focus/benessere-e-sostenibilita/obiettivi-di-sviluppo-sostenibile/"
MEF_URL = "https://www1.finanze.gov.it/finanze/analisi_stat/public/index.php?tree=2025"

# BES code -> (English label, polarity, domain, unit). Polarity argued from Istat's definition.
BES: dict[str, tuple[str, str, str, str]] = {
    "01SAL001": ("Life expectancy at birth", "positive", "health", "year"),
    "01SAL004": ("Infant mortality", "negative", "health", "per_thousand"),
    "01SAL005": ("Road accident mortality (15-34 years)", "negative", "health", "per_ten_thousand"),
    "01SAL006": ("Cancer mortality (20-64 years)", "negative", "health", "per_ten_thousand"),
    "01SAL007": (
        "Mortality from dementia and nervous system diseases (65+)",
        "negative",
        "health",
        "per_ten_thousand",
    ),
    "02IST002": (
        "People with at least upper secondary education (25-64)",
        "positive",
        "education",
        "percent",
    ),
    "02IST003P": ("Tertiary graduates (25-39)", "positive", "education", "percent"),
    "02IST004": ("Transition to university", "positive", "education", "percent"),
    "02IST006": (
        "Young people not in employment, education or training (NEET)",
        "negative",
        "education",
        "percent",
    ),
    "02IST007": ("Participation in lifelong learning", "positive", "education", "percent"),
    "02IST008P": ("Inadequate literacy skills", "negative", "education", "percent"),
    "02IST009P": ("Inadequate numeracy skills", "negative", "education", "percent"),
    "03LAV001": ("Employment rate (20-64)", "positive", "labour", "percent"),
    "03LAV002": ("Labour market non-participation rate", "negative", "labour", "percent"),
    "03LAV003P": ("Youth employment rate (15-29)", "positive", "labour", "percent"),
    "03LAV004P": ("Paid days in the year (employees)", "positive", "labour", "percent"),
    "03LAV006P": ("Youth non-participation rate (15-29)", "negative", "labour", "percent"),
    "03LAV007": (
        "Rate of fatal and permanently disabling occupational injuries",
        "negative",
        "labour",
        "per_ten_thousand",
    ),
    "04BEC001P": (
        "Average disposable income per capita",
        "positive",
        "income_poverty",
        "euro / person",
    ),
    "04BEC002P": (
        "Average annual wage of employees",
        "positive",
        "income_poverty",
        "euro / person",
    ),
    "04BEC005P": (
        "Average annual pension income per pensioner",
        "positive",
        "income_poverty",
        "euro / person",
    ),
    "04BEC006P": ("Pensioners with a low pension", "negative", "income_poverty", "percent"),
    "04BEC007P": (
        "Household wealth per household",
        "positive",
        "income_poverty",
        "euro / household",
    ),
    "04BEC009P": (
        "Rate of new bad debts on household bank loans",
        "negative",
        "income_poverty",
        "percent",
    ),
    "05REL007P": ("Accessible schools", "positive", "education", "percent"),
    "05REL008": (
        "Non-profit organisations per 10,000 inhabitants",
        "positive",
        "third_sector",
        "per_ten_thousand",
    ),
    "06POL001": (
        "Voter turnout (European Parliament elections)",
        "positive",
        "participation",
        "percent",
    ),
    "06POL001P": ("Voter turnout (regional elections)", "positive", "participation", "percent"),
    "06POL002P": ("Women among municipal administrators", "positive", "participation", "percent"),
    "06POL003P": ("Municipal administrators under 40", "positive", "participation", "percent"),
    "06POL007P": (
        "Provincial administrations: collection capacity",
        "positive",
        "participation",
        "percent",
    ),
    "06POL009P": ("Municipalities: collection capacity", "positive", "participation", "percent"),
    "06POL012P": ("Prison overcrowding", "negative", "safety", "percent"),
    "07SIC001P": ("Homicides", "negative", "safety", "per_hundred_thousand"),
    "07SIC002P": ("Other violent crimes reported", "negative", "safety", "per_ten_thousand"),
    "07SIC003P": (
        "Widespread crimes reported (thefts, home robberies)",
        "negative",
        "safety",
        "per_ten_thousand",
    ),
    "07SIC008P": ("Road mortality outside urban areas", "negative", "safety", "percent"),
    "09PAE002": (
        "Density and relevance of museum heritage (per 100 km2)",
        "positive",
        "environment",
        "dimensionless",
    ),
    "09PAE008": ("Agritourism farms (per 100 km2)", "neutral", "economy", "dimensionless"),
    "09PAE009": (
        "Density of historic green areas (per 100 m2 of urbanised area)",
        "positive",
        "environment",
        "percent",
    ),
    "10AMB003": ("Water losses from municipal networks", "negative", "environment", "percent"),
    "10AMB004": ("Municipal waste sent to landfill", "negative", "environment", "percent"),
    "10AMB005": ("Urban air quality - PM10", "negative", "environment", "percent"),
    "10AMB006": ("Urban air quality - nitrogen dioxide", "negative", "environment", "percent"),
    "10AMB008": (
        "Urban green space per inhabitant",
        "positive",
        "environment",
        "metre ** 2 / person",
    ),
    "10AMB016": ("Electricity from renewable sources", "positive", "environment", "percent"),
    "10AMB017": ("Separate collection of municipal waste", "positive", "environment", "percent"),
    "10AMB018": ("Soil sealing by artificial land cover", "negative", "environment", "percent"),
    "11RIC002": (
        "Patent applications (per million inhabitants)",
        "positive",
        "economy",
        "dimensionless",
    ),
    "11RIC004P": ("Employees in cultural enterprises", "positive", "economy", "percent"),
    "11RIC007": ("Mobility of Italian graduates (25-39)", "positive", "education", "per_thousand"),
    "12SER001P": ("Hospital emigration to another region", "negative", "health", "percent"),
    "12SER002": (
        "Children in municipal early-childhood services",
        "positive",
        "social_services",
        "percent",
    ),
    "12SER007": (
        "Irregularity of electricity service (interruptions per user)",
        "negative",
        "environment",
        "dimensionless",
    ),
    "12SER008": (
        "Public transport seat-km per inhabitant",
        "positive",
        "environment",
        "kilometre / person",
    ),
}

# SDG measure code -> (Italian label, polarity, domain, unit)
SDG: dict[str, tuple[str, str, str, str]] = {
    "01SAL002": ("Speranza di vita in buona salute alla nascita", "positive", "health", "year"),
    "01SAL009": ("Eccesso di peso (tassi standardizzati)", "negative", "health", "percent"),
    "01SAL010": ("Fumo (tassi standardizzati)", "negative", "health", "percent"),
    "01SAL011": ("Alcol (tassi standardizzati)", "negative", "health", "percent"),
    "02IST005": (
        "Uscita precoce dal sistema di istruzione e formazione",
        "negative",
        "education",
        "percent",
    ),
    "03LAV005": ("Dipendenti con bassa paga", "negative", "labour", "percent"),
    "03LAV008": ("Occupati non regolari", "negative", "labour", "percent"),
    "03LAV009": (
        "Rapporto tra tassi di occupazione delle donne con figli in età prescolare e "
        "delle donne senza figli",
        "positive",
        "labour",
        "percent",
    ),
    "03LAV014": ("Part time involontario", "negative", "labour", "percent"),
    "04BEC007": ("Grave deprivazione materiale", "negative", "income_poverty", "percent"),
    "04BEC010": ("Bassa intensità lavorativa", "negative", "income_poverty", "percent"),
    "07SIC020": (
        "Percezione di sicurezza camminando da soli quando è buio",
        "positive",
        "safety",
        "percent",
    ),
    "10AMB020": ("Qualità dell'aria - PM2.5", "negative", "environment", "percent"),
    "12SER021": ("Utenti assidui dei mezzi pubblici", "positive", "environment", "percent"),
    "12SER026": ("Rinuncia a visite mediche", "negative", "health", "percent"),
    "SDG-39": ("Tasso di disoccupazione", "negative", "labour", "percent"),
    "SDG-6": (
        "Giovani che non lavorano e non studiano (NEET, 15-24 anni)",
        "negative",
        "education",
        "percent",
    ),
    "SDG-178": (
        "Copertura vaccinale antinfluenzale (65 anni e più)",
        "positive",
        "health",
        "percent",
    ),
    "SDG-3": ("Medici", "positive", "health", "per_thousand"),
    "SDG-4": ("Infermieri e ostetriche", "positive", "health", "per_thousand"),
    "SDG-403": ("Posti letto ospedalieri", "neutral", "health", "per_ten_thousand"),
    "SDG-416": (
        "Posti autorizzati nei servizi socio-educativi per la prima infanzia",
        "positive",
        "social_services",
        "percent",
    ),
    "SDG-37": ("Tasso di mortalità sotto i 5 anni", "negative", "health", "per_thousand"),
    "SDG-33": (
        "Persone che hanno usato Internet negli ultimi 3 mesi",
        "positive",
        "economy",
        "percent",
    ),
    "SDG-464": ("Ipertensione (tassi standardizzati)", "negative", "health", "percent"),
    "SDG-466": ("Diabete (tassi standardizzati)", "negative", "health", "percent"),
    "SDG-470": (
        "Donne vittime di violenza che si rivolgono al 1522",
        "neutral",
        "safety",
        "per_hundred_thousand",
    ),
    "SDG-29": ("Detenuti in attesa di primo giudizio", "negative", "safety", "percent"),
}

KIND = {
    "Bes": "comparable with the indicator of the national BES report",
    "Proxy": "approximating an indicator of the national BES report",
    "Locale": "specific to BES dei territori",
}
"""Istat's 'Tipo di indicatore' of the BES metadata file, in words."""


def _text(it: str, en: str) -> dict[str, str]:
    return {"it": it, "en": en}


def _entry(
    ident: str,
    label: dict[str, str],
    definition: dict[str, str],
    unit: str,
    polarity: str,
    domain: str,
    measure: str,
    reference_point: str,
    aggregation: str,
    source: dict[str, Any],
    *,
    formula: tuple[str, str, float] | None = None,
    finest: str = "province",
    breakdowns: tuple[str, ...] = (),
    sdg: list[dict[str, str]] | None = None,
    tags: tuple[str, ...] = (),
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": ident,
        "label": label,
        "definition": definition,
        "unit": unit,
        "polarity": polarity,
        "domain": domain,
        "measure": measure,
        "reference_point": reference_point,
        "periodicity": "annual",
    }
    if breakdowns:
        entry["breakdowns"] = list(breakdowns)
    entry["finest_level"] = finest
    entry["aggregation"] = aggregation
    if formula:
        entry["formula"] = {
            "numerator": formula[0],
            "denominator": formula[1],
            "multiplier": formula[2],
        }
    entry["source"] = source
    if sdg:
        entry["sdg"] = sdg
    entry["tags"] = ["baseline", *tags]
    return entry


def _sdg_links(more: Path) -> tuple[dict[str, str], pd.DataFrame]:
    table = data.sdg_table(more)
    first = table.drop_duplicates("COD_MEASURE").set_index("COD_MEASURE")
    links = {}
    for code, row in first.iterrows():
        match = re.match(r"^\s*(\d{1,2}\.[0-9a-z]{1,2}\.\d{1,2})", str(row["GLOBAL INDICATOR"]))
        if match:
            links[str(code)] = match.group(1)
    return links, first


def bes_entries(more: Path, links: dict[str, str]) -> list[dict[str, Any]]:
    meta = pd.read_csv(
        more / "istat_bes_territori_ed2020_metadati.csv", sep=";", dtype=str, keep_default_na=False
    )
    meta = meta[meta["Indicatore"].str.strip() != ""]
    meta["Dominio"] = meta["Dominio"].replace("", pd.NA).ffill()
    values = pd.read_csv(
        more / "istat_bes_territori_ed2020_indicatori_provincia_sesso.csv",
        sep=";",
        dtype=str,
        keep_default_na=False,
    )
    names = values.drop_duplicates("CODICE").set_index("CODICE")
    by_label = {r["Indicatore"].strip(): r for _, r in meta.iterrows()}
    out = []
    for code, (english, polarity, domain, unit) in BES.items():
        row = names.loc[code]
        label_it = row["INDICATORE"].strip()
        described = by_label.get(label_it)
        if described is None:
            raise SystemExit(f"BES {code} {label_it!r} has no row in the metadata file")
        kind = KIND[described["Tipo di indicatore*"].strip()]
        definition_it = " ".join(described["Definizione"].split())
        sources = "; ".join(x for x in (described["Fonte"].strip(), described.iloc[5].strip()) if x)
        sdg_code = code.rstrip("P")
        sdg = [{"id": links[sdg_code], "relation": "partial"}] if sdg_code in links else None
        note = (
            f"Istat BES dei territori, edition October 2020 ({kind}); unit as "
            f"published: {row['UNITA_MISURA']}; source: {sources}. Definition, unit and "
            "source checked against the shipped metadata file. Polarity is not stated "
            "there: argued from the definition."
        )
        if sdg:
            note += (
                f" SDG link: Istat's SDG workbook files measure {sdg_code} under UN "
                f"indicator {links[sdg_code]}; it does not state the relation, 'partial' "
                "is our reading."
            )
        out.append(
            _entry(
                f"BES_{code}",
                _text(label_it, english),
                _text(
                    definition_it,
                    f"{english} ({row['UNITA_MISURA']}); Istat's definition is given in Italian.",
                ),
                unit,
                polarity,
                domain,
                "ratio" if unit != "year" else "stock",
                "calendar_year",
                "none",
                {
                    "publisher": "Istat",
                    "dataset": None,
                    "url": BES_URL,
                    "document": "Istat, Il Benessere equo e sostenibile dei territori, "
                    "edizione 2020: "
                    "Metadati Bes dei territori.xlsx",
                    "verified": True,
                    "note": note,
                },
                breakdowns=("sex",),
                sdg=sdg,
                tags=("bes",),
            )
        )
        out[-1]["source"].pop("dataset")
    return out


def sdg_entries(first: pd.DataFrame, links: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for code, (label_it, polarity, domain, unit) in SDG.items():
        row = first.loc[code]
        name = " ".join(str(row["STATISTICAL MEASURE"]).split())
        global_indicator = " ".join(str(row["GLOBAL INDICATOR"]).split())
        link = links.get(code)
        out.append(
            _entry(
                data.sdg_id(code),
                _text(label_it, name),
                _text(
                    f"{label_it} ({row['UNIT']}). Misura statistica Istat {code} per l'indicatore "
                    f"{global_indicator.split(' - ')[0]}.",
                    f"{name} ({row['UNIT']}). Istat statistical measure {code}, filed under UN "
                    f"indicator {global_indicator}.",
                ),
                unit,
                polarity,
                domain,
                "ratio",
                "calendar_year",
                "none",
                {
                    "publisher": "Istat",
                    "url": SDG_URL,
                    "document": "Istat, SDGs report statistical measures 2004-2022 "
                    "(workbook, sheet "
                    "'Goal 1_17')",
                    "verified": True,
                    "note": f"Source: {row['SOURCE']}, {row['SURVEY']}. Name, unit and UN "
                    "indicator "
                    "checked against the shipped workbook; polarity argued from the measure "
                    "(the workbook states none); relation 'partial' is our reading (not stated).",
                },
                finest="region",
                sdg=[{"id": link, "relation": "partial"}] if link else None,
                tags=("sdg_measures",),
            )
        )
    return out


POP = "DEMO_POP_MEAN"
POP_JAN1 = "DEMO_POP_JAN1"
ISTAT_DEMO = {
    "publisher": "Istat",
    "url": "https://demo.istat.it/",
    "document": "Istat, bilancio demografico della popolazione residente per provincia "
    "2019-2024 (istat_bilancio_demografico_province_2019_2024.csv)",
    "verified": True,
    "note": "Checked against the upstream file's own indicator names (nati, morti, "
    "immigrati/emigrati interni ed estero, popolazione inizio/fine).",
}


def _src(base: dict[str, Any], note: str | None = None, verified: bool = True) -> dict[str, Any]:
    out = dict(base)
    out["verified"] = verified
    if note:
        out["note"] = note
    return out


def demography_entries() -> list[dict[str, Any]]:
    counts = [
        (
            "DEMO_BIRTHS",
            "Nati vivi",
            "Live births",
            "Nati vivi residenti nell'anno.",
            "Live births to residents in the year.",
        ),
        (
            "DEMO_DEATHS",
            "Morti",
            "Deaths",
            "Decessi di residenti nell'anno.",
            "Deaths of residents in the year.",
        ),
        (
            "DEMO_IMMIGRANTS_INTERNAL",
            "Iscritti da altri comuni",
            "Registrations from other municipalities",
            "Iscrizioni anagrafiche da altri comuni italiani nell'anno.",
            "Registrations from other Italian municipalities in the year.",
        ),
        (
            "DEMO_IMMIGRANTS_ABROAD",
            "Iscritti dall'estero",
            "Registrations from abroad",
            "Iscrizioni anagrafiche dall'estero nell'anno.",
            "Registrations from abroad.",
        ),
        (
            "DEMO_EMIGRANTS_INTERNAL",
            "Cancellati per altri comuni",
            "Removals to other municipalities",
            "Cancellazioni anagrafiche per altri comuni italiani nell'anno.",
            "Removals to other Italian municipalities in the year.",
        ),
        (
            "DEMO_EMIGRANTS_ABROAD",
            "Cancellati per l'estero",
            "Removals to abroad",
            "Cancellazioni anagrafiche per l'estero nell'anno.",
            "Removals to abroad in the year.",
        ),
        (
            "DEMO_STATISTICAL_ADJUSTMENT",
            "Aggiustamento statistico",
            "Statistical adjustment",
            "Aggiustamento statistico del bilancio (allineamento al censimento permanente).",
            "Statistical adjustment of the balance (alignment with the permanent census).",
        ),
        (
            "DEMO_NATURAL_BALANCE",
            "Saldo naturale",
            "Natural balance",
            "Nati vivi meno morti.",
            "Live births minus deaths.",
        ),
        (
            "DEMO_NET_MIGRATION",
            "Saldo migratorio",
            "Net migration",
            "Iscritti da altri comuni e "
            "dall'estero meno cancellati per altri comuni e per l'estero.",
            "Registrations from "
            "other municipalities and abroad minus removals to other municipalities and abroad.",
        ),
        (
            "DEMO_NET_MIGRATION_ABROAD",
            "Saldo migratorio con l'estero",
            "Net migration abroad",
            "Iscritti dall'estero meno cancellati per l'estero.",
            "Registrations from abroad minus removals to abroad.",
        ),
    ]
    out = []
    for ident, it, en, dit, den in counts:
        out.append(
            _entry(
                ident,
                _text(it, en),
                _text(dit, den),
                "person",
                "neutral",
                "demography",
                "flow",
                "calendar_year",
                "sum",
                _src(ISTAT_DEMO),
                tags=("demographic_balance",),
            )
        )
    out.append(
        _entry(
            POP,
            _text("Popolazione media", "Mean population"),
            _text(
                "Media della popolazione al 1 gennaio e al 31 dicembre dell'anno.",
                "Mean of the population on 1 January and on 31 December.",
            ),
            "person",
            "neutral",
            "demography",
            "stock",
            "year_average",
            "sum",
            _src(ISTAT_DEMO),
        )
    )
    out.append(
        _entry(
            POP_JAN1,
            _text("Popolazione residente al 1 gennaio", "Resident population on 1 January"),
            _text(
                "Popolazione residente al 1 gennaio (bilancio demografico).",
                "Resident population on 1 January (demographic balance).",
            ),
            "person",
            "neutral",
            "demography",
            "stock",
            "jan_1",
            "sum",
            _src(ISTAT_DEMO),
        )
    )
    rates = [
        ("DEMO_BIRTH_RATE", "DEMO_BIRTHS", "Tasso di natalità", "Crude birth rate", "positive"),
        ("DEMO_DEATH_RATE", "DEMO_DEATHS", "Tasso di mortalità", "Crude death rate", "negative"),
        (
            "DEMO_NATURAL_RATE",
            "DEMO_NATURAL_BALANCE",
            "Tasso di crescita naturale",
            "Natural growth rate",
            "positive",
        ),
        (
            "DEMO_NET_MIGRATION_RATE",
            "DEMO_NET_MIGRATION",
            "Tasso migratorio totale",
            "Net migration rate",
            "neutral",
        ),
        (
            "DEMO_NET_MIGRATION_RATE_ABROAD",
            "DEMO_NET_MIGRATION_ABROAD",
            "Tasso migratorio con l'estero",
            "Net migration rate with abroad",
            "neutral",
        ),
        (
            "DEMO_INTERNAL_IMMIGRATION_RATE",
            "DEMO_IMMIGRANTS_INTERNAL",
            "Tasso di immigratorietà interna",
            "Internal immigration rate",
            "neutral",
        ),
        (
            "DEMO_INTERNAL_EMIGRATION_RATE",
            "DEMO_EMIGRANTS_INTERNAL",
            "Tasso di emigratorietà interna",
            "Internal emigration rate",
            "negative",
        ),
        (
            "DEMO_EMIGRATION_RATE_ABROAD",
            "DEMO_EMIGRANTS_ABROAD",
            "Tasso di emigratorietà per l'estero",
            "Emigration rate to abroad",
            "negative",
        ),
    ]
    for ident, numerator, it, en, polarity in rates:
        note = "Formula as Istat's crude rates (events over mean population, per 1,000); " + (
            "polarity argued: more births and natural growth sustain the population; "
            "more deaths and emigration reduce it."
            if polarity != "neutral"
            else "neutral: migration is neither good nor bad in itself."
        )
        out.append(
            _entry(
                ident,
                _text(it, en),
                _text(
                    f"{it}: rapporto tra {numerator} e popolazione media, per 1.000.",
                    f"{en}: {numerator} over mean population, per 1,000.",
                ),
                "per_thousand",
                polarity,
                "demography",
                "ratio",
                "calendar_year",
                "formula",
                _src(ISTAT_DEMO, note),
                formula=(numerator, POP, 1000.0),
                tags=("demographic_balance",),
            )
        )
    return out


def other_entries() -> list[dict[str, Any]]:
    asia = {
        "publisher": "Istat",
        "dataset": "183_1163_DF_DICA_ASIAULP_TERRIFDATA_7",
        "agency": "IT1",
        "url": "https://esploradati.istat.it/",
        "document": "Istat, ASIA unità locali (istat_asia_imprese_province_2018_2023.csv)",
        "note": "Checked against the file's dimension and indicator names "
        "(unita_locali, addetti, classe_addetti, sezione).",
    }
    np_ = {
        "publisher": "Istat",
        "url": "https://www.istat.it/statistiche-per-temi/economia/istituzioni-non-profit/",
        "document": "Istat, Censimento permanente delle istituzioni non profit 2023, "
        "Tavole_nonprofit_2023.xlsx, tavola 22",
        "note": "Checked against the shipped file (istituzioni, dipendenti by province).",
    }
    strasa = {
        "publisher": "Istat",
        "url": "https://demo.istat.it/",
        "document": "Istat STRASA, resident foreigners on 1 January 2022 by age and sex",
        "note": "Checked against the shipped file's header and age rows.",
    }
    fam = {
        "publisher": "Istat",
        "url": "http://dati.istat.it/",
        "document": "Istat I.Stat, NUMPRHO_CP numero di famiglie al 31 dicembre",
        "note": "Checked against the export's own TIPO_DATO label.",
    }
    panel = {
        "publisher": "Istat",
        "url": "https://github.com/rominsal/pspatreg",
        "document": "R package pspatreg, dataset unemp_it (documented source: Istat)",
        "note": "Researcher-assembled panel within pre-2005 provincial borders: "
        "provinces whose borders changed since are not built (see the data sidecar); "
        "2015 marked as a series break. Prefer Istat originals where available.",
    }
    out: list[dict[str, Any]] = []
    e = out.append
    for ident, it, en, unit, pol, dom, measure, ref, agg, src, formula, note in [
        (
            "ASIA_LOCAL_UNITS",
            "Unità locali delle imprese attive",
            "Local units of active enterprises",
            "enterprise",
            "neutral",
            "economy",
            "stock",
            "calendar_year",
            "sum",
            asia,
            None,
            None,
        ),
        (
            "ASIA_EMPLOYEES",
            "Addetti delle unità locali",
            "Persons employed in local units",
            "person",
            "neutral",
            "economy",
            "stock",
            "year_average",
            "sum",
            asia,
            None,
            None,
        ),
        (
            "ASIA_EMPLOYEES_MICRO",
            "Addetti nelle unità locali con 0-9 addetti",
            "Persons employed in local units with 0-9 employed",
            "person",
            "neutral",
            "economy",
            "stock",
            "year_average",
            "sum",
            asia,
            None,
            None,
        ),
        (
            "ASIA_EMPLOYEES_MANUFACTURING",
            "Addetti delle unità locali manifatturiere (Ateco C)",
            "Persons employed in manufacturing local units (NACE C)",
            "person",
            "neutral",
            "economy",
            "stock",
            "year_average",
            "sum",
            asia,
            None,
            None,
        ),
        (
            "ASIA_LOCAL_UNITS_PER_1000",
            "Unità locali ogni 1.000 abitanti",
            "Local units per 1,000 inhabitants",
            "per_thousand",
            "positive",
            "economy",
            "ratio",
            "calendar_year",
            "formula",
            asia,
            ("ASIA_LOCAL_UNITS", POP, 1000.0),
            "Polarity argued: a denser productive fabric offers more local work.",
        ),
        (
            "ASIA_EMPLOYEES_PER_1000",
            "Addetti delle unità locali ogni 1.000 abitanti",
            "Persons employed in local units per 1,000 inhabitants",
            "per_thousand",
            "positive",
            "labour",
            "ratio",
            "calendar_year",
            "formula",
            asia,
            ("ASIA_EMPLOYEES", POP, 1000.0),
            "Polarity argued: more local jobs per resident.",
        ),
        (
            "ASIA_EMPLOYEES_PER_UNIT",
            "Addetti per unità locale",
            "Persons employed per local unit",
            "person / enterprise",
            "neutral",
            "economy",
            "ratio",
            "calendar_year",
            "formula",
            asia,
            ("ASIA_EMPLOYEES", "ASIA_LOCAL_UNITS", 1.0),
            None,
        ),
        (
            "ASIA_MICRO_EMPLOYMENT_SHARE",
            "Quota di addetti in unità locali con 0-9 addetti",
            "Share of persons employed in local units with 0-9 employed",
            "percent",
            "neutral",
            "economy",
            "ratio",
            "calendar_year",
            "formula",
            asia,
            ("ASIA_EMPLOYEES_MICRO", "ASIA_EMPLOYEES", 100.0),
            None,
        ),
        (
            "ASIA_MANUFACTURING_EMPLOYMENT_SHARE",
            "Quota di addetti manifatturieri",
            "Share of persons employed in manufacturing",
            "percent",
            "neutral",
            "economy",
            "ratio",
            "calendar_year",
            "formula",
            asia,
            ("ASIA_EMPLOYEES_MANUFACTURING", "ASIA_EMPLOYEES", 100.0),
            None,
        ),
        (
            "NP_INSTITUTIONS",
            "Istituzioni non profit",
            "Non-profit institutions",
            "organisation",
            "neutral",
            "third_sector",
            "stock",
            "dec_31",
            "sum",
            np_,
            None,
            None,
        ),
        (
            "NP_EMPLOYEES",
            "Dipendenti delle istituzioni non profit",
            "Employees of non-profit institutions",
            "person",
            "neutral",
            "third_sector",
            "stock",
            "dec_31",
            "sum",
            np_,
            None,
            None,
        ),
        (
            "NP_INSTITUTIONS_PER_10000",
            "Istituzioni non profit ogni 10.000 abitanti",
            "Non-profit institutions per 10,000 inhabitants",
            "per_ten_thousand",
            "positive",
            "third_sector",
            "ratio",
            "dec_31",
            "formula",
            np_,
            ("NP_INSTITUTIONS", POP_JAN1, 10000.0),
            "Polarity as Istat's BES (05REL008 reads "
            "more non-profit organisations as more social relations); argued, not stated here.",
        ),
        (
            "NP_EMPLOYEES_PER_10000",
            "Dipendenti non profit ogni 10.000 abitanti",
            "Non-profit employees per 10,000 inhabitants",
            "per_ten_thousand",
            "positive",
            "third_sector",
            "ratio",
            "dec_31",
            "formula",
            np_,
            ("NP_EMPLOYEES", POP_JAN1, 10000.0),
            "Polarity argued as for institutions.",
        ),
        (
            "NP_EMPLOYEES_PER_INSTITUTION",
            "Dipendenti per istituzione non profit",
            "Employees per non-profit institution",
            "person / organisation",
            "neutral",
            "third_sector",
            "ratio",
            "dec_31",
            "formula",
            np_,
            ("NP_EMPLOYEES", "NP_INSTITUTIONS", 1.0),
            None,
        ),
        (
            "FOREIGN_RESIDENTS",
            "Stranieri residenti",
            "Foreign residents",
            "person",
            "neutral",
            "demography",
            "stock",
            "jan_1",
            "sum",
            strasa,
            None,
            None,
        ),
        (
            "FOREIGN_RESIDENTS_0_17",
            "Stranieri residenti 0-17 anni",
            "Foreign residents aged 0-17",
            "person",
            "neutral",
            "demography",
            "stock",
            "jan_1",
            "sum",
            strasa,
            None,
            None,
        ),
        (
            "FOREIGN_RESIDENTS_65_PLUS",
            "Stranieri residenti 65 anni e più",
            "Foreign residents aged 65 and over",
            "person",
            "neutral",
            "demography",
            "stock",
            "jan_1",
            "sum",
            strasa,
            None,
            None,
        ),
        (
            "FOREIGN_RESIDENTS_SHARE",
            "Stranieri ogni 100 residenti",
            "Foreign residents per 100 residents",
            "percent",
            "neutral",
            "demography",
            "ratio",
            "jan_1",
            "formula",
            strasa,
            ("FOREIGN_RESIDENTS", POP_JAN1, 100.0),
            None,
        ),
        (
            "FOREIGN_MINORS_SHARE",
            "Quota di minori tra gli stranieri",
            "Share of minors among foreign residents",
            "percent",
            "neutral",
            "demography",
            "ratio",
            "jan_1",
            "formula",
            strasa,
            ("FOREIGN_RESIDENTS_0_17", "FOREIGN_RESIDENTS", 100.0),
            None,
        ),
        (
            "FOREIGN_ELDERLY_SHARE",
            "Quota di 65enni e più tra gli stranieri",
            "Share of people aged 65+ among foreign residents",
            "percent",
            "neutral",
            "demography",
            "ratio",
            "jan_1",
            "formula",
            strasa,
            ("FOREIGN_RESIDENTS_65_PLUS", "FOREIGN_RESIDENTS", 100.0),
            None,
        ),
        (
            "DEMO_HOUSEHOLDS",
            "Famiglie",
            "Households",
            "household",
            "neutral",
            "demography",
            "stock",
            "dec_31",
            "sum",
            fam,
            None,
            None,
        ),
        (
            "RESIDENTS_PER_HOUSEHOLD",
            "Residenti per famiglia",
            "Residents per household",
            "person / household",
            "neutral",
            "demography",
            "ratio",
            "jan_1",
            "formula",
            fam,
            (POP_JAN1, "DEMO_HOUSEHOLDS", 1.0),
            "All residents (including those living in "
            "institutions) over households: close to, not equal to, Istat's average household "
            "size.",
        ),
    ]:
        source = dict(src)
        source["verified"] = True
        if note:
            source["note"] = source.get("note", "") + " " + note
        e(
            _entry(
                ident,
                _text(it, en),
                _text(it + ".", en + "."),
                unit,
                pol,
                dom,
                measure,
                ref,
                agg,
                source,
                formula=formula,
                breakdowns=("sex",)
                if ident.startswith("FOREIGN_RESIDENTS") and not formula
                else (),
            )
        )
    panel_defs = {
        "PANEL_UNEMPLOYMENT_RATE": (
            "Tasso di disoccupazione (panel pspatreg)",
            "Unemployment rate (pspatreg panel)",
            "negative",
            "labour",
        ),
        "PANEL_PARTICIPATION_RATE": (
            "Tasso di partecipazione (panel pspatreg)",
            "Participation rate (pspatreg panel)",
            "positive",
            "labour",
        ),
        "PANEL_EMPLOYMENT_SHARE_AGRICULTURE": (
            "Quota di occupati in agricoltura",
            "Share of employment in agriculture",
            "neutral",
            "economy",
        ),
        "PANEL_EMPLOYMENT_SHARE_INDUSTRY": (
            "Quota di occupati nell'industria",
            "Share of employment in industry",
            "neutral",
            "economy",
        ),
        "PANEL_EMPLOYMENT_SHARE_CONSTRUCTION": (
            "Quota di occupati nelle costruzioni",
            "Share of employment in construction",
            "neutral",
            "economy",
        ),
        "PANEL_EMPLOYMENT_SHARE_SERVICES": (
            "Quota di occupati nei servizi",
            "Share of employment in services",
            "neutral",
            "economy",
        ),
        "PANEL_EMPLOYMENT_GROWTH": (
            "Crescita dell'occupazione",
            "Employment growth",
            "positive",
            "labour",
        ),
    }
    for ident, (it, en, pol, dom) in panel_defs.items():
        e(
            _entry(
                ident,
                _text(it, en),
                _text(it + " (%).", en + " (%)."),
                "percent",
                pol,
                dom,
                "ratio",
                "calendar_year",
                "none",
                _src(panel, verified=False),
                tags=("pre_2005_borders",),
            )
        )
    regional = [
        (
            "RELATIVE_POVERTY_HOUSEHOLDS_INCIDENCE",
            "Incidenza di povertà relativa familiare",
            "Relative poverty incidence (households)",
            "incidenza di povertà relativa familiare (% di famiglie in povertà relativa)",
            "percent",
            "negative",
            "income_poverty",
            {
                "publisher": "Istat",
                "url": "http://dati.istat.it/",
                "document": "Istat I.Stat, INCID_POVREL_FAM",
            },
        ),
        (
            "HOUSEHOLD_NET_INCOME_MEAN",
            "Reddito netto medio annuale delle famiglie",
            "Mean annual household net income",
            "reddito medio annuale delle famiglie (in euro), inclusi fitti imputati",
            "euro / household",
            "positive",
            "income_poverty",
            {
                "publisher": "Istat",
                "url": "http://dati.istat.it/",
                "document": "Istat I.Stat, REDD_MEDIO_FAM (EU-SILC)",
            },
        ),
        (
            "HOUSEHOLD_NET_INCOME_MEDIAN",
            "Reddito netto mediano annuale delle famiglie",
            "Median annual household net income",
            "reddito mediano annuale delle famiglie (in euro), inclusi fitti imputati",
            "euro / household",
            "positive",
            "income_poverty",
            {
                "publisher": "Istat",
                "url": "http://dati.istat.it/",
                "document": "Istat I.Stat, REDD_MEDIANO_FAM (EU-SILC)",
            },
        ),
    ]
    for ident, it, en, definition, unit, pol, dom, src in regional:
        e(
            _entry(
                ident,
                _text(it, en),
                _text(definition + ".", en + "."),
                unit,
                pol,
                dom,
                "ratio",
                "calendar_year",
                "none",
                _src(src, "Definition is the export's own label; polarity argued."),
                finest="region",
            )
        )
    e(
        _entry(
            "EUROSTAT_POVERTY_RISK_NUTS2",
            _text("Rischio di povertà (Eurostat, NUTS 2)", "Poverty risk rate (Eurostat, NUTS 2)"),
            _text(
                "Percentuale della popolazione (PC_POP); il file non nomina il dataset.",
                "Percentage of the population (PC_POP); the file does not name its "
                "Eurostat dataset (levels match AROPE, ilc_peps11n).",
            ),
            "percent",
            "negative",
            "income_poverty",
            "ratio",
            "calendar_year",
            "none",
            {
                "publisher": "Eurostat",
                "url": "https://ec.europa.eu/eurostat/",
                "document": "eurostat_poverty_risk_nuts2_italy_2019_2022.tsv (dataset unnamed)",
                "verified": False,
                "note": "Indicator identity UNVERIFIED (see SOURCES.md).",
            },
            finest="region",
        )
    )
    for ident, age_it, age_en in (
        ("EUROSTAT_UNEMPLOYMENT_RATE", "15 anni e più", "15+"),
        ("EUROSTAT_UNEMPLOYMENT_RATE_15_24", "15-24 anni", "15-24"),
    ):
        e(
            _entry(
                ident,
                _text(
                    f"Tasso di disoccupazione {age_it} (Eurostat)",
                    f"Unemployment rate {age_en} (Eurostat)",
                ),
                _text(
                    f"Disoccupati sulla forza lavoro, {age_it}, NUTS 2 (lfst_r_lfu3rt).",
                    f"Unemployed over the labour force, {age_en}, NUTS 2 (lfst_r_lfu3rt).",
                ),
                "percent",
                "negative",
                "labour",
                "ratio",
                "year_average",
                "none",
                {
                    "publisher": "Eurostat",
                    "dataset": "lfst_r_lfu3rt",
                    "agency": "ESTAT",
                    "url": "https://ec.europa.eu/eurostat/databrowser/view/lfst_r_lfu3rt/default/table",
                    "document": "Eurostat bulk TSV lfst_r_lfu3rt (download of 2014)",
                    "verified": True,
                    "note": "Dataset named in the bulk file; polarity argued.",
                },
                finest="region",
                breakdowns=("sex",),
            )
        )
    return out


def irpef_entries() -> list[dict[str, Any]]:
    mef = {
        "publisher": "MEF - Dipartimento delle Finanze",
        "url": MEF_URL,
        "document": "MEF, Redditi e principali variabili IRPEF su base comunale (CSV), "
        "anni d'imposta 2018-2021 e 2024",
    }
    items = {
        "BUILDINGS": ("reddito da fabbricati", "income from buildings"),
        "EMPLOYMENT": ("reddito da lavoro dipendente e assimilati", "employment income"),
        "PENSION": ("reddito da pensione", "pension income"),
        "SELF_EMPLOYMENT": ("reddito da lavoro autonomo", "self-employment income"),
        "ENTREPRENEUR_ORDINARY": (
            "reddito d'impresa in contabilità ordinaria",
            "business income under ordinary accounting",
        ),
        "ENTREPRENEUR_SIMPLIFIED": (
            "reddito d'impresa in contabilità semplificata",
            "business income under simplified accounting",
        ),
        "PARTICIPATION": ("reddito da partecipazione", "income from partnerships"),
        "TAXABLE": ("reddito imponibile", "taxable income"),
        "NET_TAX": ("imposta netta", "net tax"),
        "REGIONAL_SURTAX": ("addizionale regionale dovuta", "regional surtax due"),
        "MUNICIPAL_SURTAX": ("addizionale comunale dovuta", "municipal surtax due"),
    }
    src = _src(
        mef,
        "Checked against the column labels of the MEF files (Frequenza, Ammontare "
        "in euro); amounts in euro; blank = suppressed by MEF, never zero.",
    )
    out = [
        _entry(
            "IRPEF_TAXPAYERS",
            _text("Contribuenti IRPEF", "IRPEF taxpayers"),
            _text(
                "Numero contribuenti (persone fisiche) per comune di domicilio fiscale.",
                "Number of taxpayers (individuals) by municipality of tax domicile.",
            ),
            "person",
            "neutral",
            "income_poverty",
            "stock",
            "calendar_year",
            "sum",
            src,
            finest="municipality",
            tags=("irpef",),
        )
    ]
    for stem, (it, en) in items.items():
        out.append(
            _entry(
                f"IRPEF_{stem}_TAXPAYERS",
                _text(f"Contribuenti con {it}", f"Taxpayers with {en}"),
                _text(
                    f"Frequenza: contribuenti con {it}.", f"Frequency: taxpayers declaring {en}."
                ),
                "person",
                "neutral",
                "income_poverty",
                "stock",
                "calendar_year",
                "sum",
                src,
                finest="municipality",
                tags=("irpef",),
            )
        )
        out.append(
            _entry(
                f"IRPEF_{stem}_AMOUNT",
                _text(f"Ammontare di {it}", f"Amount of {en}"),
                _text(f"Ammontare in euro di {it}.", f"Amount of {en}, euro."),
                "euro",
                "neutral",
                "income_poverty",
                "flow",
                "calendar_year",
                "sum",
                src,
                finest="municipality",
                tags=("irpef",),
            )
        )
        polarity = (
            "positive"
            if stem in ("EMPLOYMENT", "PENSION", "SELF_EMPLOYMENT", "TAXABLE")
            else "neutral"
        )
        out.append(
            _entry(
                f"IRPEF_{stem}_MEAN",
                _text(
                    f"Importo medio di {it} per contribuente che lo dichiara",
                    f"Mean {en} per declaring taxpayer",
                ),
                _text(
                    f"Ammontare di {it} diviso per la frequenza.",
                    f"Amount of {en} divided by the number declaring it.",
                ),
                "euro / person",
                polarity,
                "income_poverty",
                "ratio",
                "calendar_year",
                "formula",
                _src(
                    src,
                    src["note"]
                    + (
                        " Polarity argued: higher incomes mean more resources."
                        if polarity != "neutral"
                        else ""
                    ),
                ),
                formula=(f"IRPEF_{stem}_AMOUNT", f"IRPEF_{stem}_TAXPAYERS", 1.0),
                finest="municipality",
                tags=("irpef",),
            )
        )
    for stem in ("EMPLOYMENT", "PENSION", "SELF_EMPLOYMENT"):
        it, en = items[stem]
        out.append(
            _entry(
                f"IRPEF_{stem}_TAXPAYERS_SHARE",
                _text(f"Quota di contribuenti con {it}", f"Share of taxpayers with {en}"),
                _text(
                    f"Contribuenti con {it} ogni 100 contribuenti.",
                    f"Taxpayers with {en} per 100 taxpayers.",
                ),
                "percent",
                "neutral",
                "income_poverty",
                "ratio",
                "calendar_year",
                "formula",
                src,
                formula=(f"IRPEF_{stem}_TAXPAYERS", "IRPEF_TAXPAYERS", 100.0),
                finest="municipality",
                tags=("irpef",),
            )
        )
    out.append(
        _entry(
            "IRPEF_TAXABLE_INCOME_PER_TAXPAYER",
            _text("Reddito imponibile medio per contribuente", "Mean taxable income per taxpayer"),
            _text(
                "Ammontare del reddito imponibile diviso per il numero dei contribuenti.",
                "Taxable income divided by the number of taxpayers.",
            ),
            "euro / person",
            "positive",
            "income_poverty",
            "ratio",
            "calendar_year",
            "formula",
            _src(src, src["note"] + " Polarity argued."),
            formula=("IRPEF_TAXABLE_AMOUNT", "IRPEF_TAXPAYERS", 1.0),
            finest="municipality",
            tags=("irpef",),
        )
    )
    out.append(
        _entry(
            "IRPEF_NET_TAX_PER_TAXPAYER",
            _text("Imposta netta media per contribuente", "Mean net tax per taxpayer"),
            _text(
                "Imposta netta divisa per il numero dei contribuenti.",
                "Net tax divided by the number of taxpayers.",
            ),
            "euro / person",
            "neutral",
            "income_poverty",
            "ratio",
            "calendar_year",
            "formula",
            src,
            formula=("IRPEF_NET_TAX_AMOUNT", "IRPEF_TAXPAYERS", 1.0),
            finest="municipality",
            tags=("irpef",),
        )
    )
    for name, it, en, pol in (
        (
            "LOW",
            "fino a 10.000 euro (classi <=0 e 0-10.000)",
            "up to 10,000 euro (classes <=0 and 0-10,000)",
            "negative",
        ),
        (
            "HIGH",
            "oltre 75.000 euro (classi 75.000-120.000 e >120.000)",
            "above 75,000 euro (classes 75,000-120,000 and >120,000)",
            "neutral",
        ),
    ):
        out.append(
            _entry(
                f"IRPEF_TAXPAYERS_{name}_INCOME",
                _text(
                    f"Contribuenti con reddito complessivo {it}",
                    f"Taxpayers with total income {en}",
                ),
                _text(
                    f"Somma delle frequenze delle classi di reddito complessivo {it}.",
                    f"Sum of the frequencies of the total-income classes {en}.",
                ),
                "person",
                "neutral",
                "income_poverty",
                "stock",
                "calendar_year",
                "sum",
                src,
                finest="municipality",
                tags=("irpef",),
            )
        )
        out.append(
            _entry(
                f"IRPEF_TAXPAYERS_{name}_INCOME_SHARE",
                _text(
                    f"Quota di contribuenti con reddito complessivo {it}",
                    f"Share of taxpayers with total income {en}",
                ),
                _text(
                    f"Contribuenti con reddito complessivo {it} ogni 100 contribuenti.",
                    f"Taxpayers with total income {en} per 100 taxpayers.",
                ),
                "percent",
                pol,
                "income_poverty",
                "ratio",
                "calendar_year",
                "formula",
                _src(
                    src,
                    src["note"]
                    + (
                        " Polarity argued: a larger share of very "
                        "low incomes signals economic hardship."
                        if pol == "negative"
                        else ""
                    ),
                ),
                formula=(f"IRPEF_TAXPAYERS_{name}_INCOME", "IRPEF_TAXPAYERS", 100.0),
                finest="municipality",
                tags=("irpef",),
            )
        )
    out.append(
        _entry(
            "IRPEF_TAXPAYERS_PER_100_RESIDENTS",
            _text("Contribuenti ogni 100 residenti", "Taxpayers per 100 residents"),
            _text(
                "Contribuenti IRPEF sulla popolazione media dell'anno, per 100.",
                "IRPEF taxpayers over the mean population of the year, per 100.",
            ),
            "percent",
            "positive",
            "income_poverty",
            "ratio",
            "calendar_year",
            "formula",
            _src(
                src,
                "Taxpayers from MEF, population from Istat's "
                "demographic balance; polarity argued (more residents "
                "with an income).",
            ),
            formula=("IRPEF_TAXPAYERS", POP, 100.0),
            finest="province",
            tags=("irpef",),
        )
    )
    return out


UPSTREAM = (  # id prefix -> the upstream file (family) it is read from, first match wins
    ("BES_", "istat_bes_territori_ed2020"),
    ("SDG_", "istat_sdgs_statistical_measures_2004_2022"),
    ("DEMO_HOUSEHOLDS", "istat_famiglie_province_2019_2021"),
    ("RESIDENTS_PER_HOUSEHOLD", "istat_famiglie_province_2019_2021"),
    ("DEMO_", "istat_bilancio_demografico_province_2019_2024"),
    ("ASIA_", "istat_asia_imprese_province_2018_2023"),
    ("NP_", "istat_nonprofit_province_2023"),
    ("FOREIGN_", "istat_stranieri_eta_sesso_province_2022"),
    ("PANEL_", "istat_disoccupazione_province_1996_2019_pspatreg"),
    ("RELATIVE_POVERTY", "istat_povrel_famiglie_regioni_2019_2021"),
    ("HOUSEHOLD_NET_INCOME", "istat_reddito_netto_famiglie_regioni"),
    ("EUROSTAT_POVERTY", "eurostat_poverty_risk_nuts2_italy_2019_2022"),
    ("EUROSTAT_UNEMPLOYMENT", "eurostat_lfst_r_lfu3rt_italy_1999_2013"),
    ("IRPEF_", "mef_irpef_comunale"),
)


def upstream(ident: str) -> str:
    """The upstream file of an entry (a rate: the file of its numerator), for the
    "no more than 40 % from one file" rule of a first report."""
    for prefix, name in UPSTREAM:
        if ident.startswith(prefix):
            return name
    raise SystemExit(f"no upstream file for {ident}")


SIGNED = {
    "DEMO_NATURAL_BALANCE",
    "DEMO_NET_MIGRATION",
    "DEMO_NET_MIGRATION_ABROAD",
    "DEMO_STATISTICAL_ADJUSTMENT",
    "PANEL_EMPLOYMENT_GROWTH",
    "IRPEF_SELF_EMPLOYMENT_AMOUNT",
    "IRPEF_ENTREPRENEUR_ORDINARY_AMOUNT",
    "IRPEF_ENTREPRENEUR_SIMPLIFIED_AMOUNT",
    "IRPEF_PARTICIPATION_AMOUNT",
}
"""Values that may be negative (balances, growth, losses)."""
UNBOUNDED = {"BES_06POL012P", "BES_10AMB004", "BES_10AMB016"}
"""Percentages that may pass 100 (inmates per 100 places; landfill and renewable
electricity including flows from other regions)."""


CONTEXT = {  # upstream file -> (it, en) sentence that places a value in its source
    "istat_bes_territori_ed2020": (
        "Dato Istat, Bes dei territori 2020.",
        "Istat figure, BES dei territori 2020.",
    ),
    "istat_sdgs_statistical_measures_2004_2022": (
        "Misura Istat per gli SDG.",
        "An Istat SDG measure.",
    ),
    "istat_famiglie_province_2019_2021": (
        "Famiglie anagrafiche al 31 dicembre, Istat.",
        "Registered households on 31 December, Istat.",
    ),
    "istat_bilancio_demografico_province_2019_2024": (
        "Bilancio demografico Istat della popolazione residente.",
        "Istat demographic balance of the resident population.",
    ),
    "istat_asia_imprese_province_2018_2023": (
        "Registro statistico Istat ASIA delle unità locali delle imprese attive.",
        "Istat ASIA statistical register of local units of active enterprises.",
    ),
    "istat_nonprofit_province_2023": (
        "Censimento permanente Istat delle istituzioni non profit, al 31 dicembre 2023.",
        "Istat permanent census of non-profit institutions, on 31 December 2023.",
    ),
    "istat_stranieri_eta_sesso_province_2022": (
        "Stranieri residenti al 1° gennaio 2022 (Istat, STRASA).",
        "Resident foreigners on 1 January 2022 (Istat, STRASA).",
    ),
    "istat_disoccupazione_province_1996_2019_pspatreg": (
        "Valore annuo per provincia nei confini precedenti al 2005 (panel pspatreg, fonte Istat).",
        "Yearly value per province within its pre-2005 borders (pspatreg panel, source Istat).",
    ),
    "istat_povrel_famiglie_regioni_2019_2021": (
        "Indagine Istat sulle spese delle famiglie.",
        "Istat household budget survey.",
    ),
    "istat_reddito_netto_famiglie_regioni": ("Indagine Istat EU-SILC.", "Istat EU-SILC survey."),
    "eurostat_poverty_risk_nuts2_italy_2019_2022": (
        "Dato Eurostat per regione.",
        "Eurostat figure by region.",
    ),
    "eurostat_lfst_r_lfu3rt_italy_1999_2013": (
        "Dato Eurostat per regione.",
        "Eurostat figure by region.",
    ),
    "mef_irpef_comunale": (
        "Dichiarazioni IRPEF per comune di domicilio fiscale (MEF).",
        "IRPEF returns by municipality of tax domicile (MEF).",
    ),
}


SHORT = {  # upstream file -> a source line of at most eight words (shared sentences may be short)
    "istat_bes_territori_ed2020": (
        "Fonte: Istat, Bes dei territori 2020.",
        "Source: Istat, BES dei territori 2020.",
    ),
    "istat_sdgs_statistical_measures_2004_2022": (
        "Fonte: Istat, misure SDG.",
        "Source: Istat SDG measures.",
    ),
    "istat_famiglie_province_2019_2021": (
        "Fonte: Istat, famiglie anagrafiche.",
        "Source: Istat, registered households.",
    ),
    "istat_bilancio_demografico_province_2019_2024": (
        "Fonte: Istat, bilancio demografico.",
        "Source: Istat demographic balance.",
    ),
    "istat_asia_imprese_province_2018_2023": (
        "Fonte: Istat, registro ASIA.",
        "Source: Istat ASIA register.",
    ),
    "istat_nonprofit_province_2023": (
        "Fonte: Istat, censimento non profit 2023.",
        "Source: Istat non-profit census 2023.",
    ),
    "istat_stranieri_eta_sesso_province_2022": (
        "Fonte: Istat, stranieri residenti.",
        "Source: Istat, resident foreigners.",
    ),
    "istat_disoccupazione_province_1996_2019_pspatreg": (
        "Confini provinciali precedenti al 2005.",
        "Provincial borders before 2005.",
    ),
    "istat_povrel_famiglie_regioni_2019_2021": (
        "Fonte: Istat, stima regionale.",
        "Source: Istat, regional estimate.",
    ),
    "istat_reddito_netto_famiglie_regioni": (
        "Fonte: Istat, EU-SILC, stima regionale.",
        "Source: Istat EU-SILC, regional estimate.",
    ),
    "eurostat_poverty_risk_nuts2_italy_2019_2022": (
        "Fonte: Eurostat, dato regionale.",
        "Source: Eurostat, regional figure.",
    ),
    "eurostat_lfst_r_lfu3rt_italy_1999_2013": (
        "Fonte: Eurostat, dato regionale.",
        "Source: Eurostat, regional figure.",
    ),
    "mef_irpef_comunale": ("Fonte: MEF, dichiarazioni IRPEF.", "Source: MEF, IRPEF returns."),
}


def _complete_texts(entry: dict[str, Any]) -> None:
    """A definition that says more than the label, and a 'how to read' of its own."""
    file = upstream(entry["id"])
    context_it, context_en = CONTEXT[file]
    label, definition = entry["label"], entry["definition"]
    for lang, context in (("it", context_it), ("en", context_en)):
        if _plain(definition[lang]) == _plain(label[lang]):
            definition[lang] = f"{definition[lang]} {context}"
    it, en = label["it"], label["en"]
    if entry["aggregation"] == "sum":
        reading = (
            f"«{it}» è un conteggio: tra territori si confronta il tasso che lo usa.",
            f"'{en}' is a count: compare territories through the rate built on it.",
        )
    elif entry["polarity"] == "positive":
        reading = (
            f"Un valore più alto di «{it}» indica una situazione migliore.",
            f"A higher value of '{en}' means a better situation.",
        )
    elif entry["polarity"] == "negative":
        reading = (
            f"Un valore più alto di «{it}» indica una situazione peggiore.",
            f"A higher value of '{en}' means a worse situation.",
        )
    else:
        reading = (
            f"«{it}» descrive il contesto: nessuno dei due versi è migliore.",
            f"'{en}' describes the context: neither direction is better.",
        )
    short_it, short_en = SHORT[file]
    entry["how_to_read"] = {"it": f"{reading[0]} {short_it}", "en": f"{reading[1]} {short_en}"}
    ordered = {}
    for key, value in entry.items():  # how_to_read right after the definition, as in the library
        if key != "how_to_read":
            ordered[key] = value
        if key == "definition":
            ordered["how_to_read"] = entry["how_to_read"]
    entry.clear()
    entry.update(ordered)


def _plain(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def _split_provenance(entry: dict[str, Any]) -> dict[str, Any]:
    """The source in the catalogue model's split form (data origin, definition read, release,
    coverage) when the installed library has it; else as it is (the flat form still loads)."""
    from welfare_observatory.model.indicator import Indicator, Provenance

    if "release" not in Provenance.model_fields:
        return entry
    source = dict(entry["source"])
    source["definition"] = {k: source.pop(k) for k in ("url", "document", "page") if k in source}
    source["release"] = RELEASE[upstream(entry["id"])]
    entry["source"] = source
    if "coverage" in Indicator.model_fields and entry["id"] in COVERAGE:
        entry["coverage"] = COVERAGE[entry["id"]]
    return entry


RELEASE = {
    "istat_bes_territori_ed2020": "BES dei territori, edizione ottobre 2020",
    "istat_sdgs_statistical_measures_2004_2022": "Rapporto SDGs, misure statistiche 2004-2022",
    "istat_famiglie_province_2019_2021": "I.Stat NUMPRHO_CP, 2019-2021",
    "istat_bilancio_demografico_province_2019_2024": "Bilancio demografico 2019-2024",
    "istat_asia_imprese_province_2018_2023": "ASIA unità locali 2018-2023",
    "istat_nonprofit_province_2023": "Censimento permanente delle istituzioni non profit 2023",
    "istat_stranieri_eta_sesso_province_2022": "STRASA, 1 gennaio 2022",
    "istat_disoccupazione_province_1996_2019_pspatreg": "pspatreg unemp_it (1996-2019)",
    "istat_povrel_famiglie_regioni_2019_2021": "I.Stat INCID_POVREL_FAM, 2019-2021",
    "istat_reddito_netto_famiglie_regioni": "I.Stat REDD_MEDIO_FAM/REDD_MEDIANO_FAM, 2017-2021",
    "eurostat_poverty_risk_nuts2_italy_2019_2022": "unnamed Eurostat table, 2019-2022",
    "eurostat_lfst_r_lfu3rt_italy_1999_2013": "lfst_r_lfu3rt bulk download of 2014",
    "mef_irpef_comunale": "IRPEF su base comunale, anni d'imposta 2018-2021 e 2024",
}
"""The one release each entry's figures are taken from."""

COVERAGE = {
    "BES_10AMB005": "monitoring_stations",
    "BES_10AMB006": "monitoring_stations",
    "BES_10AMB008": "provincial_capitals",
    "BES_09PAE009": "provincial_capitals",
}
"""Entries whose values describe only some units (Istat, Dati ambientali nelle città)."""


LEVELS = {1: "Italy/NUTS1", 2: "region", 3: "province", 6: "municipality"}


def _coverage() -> dict[str, tuple[str, str]]:
    """Indicator id -> (levels, years) over the shipped Parquet files."""
    frames = [pd.read_parquet(p) for p in sorted((PLUGIN / "data").glob("*.parquet"))]
    frame = pd.concat(frames, ignore_index=True)
    frame["indicator"] = frame["indicator"].astype(str)
    frame["level"] = frame["territory"].map(
        lambda t: (
            "Italy" if t == "IT" else "NUTS1" if t.startswith("IT") else LEVELS.get(len(t), "?")
        )
    )
    frame["year"] = frame["period"].str[:4]
    out = {}
    order = ["municipality", "province", "region", "NUTS1", "Italy"]
    for ident, part in frame.groupby("indicator"):
        levels = [lv for lv in order if lv in set(part["level"])]
        years = sorted(set(part["year"]))
        out[str(ident)] = (", ".join(levels), f"{years[0]}-{years[-1]} ({len(years)})")
    return out


def indicators_md(entries: list[dict[str, Any]]) -> str:
    """The baseline's indicators by domain with levels and years (for sizing examples)."""
    cover = _coverage()
    lines = [
        "# Indicators of the national baseline",
        "",
        "Written by `tools/build_baseline_catalog.py`. Levels and years are those of the",
        "shipped data; a formula (rate) gets the levels and years where both operands have a",
        "value (derived by the build), shown here from its numerator. `V` = verified",
        "(in the `italy_baseline` profile). Province rows exist for every province unless the",
        "data sidecar says otherwise (the pre-2005 panel leaves out ten provinces).",
        "",
    ]
    by_domain: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_domain.setdefault(entry["domain"], []).append(entry)
    for domain in sorted(by_domain):
        items = by_domain[domain]
        lines += [
            f"## {domain} ({len(items)})",
            "",
            "| id | label | unit | polarity | levels | years | V |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for e in items:
            key = e["id"] if e["id"] in cover else e.get("formula", {}).get("numerator", "")
            levels, years = cover.get(key, ("", ""))
            if "formula" in e:
                levels = f"{levels} (formula)"
            label = e["label"]["en"].replace("|", "/")
            lines.append(
                f"| `{e['id']}` | {label} | {e['unit']} | {e['polarity']} | {levels} "
                f"| {years} | {'V' if e['source']['verified'] else ''} |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    more = data.MORE
    links, first = _sdg_links(more)
    entries = [
        *bes_entries(more, links),
        *sdg_entries(first, links),
        *demography_entries(),
        *other_entries(),
        *irpef_entries(),
    ]
    for entry in entries:
        entry["tags"].append("upstream:" + upstream(entry["id"]))
        _complete_texts(entry)
        if entry["id"].startswith("EUROSTAT_UNEMPLOYMENT"):
            entry["source"]["verified"] = False
            entry["source"]["note"] = (
                "The code lfst_r_lfu3rt is named by the bulk file (a 2014 download) but was "
                "not confirmed on Eurostat's own pages in this session; polarity argued."
            )
    entries = [_split_provenance(e) for e in entries]
    for entry in entries:  # what the range check must let through (validate/builtin.py)
        if entry["id"] in SIGNED:
            entry["tags"].append("balance")
        if entry["id"] in UNBOUNDED:
            entry["tags"].append("unbounded")
    sys.path.insert(0, str(data.REPO / "src"))
    from welfare_observatory.catalog import catalog

    clash = sorted({e["id"] for e in entries} & set(catalog().ids))
    if clash:  # a plugin entry must not silently replace a shipped definition
        raise SystemExit(f"ids already in the shipped catalogue: {clash}")
    CATALOG.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# Catalogue entries of the Italian national baseline (welfare-observatory-italy-"
        "baseline).\n# Written by tools/build_baseline_catalog.py: edit the tool, not "
        "this file.\n"
    )
    text = yaml.safe_dump(entries, allow_unicode=True, sort_keys=False, width=100)
    CATALOG.write_text(header + text, encoding="utf-8")
    verified = [e["id"] for e in entries if e["source"]["verified"]]
    profile = {
        "id": "italy_baseline",
        "label": {
            "it": "Base nazionale: primo rapporto di una provincia",
            "en": "National baseline: a province's first report",
        },
        "description": {
            "it": "Gli indicatori verificati della base nazionale "
            "(welfare-observatory-italy-baseline).",
            "en": "The verified indicators of the national baseline "
            "(welfare-observatory-italy-baseline).",
        },
        "indicators": verified,
    }
    PROFILE.write_text(
        yaml.safe_dump(profile, allow_unicode=True, sort_keys=False, width=100), encoding="utf-8"
    )
    (PLUGIN.parents[1] / "INDICATORS.md").write_text(indicators_md(entries), encoding="utf-8")
    print(f"{len(entries)} entries ({len(verified)} verified) -> {CATALOG}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
