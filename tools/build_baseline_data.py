"""Rebuild the package data of ``plugins/italy-baseline`` from ``../shared/data/more``.

Every output is a tidy Parquet table (``indicator, territory, period, sex, value,
obs_status``) with a ``.meta.yaml`` sidecar naming the publisher, the upstream file and
where it came from, the transformation and the licence. Values are the upstream ones,
filtered and re-shaped; the only arithmetic is what each sidecar's ``transformation``
says (sums of published counts into larger territories, a difference of two published
counts, the mean of two published stocks).

Usage (from the repository root)::

    .venv/bin/python tools/build_baseline_data.py [--more ../shared/data/more]

The output is deterministic (sorted rows, no timestamps in the data), so a rebuild shows
up in ``git diff`` only when an input changed. The catalogue entries are written by
``tools/build_baseline_catalog.py`` from the same upstream files.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

REPO = Path(__file__).resolve().parents[1]
MORE = REPO.parent / "shared" / "data" / "more"
OUT = REPO / "plugins" / "italy-baseline" / "src" / "welfare_observatory_italy_baseline" / "data"

COLUMNS = ["indicator", "territory", "period", "sex", "value", "obs_status"]
ISTAT = "Istat - Istituto nazionale di statistica"
MEF = "MEF - Dipartimento delle Finanze"
CC_BY_4 = "CC-BY-4.0"
CC_BY_3_IT = "CC-BY-3.0-IT"

# Provinces whose pre-2005 borders differ from today's: the pspatreg panel's values for them
# describe another area (Milano with Monza, Bari and Foggia with Barletta-Andria-Trani,
# Ascoli Piceno with Fermo, the four Sardinian provinces before the 2005 and 2016 reforms,
# Pesaro e Urbino and Rimini before the 2009 move of the Valmarecchia municipalities).
PANEL_BROKEN = {"015", "071", "072", "044", "090", "091", "092", "095", "041", "099"}
# Abolished Sardinian provinces (2005-2016) the BES 2020 edition still lists.
BES_ABOLISHED = {"Carbonia-Iglesias", "Medio Campidano", "Ogliastra", "Olbia-Tempio"}
# BES and SDG macro-areas that are not NUTS 1 (Nord, Mezzogiorno, ...): left out.
NOT_NUTS1 = {"Nord", "Centro", "Mezzogiorno", "North", "South and islands"}


# -- territories -----------------------------------------------------------------------
def _territory_names() -> tuple[dict[str, str], dict[str, str]]:
    """Name -> code for provinces, regions, NUTS 1 and Italy; province -> region."""
    sys.path.insert(0, str(REPO / "src"))
    from welfare_observatory.territory import registry

    reg = registry()
    names: dict[str, str] = {"Italia": "IT", "Italy": "IT"}
    region_of: dict[str, str] = {}
    for nuts1 in reg.children("IT"):
        names[nuts1.name] = nuts1.code
        for region in reg.children(nuts1.code):
            names[region.name] = region.code
            if region.name_other:
                names[f"{region.name}/{region.name_other}"] = region.code
            for province in reg.children(region.code):
                if str(province.level) != "province":
                    continue
                region_of[province.code] = region.code
                names[province.name] = province.code
                if province.name_other:
                    names[f"{province.name}/{province.name_other}"] = province.code
    names |= {
        "Trentino-Alto Adige/Südtirol": "04",
        "Friuli-Venezia Giulia": names.get("Friuli-Venezia Giulia", "06"),
        "Reggio Calabria": "080",
        "Aosta": "007",
        "Valle d'Aosta/Vallée d'Aoste": "02",
        "Reggio nell'Emilia": "035",
        "Provincia Autonoma di Bolzano/Bozen": "021",
        "Provincia Autonoma di Trento": "022",
        "North-west": "ITC",
        "North-east": "ITH",
        "Centre": "ITI",
        "South": "ITF",
        "Islands": "ITG",
        "Nord-ovest": "ITC",
        "Nord-est": "ITH",
        "Sud": "ITF",
        "Isole": "ITG",
    }
    return names, region_of


NAMES, REGION_OF = _territory_names()
PROVINCES = sorted(REGION_OF)
NUTS = {  # Istat ITTER107 / NUTS 2 codes of the region-level files -> canonical codes
    "IT": "IT",
    "ITC1": "01",
    "ITC2": "02",
    "ITC3": "07",
    "ITC4": "03",
    "ITD1": "021",
    "ITD2": "022",
    "ITH1": "021",
    "ITH2": "022",
    "ITD3": "05",
    "ITH3": "05",
    "ITD4": "06",
    "ITH4": "06",
    "ITD5": "08",
    "ITH5": "08",
    "ITE1": "09",
    "ITI1": "09",
    "ITE2": "10",
    "ITI2": "10",
    "ITE3": "11",
    "ITI3": "11",
    "ITE4": "12",
    "ITI4": "12",
    "ITF1": "13",
    "ITF2": "14",
    "ITF3": "15",
    "ITF4": "16",
    "ITF5": "17",
    "ITF6": "18",
    "ITG1": "19",
    "ITG2": "20",
    "ITC": "ITC",
    "ITD": "ITH",
    "ITH": "ITH",
    "ITE": "ITI",
    "ITI": "ITI",
    "ITF": "ITF",
    "ITG": "ITG",
}


def _num(text: Any) -> float | None:
    """A number written with a decimal comma or point; Istat's signs and blanks -> None."""
    if text is None:
        return None
    if isinstance(text, int | float):
        return None if pd.isna(text) else float(text)
    value = str(text).strip()
    if value in ("", "....", "..", "-", ":", "nan"):
        return None
    # the SDG workbook appends a note call to some cells ("2.7  (a)"): the number stays
    value = re.sub(r"\s*\([a-z]\)$", "", value)
    return float(value.replace(".", "").replace(",", ".") if "," in value else value)


