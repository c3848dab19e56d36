"""A worker killed mid-build: the build survives it, or fails before anything is stored.

These start their own clusters and kill worker processes; they are slow on 2 cores and run
only on request:  pytest -m slow tests/executors
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from welfare_observatory.build.strategies import DaskExecutor, ExecutorError
from welfare_observatory.observatory import load_observatory
from welfare_observatory.store.edition import read_pointer

# Optional extras (welfare-observatory[dask]): without them this module is skipped.
cloudpickle = pytest.importorskip("cloudpickle")
dask = pytest.importorskip("dask")
WorkerPlugin = pytest.importorskip("distributed.diagnostics.plugin").WorkerPlugin

# Workers cannot import this test module: send the plugin class by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.slow


class KillWhenSourceStarts(WorkerPlugin):
    """SIGKILL the worker process when a source task starts, ``times`` times in all."""

    def __init__(self, counter: str, times: int) -> None:
        self.counter = counter
        self.times = times

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if finish != "executing" or not str(key).startswith("source-"):
            return
        counter = Path(self.counter)
        killed = int(counter.read_text()) if counter.exists() else 0
        if killed < self.times:
            counter.write_text(str(killed + 1))
            os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_killed_mid_build_is_survived(observatory_dir: Path, tmp_path: Path) -> None:
    local = load_observatory(observatory_dir).build(out=tmp_path / "local", offline=True)
    counter = tmp_path / "killed"
    with DaskExecutor(n_workers=2) as executor:
        executor.client.register_plugin(KillWhenSourceStarts(str(counter), times=1))
        result = load_observatory(observatory_dir).build(
            out=tmp_path / "dask", offline=True, executor=executor
        )
    assert counter.read_text() == "1"
    assert result.report.ok
    assert result.report.build == local.report.build


def test_a_task_that_keeps_killing_workers_leaves_the_previous_edition(
    observatory_dir: Path, tmp_path: Path
) -> None:
    kb = tmp_path / "kb"
    previous = load_observatory(observatory_dir).build(out=kb, offline=True)
    config = observatory_dir / "observatory.yaml"
    config.write_text(config.read_text().replace("SHARE_FEMALE]", "SHARE_FEMALE, POP_0_14]"))
    # The scheduler gives a task up after this many workers died running it (default 3).
    give_up = dask.config.set({"distributed.scheduler.allowed-failures": 1})
    with give_up, DaskExecutor(n_workers=2) as executor:
        executor.client.register_plugin(KillWhenSourceStarts(str(tmp_path / "n"), times=99))
        with pytest.raises(ExecutorError, match="kept killing") as caught:
            load_observatory(observatory_dir).build(out=kb, offline=True, executor=executor)
    assert caught.value.hint and "previous edition is intact" in caught.value.hint
    pointer = read_pointer(kb / "2025")
    assert pointer is not None and pointer.build == previous.report.build
    assert sorted(p.name for p in (kb / "2025").iterdir()) == ["EDITION.json", pointer.build]
