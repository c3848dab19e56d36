"""National scale: the library against hand-written DuckDB SQL, on ~71 million observations.

Run:  .venv/bin/python benchmarks/national_scale.py [--scale 1.0] [--workdir DIR]

Generates a deterministic source table (every current municipality x 315 source indicators
x 20 years, Parquet), then runs two sides, each in its own subprocess while this process
samples its resident memory (VmRSS of the process tree, every 50 ms):

* ``library``: read Parquet -> ``harmonize`` (Istat codes, years as 1 January stocks,
  catalogue units) -> ``derive_rates`` -> ``aggregate`` (province, region, NUTS 1, Italy)
  -> ``write_build`` (Parquet partitioned by domain, sorted by indicator, territory, period);
* ``sql``: ``benchmarks/national_scale.sql`` in DuckDB with 2 threads, same input, same
  partitioned output.

The catalogue has 450 indicators: 270 counts (summed), 135 rates (formulas over the counts,
derived) and 45 not aggregable; the source delivers the counts and the not-aggregable ones,
so the canonical municipal table holds 450 x 7,896 x 20 = 71 million observations.
``--scale s`` keeps the fraction ``s`` of municipalities, indicators and years (a small
run takes seconds). Both outputs are then checked to hold the same rows and values.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from welfare_observatory.model.indicator import Domain

HERE = Path(__file__).resolve().parent
SQL_FILE = HERE / "national_scale.sql"
YEARS = tuple(range(2004, 2024))
N_COUNTS, N_RATES, N_NONE = 270, 135, 45
DOMAINS = tuple(d.value for d in Domain)
SOURCE = "national"
THREADS = 2


def _scaled(n: int, scale: float, least: int = 1) -> int:
    return max(least, round(n * scale))


def catalogue_tables(scale: float) -> tuple[pa.Table, pa.Table]:
    """``(indicators, formulas)``: ids, source codes, domains, units, aggregation, formulas.

    Rates divide a count by one of a few population-like counts (the first tenth), as
    real rates mostly share a handful of denominators.
    """
    counts = [f"BENCH_COUNT_{k:03d}" for k in range(_scaled(N_COUNTS, scale, 2))]
    rates = [f"BENCH_RATE_{k:03d}" for k in range(_scaled(N_RATES, scale))]
    nones = [f"BENCH_INDEX_{k:03d}" for k in range(_scaled(N_NONE, scale))]
    ids = counts + rates + nones
    n_den = max(1, len(counts) // 10)
    numerators = [counts[n_den + k % (len(counts) - n_den)] for k in range(len(rates))]
    indicators = pa.table(
        {
            "id": ids,
            "source_code": [f"V{k:04d}" if i not in rates else None for k, i in enumerate(ids)],
            "domain": [DOMAINS[k % len(DOMAINS)] for k in range(len(ids))],
            "unit": ["person"] * len(counts) + ["percent"] * len(rates) + ["euro"] * len(nones),
            "aggregation": ["sum"] * len(counts) + ["formula"] * len(rates) + ["none"] * len(nones),
        }
    )
    formulas = pa.table(
        {
            "target": rates,
            "numerator": numerators,
            "denominator": [counts[k % n_den] for k in range(len(rates))],
            "multiplier": [100.0] * len(rates),
            "unit": ["percent"] * len(rates),
        }
    )
    return indicators, formulas


def generate(folder: Path, scale: float, seed: int) -> dict[str, Any]:
    """Write source.parquet, indicators/formulas/hierarchy.parquet and meta.json (cached)."""
    meta_file = folder / "meta.json"
    wanted = {"scale": scale, "seed": seed, "version": 1}
    if meta_file.exists():
        meta: dict[str, Any] = json.loads(meta_file.read_text())
        if {k: meta.get(k) for k in wanted} == wanted:
            return meta
    from welfare_observatory.territory import registry

    folder.mkdir(parents=True, exist_ok=True)
    hierarchy = (
        registry().hierarchy().select(["municipality", "province", "region", "nuts1", "country"])
    )
    n_muni = _scaled(hierarchy.num_rows, scale, 2)
    pick = np.unique(np.linspace(0, hierarchy.num_rows - 1, n_muni).round().astype(np.int64))
    hierarchy = hierarchy.take(pa.array(pick))
    indicators, formulas = catalogue_tables(scale)
    pq.write_table(hierarchy, folder / "hierarchy.parquet")
    pq.write_table(indicators, folder / "indicators.parquet")
    pq.write_table(formulas, folder / "formulas.parquet")

    codes = hierarchy.column("municipality").cast(pa.int32()).to_numpy()
    aggregation = indicators.column("aggregation").to_pylist()
    source_codes = [c for c in indicators.column("source_code").to_pylist() if c is not None]
    is_count = np.array([a == "sum" for a in aggregation if a != "formula"])
    years = YEARS[-_scaled(len(YEARS), scale) :]
    rng = np.random.default_rng(seed)
    size = rng.lognormal(8.0, 1.3, len(codes))  # residents: median ~3,000
    share = np.where(
        np.arange(len(is_count)) < max(1, int(is_count.sum()) // 10),
        rng.uniform(0.4, 1.0, len(is_count)),
        rng.uniform(0.001, 0.3, len(is_count)),
    )
    types = {"PRO_COM": pa.int32(), "CODICE": pa.string(), "ANNO": pa.int16()}
    schema = pa.schema({**types, "VALORE": pa.float64()})
    rows = 0
    with pq.ParquetWriter(folder / "source.parquet", schema) as writer:
        for year in years:
            year_rng = np.random.default_rng([seed, year])
            growth = 1.0 + 0.003 * (year - YEARS[0])
            lam = np.outer(share, size * growth)  # indicator-major, as a yearly extract
            counts = year_rng.poisson(lam).astype(np.float64)
            index = np.round(year_rng.uniform(0, 100, lam.shape), 2)
            value = np.where(is_count[:, None], counts, index).ravel()
            missing = ~is_count[:, None] & (year_rng.random(lam.shape) < 0.02)
            n = value.size
            columns = {
                "PRO_COM": np.tile(codes, len(is_count)),
                "CODICE": np.repeat(np.array(source_codes, dtype=object), len(codes)),
                "ANNO": np.full(n, year, dtype=np.int16),
            }
            batch = {k: pa.array(v, types[k]) for k, v in columns.items()}
            batch["VALORE"] = pa.array(value, mask=missing.ravel())
            writer.write_table(pa.table(batch, schema=schema))
            rows += n
    meta = {
        **wanted,
        "source_rows": rows,
        "municipalities": len(codes),
        "indicators": indicators.num_rows,
        "years": len(years),
    }
    meta_file.write_text(json.dumps(meta))
    return meta


def _catalog(input_dir: Path) -> dict[str, Any]:
    from welfare_observatory.model import Indicator

    formulas = {r["target"]: r for r in pq.read_table(input_dir / "formulas.parquet").to_pylist()}
    catalog = {}
    for row in pq.read_table(input_dir / "indicators.parquet").to_pylist():
        f = formulas.get(row["id"])
        catalog[row["id"]] = Indicator.model_validate(
            {
                "id": row["id"],
                "label": {"en": row["id"]},
                "unit": row["unit"],
                "polarity": "neutral",
                "domain": row["domain"],
                "measure": "ratio" if f else "stock",
                "reference_point": "jan_1",
                "aggregation": row["aggregation"],
                "formula": {k: f[k] for k in ("numerator", "denominator", "multiplier")}
                if f
                else None,
                "source": {"publisher": "benchmark", "document": "synthetic"},
            }
        )
    return catalog


def run_library(input_dir: Path, out: Path) -> dict[str, Any]:
    """The library path; returns stage timings, row counts and the Arrow size."""
    import hashlib

    from welfare_observatory.build.derive import _with_domain, unify_breakdowns
    from welfare_observatory.derive import aggregate, derive_rates
    from welfare_observatory.harmonize import CodeTable, HarmonizeRule, harmonize
    from welfare_observatory.lineage import LineageGraph
    from welfare_observatory.store.edition import Manifest, write_build

    pa.set_cpu_count(THREADS)
    times: dict[str, float] = {}
    t = time.perf_counter()
    catalog = _catalog(input_dir)
    mapping = {
        r["source_code"]: r["id"]
        for r in pq.read_table(input_dir / "indicators.parquet").to_pylist()
        if r["source_code"]
    }
    rule = HarmonizeRule.model_validate(
        {
            "name": "synthetic national extract",
            "indicator": {"column": "CODICE", "map": mapping},
            "territory": {"column": "PRO_COM", "scheme": "istat", "level": "municipality"},
            "period": {"column": "ANNO", "format": "year", "reference_date": "jan_1"},
            "value": {"column": "VALORE"},
        }
    )
    codes = CodeTable.from_registry()
    hierarchy = pq.read_table(input_dir / "hierarchy.parquet")
    times["setup"] = time.perf_counter() - t

    t = time.perf_counter()
    # As in a build: the payload is hashed at fetch, and harmonize gets that hash as input.
    payload = hashlib.sha256((input_dir / "source.parquet").read_bytes()).hexdigest()
    source = pq.read_table(input_dir / "source.parquet")
    times["read"] = time.perf_counter() - t
    t = time.perf_counter()
    harmonized = harmonize(
        source, rule, codes=codes, indicators=catalog, source=SOURCE, inputs=[f"sha256:{payload}"]
    )
    del source
    times["harmonize"] = time.perf_counter() - t
    t = time.perf_counter()
    rates = derive_rates(harmonized.table, catalog, threads=THREADS)
    times["derive_rates"] = time.perf_counter() - t
    t = time.perf_counter()
    areas = aggregate(
        harmonized.table,
        catalog,
        hierarchy,
        levels=("province", "region", "nuts1", "country"),
        threads=THREADS,
    )
    times["aggregate"] = time.perf_counter() - t
    t = time.perf_counter()
    # What derive_stage does after deriving: one table, then the domain of each row.
    observations = unify_breakdowns([harmonized.table, rates.table, areas.table])
    del harmonized, rates
    observations = _with_domain(observations, catalog)
    times["combine"] = time.perf_counter() - t
    t = time.perf_counter()
    manifest = Manifest(
        observatory="national-scale",
        edition="bench",
        build="b-bench",
        created="1970-01-01T00:00:00+00:00",
        library_version="bench",
        config_digest="-",
        reference_date="2024-01-01",
        territory="IT",
    )
    findings = pa.table({"code": pa.array([f.code for f in areas.findings], pa.string())})
    write_build(
        out,
        manifest,
        observations=observations,
        lineage=LineageGraph().to_arrow(),
        findings=findings,
    )
    times["store"] = time.perf_counter() - t
    return {
        "times": times,
        "rows": observations.num_rows,
        "arrow_bytes": observations.drop_columns(["domain"]).nbytes,
        "output": str(out / "bench" / "b-bench" / "observations"),
    }


def run_sql(input_dir: Path, out: Path) -> dict[str, Any]:
    """The hand-written DuckDB path: each statement of national_scale.sql, timed."""
    import duckdb

    def quoted(path: Path) -> str:
        return "'" + str(path).replace("'", "''") + "'"

    times: dict[str, float] = {}
    con = duckdb.connect(":memory:")
    con.execute(f"SET threads = {THREADS}")
    for name in ("source", "indicators", "formulas", "hierarchy"):
        con.execute(
            f"CREATE VIEW {name} AS SELECT * FROM "
            f"read_parquet({quoted(input_dir / f'{name}.parquet')})"
        )
    script = SQL_FILE.read_text().replace(":out", quoted(out / "observations"))
    for statement in script.split(";\n"):
        body = [ln for ln in statement.splitlines() if ln.strip() and not ln.startswith("--")]
        if not body:
            continue
        label = f"{len(times) + 1}. " + " ".join(body[0].split()[:4])[:40]
        t = time.perf_counter()
        con.execute(statement)
        times[label] = time.perf_counter() - t
    con.close()
    return {"times": times, "output": str(out / "observations")}


def _rss(pid: int) -> tuple[int, int]:
    """``(VmRSS of pid and its descendants, VmHWM of pid)`` in bytes; zeros once it is gone."""
    total, hwm, todo = 0, 0, [pid]
    while todo:
        current = todo.pop()
        proc = Path(f"/proc/{current}")
        try:
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                elif line.startswith("VmHWM:") and current == pid:
                    hwm = int(line.split()[1]) * 1024
            for task in (proc / "task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total, hwm


def measure(command: list[str]) -> dict[str, Any]:
    """Run ``command``; wall seconds, exit code, peak RSS sampled every 50 ms over the
    process tree, and the kernel's high-water mark (VmHWM) of the process last seen."""
    import subprocess

    start = time.perf_counter()
    proc = subprocess.Popen(command)
    peak = hwm = 0
    while proc.poll() is None:
        rss, seen = _rss(proc.pid)
        peak, hwm = max(peak, rss), max(hwm, seen)
        time.sleep(0.05)
    return {
        "wall": time.perf_counter() - start,
        "code": proc.returncode,
        "peak_sampled": peak,
        "peak_hwm": hwm,
    }