def _frame(rows: list[dict[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(rows) if isinstance(rows, list) else rows.copy()
    for name, default in (("sex", "_T"), ("obs_status", "A")):
        frame[name] = frame[name].fillna(default) if name in frame else default
    frame = frame[COLUMNS].dropna(subset=["value", "territory"])
    frame["value"] = frame["value"].astype("float64")
    frame = frame.sort_values(["indicator", "territory", "period", "sex"]).reset_index(drop=True)
    dupes = frame.duplicated(["indicator", "territory", "period", "sex"])
    if dupes.any():
        raise SystemExit(f"duplicate keys: {frame[dupes].head().to_dict('records')}")
    return frame


def _up(frame: pd.DataFrame, indicators: list[str], *, regions: bool = True) -> pd.DataFrame:
    """Province rows of ``indicators`` summed into regions and Italy (complete sums only)."""
    if "sex" not in frame:
        frame = frame.assign(sex="_T")
    base = frame[frame["indicator"].isin(indicators) & frame["territory"].isin(PROVINCES)]
    parts = []
    for level in (["region"] if regions else []) + ["IT"]:
        area = base["territory"].map(REGION_OF) if level == "region" else "IT"
        grouped = base.assign(area=area).groupby(["indicator", "area", "period", "sex"])
        summed = grouped["value"].agg(["sum", "size"]).reset_index()
        expected = (
            summed["area"].map(pd.Series(REGION_OF).value_counts())
            if level == "region"
            else len(PROVINCES)
        )
        summed = summed[summed["size"] == expected]  # a region missing a province: no sum
        parts.append(summed.rename(columns={"area": "territory", "sum": "value"}))
    return pd.concat([frame, *parts], ignore_index=True)


# -- one builder per upstream file ------------------------------------------------------
def bes_province(more: Path) -> pd.DataFrame:
    data = pd.read_csv(
        more / "istat_bes_territori_ed2020_indicatori_provincia_sesso.csv",
        sep=";",
        dtype=str,
        keep_default_na=False,
    )
    data = data[~data["TERRITORIO"].isin(BES_ABOLISHED | NOT_NUTS1)]
    unknown = sorted(set(data["TERRITORIO"]) - set(NAMES))
    if unknown:
        raise SystemExit(f"BES territories without a code: {unknown}")
    years = [c for c in data.columns if c.startswith("V_")]
    long = data.melt(id_vars=["CODICE", "TERRITORIO", "SESSO"], value_vars=years)
    long["value"] = long["value"].map(_num)
    return _frame(
        pd.DataFrame(
            {
                "indicator": "BES_" + long["CODICE"],
                "territory": long["TERRITORIO"].map(NAMES),
                "period": long["variable"].str[2:],
                "sex": long["SESSO"].map({"Maschi": "M", "Femmine": "F", "Totale": "_T"}),
                "value": long["value"],
            }
        )
    )


DEMO_COUNTS = {
    "nati": "DEMO_BIRTHS",
    "morti": "DEMO_DEATHS",
    "immigrati_interni": "DEMO_IMMIGRANTS_INTERNAL",
    "immigrati_estero": "DEMO_IMMIGRANTS_ABROAD",
    "emigrati_interni": "DEMO_EMIGRANTS_INTERNAL",
    "emigrati_estero": "DEMO_EMIGRANTS_ABROAD",
    "aggiustamento_statistico": "DEMO_STATISTICAL_ADJUSTMENT",
}


def demography(more: Path) -> pd.DataFrame:
    data = pd.read_csv(
        more / "istat_bilancio_demografico_province_2019_2024.csv", dtype={"codice_provincia": str}
    )
    wide = data.pivot_table(
        index=["codice_provincia", "anno"], columns="indicatore", values="valore", aggfunc="first"
    ).reset_index()
    rows = []
    for column, indicator in DEMO_COUNTS.items():
        rows.append(
            pd.DataFrame(
                {
                    "indicator": indicator,
                    "territory": wide["codice_provincia"],
                    "period": wide["anno"].astype(str),
                    "value": wide[column],
                }
            )
        )
    derived = {
        "DEMO_NATURAL_BALANCE": wide["nati"] - wide["morti"],
        "DEMO_NET_MIGRATION": wide["immigrati_interni"]
        + wide["immigrati_estero"]
        - wide["emigrati_interni"]
        - wide["emigrati_estero"],
        "DEMO_NET_MIGRATION_ABROAD": wide["immigrati_estero"] - wide["emigrati_estero"],
        "DEMO_POP_MEAN": (wide["popolazione_inizio"] + wide["popolazione_fine"]) / 2,
    }
    for indicator, values in derived.items():
        rows.append(
            pd.DataFrame(
                {
                    "indicator": indicator,
                    "territory": wide["codice_provincia"],
                    "period": wide["anno"].astype(str),
                    "value": values,
                }
            )
        )
    rows.append(
        pd.DataFrame(
            {
                "indicator": "DEMO_POP_JAN1",
                "territory": wide["codice_provincia"],
                "period": wide["anno"].astype(str) + "-01-01",
                "value": wide["popolazione_inizio"],
            }
        )
    )
    last = wide[wide["anno"] == wide["anno"].max()]
    rows.append(
        pd.DataFrame(
            {
                "indicator": "DEMO_POP_JAN1",
                "territory": last["codice_provincia"],
                "period": (last["anno"] + 1).astype(str) + "-01-01",
                "value": last["popolazione_fine"],
            }
        )
    )
    frame = pd.concat(rows, ignore_index=True)
    return _frame(_up(frame, sorted(frame["indicator"].unique())))


def asia(more: Path) -> pd.DataFrame:
    data = pd.read_csv(
        more / "istat_asia_imprese_province_2018_2023.csv",
        dtype={"codice_provincia": str, "modalita": str},
    )
    picks = {
        ("classe_addetti", "totale", "unita_locali"): "ASIA_LOCAL_UNITS",
        ("classe_addetti", "totale", "addetti"): "ASIA_EMPLOYEES",
        ("classe_addetti", "0-9", "addetti"): "ASIA_EMPLOYEES_MICRO",
        ("sezione", "C", "addetti"): "ASIA_EMPLOYEES_MANUFACTURING",
    }
    key = list(zip(data["dimensione"], data["modalita"], data["indicatore"], strict=True))
    data["indicator"] = [picks.get(k) for k in key]
    data = data.dropna(subset=["indicator"])
    frame = pd.DataFrame(
        {
            "indicator": data["indicator"],
            "territory": data["codice_provincia"],
            "period": data["anno"].astype(str),
            "value": data["valore"],
        }
    )
    return _frame(_up(frame, list(picks.values())))


def nonprofit(more: Path) -> pd.DataFrame:
    data = pd.read_csv(more / "istat_nonprofit_province_2023.csv", dtype={"codice_provincia": str})
    data = data[data["livello"] == "provincia"]
    period = "2024-01-01"  # census reference 31 December 2023, a stock dated 1 January 2024
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "indicator": "NP_INSTITUTIONS",
                    "territory": data["codice_provincia"],
                    "period": period,
                    "value": data["istituzioni"],
                }
            ),
            pd.DataFrame(
                {
                    "indicator": "NP_EMPLOYEES",
                    "territory": data["codice_provincia"],
                    "period": period,
                    "value": data["dipendenti"],
                }
            ),
        ]
    )
    return _frame(_up(frame, ["NP_INSTITUTIONS", "NP_EMPLOYEES"]))


