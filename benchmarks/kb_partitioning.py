"""How to partition an edition's observations: by domain (the store's choice), by period, or not.

Run:  .venv/bin/python benchmarks/kb_partitioning.py [--territories 2000] [--indicators 120]
      [--years 20] [--repeat 5] [--row-group 1048576] [--workdir build/kb_partitioning]

A synthetic edition (deterministic seed): ``territories`` municipality codes x ``indicators``
indicators in 8 domains x ``years`` yearly periods x sex (M, F, _T). The same table is written
three ways, each file sorted by indicator, territory, period as the store does (zstd, one
Parquet file per partition, pyarrow's default row groups):

* ``domain``: ``observations/domain=<d>/part-0.parquet`` (what ``store.edition`` writes);
* ``period``: ``observations/period=<p>/part-0.parquet``;
* ``none``: one ``observations/part-0.parquet``.

Then DuckDB (2 threads) runs the queries a report and an analyst make most, each ``repeat``
times on a warm page cache; the median time is printed with the file count and bytes.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

DOMAINS = [
    "demography",
    "health",
    "education",
    "labour",
    "income",
    "housing",
    "social_care",
    "safety",
]
LAYOUTS = ("domain", "period", "none")
SORT = [("indicator", "ascending"), ("territory", "ascending"), ("period", "ascending")]


def synthetic(territories: int, indicators: int, years: int, seed: int = 7) -> pa.Table:
    """The canonical columns that matter for reading, with dictionary-encoded keys."""
    rng = np.random.default_rng(seed)
    codes = np.array([f"{1 + t // 100:03d}{1 + t % 100:03d}" for t in range(territories)])
    ids = np.array([f"IND_{i:03d}" for i in range(indicators)])
    domains = np.array([DOMAINS[i % len(DOMAINS)] for i in range(indicators)])
    periods = np.array([str(2024 - years + y) for y in range(years)])
    sexes = np.array(["M", "F", "_T"])
    n = territories * indicators * years * len(sexes)
    # Row r: indicator-major, then territory, period, sex (the order of a harmonized table
    # does not matter: every layout is sorted before writing).
    i_idx = np.repeat(np.arange(indicators), territories * years * 3)
    t_idx = np.tile(np.repeat(np.arange(territories), years * 3), indicators)
    p_idx = np.tile(np.repeat(np.arange(years), 3), indicators * territories)
    s_idx = np.tile(np.arange(3), indicators * territories * years)

    def encoded(values: np.ndarray, index: np.ndarray) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(pa.array(index, pa.int32()), pa.array(values))

    return pa.table(
        {
            "indicator": encoded(ids, i_idx),
            "territory": encoded(codes, t_idx),
            "period": encoded(periods, p_idx),
            "sex": encoded(sexes, s_idx),
            "value": pa.array(rng.gamma(2.0, 500.0, n)),
            "unit": encoded(np.array(["person"]), np.zeros(n, dtype=np.int32)),
            "obs_status": encoded(np.array(["A"]), np.zeros(n, dtype=np.int32)),
            "lineage": encoded(np.array(["derive-0123456789abcdef"]), np.zeros(n, np.int32)),
            "domain": encoded(domains, i_idx).cast(pa.string()),
        }
    )


def _sorted(table: pa.Table) -> pa.Table:
    # The partition column lives in the folder name: sort by the keys left in the file.
    present = [(k, order) for k, order in SORT if k in table.column_names]
    keys = pa.table({k: table.column(k).cast(pa.string()) for k, _ in present})
    return table.take(pc.sort_indices(keys, sort_keys=present))


def write(table: pa.Table, layout: str, root: Path, row_group: int) -> float:
    """Write one layout under ``root``; returns the seconds it took."""
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    if layout == "none":
        root.mkdir(parents=True)
        pq.write_table(
            _sorted(table), root / "part-0.parquet", compression="zstd", row_group_size=row_group
        )
        return time.perf_counter() - started
    column = table.column(layout).cast(pa.string())
    for value in sorted(pc.unique(column).to_pylist()):
        part = table.filter(pc.equal(column, value)).drop_columns([layout])
        folder = root / f"{layout}={value}"
        folder.mkdir(parents=True)
        pq.write_table(
            _sorted(part), folder / "part-0.parquet", compression="zstd", row_group_size=row_group
        )
    return time.perf_counter() - started


def queries(table: pa.Table) -> dict[str, str]:
    """Typical reads of a report and an analyst, on the view ``obs``."""
    latest = max(table.column("period").combine_chunks().dictionary.to_pylist())
    codes = table.column("territory").combine_chunks().dictionary.to_pylist()
    ids = table.column("indicator").combine_chunks().dictionary.to_pylist()
    one, other = codes[len(codes) // 2], codes[len(codes) // 3]
    series, trend = ids[len(ids) // 2], ids[len(ids) // 3]
    health = [f"'{i}'" for i in ids[1 :: len(DOMAINS)]]  # the indicators of one domain
    return {
        "one indicator, every territory and year (trend, benchmark)": (
            f"SELECT territory, period, value FROM obs WHERE indicator = '{trend}' AND sex = '_T'"
        ),
        "one territory, every indicator, latest year (profile page)": (
            f"SELECT indicator, value FROM obs WHERE territory = '{one}' AND period = '{latest}'"
        ),
        "one domain's indicators, latest year (composite page)": (
            f"SELECT indicator, territory, value FROM obs WHERE indicator IN ({', '.join(health)})"
            f" AND period = '{latest}' AND sex = '_T'"
        ),
        "the same, also filtered by domain (partition pruning)": (
            f"SELECT indicator, territory, value FROM obs WHERE domain = '{DOMAINS[1]}'"
            f" AND indicator IN ({', '.join(health)}) AND period = '{latest}' AND sex = '_T'"
        ),
        "one indicator, one territory, all years (explain, series)": (
            f"SELECT period, sex, value FROM obs WHERE indicator = '{series}'"
            f" AND territory = '{other}'"
        ),
        "latest year of everything, averaged by indicator (summary table)": (
            f"SELECT indicator, avg(value) FROM obs WHERE period = '{latest}' GROUP BY 1"
        ),
    }


def time_queries(root: Path, sql: dict[str, str], repeat: int) -> dict[str, float]:
    con = duckdb.connect()
    con.execute("SET threads = 2")
    pattern = f"{root}/**/*.parquet"
    con.execute(
        f"CREATE VIEW obs AS SELECT * FROM read_parquet('{pattern}', hive_partitioning = true)"
    )
    medians = {}
    for name, text in sql.items():
        con.execute(text).fetchall()  # warm the page cache and DuckDB's metadata
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            con.execute(text).fetchall()
            times.append(time.perf_counter() - started)
        medians[name] = statistics.median(times)
    con.close()
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--territories", type=int, default=2000)
    parser.add_argument("--indicators", type=int, default=120)
    parser.add_argument("--years", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--row-group",
        type=int,
        default=1 << 20,
        help="rows per Parquet row group (default: pyarrow's, which the store uses)",
    )
    parser.add_argument("--workdir", type=Path, default=Path("build/kb_partitioning"))
    args = parser.parse_args()

    table = synthetic(args.territories, args.indicators, args.years)
    print(
        f"{table.num_rows:,} observations: {args.territories:,} territories x "
        f"{args.indicators} indicators ({len(DOMAINS)} domains) x {args.years} years x 3 sexes; "
        f"row groups of {args.row_group:,} rows"
    )
    sql = queries(table)
    results: dict[str, dict[str, float]] = {}
    for layout in LAYOUTS:
        root = args.workdir / layout
        seconds = write(table, layout, root, args.row_group)
        files = sorted(root.rglob("*.parquet"))
        size = sum(f.stat().st_size for f in files)
        mib = size / 2**20
        print(f"{layout:>7}: {len(files):3d} files, {mib:7.1f} MiB, written in {seconds:.2f} s")
        results[layout] = time_queries(root, sql, args.repeat)
    print()
    print(f"median of {args.repeat} runs, seconds (DuckDB, 2 threads)")
    print(f"{'query':<66}" + "".join(f"{layout:>9}" for layout in LAYOUTS))
    for name in sql:
        print(f"{name:<66}" + "".join(f"{results[layout][name]:9.3f}" for layout in LAYOUTS))
    shutil.rmtree(args.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
