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
of each stage, in seconds. Each version's line first says where its library was imported
from.

Only the library is the revision's: the plugins, and every other package, are those the
environment has installed. Compare revisions whose builds report the same stages: work is
the sum of them (before ``f3e48bb`` a build counted the imports of its stages in ``load``,
before ``f11f54f`` it had no ``other``).

    .venv/bin/python benchmarks/interleaved.py cb6f9d3 . [--kind rebuild|unchanged|full]
        [--runs 16] [--size 1|4] [--years N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from many_sources import (
    CHILD_ENV,
    _timings,
    last_value_changed,
    work_of,
    workload,
    workload_arguments,
)

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


def _python(arguments: list[str], path: str | None) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter run with ``arguments`` (``-P``: the current folder is not
    searched), ``path`` first on ``PYTHONPATH`` (the working tree's library as installed
    when None); bytecode written, as a user's process writes it (``many_sources.py``'s
    children's environment)."""
    env = CHILD_ENV if path is None else {**CHILD_ENV, "PYTHONPATH": path}
    command = [sys.executable, "-P", *arguments]
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False)


def library_of(path: str | None) -> str:
    """The folder the library is imported from with ``path`` (what a build there runs)."""
    code = "import welfare_observatory as w; print(w.__file__)"
    done = _python(["-c", code], path)
    if done.returncode:
        raise SystemExit(f"cannot import the library ({path or 'working tree'}): {done.stderr}")
    return str(Path(done.stdout.strip()).parent)


def timed_build(folder: Path, kb: Path, path: str | None) -> dict[str, float]:
    """One ``build --json`` of ``folder`` into ``kb`` in a fresh process of ``path``'s
    library, as the console script runs it: its stage timings (seconds)."""
    command = ["build", str(folder), "--out", str(kb), "--json"]
    done = _python(["-m", "welfare_observatory.cli.main", *command], path)
    if done.returncode:
        raise SystemExit(f"build failed (status {done.returncode}):\n{done.stderr[-2000:]}")
    try:
        timings = _timings(done.stdout)  # many_sources.py's reading of the report
    except (ValueError, TypeError, AttributeError, AssertionError) as exc:
        timings, problem = {}, f": {exc}"
    else:
        problem = ""
    if not timings:
        raise SystemExit(f"no stage timings in the build's report{problem}")
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("versions", nargs="+", help="'.' (the working tree) or git revisions")
    parser.add_argument("--kind", choices=KINDS, default="rebuild")
    parser.add_argument("--runs", type=int, default=16, help="timed runs a version (>= 1)")
    workload_arguments(parser)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    runs: list[list[dict[str, float]]] = [[] for _ in args.versions]
    with tempfile.TemporaryDirectory(prefix="interleaved-") as tmp:
        scratch = Path(tmp)
        # The revisions first: an unknown one is said before the workload is generated.
        paths = [sources_of(version, scratch) for version in args.versions]
        libraries = [library_of(path) for path in paths]
        work, folder = workload(args)
        changed = folder / "data" / "bs_ind_001.csv"
        original = changed.read_bytes()
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
                        # Up by 2 or more (never the original), anew for every run.
                        by = 2 + (run + 1) * len(kbs) + n
                        changed.write_bytes(last_value_changed(original, by))
                    timings = timed_build(folder, kb, path)
                    if run >= 0:
                        runs[n].append(timings)
        finally:
            changed.write_bytes(original)
            for kb in kbs:
                shutil.rmtree(kb, ignore_errors=True)
    print(f"{args.kind}, {args.runs} runs a version, taking turns; {folder}")
    for version, library, timed in zip(args.versions, libraries, runs, strict=True):
        print(f"{version:>12}  library {library}")
        work_s = [work_of(t) for t in timed]
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