def foreigners(more: Path) -> pd.DataFrame:
    data = pd.read_csv(
        more / "istat_stranieri_eta_sesso_province_2022.csv",
        skiprows=1,
        dtype={"Province code": str},
    )
    ages = data[data["Age"] != 999]
    total = data[data["Age"] == 999]
    groups = {
        "FOREIGN_RESIDENTS": total,
        "FOREIGN_RESIDENTS_0_17": ages[ages["Age"] <= 17],
        "FOREIGN_RESIDENTS_65_PLUS": ages[ages["Age"] >= 65],
    }
    rows = []
    for indicator, part in groups.items():
        summed = part.groupby("Province code")[["Males", "Females"]].sum()
        for sex, value in (
            ("M", summed["Males"]),
            ("F", summed["Females"]),
            ("_T", summed["Males"] + summed["Females"]),
        ):
            rows.append(
                pd.DataFrame(
                    {
                        "indicator": indicator,
                        "territory": summed.index,
                        "period": "2022-01-01",
                        "sex": sex,
                        "value": value.values,
                    }
                )
            )
    frame = pd.concat(rows, ignore_index=True)
    return _frame(_up(frame, list(groups)))


def households(more: Path) -> pd.DataFrame:
    data = pd.read_csv(
        more / "istat_famiglie_province_2019_2021.csv", dtype=str, encoding="utf-8-sig"
    )
    data = data[data["TIPO_DATO15"] == "NUMPRHO_CP"]
    reg = _registry()
    codes = {}
    for code in sorted(set(data["ITTER107"])):
        if code in NUTS:
            codes[code] = NUTS[code]
            continue
        try:
            place = reg.find(code)
        except LookupError:
            continue
        if str(place.level) == "province":
            codes[code] = place.code
    data = data[data["ITTER107"].isin(codes) & (data["ITTER107"] != "ITD2")]
    return _frame(
        pd.DataFrame(
            {
                "indicator": "DEMO_HOUSEHOLDS",
                "territory": data["ITTER107"].map(codes),
                "period": (data["TIME"].astype(int) + 1).astype(str) + "-01-01",  # 31 Dec -> 1 Jan
                "value": data["Value"].astype(float),
            }
        ).drop_duplicates(["territory", "period"])
    )


def _registry() -> Any:
    from welfare_observatory.territory import registry

    return registry()


