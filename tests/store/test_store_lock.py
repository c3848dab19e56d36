"""One writer per knowledge base, readers never wait: real processes, real builds."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from welfare_observatory.errors import KnowledgeBaseBusyError, StoreError
from welfare_observatory.store import edition as store
from welfare_observatory.store.knowledge_base import KnowledgeBase
from welfare_observatory.store.lock import LOCK_FILE, writer_lock

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from welfare_observatory.store.lock import writer_lock
    with writer_lock(Path(sys.argv[1])):
        (Path(sys.argv[1]) / "held").write_text("yes")
        time.sleep(float(sys.argv[2]))
    """
)


def _hold(kb: Path, seconds: float) -> subprocess.Popen[bytes]:
    """Another process holding the writer lock for ``seconds``, started and confirmed."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(kb), str(seconds)])
    for _ in range(300):
        if (kb / "held").exists():
            return process
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the holder process never took the lock")


def test_a_second_writer_gets_a_typed_error_naming_the_holder(tmp_path):
    holder = _hold(tmp_path, 5)
    try:
        with pytest.raises(KnowledgeBaseBusyError) as info, writer_lock(tmp_path, timeout=0):
            pass
        assert f"pid {holder.pid}" in str(info.value)
        assert "another build" in str(info.value) and info.value.hint
        assert isinstance(info.value, StoreError)
    finally:
        holder.kill()
        holder.wait()


def test_a_waiting_writer_gets_the_lock_when_the_holder_ends(tmp_path):
    holder = _hold(tmp_path, 0.8)
    said: list[str] = []
    started = time.monotonic()
    try:
        with writer_lock(tmp_path, timeout=30, say=said.append, poll=0.05):
            waited = time.monotonic() - started
    finally:
        holder.wait()
    assert waited > 0.3
    assert len(said) == 1 and f"pid {holder.pid}" in said[0]


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    holder = _hold(tmp_path, 60)
    holder.kill()  # SIGKILL: no clean-up runs
    holder.wait()
    with writer_lock(tmp_path, timeout=2):
        assert (tmp_path / LOCK_FILE).exists()


def test_the_lock_is_reentrant_in_one_thread(tmp_path):
    with writer_lock(tmp_path, timeout=0), writer_lock(tmp_path, timeout=0):
        pass
    with writer_lock(tmp_path, timeout=0):  # released fully: takes it again at once
        pass


def test_commit_build_waits_for_another_writer(tmp_path, monkeypatch):
    holder = _hold(tmp_path, 60)
    try:
        monkeypatch.setattr("welfare_observatory.store.lock.WAIT_SECONDS", 0.3)
        with pytest.raises(KnowledgeBaseBusyError):
            store.publish(tmp_path, "2025")
    finally:
        holder.kill()
        holder.wait()


# -- real concurrent builds ---------------------------------------------------------------
def _observatory(folder: Path, edition: str) -> Path:
    from tests.pipeline.conftest import OBSERVATORY, age_classes

    (folder / "data").mkdir(parents=True)
    (folder / "observatory.yaml").write_text(
        OBSERVATORY.replace('edition: "2025"', f'edition: "{edition}"'), encoding="utf-8"
    )
    lines = ["Codice comune;Eta;Totale"]
    for (code, name), people in sorted(age_classes().items()):
        lines.append(f"{code};{name};{people:,}".replace(",", "."))
    (folder / "data" / "popolazione_2023.csv").write_text("\n".join(lines) + "\n", "utf-8")
    return folder


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "welfare_observatory.cli.main", *args]


@pytest.mark.slow  # three CLI builds at once on a shared machine: 20-60 s
def test_concurrent_builds_into_one_knowledge_base_all_land(tmp_path):
    kb = tmp_path / "kb"
    first = _observatory(tmp_path / "a", "2025")
    other = _observatory(tmp_path / "b", "2026")
    runs = [
        subprocess.Popen(
            _cli("build", str(folder), "--out", str(kb)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for folder in (first, first, other)
    ]
    outputs = [run.communicate(timeout=600) for run in runs]
    for run, (_out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err.decode()[-2000:]
    for name in ("2025", "2026"):
        pointer = store.read_pointer(kb / name)
        assert pointer is not None
        manifest = store.load_manifest(kb / name / pointer.build)
        assert manifest.edition == name
        for kept in pointer.history:
            assert (kb / name / kept / "manifest.json").is_file()
        assert not list((kb / name).glob(".building-*"))
    assert not list((kb / ".steps").glob("*.tmp"))
    listed = subprocess.run(_cli("kb", "list", "--kb", str(kb), "--json"), capture_output=True)
    assert listed.returncode == 0, listed.stderr.decode()
    assert {e["name"] for e in json.loads(listed.stdout)} == {"2025", "2026"}


def test_readers_never_wait_for_a_writer(tmp_path):
    from welfare_observatory.store.edition import Manifest, commit_build

    manifest = Manifest(
        observatory="o",
        edition="2025",
        build="b-1",
        created="2026-01-01T00:00:00Z",
        library_version="0",
        config_digest="x",
        reference_date="2024-01-01",
        territory="096",
    )
    commit_build(tmp_path, manifest, lambda staging: {})
    holder = _hold(tmp_path, 60)
    try:
        started = time.monotonic()
        assert [e.name for e in KnowledgeBase.open(tmp_path).editions()] == ["2025"]
        assert time.monotonic() - started < 2
    finally:
        holder.kill()
        holder.wait()


def test_a_writer_that_wrote_nothing_leaves_no_empty_knowledge_base(tmp_path):
    kb = tmp_path / "new-kb"
    with writer_lock(kb, timeout=0):
        assert (kb / LOCK_FILE).exists()
    assert not kb.exists()
    with writer_lock(kb, timeout=0):  # and the next writer locks a fresh file
        (kb / "edition").mkdir()
    assert (kb / "edition").is_dir()
