"""The side-by-side benchmark keeps working: the real script, two versions taking turns on
files of one year each, a one-file rebuild timed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPT = BENCHMARKS / "interleaved.py"

WORKLOAD = """
import argparse, sys
sys.path.insert(0, sys.argv[1])
import many_sources
parser = argparse.ArgumentParser()
many_sources.workload_arguments(parser)
print(many_sources.workload(parser.parse_args(sys.argv[2:]))[1])
"""


def _revision_available() -> bool:
    done = subprocess.run(
        ["git", "-C", str(BENCHMARKS), "rev-parse", "--verify", "HEAD"],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def test_two_versions_take_turns_and_the_changed_file_is_put_back(tmp_path: Path) -> None:
    options = ["--years", "1", "--workdir", str(tmp_path)]
    made = subprocess.run(
        [sys.executable, "-c", WORKLOAD, str(BENCHMARKS), *options],
        capture_output=True,
        text=True,
        check=True,
    )
    folder = Path(made.stdout.strip())
    changed = folder / "data" / "bs_ind_001.csv"
    before = changed.read_bytes()
    # A git revision's sources when the tests run in a clone, else the working tree twice.
    versions = ["HEAD", "."] if _revision_available() else [".", "."]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *versions, "--runs", "2", *options],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("rebuild, 2 runs a version, taking turns")
    pattern = r"^\s*(\S+)  work median ([\d.]+) s, fastest ([\d.]+) s; every run: (.+)$"
    found = re.findall(pattern, done.stdout, flags=re.MULTILINE)
    assert [version for version, *_ in found] == versions
    for _, median, fastest, every in found:
        runs = [float(x) for x in every.split()]
        assert len(runs) == 2 and min(runs) == float(fastest) > 0
        assert float(median) >= float(fastest)
    # Each version's library is its own: a revision's from its extracted sources.
    libraries = re.findall(r"^\s*(\S+)  library (.+)$", done.stdout, flags=re.MULTILINE)
    assert [version for version, _ in libraries] == versions
    for version, library in libraries:
        if version == ".":
            assert Path(library) == BENCHMARKS.parent / "src" / "welfare_observatory"
        else:
            assert "interleaved-" in library and Path(library).name == "welfare_observatory"
    # Every timed rebuild parsed the file changed for it (a stage an unchanged one lacks).
    stages = re.findall(r"stages \(medians\): (.+)$", done.stdout, flags=re.MULTILINE)
    assert len(stages) == 2
    for line in stages:
        medians = dict(zip(line.split()[::2], map(float, line.split()[1::2]), strict=True))
        assert medians["parse"] > 0 and "imports" in medians
    # The changed file is put back, and no knowledge base of the runs is left.
    assert changed.read_bytes() == before
    assert not list(folder.parent.glob("interleaved-*"))


def test_an_unknown_revision_is_refused_with_git_s_message(tmp_path: Path) -> None:
    if not _revision_available():
        pytest.skip("not a git checkout: no revision to name")
    options = ["--years", "1", "--workdir", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "no-such-revision", ".", "--runs", "1", *options],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode != 0
    assert "git archive no-such-revision" in done.stderr