PANEL = {
    "unrate": "PANEL_UNEMPLOYMENT_RATE",
    "partrate": "PANEL_PARTICIPATION_RATE",
    "agri": "PANEL_EMPLOYMENT_SHARE_AGRICULTURE",
    "ind": "PANEL_EMPLOYMENT_SHARE_INDUSTRY",
    "cons": "PANEL_EMPLOYMENT_SHARE_CONSTRUCTION",
    "serv": "PANEL_EMPLOYMENT_SHARE_SERVICES",
    "empgrowth": "PANEL_EMPLOYMENT_GROWTH",
}


def unemployment_panel(more: Path) -> pd.DataFrame:
    data = pd.read_csv(more / "istat_disoccupazione_province_1996_2019_pspatreg.csv")
    data["territory"] = data["prov"].astype(int).map("{:03d}".format)
    data = data[~data["territory"].isin(PANEL_BROKEN)]
    rows = [
        pd.DataFrame(
            {
                "indicator": indicator,
                "territory": data["territory"],
                "period": data["year"].astype(str),
                "value": data[column],
                "obs_status": ["B" if y == 2015 else "A" for y in data["year"]],
            }
        )
        for column, indicator in PANEL.items()
    ]
    return _frame(pd.concat(rows, ignore_index=True))


def _istat_regional(
    path: Path, indicator_of: Callable[[dict[str, str]], str | None], code_column: str
) -> pd.DataFrame:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        records = list(csv.DictReader(handle))
    rows = []
    for record in records:
        indicator = indicator_of(record)
        code = NUTS.get(record[code_column])
        if indicator and code:
            rows.append(
                {
                    "indicator": indicator,
                    "territory": code,
                    "period": record["TIME"],
                    "value": _num(record["Value"]),
                }
            )
    return _frame(rows)


def poverty_regions(more: Path) -> pd.DataFrame:
    return _istat_regional(
        more / "istat_povrel_famiglie_regioni_2019_2021.csv",
        lambda r: "RELATIVE_POVERTY_HOUSEHOLDS_INCIDENCE",
        "ITTER107",
    )


def household_income(more: Path) -> pd.DataFrame:
    names = {
        "REDD_MEDIO_FAM": "HOUSEHOLD_NET_INCOME_MEAN",
        "REDD_MEDIANO_FAM": "HOUSEHOLD_NET_INCOME_MEDIAN",
    }
    return _istat_regional(
        more / "istat_reddito_netto_famiglie_regioni.csv",
        lambda r: names.get(r["T_D8"]) if r["PRAF"] == "1" and r["RDPR"] == "9" else None,
        "IT107",
    )


def _eurostat(text: str) -> tuple[list[str], list[list[str]]]:
    lines = [line.rstrip("\n") for line in text.splitlines() if line.strip()]
    header = [cell.strip() for cell in lines[0].split("\t")]
    return header, [line.split("\t") for line in lines[1:]]


def eurostat_poverty(more: Path) -> pd.DataFrame:
    header, body = _eurostat((more / "eurostat_poverty_risk_nuts2_italy_2019_2022.tsv").read_text())
    rows = []
    for cells in body:
        geo = cells[0].split(",")[-1]
        for year, cell in zip(header[1:], cells[1:], strict=True):
            value, _, flag = cell.strip().partition(" ")
            rows.append(
                {
                    "indicator": "EUROSTAT_POVERTY_RISK_NUTS2",
                    "territory": NUTS.get(geo),
                    "period": year,
                    "value": _num(value),
                    "obs_status": "B" if "b" in flag else "A",
                }
            )
    return _frame(rows)


def eurostat_unemployment(more: Path) -> pd.DataFrame:
    header, body = _eurostat((more / "eurostat_lfst_r_lfu3rt_italy_1999_2013.tsv").read_text())
    ages = {"Y_GE15": "EUROSTAT_UNEMPLOYMENT_RATE", "Y15-24": "EUROSTAT_UNEMPLOYMENT_RATE_15_24"}
    rows = []
    for cells in body:
        age, sex, geo = cells[0].split(",")
        if age not in ages or geo not in NUTS:
            continue
        for year, cell in zip(header[1:], cells[1:], strict=True):
            value, _, flag = cell.strip().partition(" ")
            rows.append(
                {
                    "indicator": ages[age],
                    "territory": NUTS[geo],
                    "period": year.strip(),
                    "sex": {"T": "_T"}.get(sex, sex),
                    "value": _num(value),
                    "obs_status": "B" if "b" in flag else ("U" if "u" in flag else "A"),
                }
            )
    return _frame(rows)


SDG_MEASURES = [
    "01SAL002",
    "01SAL009",
    "01SAL010",
    "01SAL011",
    "02IST005",
    "03LAV005",
    "03LAV008",
    "03LAV009",
    "03LAV014",
    "04BEC007",
    "04BEC010",
    "07SIC020",
    "10AMB020",
    "12SER021",
    "12SER026",
    "SDG-39",
    "SDG-6",
    "SDG-178",
    "SDG-3",
    "SDG-4",
    "SDG-403",
    "SDG-416",
    "SDG-37",
    "SDG-33",
    "SDG-464",
    "SDG-466",
    "SDG-470",
    "SDG-29",
]


