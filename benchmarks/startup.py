"""How fast does `welfare-observatory --help` answer? Target: under 0.3 s.

Runs the console entry point in fresh interpreters (cold imports every time) and prints the
best, median and worst wall time, plus the baseline of a bare interpreter for comparison.

    python benchmarks/startup.py [--runs 15] [--observatory FOLDER]

With ``--observatory`` it also times a build's start-up up to its first stage, in the
console script's order: the command's imports, loading ``observatory.yaml`` and the plugins,
the build's ``imports`` step (its stage modules) and ``load`` (the build environment), in
CPU seconds of the process (steadier than wall time on a shared machine), per part. That is
what a build pays before any source runs, whatever it builds.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

TARGET_S = 0.3

BUILD_START = """
import gc, sys, time
gc.disable()  # as the console script does until the load stage is over
cpu = time.process_time
t0 = cpu()
from welfare_observatory.cli._process import set_native_defaults
set_native_defaults()  # as the console script does (Arrow's pool, OpenBLAS's threads)
import welfare_observatory.cli.build
from welfare_observatory.observatory import load_observatory
t1 = cpu()
observatory = load_observatory(sys.argv[1])
t2 = cpu()
from welfare_observatory.build.orchestrator import import_stages
import_stages()
t3 = cpu()
from welfare_observatory.build.environment import make_environment
make_environment(observatory).prepare()
t4 = cpu()
print(t4, t1 - t0, t2 - t1, t3 - t2, t4 - t3)
"""
"""A build's start-up in one fresh interpreter: total CPU seconds, then per part."""
PARTS = ("command imports", "observatory + plugins", "imports step", "load")


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
    parser.add_argument("--observatory", default=None, help="also time a build's start-up")
    args = parser.parse_args()
    runs = args.runs
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
    if args.observatory is not None:
        build_start(args.observatory, runs)
    return 0 if ok else 1


def build_start(observatory: str, runs: int) -> None:
    """Medians over ``runs`` fresh interpreters of a build's start-up, CPU seconds."""
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", BUILD_START, observatory],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        samples.append([float(v) for v in out.split()[-5:]])
    total = [s[0] for s in samples]
    parts = ", ".join(
        f"{name} {statistics.median(s[i + 1] for s in samples):.3f}" for i, name in enumerate(PARTS)
    )
    print(
        f"build start-up to the first stage, CPU s: best {min(total):.3f}  "
        f"median {statistics.median(total):.3f}  ({parts})"
    )


if __name__ == "__main__":
    sys.exit(main())
