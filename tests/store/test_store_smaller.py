"""Smaller store and report defects: a readable site folder, disk full while saving,
``report --out .`` inside an earlier report, one unreadable manifest among editions."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from welfare_observatory.errors import StoreError
from welfare_observatory.store.knowledge_base import KnowledgeBase


@pytest.fixture(scope="module")
def kb_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.publish.test_report_build import write_edition

    root = tmp_path_factory.mktemp("kb")
    write_edition(root, "2024", "2025-01-01T00:00:00Z", shift=-1.0)
    write_edition(root, "2025", "2026-01-01T00:00:00Z")
    return root


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_the_report_site_is_readable_by_everyone(kb_root, tmp_path, umask_022):
    from welfare_observatory.publish.report import build_report

    out = tmp_path / "site"
    build_report(kb_root, "2025", out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    for path in out.rglob("*"):
        expected = 0o755 if path.is_dir() else 0o644
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


def test_report_out_dot_inside_an_earlier_report(kb_root, tmp_path, monkeypatch):
    from welfare_observatory.cli.main import cli

    site = tmp_path / "site"
    runner = CliRunner()
    first = runner.invoke(cli, ["report", "--kb", str(kb_root), "--out", str(site), "2025"])
    assert first.exit_code == 0, first.output
    monkeypatch.chdir(site)
    again = runner.invoke(cli, ["report", "--kb", str(kb_root), "--out", ".", "2025"])
    assert again.exit_code == 0, again.output
    assert (site / "index.html").is_file()
    assert not list(tmp_path.glob(".*old*")) and not list(tmp_path.glob(".report-*"))


def _damage(root: Path, edition: str) -> None:
    pointer = json.loads((root / edition / "EDITION.json").read_text())
    (root / edition / pointer["build"] / "manifest.json").write_text("{not json")


def test_one_unreadable_manifest_does_not_hide_the_other_editions(kb_root, tmp_path):
    import shutil

    root = tmp_path / "kb"
    shutil.copytree(kb_root, root)
    _damage(root, "2024")
    kb = KnowledgeBase.open(root)
    assert [e.name for e in kb.editions()] == ["2025"]
    listed = kb.editions(unreadable=True)
    bad = [e for e in listed if e.status == "unreadable"]
    assert [e.name for e in bad] == ["2024"] and bad[0].hint and bad[0].problem
    assert kb.edition().name == "2025"
    with pytest.raises(StoreError, match="manifest"):
        kb.edition("2024")  # asked by name, the edition's own error


def test_kb_list_shows_the_unreadable_edition_with_a_hint(kb_root, tmp_path):
    import shutil

    from welfare_observatory.cli.main import cli

    root = tmp_path / "kb"
    shutil.copytree(kb_root, root)
    _damage(root, "2024")
    result = CliRunner().invoke(cli, ["kb", "list", "--kb", str(root)])
    assert result.exit_code == 0, result.output
    assert "2025" in result.output and "unreadable" in result.output
    data = CliRunner().invoke(cli, ["kb", "list", "--kb", str(root), "--json"])
    rows = {row["name"]: row for row in json.loads(data.stdout)}
    assert rows["2024"]["status"] == "unreadable" and rows["2025"]["status"] == "draft"


def _enospc(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_while_saving_a_source_step_is_a_store_error(tmp_path, monkeypatch):
    from tests.store.test_store_lock import _observatory
    from welfare_observatory.observatory import load_observatory

    folder = _observatory(tmp_path / "obs", "2025")
    monkeypatch.setattr("pyarrow.parquet.write_table", _enospc)
    with pytest.raises(StoreError) as info:
        load_observatory(folder).build(out=tmp_path / "kb")
    assert "No space left on device" in str(info.value)
    assert "disk space" in (info.value.hint or "")


def test_disk_full_while_writing_the_pointer_is_a_store_error(tmp_path, monkeypatch):
    from welfare_observatory.store import edition as store

    manifest = store.Manifest(
        observatory="o",
        edition="2025",
        build="b-1",
        created="2026-01-01T00:00:00Z",
        library_version="0",
        config_digest="x",
        reference_date="2024-01-01",
        territory="096",
    )

    def full(path: Path, data: bytes) -> None:
        if path.name == "EDITION.json":
            _enospc()

    monkeypatch.setattr(store, "atomic_write_bytes", full)
    with pytest.raises(StoreError, match="No space left"):
        store.commit_build(tmp_path, manifest, lambda staging: {})