def sdg_id(code: str) -> str:
    return "SDG_" + re.sub(r"[^A-Z0-9]", "", code.upper())


def sdg_table(more: Path) -> pd.DataFrame:
    data = pd.read_excel(
        more / "istat_sdgs_statistical_measures_2004_2022.xlsx", sheet_name="Goal 1_17", dtype=str
    )
    data.columns = [str(c) for c in data.columns]
    return data[data["DIMENSION"] == "Territory"]


def sdg_regions(more: Path) -> pd.DataFrame:
    data = sdg_table(more)
    data = data[data["COD_MEASURE"].isin(SDG_MEASURES) & ~data["CLASS"].isin(NOT_NUTS1)]
    data = data[data["CLASS"].isin(NAMES)]
    data = data.drop_duplicates(["COD_MEASURE", "CLASS"])
    years = [c for c in data.columns if c[:2] in ("20", "V2")]
    long = data.melt(id_vars=["COD_MEASURE", "CLASS"], value_vars=years)
    long["value"] = long["value"].map(_num)
    frame = pd.DataFrame(
        {
            "indicator": long["COD_MEASURE"].map(sdg_id),
            "territory": long["CLASS"].map(NAMES),
            "period": long["variable"].str.replace("V", "", regex=False),
            "value": long["value"],
        }
    )
    # the autonomous provinces appear twice (as regions and as provinces) with equal values
    frame = frame.dropna(subset=["value"]).drop_duplicates(["indicator", "territory", "period"])
    return _frame(frame)


# MEF IRPEF: column (2018-2021 header, without the " - Frequenza/Ammontare" suffix) -> id stem
IRPEF_ITEMS = {
    "Reddito da fabbricati": "BUILDINGS",
    "Reddito da lavoro dipendente e assimilati": "EMPLOYMENT",
    "Reddito da pensione": "PENSION",
    "Reddito da lavoro autonomo (comprensivo dei valori nulli)": "SELF_EMPLOYMENT",
    "Reddito di spettanza dell'imprenditore in contabilita' ordinaria  "
    "(comprensivo dei valori nulli)": "ENTREPRENEUR_ORDINARY",
    "Reddito di spettanza dell'imprenditore in contabilita' semplificata "
    "(comprensivo dei valori nulli)": "ENTREPRENEUR_SIMPLIFIED",
    "Reddito da partecipazione  (comprensivo dei valori nulli)": "PARTICIPATION",
    "Reddito imponibile": "TAXABLE",
    "Imposta netta": "NET_TAX",
    "Addizionale regionale dovuta": "REGIONAL_SURTAX",
    "Addizionale comunale dovuta": "MUNICIPAL_SURTAX",
}
# "Bonus spettante" (2018-2020) became "Trattamento spettante" in 2021: another measure, so
# neither is taken.
IRPEF_2024 = {
    "taxableIncome": "TAXABLE",
    "netTaxDeclared": "NET_TAX",
    "regionalSurtaxDue": "REGIONAL_SURTAX",
    "municipalSurtaxDue": "MUNICIPAL_SURTAX",
}
LOW = ["Reddito complessivo minore o uguale a zero euro", "Reddito complessivo da 0 a 10000 euro"]
HIGH = ["Reddito complessivo da 75000 a 120000 euro", "Reddito complessivo oltre 120000 euro"]


def _irpef_year(more: Path, year: int) -> pd.DataFrame:
    text = (more / f"mef_irpef_comunale_{year}.csv").read_text(encoding="ascii")
    data = pd.read_csv(io.StringIO(text), sep=";", dtype=str, index_col=False)
    data.columns = [c.strip() for c in data.columns]
    data = data[
        data["Codice Istat Comune"].str.fullmatch(r"\d{6}")
        & (data["Codice Istat Comune"] != "000000")
    ]
    out: dict[str, Any] = {
        "territory": data["Codice Istat Comune"],
        "IRPEF_TAXPAYERS": data["Numero contribuenti"].map(_num),
    }
    for column, stem in IRPEF_ITEMS.items():
        out[f"IRPEF_{stem}_TAXPAYERS"] = data[f"{column} - Frequenza"].map(_num)
        out[f"IRPEF_{stem}_AMOUNT"] = data[f"{column} - Ammontare in euro"].map(_num)
    for name, columns in (("LOW", LOW), ("HIGH", HIGH)):
        parts = [data[f"{c} - Frequenza"].map(_num) for c in columns]
        # a suppressed class (blank) leaves the sum unknown, never a partial sum
        out[f"IRPEF_TAXPAYERS_{name}_INCOME"] = parts[0].add(parts[1], fill_value=None)
    frame = pd.DataFrame(out).melt(id_vars="territory", var_name="indicator")
    return frame.assign(period=str(year))


def _irpef_2024(more: Path) -> pd.DataFrame:
    data = pd.read_csv(more / "mef_irpef_comunale_2024_compact.csv", dtype=str)
    out: dict[str, Any] = {
        "territory": data["codice_istat_comune"],
        "IRPEF_TAXPAYERS": data["numero_contribuenti"].map(_num),
    }
    for column, stem in IRPEF_2024.items():
        out[f"IRPEF_{stem}_TAXPAYERS"] = data[f"{column}_frequenza"].map(_num)
        out[f"IRPEF_{stem}_AMOUNT"] = data[f"{column}_ammontare_euro"].map(_num)
    frame = pd.DataFrame(out).melt(id_vars="territory", var_name="indicator")
    return frame.assign(period="2024")


