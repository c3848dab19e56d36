"""The same builds through the local executor and through Dask (1 and 2 workers).

Run:  .venv/bin/python benchmarks/distributed.py [--years 20] [--provinces 20] [--workdir DIR]

1. One observatory of Italy with one source per region: resident population by
   municipality and sex (the library's baseline, 2023) written as CSV files over ``--years``
   synthetic years (each year's counts drift by a deterministic few per mille), so the
   sources have work to do. Built with ``local``, ``dask`` with 1 worker and with 2 workers.
2. A network of ``--provinces`` provincial observatories (population baseline by sex):
   built one after the other locally, then together with ``build_network`` on 2 workers.
3. With ``--national-scale SCALE``: ``benchmarks/national_scale.py``'s synthetic national
   extract at that scale (its generator, imported), harmonized once by chunks, then derived
   by partitions of indicators (``derive_out_of_core``, 2 indicators a partition) locally
   and on Dask with 1 and 2 workers: the partitions of one build fanned out. The extract is
   one Parquet file, which no shipped source type reads and which as one source would be
   one task; so this part starts from harmonize, not from ``build``.

Every run is a subprocess (its own peak memory; worker processes report theirs). The build
ids must be equal across executors: the script exits 1 otherwise. On a 2-core machine this
measures the scheduler's overhead (cluster start, task shipping, worker warm-up), not
scaling: the client's derive/analyze/store and the two workers share the same two cores.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# This file is named like the ``distributed`` package: keep its folder off the import path,
# or ``import distributed`` (in Dask) would import this script.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

CONFIG = """\
id: bench_italy
name: {{en: Distributed benchmark}}
edition: "bench"
territory: {{code: IT, reference_date: 2024-01-01}}
indicators:
  add: [POP_TOTAL, POP_FEMALE, POP_MALE, SEX_RATIO, SHARE_FEMALE]
sources:
{sources}
"""

SOURCE = """\
  region_{region}:
    type: table
    options: {{path: data/region_{region}.csv}}
    rules:
      indicator:
        column: Sesso
        map: {{Femmine: POP_FEMALE, Maschi: POP_MALE, Totale: POP_TOTAL}}
      territory: {{column: Codice comune, scheme: istat}}
      period: {{column: Anno, format: year, reference_date: jan_1}}
      value: {{column: Residenti}}
"""


def generate_italy(folder: Path, years: int) -> Path:
    """The one-source-per-region observatory; cached by its parameters."""
    import numpy as np
    import pandas as pd

    from welfare_observatory.territory import population, registry

    marker = folder / "generated.json"
    if marker.exists() and json.loads(marker.read_text()) == {"years": years}:
        return folder
    (folder / "data").mkdir(parents=True, exist_ok=True)
    base = population(2023, by=("sex",)).to_pandas()
    hierarchy = registry().hierarchy().to_pandas()[["municipality", "region"]]
    base = base.merge(hierarchy, left_on="territory", right_on="municipality")
    total = base.groupby(["territory", "region"], as_index=False)["population"].sum()
    total["sex"] = "T"
    base = pd.concat([base[total.columns], total])
    base["Sesso"] = base["sex"].map({"F": "Femmine", "M": "Maschi", "T": "Totale"})
    rng = np.random.default_rng(2024)
    sources = []
    for region, part in base.groupby("region"):
        frames = []
        for year in range(2024 - years, 2024):
            drift = 1 + rng.normal(0, 0.004, len(part))
            frames.append(
                pd.DataFrame(
                    {
                        "Codice comune": part["territory"].to_numpy(),
                        "Sesso": part["Sesso"].to_numpy(),
                        "Anno": year,
                        "Residenti": np.round(part["population"].to_numpy() * drift),
                    }
                )
            )
        table = pd.concat(frames)
        # Totals must add up: the total is the sum of the two sexes, year by year.
        sexes = table[table["Sesso"] != "Totale"]
        sums = sexes.groupby(["Codice comune", "Anno"], as_index=False)["Residenti"].sum()
        sums["Sesso"] = "Totale"
        table = pd.concat([sexes, sums[sexes.columns]])
        table.to_csv(folder / "data" / f"region_{region}.csv", sep=";", index=False)
        sources.append(SOURCE.format(region=region))
    (folder / "observatory.yaml").write_text(CONFIG.format(sources="".join(sources)))
    marker.write_text(json.dumps({"years": years}))
    return folder


def generate_network(folder: Path, count: int) -> list[Path]:
    from welfare_observatory.build.strategies.sample import population_observatory, provinces

    chosen = provinces()[:count]
    return [population_observatory(folder / code, code) for code in chosen]


def prepare_national(work: Path, scale: float) -> Path:
    """The national-scale input, harmonized by chunks once (a subprocess); returns ``work``."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("out_of_core_bench", HERE / "out_of_core.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    input_dir = work / f"input-{scale:g}"
    meta = bench.national_scale().generate(input_dir, scale, 7)
    if not (work / "canonical").exists():
        bench.observatory(input_dir, work / "observatory")
        command = [sys.executable, str(HERE / "out_of_core.py"), "--step", "harmonize"]
        command += ["--input", str(input_dir), "--workdir", str(work)]
        command += ["--result", str(work / "harmonize.json")]
        subprocess.run(command, check=True)
    print(f"national-scale input: {meta['source_rows']:,} source rows, harmonized by chunks")
    return work


