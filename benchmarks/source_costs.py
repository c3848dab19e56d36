"""What one source costs in itself: fetch, parse, harmonize, its step; then the checks.

The workload is ``many_sources.py``'s (same ``--size``, ``--seed``, ``--layout``,
``--rivals``, ``--years``; generated there if missing). Each repeat runs every source of
the observatory one after the other in this process, as a build runs them, into a fresh
knowledge base folder: every fetch reads its file (held, not copied, up to
``sdk.HELD_FILE_BYTES``) and every step is written. Unlike a build, nothing runs beside a
source: its writes (its step; the fsync and record of a large file's cache copy) go to a
writer thread as in a build but are waited for before the next source starts, and the
checks run after all sources, in one pass
(``check_sources``). So the figures are what each stage costs, without what a build's
threads and its two cores add or hide: milliseconds per source, wall and this thread's
CPU, median and fastest of the repeats after the first (which warms the caches).
``other`` is the rest of a source's time: its step key, the wait for its writes, its
report.

``--profile`` profiles the sources of the last repeat (pyinstrument).

    .venv/bin/python benchmarks/source_costs.py [--size 1|4] [--years N] [--repeats 5] [--profile]
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from many_sources import workload, workload_arguments


def one_repeat(folder: Path, scratch: Path, profiler: Any) -> dict[str, float]:
    """Every source run once into a fresh folder: seconds per stage (wall, and ``*_cpu``)."""
    from welfare_observatory.build import sources
    from welfare_observatory.build.environment import make_environment
    from welfare_observatory.build.validate import check_sources
    from welfare_observatory.observatory import load_observatory

    kb = scratch / "kb"
    shutil.rmtree(kb, ignore_errors=True)
    env = make_environment(load_observatory(folder))
    context = sources.new_context(
        env,
        steps_dir=kb / ".steps",
        cache_dir=kb / ".cache",
        offline=True,
        refresh=False,
        say=lambda _line: None,
        timeout=None,
    )
    context.defer_checks = True
    ids = [s for s, c in env.config.sources.items() if c.enabled]
    wall = time.perf_counter()
    cpu = time.thread_time()
    if profiler is not None:
        profiler.start()
    outputs = []
    with ThreadPoolExecutor(1, thread_name_prefix="steps") as saver:
        # A build's writer thread, waited for after each source (counted in ``other``).
        writing = dataclasses.replace(context, saver=saver)
        for s in ids:
            output = sources.run_source(s, env.config.sources[s], writing)
            if output.saving is not None:
                output.saving.result()
            outputs.append(output)
    if profiler is not None:
        profiler.stop()
    out = {"sources": time.perf_counter() - wall, "sources_cpu": time.thread_time() - cpu}
    failed = [o.report.id for o in outputs if o.report.status == "failed"]
    if failed:
        raise SystemExit(f"sources failed: {', '.join(failed[:5])}")
    for stage in ("fetch", "parse", "harmonize"):
        out[stage] = context.timings.get(stage, 0.0)
    out["other"] = out["sources"] - sum(out[s] for s in ("fetch", "parse", "harmonize"))
    wall = time.perf_counter()
    cpu = time.thread_time()
    check_sources(outputs, context)
    out["checks"] = time.perf_counter() - wall
    out["checks_cpu"] = time.thread_time() - cpu
    out["n"] = len(ids)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    workload_arguments(parser)
    parser.add_argument("--profile", action="store_true", help="pyinstrument the last repeat")
    parser.set_defaults(repeats=5)
    args = parser.parse_args()
    _, folder = workload(args)
    runs = []
    with tempfile.TemporaryDirectory(prefix="source-costs-") as tmp:
        for i in range(args.repeats):
            profiler = None
            if args.profile and i == args.repeats - 1:
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.0002)
            runs.append(one_repeat(folder, Path(tmp), profiler))
    n = runs[0]["n"]
    print(f"{n:.0f} sources, {args.repeats} repeats (the first warms the caches), ms per source")
    print(f"{'':<12}{'median':>9}{'fastest':>9}")
    names = ("fetch", "parse", "harmonize", "other", "sources", "sources_cpu", "checks")
    for name in (*names, "checks_cpu"):
        values = [r[name] * 1000 / n for r in runs[1:] or runs]
        print(f"{name:<12}{statistics.median(values):>9.2f}{min(values):>9.2f}")
    if args.profile and profiler is not None:
        print(profiler.output_text(unicode=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