def irpef_municipalities(more: Path) -> pd.DataFrame:
    parts = [_irpef_year(more, y) for y in (2018, 2019, 2020, 2021)] + [_irpef_2024(more)]
    return _frame(pd.concat(parts, ignore_index=True))


def irpef_aggregates(more: Path, municipal: pd.DataFrame) -> pd.DataFrame:
    years = {
        "2018": _irpef_raw_count(more, 2018),
        "2019": _irpef_raw_count(more, 2019),
        "2020": _irpef_raw_count(more, 2020),
        "2021": _irpef_raw_count(more, 2021),
        "2024": _irpef_raw_count(more, 2024),
    }
    frame = municipal.assign(province=municipal["territory"].str[:3])
    summed = frame.groupby(["indicator", "province", "period"])["value"].agg(["sum", "size"])
    summed = summed.reset_index()
    expected = summed.apply(lambda r: years[r["period"]].get(r["province"], 0), axis=1)
    status = ["A" if s == e else "U" for s, e in zip(summed["size"], expected, strict=True)]
    provinces = pd.DataFrame(
        {
            "indicator": summed["indicator"],
            "territory": summed["province"],
            "period": summed["period"],
            "value": summed["sum"],
            "obs_status": status,
        }
    )
    provinces = provinces[provinces["territory"].isin(PROVINCES)]
    complete = provinces[provinces["obs_status"] == "A"]
    up = _up(complete, sorted(complete["indicator"].unique()))
    return _frame(pd.concat([provinces, up[~up["territory"].isin(PROVINCES)]], ignore_index=True))


def _irpef_raw_count(more: Path, year: int) -> dict[str, int]:
    """Municipal rows per province in the upstream file (to know when a sum is complete)."""
    if year == 2024:
        codes = pd.read_csv(more / "mef_irpef_comunale_2024_compact.csv", dtype=str)[
            "codice_istat_comune"
        ]
    else:
        codes = pd.read_csv(
            more / f"mef_irpef_comunale_{year}.csv",
            sep=";",
            dtype=str,
            usecols=[2],
            encoding="ascii",
        ).iloc[:, 0]
    codes = codes[codes.str.fullmatch(r"\d{6}") & (codes != "000000")]
    return codes.str[:3].value_counts().to_dict()


