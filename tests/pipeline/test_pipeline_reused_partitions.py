"""A rebuild takes an unchanged domain's partition file from the earlier build only when the
file still has the bytes it was written with; a damaged or missing one is written anew, and
the edition is byte for byte the fresh build's either way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ._sealed import read_record, write_record
from .test_pipeline_incremental import build, change_last_value, edition_files, make_observatory

PART = Path("observations/domain=education/part-0.parquet")


def _linked(result: object, part: Path = PART) -> bool:
    folder = result.knowledge_base / result.edition / result.report.build  # type: ignore[attr-defined]
    return (folder / part).stat().st_nlink > 1


@pytest.mark.parametrize("harm", ["none", "damaged", "missing", "no digests recorded"])
def test_an_earlier_partition_file_is_reused_only_when_intact(tmp_path: Path, harm: str) -> None:
    folder = make_observatory(tmp_path / "obs")
    first = build(folder, tmp_path / "kb")
    earlier = first.knowledge_base / first.edition / first.report.build / PART
    if harm == "damaged":
        # Same size, other bytes (a disk error, an edit): never taken for the rows it held.
        data = bytearray(earlier.read_bytes())
        data[len(data) // 2] ^= 0xFF
        earlier.write_bytes(bytes(data))
    elif harm == "missing":
        earlier.unlink()
    elif harm == "no digests recorded":  # a result saved by an earlier version
        [written] = (tmp_path / "kb" / ".steps").glob("derived-*/written.json")
        record = json.loads(written.read_text())
        assert record["files"]
        written.unlink()
        meta = written.with_name("meta.json")
        write_record(meta, read_record(meta) | {"written": record})
    change_last_value(folder / "data" / "t_health_a.csv")
    again = build(folder, tmp_path / "kb")
    fresh = build(folder, tmp_path / "fresh")
    assert again.report.build == fresh.report.build
    assert edition_files(again) == edition_files(fresh)
    assert _linked(again) == (harm == "none")


def test_an_unchanged_rebuild_writes_nothing_and_the_next_one_still_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from welfare_observatory.store import edition

    folder = make_observatory(tmp_path / "obs")
    first = build(folder, tmp_path / "kb")
    written: list[str] = []
    real = edition.write_parquet
    monkeypatch.setattr(
        edition,
        "write_parquet",
        lambda table, path, **options: written.append(path.name) or real(table, path, **options),
    )
    same = build(folder, tmp_path / "kb")
    assert same.report.build == first.report.build and written == []
    assert edition_files(same) == edition_files(first)
    change_last_value(folder / "data" / "t_health_a.csv")
    again = build(folder, tmp_path / "kb")
    fresh = build(folder, tmp_path / "fresh")
    assert edition_files(again) == edition_files(fresh)
    assert _linked(again)


def _t_edu_b_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: str) -> Path:
    """The build folder of a rebuild after T_EDU_B's file changed, every indicator in a
    file of its own (``rows``: the store's setting of the least rows a file holds), held
    equal to a fresh build of the same files."""
    from welfare_observatory.store import edition

    monkeypatch.setattr(edition, rows, 1)
    monkeypatch.setattr(edition, "_CUT_ONE_IN", 1)
    folder = make_observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    change_last_value(folder / "data" / "t_edu_b.csv")
    again = build(folder, tmp_path / "kb")
    fresh = build(folder, tmp_path / "fresh")
    assert edition_files(again) == edition_files(fresh)
    return again.knowledge_base / again.edition / again.report.build


def _held(files: list[Path]) -> dict[str, list[str]]:
    """The indicators each file holds, by its name."""
    import pyarrow.parquet as pq

    return {
        f.name: pq.read_table(f, columns=["indicator"]).column(0).unique().to_pylist()
        for f in files
    }


def test_a_rebuild_writes_only_the_file_of_the_changed_indicator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = _t_edu_b_changed(tmp_path, monkeypatch, "PART_ROWS") / "observations"
    files = sorted(built.glob("domain=education/part-*.parquet"))
    held = _held(files)
    assert sorted(held.values()) == [["T_EDU_A"], ["T_EDU_B"], ["T_EDU_C"]]
    linked = {f.name for f in files if f.stat().st_nlink > 1}
    assert linked == {name for name, ids in held.items() if ids != ["T_EDU_B"]}


def test_a_note_naming_files_outside_the_build_links_nothing(tmp_path: Path) -> None:
    from welfare_observatory.build.reuse import previous_partitions

    steps, kb = tmp_path / "kb" / ".steps", tmp_path / "kb"
    build = kb / "2025" / "b-1" / "observations"
    (build / "domain=health").mkdir(parents=True)
    (build / "domain=health" / "part-0.parquet").write_bytes(b"rows")
    (tmp_path / "outside.parquet").write_bytes(b"secret")
    folder = steps / "derived-abc"
    folder.mkdir(parents=True)
    noted = {
        "domain=health/part-0.parquet": {"key": "k-good", "sha256": "1" * 64},
        "../../../../outside.parquet": {"key": "k-up", "sha256": "2" * 64},
        "domain=health/../../../../outside.parquet": {"key": "k-dots", "sha256": "3" * 64},
        str(tmp_path / "outside.parquet"): {"key": "k-absolute", "sha256": "4" * 64},
        "domain=health/part-9.parquet": {"key": "k-missing", "sha256": "5" * 64},
        "domain=health/part-1.parquet": "not a mapping",
    }
    written = {"edition": "2025", "build": "b-1", "files": noted}
    (folder / "written.json").write_text(json.dumps(written), encoding="utf-8")
    found = previous_partitions(steps, kb, "2025")
    assert found == {"k-good": (build / "domain=health" / "part-0.parquet", "1" * 64)}
    # Nor does a note whose build is no build's name.
    (tmp_path / "x" / "observations" / "domain=health").mkdir(parents=True)
    (tmp_path / "x" / "observations" / "domain=health" / "part-0.parquet").write_bytes(b"x")
    for name in ("../../x", str(tmp_path / "x"), "..", 7):
        hostile = {**written, "build": name}
        (folder / "written.json").write_text(json.dumps(hostile), encoding="utf-8")
        assert previous_partitions(steps, kb, "2025") == {}
    # A note of an earlier version (one file per domain) is not read.
    (folder / "written.json").write_text(
        json.dumps({"edition": "2025", "build": "b-1", "partitions": {"health": "k"}}),
        encoding="utf-8",
    )
    assert previous_partitions(steps, kb, "2025") == {}


def test_a_rebuild_links_the_analysis_files_of_unchanged_indicators(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    analyses = _t_edu_b_changed(tmp_path, monkeypatch, "ANALYSIS_PART_ROWS") / "analyses"
    for name in ("trend", "progress", "benchmark"):
        files = sorted((analyses / name).glob("part-*.parquet"))
        held = _held(files)
        assert ["T_EDU_B"] in held.values(), name
        linked = {f.name for f in files if f.stat().st_nlink > 1}
        assert linked == {n for n, ids in held.items() if ids != ["T_EDU_B"]}, name
    # Analyses read across indicators are written again whole.
    [ranked] = (analyses / "early_warnings").iterdir()
    assert ranked.stat().st_nlink == 1
