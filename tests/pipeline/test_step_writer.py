"""Sources' steps written on the build's writer thread (``build.sources.run_sources``) give
what writing them in line gives: the same outputs, the same step files, the same reuse, and a
step that cannot be written fails its source with the same error."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from welfare_observatory._seal import KEY as SEAL
from welfare_observatory.build import sources as pipeline
from welfare_observatory.build.environment import make_environment
from welfare_observatory.build.sources import SourceOutput
from welfare_observatory.observatory import load_observatory

from ._outputs import offline_context, plain
from ._tidy import tidy_observatory


def _observatory(folder: Path) -> Path:
    """Three tidy sources; the third reads the first's file with the first's rules, under
    an id of its own: its step is its own (its lineage and findings name it)."""
    return tidy_observatory(
        folder,
        {"first": 1, "second": 2, "again": 1},
        document="tests/pipeline/test_step_writer.py",
    )


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = _observatory(tmp_path_factory.mktemp("obs") / "obs")
    return make_environment(load_observatory(folder)).prepare()


def _inline(env: Any, kb: Path) -> list[SourceOutput]:
    context = offline_context(env, kb)
    sources = env.config.sources
    return [pipeline.run_source(s, sources[s], context) for s in sources]


def _threaded(env: Any, kb: Path) -> list[SourceOutput]:
    return pipeline.run_sources(list(env.config.sources), offline_context(env, kb))


def _step_files(kb: Path) -> dict[str, Any]:
    files: dict[str, Any] = {}
    for file in sorted((kb / ".steps").iterdir()):
        if file.name == "fetched.json":
            continue  # no step: run_sources's note of what its sources read
        if file.suffix == ".json":
            record = json.loads(file.read_text(encoding="utf-8"))
            # When it was saved, and so the seal over it too, differs between two runs.
            record.pop("saved"), record.pop(SEAL)
            files[file.name] = record
        else:
            files[file.name] = file.read_bytes()
    return files


def test_steps_written_on_the_writer_thread_are_the_ones_written_in_line(
    environment: Any, tmp_path: Path
) -> None:
    kb = tmp_path / "kb"  # one folder for both: messages name it
    inline = _inline(environment, kb)
    written = _step_files(kb)
    shutil.rmtree(kb)
    threaded = _threaded(environment, kb)
    assert [o.report.status for o in inline] == ["ok"] * 3
    assert plain(threaded, saving=True) == plain(inline, saving=True)
    assert _step_files(kb) == written
    again = _threaded(environment, kb)
    assert [o.report.status for o in again] == ["reused"] * 3
    assert [o.table for o in again] == [o.table for o in inline]


def test_a_step_that_cannot_be_written_fails_its_source_as_in_line(
    environment: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save = pipeline._save_step

    def full_for_the_second(steps_dir: Path, key: str, table: Any, *rest: Any) -> None:
        if table is not None and "second" in table.column("source").to_pylist():
            raise OSError(errno.ENOSPC, "No space left on device")
        save(steps_dir, key, table, *rest)

    monkeypatch.setattr(pipeline, "_save_step", full_for_the_second)
    kb = tmp_path / "kb"
    inline = _inline(environment, kb)
    shutil.rmtree(kb)
    threaded = _threaded(environment, kb)
    assert [o.report.status for o in inline] == ["ok", "failed", "ok"]
    assert "No space left on device" in (inline[1].report.error or "")
    assert "disk space" in (inline[1].report.error or "")
    assert plain(threaded, saving=True) == plain(inline, saving=True)


def test_a_file_copy_that_cannot_be_synced_fails_its_source_as_in_line(
    environment: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from welfare_observatory import sdk
    from welfare_observatory.sources import cache as cache_module

    def broken(_fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    # Files this small are held, not copied: as large files, they are copied.
    monkeypatch.setattr(sdk, "HELD_FILE_BYTES", 0)
    monkeypatch.setattr(cache_module.os, "fsync", broken)
    kb = tmp_path / "kb"
    inline = _inline(environment, kb)
    shutil.rmtree(kb)
    threaded = _threaded(environment, kb)
    assert [o.report.status for o in inline] == ["failed"] * 3
    assert "Input/output error" in (inline[0].report.error or "")
    assert plain(threaded, saving=True) == plain(inline, saving=True)
    # Nothing of theirs is kept for the next build: no index record, no step.
    assert not list((kb / ".cache" / "index").rglob("*.json"))
    assert not list((kb / ".steps").glob("source-*"))


def test_sources_wait_for_the_writer_past_a_bounded_backlog(
    environment: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    save, run = pipeline._save_step, pipeline.run_source
    saved: list[str] = []
    seen: dict[str, list[str]] = {}

    def slow_save(steps_dir: Path, key: str, *rest: Any) -> None:
        time.sleep(0.2)
        save(steps_dir, key, *rest)
        saved.append(key)

    def watched(source_id: str, *args: Any) -> SourceOutput:
        seen[source_id] = list(saved)
        return run(source_id, *args)

    monkeypatch.setattr(pipeline, "_save_step", slow_save)
    monkeypatch.setattr(pipeline, "run_source", watched)
    monkeypatch.setattr(pipeline, "_BACKLOG", 0)
    outputs = _threaded(environment, tmp_path / "kb")
    assert [o.report.status for o in outputs] == ["ok"] * 3
    assert len(seen["second"]) == 1, "the first source's step was written before the second ran"