# -- provenance -------------------------------------------------------------------------
SOURCES = "../shared/data/more/SOURCES.md"
META: dict[str, dict[str, str]] = {
    "bes_province": {
        "publisher": ISTAT,
        "source_file": "istat_bes_territori_ed2020_indicatori_provincia_sesso.csv (CSV of the "
        "xlsx member Bes/Indicatori_per_provincia_sesso.xlsx)",
        "origin": "Istat, 'Il Benessere equo e sostenibile dei territori', edition October 2020, "
        "appendix Bes_dei_territori_edizione_102020.zip, as committed in "
        "github.com/AlbertoDeBenedittis/BES-Indicators-in-Italy (commit 9658661); " + SOURCES,
        "release": "BES dei territori, edition October 2020 (years 2004-2019)",
        "transformation": "Wide years to long; decimal comma to point; Istat's '....' (not "
        "available) and blank cells left out; territories joined by Istat name to codes "
        "(provinces 3-digit, regions 2-digit, IT); the abolished Sardinian provinces "
        "(Carbonia-Iglesias, Medio Campidano, Ogliastra, Olbia-Tempio) and the macro-areas "
        "Nord/Centro/Mezzogiorno left out; indicator id = 'BES_' + Istat's indicator code.",
        "licence": CC_BY_4,
    },
    "demografia_province": {
        "publisher": ISTAT,
        "source_file": "istat_bilancio_demografico_province_2019_2024.csv",
        "origin": "Istat demographic balance of the resident population by province, as "
        "re-published by github.com/Stocastico/brescia-dataviz (HEAD 23fcb401); " + SOURCES,
        "release": "Istat bilancio demografico 2019-2024 (one release, the file's)",
        "transformation": "Long to indicator rows; natural balance = births - deaths; net "
        "migration = internal + foreign immigrants - internal - foreign emigrants; mean "
        "population = (population on 1 January + on 31 December) / 2 (Istat's denominator "
        "of crude rates); population on 1 January from 'popolazione_inizio', and 1 January "
        "2025 from the 2024 'popolazione_fine'; regions and Italy are sums of the 107 "
        "provinces.",
        "licence": CC_BY_4,
    },
    "asia_province": {
        "publisher": ISTAT,
        "source_file": "istat_asia_imprese_province_2018_2023.csv",
        "origin": "Istat ASIA local units (dataflow 183_1163_DF_DICA_ASIAULP_TERRIFDATA_7) "
        "aggregated from municipalities by github.com/Stocastico/brescia-dataviz; " + SOURCES,
        "release": "ASIA unita' locali 2018-2023 (one release, the file's)",
        "transformation": "Kept total local units and employees, employees in units with 0-9 "
        "employees and in NACE section C; regions and Italy are sums of the provinces (only "
        "where every province of the area has a value).",
        "licence": CC_BY_4,
    },
    "nonprofit_province": {
        "publisher": ISTAT,
        "source_file": "istat_nonprofit_province_2023.csv",
        "origin": "Istat, Censimento permanente delle istituzioni non profit, reference year "
        "2023 (Tavole_nonprofit_2023.xlsx, tavola 22), tidied by "
        "github.com/dataciviclab/terzo-settore (commit 3ca1690b); " + SOURCES,
        "release": "Istat non-profit census 2023",
        "transformation": "Province rows only; institutions and employees on 31 December "
        "2023 dated 2024-01-01 (canonical stocks); regions and Italy are sums of the "
        "provinces (equal to Istat's regional and national totals, see SOURCES.md checks).",
        "licence": CC_BY_4,
    },
    "stranieri_province": {
        "publisher": ISTAT,
        "source_file": "istat_stranieri_eta_sesso_province_2022.csv",
        "origin": "Istat demo.istat.it STRASA 'Resident foreigners on 1st January 2022 by age "
        "and sex', via github.com/mary-lev/italy-demographics-viz (commit 312a027); " + SOURCES,
        "release": "STRASA, 1 January 2022",
        "transformation": "Total from the age-999 row; ages 0-17 and 65+ summed from single "
        "years; males + females = total; regions and Italy are sums of the provinces.",
        "licence": CC_BY_4,
    },
    "famiglie_province": {
        "publisher": ISTAT,
        "source_file": "istat_famiglie_province_2019_2021.csv",
        "origin": "Istat I.Stat export NUMPRHO_CP (households on 31 December), via "
        "github.com/dishesv/Poverty-In-Italy-Beyond-the-Rhetoric-of-the-Undeserving-Poor "
        "(commit db54206); " + SOURCES,
        "release": "I.Stat export, 2019-2021 (2019 values fractional as published)",
        "transformation": "Households on 31 December dated 1 January of the next year; "
        "ITTER107 codes to canonical codes (ITD20 -> 022); the regional row ITD2 (a duplicate "
        "of the province of Trento) left out.",
        "licence": CC_BY_4,
    },
    "disoccupazione_panel": {
        "publisher": ISTAT + " (as assembled by the authors of the R package pspatreg)",
        "source_file": "istat_disoccupazione_province_1996_2019_pspatreg.csv",
        "origin": "R package pspatreg (rominsal/pspatreg, data/unemp_it.RData, GPL-3), object "
        "unemp_it; documented source Istat; " + SOURCES,
        "release": "pspatreg unemp_it panel, 103 provinces within their pre-2005 borders",
        "transformation": "Provinces whose pre-2005 borders differ from today's are LEFT OUT, "
        "never filed under today's codes: Milano (015, incl. Monza), Foggia (071) and Bari "
        "(072, incl. Barletta-Andria-Trani), Ascoli Piceno (044, incl. Fermo), Sassari, "
        "Nuoro, Cagliari, Oristano (090, 091, 092, 095: Sardinian reforms of 2005 and 2016), "
        "Pesaro e Urbino and Rimini (041, 099: Valmarecchia moved in 2009). Belluno and Udine "
        "are kept (Sappada, about 1,300 residents, moved in 2017). 2015 is marked B (break): "
        "from 2015 the panel's values are computed differently (SOURCES.md).",
        "licence": "GPL-3.0 (package); Istat data CC-BY-4.0",
    },
    "poverta_regioni": {
        "publisher": ISTAT,
        "source_file": "istat_povrel_famiglie_regioni_2019_2021.csv",
        "origin": "Istat I.Stat export INCID_POVREL_FAM, via github.com/dishesv/"
        "Poverty-In-Italy-Beyond-the-Rhetoric-of-the-Undeserving-Poor (commit db54206); " + SOURCES,
        "release": "I.Stat export, 2019-2021",
        "transformation": "ITTER107 codes to canonical codes (ITD1/ITD2 -> provinces 021/022).",
        "licence": CC_BY_4,
    },
    "reddito_famiglie_regioni": {
        "publisher": ISTAT,
        "source_file": "istat_reddito_netto_famiglie_regioni.csv",
        "origin": "Istat I.Stat export REDD_MEDIO_FAM / REDD_MEDIANO_FAM (EU-SILC), via "
        "github.com/dishesv/Poverty-In-Italy-Beyond-the-Rhetoric-of-the-Undeserving-Poor "
        "(commit aeea16a); " + SOURCES,
        "release": "I.Stat export, 2017-2021, including imputed rents, all income sources",
        "transformation": "ITTER107/NUTS codes to canonical codes (ITD1/ITD2 -> 021/022).",
        "licence": CC_BY_4,
    },
    "eurostat_poverta_nuts2": {
        "publisher": "Eurostat",
        "source_file": "eurostat_poverty_risk_nuts2_italy_2019_2022.tsv",
        "origin": "Eurostat TSV (unit PC_POP) via github.com/dishesv/Poverty-In-Italy-Beyond-"
        "the-Rhetoric-of-the-Undeserving-Poor; the file does not name its dataset; " + SOURCES,
        "release": "unknown Eurostat dataset (levels match AROPE, ilc_peps11n): UNVERIFIED",
        "transformation": "NUTS 2 to canonical codes (ITH1/ITH2 -> provinces 021/022); flag b "
        "-> obs_status B.",
        "licence": "CC-BY-4.0 (Eurostat reuse policy)",
    },
    "eurostat_disoccupazione_nuts2": {
        "publisher": "Eurostat",
        "source_file": "eurostat_lfst_r_lfu3rt_italy_1999_2013.tsv",
        "origin": "Eurostat bulk TSV lfst_r_lfu3rt (downloaded 2014), Italian rows, via "
        "github.com/tocit/eu10let; " + SOURCES,
        "release": "lfst_r_lfu3rt as downloaded in 2014 (1999-2013)",
        "transformation": "Ages 15+ and 15-24 by sex; NUTS codes to canonical codes (ITD1/ITD2 "
        "-> 021/022); flags b -> B, u -> U.",
        "licence": "CC-BY-4.0 (Eurostat reuse policy)",
    },
    "sdg_regioni": {
        "publisher": ISTAT,
        "source_file": "istat_sdgs_statistical_measures_2004_2022.xlsx (sheet 'Goal 1_17')",
        "origin": "Istat, SDGs report statistical measures 2004-2022, via "
        "github.com/AlbertoDeBenedittis/BES-Indicators-in-Italy (commit 9658661); " + SOURCES,
        "release": "Istat SDG statistical measures, 2004-2022 (column V2022)",
        "transformation": "Rows with DIMENSION 'Territory' for "
        + str(len(SDG_MEASURES))
        + " measures (list in tools/build_baseline_data.py); Italy, NUTS 1 areas, regions and "
        "the autonomous provinces (as 021/022); decimal comma to point; Istat signs left out.",
        "licence": CC_BY_4,
    },
    "irpef_comuni": {
        "publisher": MEF,
        "source_file": "mef_irpef_comunale_2018.csv, _2019.csv, _2020.csv, _2021.csv, "
        "mef_irpef_comunale_2024_compact.csv",
        "origin": "MEF open data 'Redditi e principali variabili IRPEF su base comunale' "
        "(www1.finanze.gov.it, analisi_stat), tax years 2018-2021 and 2024; copies and "
        "commits listed in " + SOURCES,
        "release": "MEF IRPEF comunale, tax years 2018, 2019, 2020, 2021, 2024",
        "transformation": "One row per municipality and measure; blank cells (suppressed by "
        "MEF, frequencies < 4) left out; taxpayers with total income up to 10,000 euro = "
        "classes '<= 0' + '0-10,000' (blank when either is suppressed), above 75,000 = "
        "'75,000-120,000' + '> 120,000'; the residual row 'Mancante/errata' left out.",
        "licence": CC_BY_3_IT,
    },
    "irpef_province": {
        "publisher": MEF,
        "source_file": "as irpef_comuni",
        "origin": "as irpef_comuni; " + SOURCES,
        "release": "MEF IRPEF comunale, tax years 2018, 2019, 2020, 2021, 2024",
        "transformation": "Sums of the municipal values by province (first three digits of "
        "the municipal code), region and Italy. A province sum missing a suppressed municipal "
        "cell is marked U (a lower bound) and is not summed further.",
        "licence": CC_BY_3_IT,
    },
}


