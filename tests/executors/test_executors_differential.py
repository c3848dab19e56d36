"""The same observatory built locally and on a Dask cluster gives the same edition."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from welfare_observatory.build.strategies import DaskExecutor, LocalExecutor, build_network
from welfare_observatory.build.strategies.sample import population_observatory
from welfare_observatory.observatory import load_observatory
from welfare_observatory.store.edition import read_pointer


def edition_files(kb: Path, edition: str = "2025") -> dict[str, object]:
    """Every table of the current build, read back, and the manifest without its time."""
    pointer = read_pointer(kb / edition)
    assert pointer is not None
    build = kb / edition / pointer.build
    content: dict[str, object] = {}
    for file in sorted(build.rglob("*.parquet")):
        content[str(file.relative_to(build))] = pq.read_table(file)
    manifest = json.loads((build / "manifest.json").read_text())
    manifest.pop("created")
    content["manifest.json"] = manifest
    return content


def assert_same_edition(a: Path, b: Path) -> None:
    left, right = edition_files(a), edition_files(b)
    assert sorted(left) == sorted(right)
    for name, table in left.items():
        other = right[name]
        if name.endswith(".parquet"):
            assert table.equals(other), f"{name} differs"  # type: ignore[attr-defined]
            assert table.to_pylist() == other.to_pylist()  # type: ignore[attr-defined]
        else:
            assert table == other, f"{name} differs"


def test_a_dask_build_equals_the_local_build_value_by_value(
    observatory_dir: Path, tmp_path: Path, dask_executor: DaskExecutor
) -> None:
    local = load_observatory(observatory_dir).build(out=tmp_path / "local", offline=True)
    remote = load_observatory(observatory_dir).build(
        out=tmp_path / "dask", offline=True, executor=dask_executor
    )
    assert remote.report.build == local.report.build
    assert remote.report.sources[0].status == local.report.sources[0].status == "ok"
    assert remote.report.built == local.report.built
    assert remote.report.findings == local.report.findings
    assert_same_edition(tmp_path / "local", tmp_path / "dask")
    lineage = edition_files(tmp_path / "dask")["lineage.parquet"]
    assert "harmonize" in lineage.column("kind").to_pylist()  # type: ignore[attr-defined]


def test_a_worker_reuses_what_an_earlier_local_build_computed(
    observatory_dir: Path, tmp_path: Path, dask_executor: DaskExecutor
) -> None:
    kb = tmp_path / "kb"
    first = load_observatory(observatory_dir).build(out=kb, offline=True)
    again = load_observatory(observatory_dir).build(out=kb, offline=True, executor=dask_executor)
    assert [s.status for s in again.report.sources] == ["reused"]
    assert again.report.build == first.report.build


def test_the_local_executor_is_the_plain_build(observatory_dir: Path, tmp_path: Path) -> None:
    plain = load_observatory(observatory_dir).build(out=tmp_path / "a", offline=True)
    named = load_observatory(observatory_dir).build(
        out=tmp_path / "b", offline=True, executor="local"
    )
    with LocalExecutor() as executor:
        given = load_observatory(observatory_dir).build(
            out=tmp_path / "c", offline=True, executor=executor
        )
    assert plain.report.build == named.report.build == given.report.build
    assert_same_edition(tmp_path / "a", tmp_path / "c")


def test_a_network_builds_every_observatory_as_it_would_alone(
    tmp_path: Path, dask_executor: DaskExecutor
) -> None:
    folders = [population_observatory(tmp_path / code, code) for code in ("096", "002", "103")]
    together = build_network(folders, out=tmp_path / "net", executor=dask_executor, offline=True)
    assert [r.report.observatory for r in together] == ["pop_096", "pop_002", "pop_103"]
    for folder, result in zip(folders, together, strict=True):
        alone = load_observatory(folder).build(out=tmp_path / "alone" / folder.name, offline=True)
        assert result.report.build == alone.report.build
        assert result.knowledge_base == tmp_path / "net" / result.report.observatory
        assert_same_edition(result.knowledge_base, alone.knowledge_base)


def test_a_network_of_the_same_observatory_twice_is_refused(
    observatory_dir: Path, tmp_path: Path
) -> None:
    from welfare_observatory.errors import ConfigError

    with pytest.raises(ConfigError, match="pop_096") as caught:
        build_network([observatory_dir, observatory_dir], out=tmp_path / "net")
    assert caught.value.hint and "ids name the knowledge bases" in caught.value.hint
