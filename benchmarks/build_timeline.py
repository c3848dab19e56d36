"""Where a build's time and memory go: the main thread's timeline, the helpers' CPU, the RSS.

The workload is ``many_sources.py``'s (same ``--size``, ``--seed`` and ``--layout``, generated
there if missing). Each repeat builds it into a fresh knowledge base, changes one file's last
value (as ``many_sources.py`` does) and builds again, by default both in this process as the
command line runs them (``build --json``, the console script's settings and collector); the
second build (the one-file rebuild) is reported, or the first with ``--full``. The build's
main functions are timed by wrappers put on them here (a benchmark's liberty with the
library's internals; they cost microseconds a call): for each, on the main thread or on a
helper, the calls, where the first began (ms from the start of the build), the total wall ms
and the calling thread's CPU ms, nested as they were called, and the process's resident
memory while the main thread's calls ran (lowest and highest, sampled every 5 ms); medians
over the repeats. Then the CPU ms of each helper thread (by name, from ``time.thread_time``
as it ends) and of the whole process, and the peak RSS with when it was reached.

A call's wall time on the main thread includes what it waited for (the GIL, a helper), so
the helpers' CPU is printed beside it: the two cores are shared by both. The RSS is of the
timing process, which by default also holds the first build's leftovers when the rebuild is
reported.

``--process`` times each build in a process of its own: the rebuild's first build is made by
the console script beforehand, then a fresh interpreter imports the stages, puts the wrappers
on and runs the timed build as the console script would (from its imports on; its exit is
not timed). That is the rebuild a user runs, without the first build's leftovers in its heap
(what handing memory back costs depends on them) or its warm caches, and what
``many_sources.py`` measures. In either mode the RSS is sampled by a thread of the timing
process, which takes the interpreter for a moment every 5 ms. ``--time MODULE:NAME`` times
more functions (repeatable).

    .venv/bin/python benchmarks/build_timeline.py [--size 1|4] [--repeats 3] [--full]
        [--rivals] [--process] [--time MODULE:NAME ...]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import importlib
import io
import os
import re
import shutil
import statistics
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from many_sources import last_value_changed, workload, workload_arguments

TIMED = (
    "welfare_observatory.build.orchestrator:make_environment",
    "welfare_observatory.build.orchestrator:new_context",
    "welfare_observatory.build.reuse:check_saved_early",
    "welfare_observatory.build.strategies.in_memory:InMemory.run_sources",
    "welfare_observatory.build.sources:run_source",
    "welfare_observatory.build.sources:_load_step",
    "welfare_observatory.build.sources:_parse_and_harmonize",
    "welfare_observatory.build.validate:ChecksAlongside.finish",
    "welfare_observatory.build.strategies.in_memory:InMemory.derive_and_store",
    "welfare_observatory.build.reuse:derived_key",
    "welfare_observatory.build.reuse:load_grouped",
    "welfare_observatory.build.derive:derive_by_groups",
    "welfare_observatory.derive.releases:resolve_releases",
    "welfare_observatory.derive.releases:_parts",
    "welfare_observatory.build.reuse:derived_fingerprints",
    "welfare_observatory.build.reuse:EarlyAnalysed.get",
    "welfare_observatory.build.reuse:analysis_key",
    "welfare_observatory.build.reuse:analyze_incrementally",
    "welfare_observatory.build.analyze:analyze_stage",
    "welfare_observatory.build.reuse:stage_rows",
    "welfare_observatory.build.reuse:save_derived",
    "welfare_observatory.build.reuse:record_stamps",
    "welfare_observatory.build.store:store_stage",
    "welfare_observatory.store.edition:_write_observations",
    "welfare_observatory.store.edition:write_parquet",
    "welfare_observatory.store.edition:write_analysis",
    "welfare_observatory.store.edition:_linked",
    "welfare_observatory.build.step_stamps:StepStamps.save",
    "welfare_observatory.lineage:LineageGraph.to_arrow",
)
"""``module:qualified name`` of what is timed; a function imported by name elsewhere is
wrapped there too."""

_HELPER = re.compile(r"[-_\d]+$")
"""A thread name's counters (``ThreadPoolExecutor-5_0``): the same helper in every repeat."""


