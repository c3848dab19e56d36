"""Versions of the library side by side on ``many_sources.py``'s workload: builds in fresh
processes, as the console script runs them, the versions taking turns run after run, so
that the machine's speed (which moves by a fifth within the hour) weighs on each alike.

A version is ``.`` (the working tree, as installed) or a git revision of this repository,
whose ``src`` is taken with ``git archive`` and put first on ``PYTHONPATH``. ``--kind``
says what is timed: ``rebuild`` (the default: one file's last value changed anew before
each run, as ``many_sources.py`` changes it; each version builds into a knowledge base of
its own, made once beforehand), ``unchanged`` (a rebuild with nothing changed) or ``full``
(a fresh knowledge base each run). One untimed round first warms the caches. Printed per
version: the median, fastest and every run of the build's work (its stage timings from
``build --json`` without ``imports``: what ``many_sources.py`` calls work), then the median
of each stage, in seconds.

    .venv/bin/python benchmarks/interleaved.py cb6f9d3 . [--kind rebuild|unchanged|full]
        [--runs 16] [--size 1|4] [--years N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from many_sources import NOT_WORK, last_value_changed, workload, workload_arguments

REPOSITORY = Path(__file__).resolve().parents[1]

KINDS = ("rebuild", "unchanged", "full")


def sources_of(version: str, scratch: Path) -> str | None:
    """The ``PYTHONPATH`` entry of ``version``: None for the working tree, else the ``src``
    folder of the revision, extracted under ``scratch``."""
    if version == ".":
        return None
    target = scratch / f"v{len(list(scratch.iterdir()))}"
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPOSITORY), "archive", version, "src"],
        capture_output=True,
        check=False,
    )
    if archive.returncode:
        raise SystemExit(f"git archive {version}: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return str(target / "src")


def timed_build(folder: Path, kb: Path, path: str | None) -> dict[str, float]:
    """One ``build --json`` of ``folder`` into ``kb`` in a fresh process of ``path``'s
    library: its stage timings (seconds)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if path is not None:
        env["PYTHONPATH"] = path
    command = ["build", str(folder), "--out", str(kb), "--json"]
    done = subprocess.run(
        [sys.executable, "-m", "welfare_observatory.cli.main", *command],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    start = done.stdout.find("{")
    if done.returncode or start < 0:
        raise SystemExit(f"build failed (status {done.returncode}):\n{done.stderr[-2000:]}")
    timings = json.loads(done.stdout[start:])["timings"]
    return {str(k): float(v) for k, v in timings.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("versions", nargs="+", help="'.' (the working tree) or git revisions")
    parser.add_argument("--kind", choices=KINDS, default="rebuild")
    parser.add_argument("--runs", type=int, default=16)
    workload_arguments(parser)
    args = parser.parse_args()
    work, folder = workload(args)
    changed = folder / "data" / "bs_ind_001.csv"
    original = changed.read_bytes()
    runs: list[list[dict[str, float]]] = [[] for _ in args.versions]
    with tempfile.TemporaryDirectory(prefix="interleaved-") as tmp:
        scratch = Path(tmp)
        paths = [sources_of(version, scratch) for version in args.versions]
        kbs = [work / f"interleaved-{n}" for n in range(len(args.versions))]
        try:
            for kb, path in zip(kbs, paths, strict=True):
                shutil.rmtree(kb, ignore_errors=True)
                if args.kind != "full":
                    timed_build(folder, kb, path)  # the build the rebuilds start from
            for run in range(-1, args.runs):  # -1: the untimed round
                for n, (kb, path) in enumerate(zip(kbs, paths, strict=True)):
                    if args.kind == "full":
                        shutil.rmtree(kb, ignore_errors=True)
                    elif args.kind == "rebuild":
                        step = 2 + run * len(kbs) + n  # anew each run, never the original
                        changed.write_bytes(last_value_changed(original, step + len(kbs)))
                    timings = timed_build(folder, kb, path)
                    if run >= 0:
                        runs[n].append(timings)
        finally:
            changed.write_bytes(original)
            for kb in kbs:
                shutil.rmtree(kb, ignore_errors=True)
    print(f"{args.kind}, {args.runs} runs a version, taking turns; {folder}")
    for version, timed in zip(args.versions, runs, strict=True):
        work_s = [sum(v for k, v in t.items() if k not in NOT_WORK) for t in timed]
        every = " ".join(f"{w:.3f}" for w in work_s)
        print(
            f"{version:>12}  work median {statistics.median(work_s):.3f} s, "
            f"fastest {min(work_s):.3f} s; every run: {every}"
        )
        stages = list(dict.fromkeys(k for t in timed for k in t if k != "reused"))
        medians = " ".join(
            f"{k} {statistics.median(t.get(k, 0.0) for t in timed):.3f}" for k in stages
        )
        print(f"{'':>12}  stages (medians): {medians}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