def derive_national(work: Path, out: Path, executor: Any) -> list[str]:
    """Derive the harmonized national extract by partitions; its rows and sum of values."""
    import duckdb

    from welfare_observatory.build.strategies.out_of_core import derive_out_of_core

    result = derive_out_of_core(
        sorted((work / "canonical").glob("chunk-*.parquet")),
        work / "observatory",
        out,
        memory_limit="1GiB",
        indicators_per_partition=2,
        executor=executor,
    )
    files = ", ".join(f"'{f}'" for f in result.files)
    # Thousandths as integers: a float sum would depend on the order DuckDB adds in.
    query = "SELECT count(*), sum(CAST(round(value * 1000) AS HUGEINT)) FROM read_parquet"
    ((rows, total),) = duckdb.sql(f"{query}([{files}])").fetchall()
    return [f"{rows}:{total}:{len(result.files)}"]


def run_mode(args: argparse.Namespace) -> dict[str, Any]:
    """One measured run in this (sub)process; returns times, build ids and peak memory."""
    from welfare_observatory.build.strategies import DaskExecutor, LocalExecutor, build_network
    from welfare_observatory.observatory import load_observatory

    out = Path(args.out)
    workers: dict[str, int] = {}
    start = time.perf_counter()
    executor = LocalExecutor() if args.workers == 0 else DaskExecutor(n_workers=args.workers)
    with executor:
        ready = time.perf_counter()
        if args.what == "national":
            builds, timings = derive_national(Path(args.observatory), out, executor), {}
        elif args.what == "italy":
            result = load_observatory(args.observatory).build(
                out=out, offline=True, executor=executor
            )
            builds = [result.report.build]
            timings = result.report.timings
        elif args.workers == 0:
            builds = [
                load_observatory(p).build(out=out / p.name, offline=True).report.build
                for p in sorted(Path(args.observatory).iterdir())
            ]
            timings = {}
        else:
            folders = sorted(Path(args.observatory).iterdir())
            results = build_network(folders, out=out, executor=executor, offline=True)
            builds = [r.report.build for r in results]
            timings = {}
        done = time.perf_counter()
        if isinstance(executor, DaskExecutor):
            workers = executor.worker_peak_memory()
    return {
        "startup": ready - start,
        "work": done - ready,
        "total": time.perf_counter() - start,
        "builds": builds,
        "timings": timings,
        "client_peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "worker_peaks": sorted(workers.values()),
    }


def measure(what: str, observatory: Path, workers: int, out: Path) -> dict[str, Any]:
    import shutil

    shutil.rmtree(out, ignore_errors=True)  # nothing reused from an earlier run
    command = [sys.executable, __file__, "--run", what, "--observatory", str(observatory)]
    command += ["--workers", str(workers), "--out", str(out)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=20)
    parser.add_argument("--provinces", type=int, default=20)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--run", dest="what", choices=["italy", "network", "national"], default=None
    )
    parser.add_argument("--observatory", default=None)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--out", default=None)
    parser.add_argument("--national-scale", type=float, default=None, metavar="SCALE")
    args = parser.parse_args()
    if args.what is not None:
        print(json.dumps(run_mode(args)))
        return 0

    work = args.workdir or Path(tempfile.mkdtemp(prefix="wo-distributed-"))
    italy = generate_italy(work / "italy", args.years)
    network_dir = work / "network"
    generate_network(network_dir, args.provinces)
    parts = [("italy", italy), ("network", network_dir)]
    if args.national_scale is not None:
        parts.append(("national", prepare_national(work / "national", args.national_scale)))
    print("On this machine (2 cores) the numbers show the Dask scheduler's overhead, not")
    print("scaling: the client and the workers share the same two cores.\n")
    failed = False
    titles = {
        "italy": f"Italy, {sum(1 for _ in (italy / 'data').iterdir())} sources "
        f"(one per region), {args.years} years",
        "network": f"{args.provinces} provincial observatories",
        "national": f"national-scale extract at scale {args.national_scale}: derive by "
        "partitions of 2 indicators (build ids = rows and sum of values)",
    }
    for what, source in parts:
        print(f"== {what}: {titles[what]}")
        runs = {}
        for label, workers in (("local", 0), ("dask x1", 1), ("dask x2", 2)):
            if what == "network" and workers == 1:
                continue
            runs[label] = measure(
                what, source, workers, work / "out" / what / label.replace(" ", "")
            )
        base = runs["local"]["work"]
        for label, run in runs.items():
            peaks = ", ".join(mib(p) for p in run["worker_peaks"]) or "-"
            print(
                f"  {label:8} start {run['startup']:6.2f} s  build {run['work']:6.2f} s  "
                f"ratio to local {run['work'] / base:5.2f}  client peak {mib(run['client_peak'])}"
                f"  worker peaks {peaks}"
            )
            if run["timings"]:
                stages = ", ".join(f"{k} {v:.2f}" for k, v in run["timings"].items())
                print(f"           stages (s, summed over workers): {stages}")
        same = len({tuple(r["builds"]) for r in runs.values()}) == 1
        failed |= not same
        print(f"  build ids identical across executors: {same}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
