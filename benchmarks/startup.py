"""How fast does `welfare-observatory --help` answer? Target: under 0.3 s.

Runs the console entry point in fresh interpreters (cold imports every time) and prints the
best, median and worst wall time, plus the baseline of a bare interpreter for comparison.

    python benchmarks/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

TARGET_S = 0.3


def timed(args: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    bare = timed([sys.executable, "-c", "pass"], runs)
    cli = timed(
        [sys.executable, "-c", "from welfare_observatory.cli.main import main; main(['--help'])"],
        runs,
    )
    print(f"python -c pass           best {min(bare):.3f}s  median {statistics.median(bare):.3f}s")
    print(
        f"welfare-observatory --help best {min(cli):.3f}s  median {statistics.median(cli):.3f}s"
        f"  worst {max(cli):.3f}s  (target < {TARGET_S}s)"
    )
    ok = statistics.median(cli) < TARGET_S
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
