"""The build's ``imports`` step: the library's stage modules are imported, timed, before
``load``, so the stage timers (``build --json``) measure work, not first imports."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from welfare_observatory.build.orchestrator import STAGE_MODULES, import_stages
from welfare_observatory.observatory import load_observatory

from .test_pipeline_environment import write_observatory

PROBE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from welfare_observatory.observatory import load_observatory

    def build():
        seen = {}

        def on_loaded(env):
            seen["loaded"] = set(sys.modules)

        result = load_observatory(sys.argv[1]).build(
            out=sys.argv[2], offline=True, on_loaded=on_loaded
        )
        late = sorted(set(sys.modules) - seen["loaded"])
        return {"late": late, "timings": list(result.report.timings)}

    first = build()
    # A rebuild after the data changed: derive and analyze run incrementally.
    data = Path(sys.argv[1]) / "data" / "residenti.csv"
    data.write_text(data.read_text(encoding="utf-8") + chr(10), encoding="utf-8")
    print(json.dumps([first, build()]))
    """
)

STAGE_PACKAGES = ("welfare_observatory.build.", "welfare_observatory.derive.")


def test_imports_come_first_in_the_timings_and_apart_from_load(tmp_path: Path) -> None:
    folder = write_observatory(tmp_path / "obs")
    result = load_observatory(folder).build(out=tmp_path / "kb", offline=True)
    timings = list(result.report.timings)
    assert timings[:2] == ["imports", "load"]
    assert all(v >= 0 for v in result.report.timings.values())


def test_no_stage_module_is_first_imported_inside_a_stage(tmp_path: Path) -> None:
    """A fresh process, a build then a rebuild: after the load stage, no module of the
    build's stages or of derive (nor one listed in STAGE_MODULES) is imported for the first
    time."""
    folder = write_observatory(tmp_path / "obs")
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(folder), str(tmp_path / "kb")],
        capture_output=True,
        text=True,
        check=True,
    )
    builds = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(builds) == 2
    for probe in builds:
        assert probe["timings"][:2] == ["imports", "load"]
        late = probe["late"]
        assert not [m for m in late if m in STAGE_MODULES or m.startswith(STAGE_PACKAGES)]


def test_every_stage_module_exists_and_a_second_import_costs_nothing() -> None:
    import_stages()
    assert all(name in sys.modules for name in STAGE_MODULES)
    assert import_stages() < 0.05


def test_work_under_no_stage_timer_is_reported_as_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading a reused step runs under no stage's timer: it is not lost from the timings,
    and the entries after ``imports`` add up to the build's wall time."""
    import time

    import welfare_observatory.build.sources as sources

    original = sources._load_step
    calls: list[str] = []

    def slow_load_step(steps_dir: Path, key: str, *rest: object) -> object:
        calls.append(key)
        time.sleep(0.2)
        return original(steps_dir, key, *rest)

    monkeypatch.setattr(sources, "_load_step", slow_load_step)
    folder = write_observatory(tmp_path / "obs")
    observatory = load_observatory(folder)
    started = time.perf_counter()
    result = observatory.build(out=tmp_path / "kb", offline=True)
    wall = time.perf_counter() - started
    timings = result.report.timings
    assert calls
    assert timings["other"] >= 0.2 * len(calls) - 0.01  # rounded to the millisecond
    after_imports = sum(v for k, v in timings.items() if k != "imports")
    assert after_imports <= wall - timings["imports"] + 0.01
    assert after_imports >= 0.2 * len(calls)