Rows = dict[tuple[str, int, str], tuple[int, float, float, float, float, float]]
"""What :meth:`Timeline.rows` gives."""


class Timeline:
    """Spans of the wrapped calls, the CPU of each thread that ended and the process's RSS
    (sampled on a thread of its own), since :meth:`reset`."""

    def __init__(self) -> None:
        self.origin = time.perf_counter()
        self.spans: list[tuple[str, int, str, float, float, float]] = []
        self.cpu: dict[str, float] = defaultdict(float)
        self.rss: list[tuple[float, int]] = []
        self.peak: tuple[float, int] = (0.0, 0)
        """When (seconds from the start) and how high (bytes) the RSS peaked."""
        self._depth = threading.local()
        self._page = os.sysconf("SC_PAGE_SIZE")
        threading.Thread(target=self._sample, name="rss-sampler", daemon=True).start()

    def reset(self) -> None:
        self.origin = time.perf_counter()
        self.spans.clear()
        self.cpu.clear()
        self.rss.clear()

    def _sample(self) -> None:
        with open("/proc/self/statm", "rb") as statm:
            while True:
                statm.seek(0)
                pages = int(statm.read().split()[1])
                self.rss.append((time.perf_counter() - self.origin, pages * self._page))
                time.sleep(0.005)

    def rss_between(self, start: float, end: float) -> tuple[int, int] | None:
        """Lowest and highest RSS sampled from ``start`` to ``end`` (seconds from the start)."""
        inside = [rss for at, rss in list(self.rss) if start <= at <= end]
        return (min(inside), max(inside)) if inside else None

    def wrap(self, target: str) -> None:
        module_name, qualname = target.split(":")
        owner: Any = importlib.import_module(module_name)
        *path, name = qualname.split(".")
        for part in path:
            owner = getattr(owner, part)
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(self._depth, "n", 0)
            self._depth.n = depth + 1
            start, cpu = time.perf_counter(), time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                self._depth.n = depth
                thread = threading.current_thread()
                where = "main" if thread is threading.main_thread() else "helper"
                end, used = time.perf_counter(), time.thread_time() - cpu
                self.spans.append((where, depth, name, start - self.origin, end - start, used))

        setattr(owner, name, timed)
        if not path:  # a module function: also where it was imported by name
            for module in list(sys.modules.values()):
                if getattr(module, name, None) is original and module.__name__.startswith(
                    "welfare_observatory"
                ):
                    setattr(module, name, timed)

    @contextlib.contextmanager
    def thread_cpu(self) -> Iterator[None]:
        """Note each thread's CPU seconds as it ends (by its name without the number)."""
        run = threading.Thread.run

        def noted(thread: threading.Thread) -> None:
            try:
                run(thread)
            finally:
                self.cpu[_HELPER.sub("", thread.name)] += time.thread_time()

        threading.Thread.run = noted  # type: ignore[method-assign]
        try:
            yield
        finally:
            threading.Thread.run = run  # type: ignore[method-assign]

    def rows(self) -> Rows:
        """(thread, depth, name): calls, first start, total wall and CPU seconds (the
        calling thread's), lowest and highest RSS (bytes, 0 when unsampled) from the first
        call's start to the last call's end; in order of first start."""
        found: dict[tuple[str, int, str], list[float]] = {}
        for where, depth, name, start, seconds, used in self.spans:
            row = found.setdefault((where, depth, name), [0, start, 0.0, 0.0, start + seconds])
            row[0] += 1
            row[1] = min(row[1], start)
            row[2] += seconds
            row[3] += used
            row[4] = max(row[4], start + seconds)
        ordered = sorted(found.items(), key=lambda item: item[1][1])
        out = {}
        for key, (n, first, wall, cpu, last) in ordered:
            low, high = self.rss_between(first, last) or (0, 0)
            out[key] = (int(n), first, wall, cpu, float(low), float(high))
        return out


