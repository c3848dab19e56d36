"""Out of core on one machine: harmonize and derive input twice the memory allowed.

Run:  .venv/bin/python benchmarks/out_of_core.py [--budget-mib 1024] [--scale 0.96]
                                                  [--per-partition 2] [--workdir DIR]

The input is ``benchmarks/national_scale.py``'s synthetic national extract (every
municipality x source indicators x years, Parquet; its generator is imported, not
rewritten) at ``--scale``. Two subprocesses, each run under the memory budget:

1. ``harmonize_out_of_core``: the source file a few row groups at a time -> ``harmonize``
   -> one canonical Parquet file per chunk;
2. ``derive_out_of_core``: DuckDB sorts the canonical rows by indicator (memory_limit =
   a third of the budget, spilling to a temporary folder), then ``derive_stage`` runs on one
   partition of indicators (and their formulas' operands) at a time.

The budget is enforced with ``systemd-run --scope -p MemoryMax=`` where systemd is the init
system; elsewhere (containers) it is not enforced and the peak resident memory of each
subprocess tree is measured (sampled every 50 ms, plus the kernel's high-water mark) and
checked against it. Exit 1 when a step fails or exceeds the budget. The input's size is
the Arrow (in-memory) size of all canonical rows, summed chunk by chunk.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# benchmarks/distributed.py is named like Dask's package: keep this folder off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]


def national_scale() -> Any:
    """benchmarks/national_scale.py as a module (its generator and memory sampler)."""
    spec = importlib.util.spec_from_file_location("national_scale", HERE / "national_scale.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["national_scale"] = module
    spec.loader.exec_module(module)
    return module


def observatory(input_dir: Path, folder: Path) -> Path:
    """An observatory of Italy whose catalogue is the benchmark's (every indicator chosen)."""
    import yaml

    catalog = national_scale()._catalog(input_dir)
    (folder / "catalog").mkdir(parents=True, exist_ok=True)
    entries = [i.model_dump(mode="json", exclude_none=True) for i in catalog.values()]
    (folder / "catalog" / "bench.yaml").write_text(yaml.safe_dump(entries, sort_keys=False))
    config = {
        "id": "out_of_core_bench",
        "name": {"en": "Out-of-core benchmark"},
        "edition": "bench",
        "territory": {"code": "IT", "reference_date": "2024-01-01"},
        "indicators": {"catalog": ["catalog/bench.yaml"], "add": list(catalog)},
    }
    (folder / "observatory.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


def rule(input_dir: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    rows = pq.read_table(input_dir / "indicators.parquet").to_pylist()
    return {
        "name": "synthetic national extract",
        "indicator": {
            "column": "CODICE",
            "map": {r["source_code"]: r["id"] for r in rows if r["source_code"]},
        },
        "territory": {"column": "PRO_COM", "scheme": "istat", "level": "municipality"},
        "period": {"column": "ANNO", "format": "year", "reference_date": "jan_1"},
        "value": {"column": "VALORE"},
    }


def step(args: argparse.Namespace) -> dict[str, Any]:
    """One step in this (budgeted) subprocess."""
    import pyarrow.parquet as pq

    from welfare_observatory.build.strategies.out_of_core import (
        derive_out_of_core,
        harmonize_out_of_core,
    )
    from welfare_observatory.harmonize import HarmonizeRule

    work = Path(args.workdir)
    start = time.perf_counter()
    if args.step == "harmonize":
        result = harmonize_out_of_core(
            Path(args.input) / "source.parquet",
            [HarmonizeRule.model_validate(rule(Path(args.input)))],
            work / "observatory",
            work / "canonical",
            source_id="national",
            rows_per_chunk=args.rows_per_chunk,
        )
        # The input of the next step, in memory: Arrow size, one chunk at a time.
        arrow = sum(pq.read_table(f).nbytes for f in result.files)
        return {"seconds": time.perf_counter() - start, "rows": result.rows, "arrow": arrow}
    inputs = sorted((work / "canonical").glob("chunk-*.parquet"))
    result = derive_out_of_core(
        inputs,
        work / "observatory",
        work / "derived",
        memory_limit=f"{args.budget_mib // 3}MiB",
        temp_directory=work / "spill",
        threads=2,
        indicators_per_partition=args.per_partition,
    )
    return {
        "seconds": time.perf_counter() - start,
        "rows": result.rows,
        "partitions": len(result.files),
        "findings": len(result.findings),
    }


def systemd_scope(budget_mib: int) -> list[str]:
    """The ``systemd-run`` prefix that enforces the budget, or [] where it cannot run."""
    probe = ["systemd-run", "--scope", "--quiet", "-p", f"MemoryMax={budget_mib}M", "true"]
    try:
        ok = subprocess.run(probe, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return probe[:-1] if ok else []


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--budget-mib", type=int, default=1024)
    parser.add_argument("--scale", type=float, default=0.96)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-partition", type=int, default=2)
    parser.add_argument("--rows-per-chunk", type=int, default=2_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("build/out_of_core"))
    parser.add_argument("--step", choices=("harmonize", "derive"), help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step is not None:
        Path(args.result).write_text(json.dumps(step(args)))
        return 0

    bench = national_scale()
    work: Path = args.workdir.resolve()
    input_dir = work / f"input-{args.scale:g}"
    meta = bench.generate(input_dir, args.scale, args.seed)
    for name in ("observatory", "canonical", "derived", "spill"):
        shutil.rmtree(work / name, ignore_errors=True)
    observatory(input_dir, work / "observatory")
    scope = systemd_scope(args.budget_mib)
    print(
        f"source: {meta['source_rows']:,} rows ({meta['municipalities']:,} municipalities x "
        f"{meta['indicators']} indicators x {meta['years']} years); budget "
        f"{args.budget_mib} MiB per step, "
        + (
            "enforced by systemd-run MemoryMax"
            if scope
            else "NOT enforced (no systemd here): peak resident memory measured and checked"
        )
    )
    failed = False
    results: dict[str, dict[str, Any]] = {}
    for name in ("harmonize", "derive"):
        result_file = work / f"result-{name}.json"
        result_file.unlink(missing_ok=True)
        command = [*scope, sys.executable, str(Path(__file__).resolve()), "--step", name]
        command += ["--input", str(input_dir), "--workdir", str(work), "--result", str(result_file)]
        command += [
            "--budget-mib",
            str(args.budget_mib),
            "--per-partition",
            str(args.per_partition),
        ]
        command += ["--rows-per-chunk", str(args.rows_per_chunk)]
        measured = bench.measure(command)
        if measured["code"] == 0:
            measured.update(json.loads(result_file.read_text()))
        results[name] = measured
        peak = max(measured["peak_sampled"], measured["peak_hwm"])
        over = peak > args.budget_mib * 2**20
        failed |= measured["code"] != 0 or over
        status = "ok" if measured["code"] == 0 else f"FAILED (exit {measured['code']})"
        print(
            f"{name:9} {status:6} wall {measured['wall']:7.1f} s  peak RSS "
            f"{peak / 2**20:7,.0f} MiB ({'OVER' if over else 'within'} the budget)  "
            + ", ".join(f"{k} {v:,}" for k, v in measured.items() if k in ("rows", "partitions"))
        )
    arrow = results["harmonize"].get("arrow")
    if arrow:
        print(
            f"canonical input of derive: {arrow / 2**20:,.0f} MiB in Arrow = "
            f"{arrow / (args.budget_mib * 2**20):.1f} x the budget"
        )
    spill = work / "spill"
    print(f"DuckDB memory_limit {args.budget_mib // 3} MiB, spill folder {spill}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
