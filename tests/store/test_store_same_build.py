"""A build whose id is already on disk, complete and intact, is kept without writing it
again (the same id means the same content, and that build was kept in any case); one with
a file that differs from its manifest is written again and replaces it on disk. The pointer
moves to it either way."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from welfare_observatory.store import edition as store
from welfare_observatory.store.edition import read_pointer, write_build

from .test_store_editions import BIELLA, EMPTY_FINDINGS, EMPTY_LINEAGE, manifest, observations


def _write(
    root: Path,
    build_id: str,
    digests: dict[str, str] | None = None,
    lineage: pa.Table | Callable[[], pa.Table] = EMPTY_LINEAGE,
) -> None:
    write_build(
        root,
        manifest("2025", build_id),
        observations=observations(BIELLA),
        lineage=lineage,
        findings=EMPTY_FINDINGS,
        analyses={"benchmark": pa.table({"indicator": ["POP_TOTAL"], "rank": [1]})},
        digests=digests,
    )


def _files(folder: Path) -> dict[str, bytes]:
    return {str(f.relative_to(folder)): f.read_bytes() for f in folder.rglob("*") if f.is_file()}


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files write_parquet wrote, each with its folder (``<folder>/<file>``)."""
    calls: list[str] = []
    real = store.write_parquet

    def spy(table: pa.Table, path: Path, **options: bool) -> dict[str, object]:
        calls.append(f"{path.parent.name}/{path.name}")
        return real(table, path, **options)

    monkeypatch.setattr(store, "write_parquet", spy)
    return calls


def test_an_intact_build_of_the_same_id_is_kept_unwritten(
    tmp_path: Path, writes: list[str]
) -> None:
    first: dict[str, str] = {}
    _write(tmp_path, "b-1", first)
    _write(tmp_path, "b-2")
    before = _files(tmp_path / "2025" / "b-1")
    writes.clear()
    again: dict[str, str] = {}
    _write(tmp_path, "b-1", again)
    assert writes == []
    assert _files(tmp_path / "2025" / "b-1") == before
    assert again == first and set(first) == {"domain=demography/part-0.parquet"}
    pointer = read_pointer(tmp_path / "2025")
    assert pointer is not None and pointer.build == "b-1" and pointer.history == ("b-2",)
    assert not list((tmp_path / "2025").glob(".building-*"))


@pytest.mark.parametrize(
    "harm",
    ["observations", "benchmark", "missing file", "manifest", "manifest shape", "no manifest"],
)
def test_a_build_not_intact_is_written_again(tmp_path: Path, writes: list[str], harm: str) -> None:
    _write(tmp_path, "b-1")
    build = tmp_path / "2025" / "b-1"
    if harm == "observations":
        (build / "observations" / "domain=demography" / "part-0.parquet").write_bytes(b"x")
    elif harm == "benchmark":
        (build / "analyses" / "benchmark" / "part-0.parquet").write_bytes(b"x")
    elif harm == "missing file":
        (build / "lineage.parquet").unlink()
    elif harm == "manifest":
        record = json.loads((build / "manifest.json").read_text())
        record["tables"]["findings"]["sha256"] = "0" * 64
        (build / "manifest.json").write_text(json.dumps(record))
    elif harm == "manifest shape":
        record = json.loads((build / "manifest.json").read_text())
        record["tables"]["findings"]["files"] = 5
        (build / "manifest.json").write_text(json.dumps(record))
    else:
        (build / "manifest.json").unlink()
    writes.clear()
    digests: dict[str, str] = {}
    _write(tmp_path, "b-1", digests)
    assert "domain=demography/part-0.parquet" in writes and "benchmark/part-0.parquet" in writes
    fresh: dict[str, str] = {}
    _write(tmp_path / "fresh", "b-1", fresh)
    assert digests == fresh
    pointer = read_pointer(tmp_path / "2025")
    assert pointer is not None and pointer.build == "b-1"
    # The damaged build was replaced on disk, not kept: it is the fresh one, byte for byte.
    on_disk = _files(build)
    again = _files(tmp_path / "fresh" / "2025" / "b-1")
    assert on_disk.pop("manifest.json") != b"x"
    again.pop("manifest.json")
    assert on_disk == again
    assert not [p.name for p in (tmp_path / "2025").iterdir() if p.name.startswith(".")]


def _lineage_made(root: Path, build_id: str, made: list[str]) -> None:
    """:func:`_write` with the lineage given as a function that notes its thread."""

    def lineage() -> pa.Table:
        import threading

        made.append(threading.current_thread().name)
        return EMPTY_LINEAGE

    _write(root, build_id, lineage=lineage)


def test_a_lineage_function_is_called_only_when_the_build_is_written(tmp_path: Path) -> None:
    made: list[str] = []
    _lineage_made(tmp_path, "b-1", made)
    # Once, beside the observations (on one of the store's threads), and the file is the
    # one the table itself gives.
    assert len(made) == 1 and made[0].startswith("store")
    _write(tmp_path / "given", "b-1")
    assert _files(tmp_path / "2025" / "b-1") == _files(tmp_path / "given" / "2025" / "b-1")
    # The same id again, intact: kept as it is, the lineage never made.
    _lineage_made(tmp_path, "b-1", made)
    assert len(made) == 1
    # Not intact: written again, the lineage made again.
    (tmp_path / "2025" / "b-1" / "lineage.parquet").unlink()
    _lineage_made(tmp_path, "b-1", made)
    assert len(made) == 2


def test_a_lineage_function_that_fails_leaves_the_previous_build(tmp_path: Path) -> None:
    _write(tmp_path, "b-1")

    def broken() -> pa.Table:
        raise ValueError("no lineage")

    with pytest.raises(ValueError, match="no lineage"):
        _write(tmp_path, "b-2", lineage=broken)
    pointer = read_pointer(tmp_path / "2025")
    assert pointer is not None and pointer.build == "b-1"
    assert sorted(p.name for p in (tmp_path / "2025").iterdir() if p.is_dir()) == ["b-1"]
