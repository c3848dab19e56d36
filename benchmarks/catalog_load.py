"""Time to load and validate the shipped indicator catalogue, cold, in fresh processes.

Usage: ``python benchmarks/catalog_load.py [runs]`` (default 5). Each run starts a new
interpreter, so imports (pydantic, PyYAML) and every check (schema, units, formulas, SDG links,
profiles) are counted, as a user's first ``catalog()`` call pays them. Target: < 0.5 s.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

CODE = """
import time
t0, c0 = time.perf_counter(), time.process_time()
from welfare_observatory.catalog import Catalog
t1, c1 = time.perf_counter(), time.process_time()
cat = Catalog.load()
t2, c2 = time.perf_counter(), time.process_time()
print(f"{t1 - t0:.4f} {t2 - t1:.4f} {c2 - c0:.4f} {len(cat)} {sum(i.source.verified for i in cat)}")
"""

TARGET_SECONDS = 0.5


def main(runs: int = 5) -> int:
    imports, loads, totals, cpus = [], [], [], []
    size = verified = 0
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", CODE], capture_output=True, text=True, check=True
        ).stdout.split()
        imp, load, cpu = float(out[0]), float(out[1]), float(out[2])
        size, verified = int(out[3]), int(out[4])
        cpus.append(cpu)
        imports.append(imp)
        loads.append(load)
        totals.append(imp + load)
    print(f"catalogue: {size} indicators ({verified} verified), {runs} cold runs")
    print(f"import    median {statistics.median(imports):.3f} s")
    print(f"load+check median {statistics.median(loads):.3f} s")
    print(f"total     median {statistics.median(totals):.3f} s, max {max(totals):.3f} s")
    print(f"CPU time  median {statistics.median(cpus):.3f} s (less sensitive to a busy machine)")
    try:  # context for the numbers above: other work on the machine slows every run
        with open("/proc/loadavg", encoding="ascii") as fh:
            print(f"load average: {fh.read().split()[0]}")
    except OSError:
        pass
    ok = statistics.median(totals) < TARGET_SECONDS
    print(f"target < {TARGET_SECONDS} s: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
