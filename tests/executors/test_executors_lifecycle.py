"""Executors own what they start: clusters stop, errors are typed, workers are checked."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from welfare_observatory.build.strategies import (
    DaskExecutor,
    ExecutorError,
    LocalExecutor,
    executor_for,
    running,
)
from welfare_observatory.errors import ConfigError, UnknownIdError
from welfare_observatory.observatory import load_observatory


def children() -> set[int]:
    """Our child processes, less Python's own resource tracker (one per interpreter,
    started by the first process spawned, and meant to outlive it). Needs psutil (an
    optional extra, with dask): the tests that count processes skip without it."""
    psutil = pytest.importorskip("psutil")
    return {
        p.pid
        for p in psutil.Process().children(recursive=True)
        if "resource_tracker" not in " ".join(p.cmdline())
    }


def gone(pids: set[int], seconds: float = 15.0) -> bool:
    psutil = pytest.importorskip("psutil")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(psutil.pid_exists(p) for p in pids):
            return True
        time.sleep(0.2)
    return False


def test_a_local_cluster_is_stopped_with_its_worker_processes() -> None:
    before = children()
    with DaskExecutor(n_workers=2) as executor:
        workers = set(executor.client.run(os.getpid).values())
        assert len(workers) == 2
        assert workers <= children()
        assert executor.map(abs, [-1, 2, -3]) == [1, 2, 3]
    assert not executor.started
    assert gone(workers)
    assert gone(children() - before)


def test_a_build_given_dask_by_name_starts_and_stops_its_own_cluster(
    observatory_dir: Path, tmp_path: Path
) -> None:
    before = children()
    result = load_observatory(observatory_dir).build(
        out=tmp_path / "kb", offline=True, executor="dask"
    )
    assert result.report.ok
    assert gone(children() - before)


def test_a_started_executor_is_left_running_for_its_owner() -> None:
    with LocalExecutor() as executor:
        with running(executor) as inner:
            assert inner is executor
        assert executor.started
    assert not executor.started


def test_an_unknown_executor_name_suggests_the_known_ones() -> None:
    with pytest.raises(UnknownIdError) as caught:
        executor_for("dusk")
    assert caught.value.hint is not None and "'dask'" in caught.value.hint


def test_a_scheduler_address_needs_the_dask_executor() -> None:
    with pytest.raises(ConfigError, match="needs the dask executor"):
        executor_for("local", scheduler="tcp://127.0.0.1:8786")


def test_an_unreachable_scheduler_is_an_executor_error() -> None:
    executor = DaskExecutor("tcp://127.0.0.1:9", timeout=1)
    with pytest.raises(ExecutorError, match="cannot reach") as caught:
        executor.start()
    assert caught.value.hint and "tcp://host:8786" in caught.value.hint
    assert not executor.started


def test_a_worker_that_reads_another_configuration_refuses_to_run(
    observatory_dir: Path, tmp_path: Path
) -> None:
    from welfare_observatory.build.strategies.tasks import SourceTask, run_source_task

    task = SourceTask(
        observatory=str(observatory_dir),
        source="population",
        steps_dir=str(tmp_path / "steps"),
        cache_dir=str(tmp_path / "cache"),
        offline=True,
        refresh=False,
        config_digest="not-the-client's",
        versions={},
    )
    with pytest.raises(ExecutorError, match="another configuration") as caught:
        run_source_task(task)
    assert caught.value.hint and "same observatory files" in caught.value.hint


def test_the_command_line_builds_with_either_executor(
    observatory_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from welfare_observatory.cli.main import cli, main

    runner = CliRunner()
    reports = {}
    for name in ("local", "dask"):
        out = str(tmp_path / name)
        args = ["build", str(observatory_dir), "--offline", "--out", out, "--json"]
        result = runner.invoke(cli, [*args, "--executor", name])
        assert result.exit_code == 0, result.output
        reports[name] = json.loads(result.output)
    assert reports["local"]["build"] == reports["dask"]["build"]
    with pytest.raises(SystemExit) as refused:
        main(["build", str(observatory_dir), "--offline", "--scheduler", "tcp://127.0.0.1:9"])
    assert refused.value.code == 1
    assert "needs the dask executor" in capsys.readouterr().err