def write(name: str, frame: pd.DataFrame, out: Path) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.cast(
        pa.schema(
            [
                ("indicator", pa.dictionary(pa.int16(), pa.string())),
                ("territory", pa.string()),
                ("period", pa.string()),
                ("sex", pa.dictionary(pa.int8(), pa.string())),
                ("value", pa.float64()),
                ("obs_status", pa.dictionary(pa.int8(), pa.string())),
            ]
        )
    )
    path = out / f"{name}.parquet"
    pq.write_table(table, path, compression="zstd", use_dictionary=True)
    meta = dict(META[name])
    meta["rows"] = str(len(frame))
    meta["indicators"] = ", ".join(sorted(frame["indicator"].unique()))
    meta["periods"] = f"{frame['period'].min()} .. {frame['period'].max()}"
    text = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=100)
    (out / f"{name}.parquet.meta.yaml").write_text(text, encoding="utf-8")
    print(f"{name}: {len(frame):,} rows, {path.stat().st_size:,} bytes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--more", type=Path, default=MORE)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    more, out = args.more, args.out
    out.mkdir(parents=True, exist_ok=True)
    builders: dict[str, Callable[[Path], pd.DataFrame]] = {
        "bes_province": bes_province,
        "demografia_province": demography,
        "asia_province": asia,
        "nonprofit_province": nonprofit,
        "stranieri_province": foreigners,
        "famiglie_province": households,
        "disoccupazione_panel": unemployment_panel,
        "poverta_regioni": poverty_regions,
        "reddito_famiglie_regioni": household_income,
        "eurostat_poverta_nuts2": eurostat_poverty,
        "eurostat_disoccupazione_nuts2": eurostat_unemployment,
        "sdg_regioni": sdg_regions,
    }
    for name, build in builders.items():
        write(name, build(more), out)
    municipal = irpef_municipalities(more)
    write("irpef_comuni", municipal, out)
    write("irpef_province", irpef_aggregates(more, municipal), out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
