"""A real ``welfare-observatory build`` killed with SIGKILL never damages the previous edition.

Each run starts the command line in a subprocess over the small Biella observatory (see
``conftest.py``) after a first complete build, with one value changed so that the new build
has a new id. The run is killed either after a delay (while it loads, fetches, parses) or at
a precise point of the store: the subprocess wraps one store function so that it writes a
marker file and waits there, and the test kills it as soon as the marker appears. That makes
the dangerous moments (staging half written, build renamed but pointer not yet replaced,
pointer replaced but old builds not yet pruned) deterministic instead of lucky timing.

After every kill the edition is readable; unless the new pointer was already written, it is
byte for byte the previous build. SIGKILL leaves no chance to clean up, so a half-written
staging folder may remain; readers never look at it and the next build removes it.

Slow (a subprocess build each): run with ``pytest -m slow tests/pipeline/test_pipeline_kill.py``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from welfare_observatory.observatory import load_observatory
from welfare_observatory.store import KnowledgeBase

RUNNER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    marker, point = Path(sys.argv[1]), sys.argv[2]
    if point != "-":
        from welfare_observatory.store import edition

        function_name, _, file_name = point.partition(":")
        original = getattr(edition, function_name)

        def pause(*args, **kwargs):
            names = [a.name for a in args if isinstance(a, Path)]
            if not file_name or file_name in names:
                marker.write_text(point)
                time.sleep(120)
            return original(*args, **kwargs)

        setattr(edition, function_name, pause)
    from welfare_observatory.cli.main import main
    sys.exit(main(sys.argv[3:]))
    """
)

STORE_POINTS = {
    # Staging folder half written: observations done, lineage not yet.
    "staging": "write_parquet:lineage.parquet",
    # Complete build renamed into place; EDITION.json still names the previous build.
    "before-pointer": "atomic_write_bytes:EDITION.json",
    # EDITION.json replaced; older builds and stale folders not yet pruned.
    "before-prune": "prune_builds",
}


def digests(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder``, by relative path."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def leftovers(kb: Path) -> list[str]:
    """Temporary folders and files a build leaves only when it is killed."""
    found = [*kb.rglob(".building-*"), *kb.rglob("*.tmp")]
    return sorted(str(p.relative_to(kb)) for p in found)


def killed_build(observatory: Path, kb: Path, tmp_path: Path, point: str | float) -> None:
    """Run the build command and SIGKILL it at ``point`` (a store point or seconds)."""
    marker = tmp_path / "paused"
    marker.unlink(missing_ok=True)
    hook = STORE_POINTS[point] if isinstance(point, str) else "-"
    command = [sys.executable, "-c", RUNNER, str(marker), hook]
    command += ["build", str(observatory), "--offline", "--out", str(kb)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if isinstance(point, str):
            deadline = time.monotonic() + 120
            while not marker.exists():
                assert process.poll() is None, "the build ended before reaching the kill point"
                assert time.monotonic() < deadline, "the build never reached the kill point"
                time.sleep(0.01)
        else:
            time.sleep(point)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL


@pytest.fixture
def previous(observatory_dir: Path, tmp_path: Path) -> tuple[Path, str, dict[str, str], str]:
    """A complete first build; then one value changes so that the next build differs."""
    kb = tmp_path / "kb"
    load_observatory(observatory_dir).build(out=kb, offline=True)
    build = KnowledgeBase.open(kb).edition("2025").build
    pointer = (kb / "2025" / "EDITION.json").read_text()
    data = observatory_dir / "data" / "popolazione_2023.csv"
    data.write_text(data.read_text().replace("096004;Totale;42.619", "096004;Totale;42.620"))
    return kb, build, digests(kb / "2025" / build), pointer


def check_after_kill(
    kb: Path, build: str, files: dict[str, str], pointer: str, *, pointer_may_move: bool
) -> None:
    base = KnowledgeBase.open(kb)
    current = base.edition("2025")
    value = base.observations("POP_TOTAL", "096004", edition="2025")["value"].tolist()
    # The previous build is on disk, byte for byte, whatever the pointer says.
    assert digests(kb / "2025" / build) == files
    if current.build == build:
        assert (kb / "2025" / "EDITION.json").read_text() == pointer
        assert value == [42619.0]
    else:
        # Only a kill after the pointer was replaced may show the new, complete build.
        assert pointer_may_move, f"the pointer moved to {current.build} before it was safe"
        assert value == [42620.0]
        assert base.manifest("2025").tables["observations"]["rows"] == current.observations
    # Readers ignore whatever the killed process left half written.
    assert not [e for e in base.editions() if e.name.startswith(".")]


@pytest.mark.slow  # two builds and a subprocess: 7-14 s on 2 loaded cores
def test_a_build_killed_between_rename_and_pointer_keeps_the_previous_edition(
    previous: tuple[Path, str, dict[str, str], str], observatory_dir: Path, tmp_path: Path
) -> None:
    kb, build, files, pointer = previous
    killed_build(observatory_dir, kb, tmp_path, "before-pointer")
    check_after_kill(kb, build, files, pointer, pointer_may_move=False)
    assert leftovers(kb) == []  # the build was complete and renamed: nothing temporary
    # The next build completes and points at the new build.
    load_observatory(observatory_dir).build(out=kb, offline=True)
    assert KnowledgeBase.open(kb).observations("POP_TOTAL", "096004")["value"].tolist() == [42620.0]


def build_seconds(observatory: Path, kb: Path, tmp_path: Path) -> float:
    """How long the build command takes on a copy of ``kb`` (the same work as the real one)."""
    probe = tmp_path / "probe-kb"
    shutil.copytree(kb, probe)
    command = [sys.executable, "-m", "welfare_observatory.cli.main"]
    command += ["build", str(observatory), "--offline", "--out", str(probe)]
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True)
    return time.monotonic() - started


@pytest.mark.slow
@pytest.mark.parametrize("point", ["staging", "before-prune", 0.2, 0.4, 0.6])
def test_a_killed_build_never_damages_the_previous_edition(
    previous: tuple[Path, str, dict[str, str], str],
    observatory_dir: Path,
    tmp_path: Path,
    point: str | float,
) -> None:
    kb, build, files, pointer = previous
    # A float is a fraction of the command's own duration, measured first, so the kill
    # lands inside the build however fast the machine is.
    at = point if isinstance(point, str) else point * build_seconds(observatory_dir, kb, tmp_path)
    killed_build(observatory_dir, kb, tmp_path, at)
    check_after_kill(
        kb, build, files, pointer, pointer_may_move=point == "before-prune" or point == 0.6
    )
    if point == "staging":
        assert [Path(p).name.startswith(".building-") for p in leftovers(kb)] == [True]
    # A later build completes and removes what the killed one left behind.
    load_observatory(observatory_dir).build(out=kb, offline=True)
    assert leftovers(kb) == []
    assert digests(kb / "2025" / build) == files
