"""The build's end-of-load hook: called once, with the environment, when the load stage is
over and before any source runs; the console script ends its start-up there."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from welfare_observatory.build.environment import BuildEnvironment
from welfare_observatory.observatory import load_observatory

from .test_pipeline_environment import write_observatory

LOAD_LINE = "loading catalogue, territories and plugins"


@pytest.mark.parametrize("memory_budget", [None, "1GiB"])
def test_on_loaded_runs_once_between_the_load_stage_and_the_sources(
    tmp_path: Path, memory_budget: str | None
) -> None:
    folder = write_observatory(tmp_path / "obs")
    lines: list[str] = []
    calls: list[tuple[int, BuildEnvironment, bool]] = []

    def on_loaded(env: BuildEnvironment) -> None:
        # what the load stage prepares is there already; no source has said a word yet
        calls.append((len(lines), env, "checks" in vars(env) and "codes" in vars(env)))

    observatory = load_observatory(folder)
    options: dict[str, Any] = {"out": tmp_path / "kb", "offline": True}
    if memory_budget is None:
        result = observatory.build(progress=lines.append, on_loaded=on_loaded, **options)
    else:
        from welfare_observatory.build.strategies.out_of_core_build import build_out_of_core

        result = build_out_of_core(
            observatory,
            memory_budget=memory_budget,
            progress=lines.append,
            on_loaded=on_loaded,
            **options,
        )
    assert result.report.sources[0].status == "ok"
    assert len(calls) == 1
    said, env, prepared = calls[0]
    assert isinstance(env, BuildEnvironment)
    assert env.id == "env_biella"
    assert prepared
    assert lines[:said] == [LOAD_LINE]
    assert len(lines) > said  # the sources and stages reported after it


def test_no_hook_call_when_the_build_stops_before_loading(tmp_path: Path) -> None:
    folder = write_observatory(tmp_path / "obs")
    calls: list[BuildEnvironment] = []
    from welfare_observatory.errors import UnknownIdError

    with pytest.raises(UnknownIdError):
        load_observatory(folder).build(
            out=tmp_path / "kb", offline=True, only=["nope"], on_loaded=calls.append
        )
    assert calls == []


def test_the_console_script_collects_again_when_the_load_stage_is_over(tmp_path: Path) -> None:
    # Collection stays off through start-up and the load stage (nothing there is garbage)
    # and is back on, with what start-up made frozen, before the first source runs.
    folder = write_observatory(tmp_path / "obs")
    states = tmp_path / "states.json"
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import gc, json, sys
            from welfare_observatory.build.environment import BuildEnvironment
            from welfare_observatory.build.strategies.in_memory import InMemory
            from welfare_observatory.cli.main import run

            seen = []
            prepare, run_sources = BuildEnvironment.prepare, InMemory.run_sources

            def prepare_(self):
                seen.append(["load", gc.isenabled(), gc.get_freeze_count() > 0])
                return prepare(self)

            def run_sources_(self, *args, **kwargs):
                seen.append(["sources", gc.isenabled(), gc.get_freeze_count() > 0])
                return run_sources(self, *args, **kwargs)

            BuildEnvironment.prepare = prepare_
            InMemory.run_sources = run_sources_
            import atexit
            atexit.register(lambda: open({str(states)!r}, "w").write(json.dumps(seen)))
            sys.argv = ["welfare-observatory", "build", {str(folder)!r},
                        "--out", {str(tmp_path / "kb")!r}, "--offline", "--json"]
            run()
            """
        )
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(states.read_text()) == [["load", False, True], ["sources", True, True]]