def one_repeat(
    folder: Path, kb: Path, timeline: Timeline, build: Callable[..., Any], *, full: bool
) -> float:
    """A fresh build, then the rebuild after one file changed; the wall seconds of the one
    timed (the fresh build when ``full``)."""
    shutil.rmtree(kb, ignore_errors=True)
    if full:
        return timed(timeline, lambda: build(folder, out=kb))
    with contextlib.redirect_stdout(io.StringIO()):
        build(folder, out=kb)
    with one_file_changed(folder):
        return timed(timeline, lambda: build(folder, out=kb))


@contextlib.contextmanager
def one_file_changed(folder: Path) -> Iterator[None]:
    """The workload with one file's last value changed (as ``many_sources.py`` changes it),
    put back afterwards."""
    changed = folder / "data" / "bs_ind_001.csv"
    original = changed.read_bytes()
    try:
        changed.write_bytes(last_value_changed(original, 1))
        yield
    finally:
        changed.write_bytes(original)


def own_process_repeat(
    folder: Path, kb: Path, args: argparse.Namespace
) -> tuple[float, Rows, dict[str, float], tuple[float, int]]:
    """:func:`one_repeat` with the timed build in a process of its own (``--child``) and
    the rebuild's first build made by the console script: the timed build's wall seconds,
    rows, CPU of its threads and peak RSS."""
    import json

    shutil.rmtree(kb, ignore_errors=True)
    child = [sys.executable, __file__, "--child", str(kb), "--size", str(args.size)]
    child += ["--seed", str(args.seed), "--layout", args.layout, "--workdir", str(args.workdir)]
    child += ["--years", str(args.years), *(["--rivals"] if args.rivals else [])]
    child += [f"--time={name}" for name in args.time]
    if args.full:
        out = _ran(child)
    else:
        cli = [sys.executable, "-m", "welfare_observatory.cli.main"]
        _ran([*cli, "build", str(folder), "--out", str(kb), "--json"])
        with one_file_changed(folder):
            out = _ran(child)
    # The child's figures are its last line (whatever a library printed before them).
    got = json.loads(out.rstrip().rpartition("\n")[2])
    rows: Rows = {(w, int(d), n): tuple(v) for w, d, n, *v in got["rows"]}  # type: ignore[misc]
    return float(got["wall"]), rows, got["cpu"], (float(got["peak"][0]), int(got["peak"][1]))


def _ran(command: list[str]) -> str:
    """The standard output of ``command``; its standard error shown when it fails."""
    import subprocess

    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"{command[1]} {command[2]} ... failed (status {done.returncode})")
    return done.stdout


def child(args: argparse.Namespace, kb: Path, folder: Path) -> None:
    """One build of ``folder`` into ``kb`` in this fresh process, as the console script runs
    it, timed: what :func:`own_process_repeat` reads, as JSON on standard output."""
    import json

    from welfare_observatory.cli import _process

    _process.set_native_defaults()
    from welfare_observatory.build.orchestrator import import_stages

    import_stages()
    timeline = Timeline()
    for target in TIMED:
        timeline.wrap(target)
    wall = timed(timeline, lambda: console_build(folder, out=kb))
    rows = [[*key, *value] for key, value in timeline.rows().items()]
    print(json.dumps({"wall": wall, "rows": rows, "cpu": timeline.cpu, "peak": timeline.peak}))


def console_build(folder: Path, *, out: Path) -> None:
    """`welfare-observatory build --json`, with the collector held off through start-up as
    the console script holds it (run_command), without its exit."""
    from welfare_observatory.cli import _process
    from welfare_observatory.cli.main import main as cli

    gc.disable()
    _process._deferred = True
    try:
        cli(["build", str(folder), "--out", str(out), "--json"])
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    finally:
        _process.collect_again()


