"""docs/quickstart.md works as written: its bash blocks run verbatim, offline."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("welfare-observatory")


def bash_blocks(doc: Path) -> list[str]:
    """The command lines of the fenced ``bash`` blocks of ``doc``, in order."""
    blocks = re.findall(r"```bash\n(.*?)```", doc.read_text("utf-8"), flags=re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def as_argv(line: str) -> list[str]:
    """A documented command as argv: this interpreter's pip and welfare-observatory.

    ``pip install -e X`` runs without dependencies and build isolation, so it needs no
    network: the library is installed already.
    """
    words = shlex.split(line)
    if words[:3] == ["pip", "install", "-e"]:
        return [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-e",
            *words[3:],
        ]
    if words[0] == "welfare-observatory":
        return [str(SCRIPT), *words[1:]]
    raise AssertionError(f"the quickstart runs only pip and welfare-observatory: {line}")


@pytest.fixture
def installed_cleanup() -> Iterator[list[str]]:
    """Distributions the test installs; they are uninstalled afterwards."""
    dists: list[str] = []
    yield dists
    for dist in dists:
        subprocess.run(
            [sys.executable, "-m", "pip", "uninstall", "-q", "-y", dist],
            check=False,
            capture_output=True,
        )


def test_the_english_and_italian_quickstarts_run_the_same_commands() -> None:
    english = bash_blocks(REPO / "docs" / "quickstart.md")
    assert english == bash_blocks(REPO / "docs" / "quickstart.it.md")
    assert any(line.startswith("welfare-observatory new ") for line in english)
    assert any(line.startswith("pip install -e ") for line in english)


@pytest.mark.exclusive  # pip installs into this environment: no other test meanwhile
def test_the_quickstart_commands_run_offline(tmp_path: Path, installed_cleanup: list[str]) -> None:
    started = time.perf_counter()
    installed_cleanup.append("osserva-vercelli")
    outputs = []
    for line in bash_blocks(REPO / "docs" / "quickstart.md"):
        done = subprocess.run(
            as_argv(line), cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    assert (tmp_path / "kb").is_dir()
    # the last command prints the share of women of the province: real figures, two years
    assert outputs[-1].count("002") == 2
    # the package's own smoke test passes too
    tests = tmp_path / "observatories" / "vercelli" / "tests"
    smoke = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
        cwd=tmp_path / "observatories" / "vercelli",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    assert time.perf_counter() - started < 120
