"""The per-source cost benchmark keeps working: the real script on files of one year each.

``benchmarks/source_costs.py`` runs a build's sources one by one through the pipeline's own
functions, so a change of those (a source's steps, its writer, the checks' entry point)
shows here rather than the next time someone measures.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "source_costs.py"


def test_the_script_prints_each_stage_s_cost_per_source(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--years", "1", "--repeats", "2", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("160 sources, 2 repeats")
    figures = dict(re.findall(r"^(\w+)\s+([\d.]+)\s+[\d.]+$", done.stdout, flags=re.MULTILINE))
    assert set(figures) == {
        "fetch", "parse", "harmonize", "other", "sources", "sources_cpu", "checks", "checks_cpu"
    }  # fmt: skip
    assert all(float(ms) > 0 for ms in figures.values())
    assert float(figures["sources"]) >= float(figures["parse"]) + float(figures["harmonize"])