def timed(timeline: Timeline, run: Callable[[], Any]) -> float:
    """``run()`` on a fresh timeline; its wall seconds."""
    gc.collect()  # the last build's garbage, not this one's
    timeline.reset()
    process_cpu = time.process_time()
    started = time.perf_counter()
    with timeline.thread_cpu(), contextlib.redirect_stdout(io.StringIO()):
        run()
    wall = time.perf_counter() - started
    timeline.cpu["whole process"] = time.process_time() - process_cpu
    timeline.peak = max(timeline.rss, key=lambda sample: sample[1], default=(0.0, 0))
    return wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    workload_arguments(parser)
    parser.add_argument("--full", action="store_true", help="the fresh build, not the rebuild")
    parser.add_argument(
        "--process",
        action="store_true",
        help="each timed build in a process of its own, as the console script runs it",
    )
    parser.add_argument(
        "--time",
        action="append",
        default=[],
        metavar="MODULE:NAME",
        help="time this function or method too (module:qualified name); repeatable",
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    global TIMED
    TIMED = tuple(dict.fromkeys((*TIMED, *args.time)))  # each wrapped once
    if args.child is not None:
        child(args, args.child, workload(args)[1])
        return 0
    from welfare_observatory.cli import _process

    # As the console script runs a build: its native settings, before numpy and pyarrow load.
    _process.set_native_defaults()
    work, folder = workload(args)
    kb = work / "timeline-kb"
    walls: list[float] = []
    tables: list[Rows] = []
    cpus: list[dict[str, float]] = []
    peaks: list[tuple[float, int]] = []
    if args.process:
        for _ in range(args.repeats):
            wall, rows, cpu, peak = own_process_repeat(folder, kb, args)
            walls.append(wall)
            tables.append(rows)
            cpus.append(cpu)
            peaks.append(peak)
    else:
        from welfare_observatory.build.orchestrator import import_stages

        import_stages()
        timeline = Timeline()
        for target in TIMED:
            timeline.wrap(target)
        for _ in range(args.repeats):
            walls.append(one_repeat(folder, kb, timeline, console_build, full=args.full))
            tables.append(timeline.rows())
            cpus.append(dict(timeline.cpu))
            peaks.append(timeline.peak)
    shutil.rmtree(kb, ignore_errors=True)
    what = "build" if args.full else "one-file rebuild"
    where = "in a process of its own" if args.process else "in process"
    print(f"{what} {where}, {args.size}x: {statistics.median(walls) * 1000:.0f} ms")
    print(
        f"medians of {args.repeats} repeats: ms from the build's start, thread, calls, "
        "wall ms, CPU ms of the thread, RSS MiB while the main thread's calls ran"
    )
    mib = 2**20
    for key, (n, first, *_) in tables[0].items():
        where, depth, name = key
        wall, cpu, low, high = (
            statistics.median(t[key][i] for t in tables if key in t) for i in (2, 3, 4, 5)
        )
        line = f"{first * 1000:8.1f}  {'  ' * depth}{name}"
        memory = f"{low / mib:6.0f} ->{high / mib:5.0f}" if where == "main" and high else ""
        print(f"{line:<58}{where:>7} x{n:<4}{wall * 1000:8.1f}{cpu * 1000:8.1f}  {memory}")
    names = sorted(cpus[0], key=lambda n: -cpus[0][n])
    medians = [f"{n} {statistics.median(c.get(n, 0.0) for c in cpus) * 1000:.0f}" for n in names]
    print("CPU ms:", "; ".join(medians))
    at, rss = statistics.median(p[0] for p in peaks), statistics.median(p[1] for p in peaks)
    print(f"peak RSS {rss / mib:.0f} MiB, at {at * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
