"""The national-scale benchmark keeps working: a tiny run of the real script, in seconds.

The full run (71 million observations) takes minutes and many GiB; here ``--scale 0.03``
keeps 237 municipalities, 13 indicators and one year, which exercises every step of both
sides (generate, library, hand-written SQL, RSS sampling, output comparison).
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "national_scale.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("national_scale", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300
    )


def test_a_tiny_run_prints_both_sides_and_equal_outputs(tmp_path: Path) -> None:
    done = _run("--scale", "0.03", "--workdir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "237 municipalities x 13 indicators x 1 years" in out
    assert re.search(r"^library\s+[\d.]+\s+[\d.]+\s+[\d.]+ GiB", out, re.M)
    assert re.search(r"^sql\s+[\d.]+\s+[\d.]+\s+[\d.]+ GiB", out, re.M)
    assert "time ratio library/sql (work):" in out
    assert "Arrow size of the observations (dictionary-encoded keys" in out
    assert "load average" in out
    rows = re.search(r"outputs: library ([\d,]+) rows, sql ([\d,]+) rows", out)
    assert rows is not None and rows.group(1) == rows.group(2)
    assert "per-domain count/sum equal" in out
    assert ": 0 unmatched, 0 values and 0 statuses/units differ" in out
    # Both sides wrote one Hive partition per domain.
    library = {p.name for p in (tmp_path / "out-library").rglob("domain=*")}
    sql = {p.name for p in (tmp_path / "out-sql" / "observations").glob("domain=*")}
    assert library == sql and len(sql) == 12


def test_the_comparison_notices_a_changed_value(tmp_path: Path) -> None:
    module = _module()
    table = pa.table(
        {
            "indicator": ["A", "A"],
            "territory": ["001001", "001002"],
            "period": ["2023-01-01"] * 2,
            "period_start": pa.array([0, 0], pa.date32()),
            "value": [1.0, 2.0],
            "unit": ["person"] * 2,
            "obs_status": ["A"] * 2,
            "conf_status": ["F"] * 2,
            "source": ["x"] * 2,
        }
    )
    for side, values in (("l", [1.0, 2.0]), ("s", [1.0, 2.5])):
        folder = tmp_path / side / "domain=health"
        folder.mkdir(parents=True)
        changed = table.set_column(4, "value", pa.array(values))
        pq.write_table(changed, folder / "part-0.parquet")
    check = module.compare(str(tmp_path / "l"), str(tmp_path / "s"))
    assert check["rows"] == {"l": 2, "s": 2}
    assert not check["same_totals"]
    assert not check["same"]
    assert module.compare(str(tmp_path / "l"), str(tmp_path / "l"))["same"]


@pytest.mark.parametrize("scale", ["0", "1.5", "-0.1"])
def test_a_scale_outside_zero_to_one_is_refused(scale: str, tmp_path: Path) -> None:
    done = _run("--scale", scale, "--workdir", str(tmp_path))
    assert done.returncode == 2
    assert "--scale must be in (0, 1]" in done.stderr
    assert not any(tmp_path.iterdir())