def compare(library: str, sql: str) -> dict[str, Any]:
    """Row counts, per-domain checksums and a 1-in-97 sample of keys compared value by value."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {THREADS}")
    glob = {"l": library + "/*/*.parquet", "s": sql + "/*/*.parquet"}
    for name, path in glob.items():
        con.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}', hive_partitioning = true)"
        )
    totals = "SELECT domain, count(*), count(value), sum(value) FROM {} GROUP BY ALL"
    per_domain = {n: sorted(con.execute(totals.format(n)).fetchall()) for n in glob}
    rows = {n: sum(r[1] for r in per_domain[n]) for n in glob}
    # Sums are compared to 1e-9 relative: the engines add in different orders.
    same_totals = len(per_domain["l"]) == len(per_domain["s"]) and all(
        a[:3] == b[:3] and abs(a[3] - b[3]) <= 1e-9 * abs(b[3])
        for a, b in zip(per_domain["l"], per_domain["s"], strict=False)
    )
    sample = con.execute("""
        WITH ls AS (SELECT * FROM l WHERE hash(indicator, territory, period) % 97 = 0),
             ss AS (SELECT * FROM s WHERE hash(indicator, territory, period) % 97 = 0)
        SELECT count(*) AS keys,
               count(*) FILTER (WHERE ls.indicator IS NULL OR ss.indicator IS NULL) AS unmatched,
               count(*) FILTER (WHERE ls.value IS DISTINCT FROM ss.value
                   AND NOT abs(ls.value - ss.value) <= 1e-9 * abs(ss.value)) AS value_diff,
               count(*) FILTER (WHERE (ls.unit, ls.obs_status, ls.conf_status, ls.source,
                   ls.period_start) IS DISTINCT FROM (ss.unit, ss.obs_status, ss.conf_status,
                   ss.source, ss.period_start)) AS other_diff
        FROM ls FULL JOIN ss USING (indicator, territory, period, domain)
    """).fetchone()
    assert sample is not None
    keys, unmatched, value_diff, other_diff = sample
    same = same_totals and not (unmatched or value_diff or other_diff)
    return {
        "rows": rows,
        "same_totals": same_totals,
        "sample": keys,
        "unmatched": unmatched,
        "value_diff": value_diff,
        "other_diff": other_diff,
        "same": same,
    }


def _gib(n: float) -> str:
    return f"{n / 2**30:,.2f} GiB"


def orchestrate(args: argparse.Namespace) -> int:
    """Generate, run both sides, compare, print; exit 1 when a side fails or outputs differ."""
    import shutil

    work: Path = args.workdir.resolve()
    input_dir = work / f"input-{args.scale:g}"
    t = time.perf_counter()
    meta = generate(input_dir, args.scale, args.seed)
    print(
        f"input: {meta['municipalities']:,} municipalities x {meta['indicators']} indicators "
        f"x {meta['years']} years; source table {meta['source_rows']:,} rows "
        f"({_gib((input_dir / 'source.parquet').stat().st_size)} Parquet), "
        f"ready in {time.perf_counter() - t:.1f} s",
        flush=True,
    )
    results: dict[str, dict[str, Any]] = {}
    for side in ("library", "sql"):
        out = work / f"out-{side}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        load = os.getloadavg()
        print(
            f"running {side} (load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})...",
            flush=True,
        )
        result_file = work / f"result-{side}.json"
        result_file.unlink(missing_ok=True)
        script = str(Path(__file__).resolve())
        options = {"--side": side, "--input": input_dir, "--out": out, "--result": result_file}
        measured = measure(
            [sys.executable, script, *(str(x) for kv in options.items() for x in kv)]
        )
        if measured["code"] == 0:
            measured.update(json.loads(result_file.read_text()))
        results[side] = measured
    load = os.getloadavg()
    print(
        f"\nload average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} "
        "CPUs (other processes may be running on this machine and skew the figures)"
    )
    failed = [s for s, r in results.items() if r["code"] != 0]
    print(f"{'side':<8} {'wall s':>8} {'work s':>8} {'peak RSS sampled':>17} {'peak VmHWM':>16}")
    for side, r in results.items():
        work_s = sum(v for k, v in r.get("times", {}).items() if k != "setup")
        r["work"] = work_s
        status = "" if r["code"] == 0 else f"  FAILED (exit {r['code']})"
        print(
            f"{side:<8} {r['wall']:>8.1f} {work_s:>8.1f} {_gib(r['peak_sampled']):>17} "
            f"{_gib(r['peak_hwm']):>16}{status}"
        )
    for side, r in results.items():
        stages = ", ".join(f"{k} {v:.1f}" for k, v in r.get("times", {}).items())
        print(f"  {side} stages (s): {stages}")
    if failed:
        return 1
    lib, sql = results["library"], results["sql"]
    arrow = lib["arrow_bytes"]
    ratio = lib["work"] / sql["work"]
    rss_ratio = lib["peak_sampled"] / arrow
    print(
        f"time ratio library/sql (work): {ratio:.2f} (target <= 1.5: "
        f"{'met' if ratio <= 1.5 else 'MISSED'}); wall ratio {lib['wall'] / sql['wall']:.2f}"
    )
    print(
        f"Arrow size of the observations (dictionary-encoded keys, {lib['rows']:,} rows): "
        f"{_gib(arrow)}; library peak RSS / Arrow size: {rss_ratio:.2f} (target <= 3: "
        f"{'met' if rss_ratio <= 3 else 'MISSED'}); sql peak RSS / Arrow size: "
        f"{sql['peak_sampled'] / arrow:.2f}"
    )
    check = compare(lib["output"], sql["output"])
    print(
        f"outputs: library {check['rows']['l']:,} rows, sql {check['rows']['s']:,} rows; "
        f"per-domain count/sum {'equal' if check['same_totals'] else 'DIFFERENT'}; "
        f"sample of {check['sample']:,} keys: {check['unmatched']} unmatched, "
        f"{check['value_diff']} values and {check['other_diff']} statuses/units differ"
    )
    return 0 if check["same"] else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="fraction of municipalities, indicators and years (default 1)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=Path("build/national_scale"))
    parser.add_argument("--side", choices=("library", "sql"), help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 0 < args.scale <= 1:
        parser.error(f"--scale must be in (0, 1], got {args.scale:g}")
    if args.side is not None:
        run = run_library if args.side == "library" else run_sql
        result = run(args.input, args.out)
        args.result.write_text(json.dumps(result))
        return
    sys.exit(orchestrate(args))


if __name__ == "__main__":
    main()
