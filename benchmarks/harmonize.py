"""Harmonize 10 million source rows, then derive rates and aggregates from them.

Run:  .venv/bin/python benchmarks/harmonize.py [--rows-per-year N] [--threads 2]

The source table is synthetic but shaped like a national Istat extract: every current
municipality written by *name* as a PA export would (upper case, accents dropped or kept,
``S.`` for ``San``/``Sant'``) with its province abbreviation for homonyms, two indicators
coded as ``DATA_TYPE``, sex ``1/2/9``, eleven age classes, and 20 year columns (31 December
stocks) in thousands of persons. The rule resolves names to codes, melts the year columns,
scales the unit, parses the periods; derive computes the share of people aged 65+ and
aggregates both counts and the share to provinces, regions, NUTS 1 and Italy.
"""

from __future__ import annotations

import argparse
import resource
import time
import unicodedata

import numpy as np
import pyarrow as pa

from welfare_observatory.derive import aggregate, derive_rates
from welfare_observatory.harmonize import CodeTable, harmonize, parse_rules
from welfare_observatory.model import Indicator
from welfare_observatory.territory import registry

YEARS = [str(y) for y in range(2004, 2024)]
AGES = [
    "0-14",
    "15-24",
    "25-34",
    "35-44",
    "45-54",
    "55-64",
    "65-74",
    "75-84",
    "85 e più",
    "Y_GE65",
    "totale",
]
SEXES = ["1", "2", "9"]
DATA_TYPES = ["JAN", "JAN65"]

RULE = """
name: synthetic national population by municipality name
indicator: {column: DATA_TYPE, map: {JAN: POP_TOTAL, JAN65: POP_65_PLUS}}
territory: {column: COMUNE, scheme: name, province_column: SIGLA}
melt: {pattern: '(\\d{4})', names_to: year, values_to: migliaia}
period: {column: year, format: year, reference_date: dec_31}
breakdowns:
  sex: {column: SESSO}
  age: {column: ETA}
value: {column: migliaia}
unit: {unit: thousand_persons, to: person}
"""


def _indicator(id_: str, aggregation: str, unit: str, formula: dict | None = None) -> Indicator:
    return Indicator.model_validate(
        {
            "id": id_,
            "label": {"en": id_},
            "unit": unit,
            "polarity": "neutral",
            "domain": "demography",
            "measure": "ratio" if formula else "stock",
            "reference_point": "jan_1",
            "aggregation": aggregation,
            "formula": formula,
            "breakdowns": ["sex", "age"],
            "source": {"publisher": "benchmark", "document": "synthetic"},
        }
    )


CATALOG = {
    i.id: i
    for i in (
        _indicator("POP_TOTAL", "sum", "person"),
        _indicator("POP_65_PLUS", "sum", "person"),
        _indicator(
            "OLD_AGE_SHARE",
            "formula",
            "percent",
            {"numerator": "POP_65_PLUS", "denominator": "POP_TOTAL", "multiplier": 100},
        ),
    )
}


def _as_written(name: str, i: int) -> str:
    """The name as different PA exports write it."""
    if i % 3 == 1:
        name = name.upper()
    if i % 5 == 2:
        name = "".join(
            c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)
        )
    for long in ("Sant'", "San ", "Santa ", "Santo "):
        if i % 2 == 0 and name.startswith(long):
            name = "S. " + name[len(long) :]
    return name


def source_table(rows_per_year: int | None, seed: int = 7) -> pa.Table:
    reg = registry()
    municipalities = reg.municipalities()
    names = [_as_written(t.name, i) for i, t in enumerate(municipalities)]
    abbreviations = [reg.get(t.code[:3]).abbreviation or "" for t in municipalities]
    keys = len(DATA_TYPES) * len(SEXES) * len(AGES)
    n_muni = len(municipalities)
    n = n_muni * keys
    if rows_per_year is not None:
        n = min(n, rows_per_year)
    rng = np.random.default_rng(seed)
    idx = np.arange(n)
    muni = idx // keys
    rest = idx % keys
    table = {
        "COMUNE": pa.array(names).take(pa.array(muni)),
        "SIGLA": pa.array(abbreviations).take(pa.array(muni)),
        "DATA_TYPE": pa.array(DATA_TYPES).take(pa.array(rest // (len(SEXES) * len(AGES)))),
        "SESSO": pa.array(SEXES).take(pa.array((rest // len(AGES)) % len(SEXES))),
        "ETA": pa.array(AGES).take(pa.array(rest % len(AGES))),
    }
    base = rng.uniform(0.05, 50.0, n)
    for k, year in enumerate(YEARS):
        table[year] = pa.array(np.round(base * (1 + 0.002 * k), 3))
    return pa.table(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-per-year", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    t0 = time.perf_counter()
    wide = source_table(args.rows_per_year)
    codes = CodeTable.from_registry()
    (rule,) = parse_rules(RULE)
    t1 = time.perf_counter()
    harmonized = harmonize(wide, rule, codes=codes, indicators=CATALOG, source="bench")
    t2 = time.perf_counter()
    rates = derive_rates(harmonized.table, CATALOG, threads=args.threads)
    t3 = time.perf_counter()
    hierarchy = registry().hierarchy()
    aggregated = aggregate(
        harmonized.table,
        CATALOG,
        hierarchy,
        levels=("province", "region", "nuts1", "country"),
        threads=args.threads,
    )
    t4 = time.perf_counter()

    distinct = len(set(wide.column("COMUNE").to_pylist()))
    source_rows = wide.num_rows * len(YEARS)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    errors = [str(f) for f in harmonized.findings if f.severity.value == "error"]
    print(
        f"source: {wide.num_rows:,} wide rows x {len(YEARS)} year columns = "
        f"{source_rows:,} source values; {distinct:,} distinct municipality names"
    )
    print(f"setup (synthetic table + code table from the registry): {t1 - t0:6.2f} s")
    print(
        f"harmonize -> {harmonized.table.num_rows:,} canonical rows:        {t2 - t1:6.2f} s "
        f"({source_rows / (t2 - t1) / 1e6:.1f} M rows/s); errors: {len(errors)}"
    )
    print(f"derive rates -> {rates.table.num_rows:,} rows:               {t3 - t2:6.2f} s")
    print(
        f"aggregate (4 levels, sums + re-derived rates) -> {aggregated.table.num_rows:,} "
        f"rows: {t4 - t3:6.2f} s"
    )
    print(f"total harmonize + derive + aggregate:                   {t4 - t1:6.2f} s")
    print(
        f"Arrow size of the canonical table: {harmonized.table.nbytes / 2**20:,.0f} MiB; "
        f"peak RSS {peak:,.0f} MiB"
    )
    for line in errors[:5]:
        print("  ", line)


if __name__ == "__main__":
    main()
