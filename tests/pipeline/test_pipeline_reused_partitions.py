"""A rebuild takes an unchanged domain's partition file from the earlier build only when the
file still has the bytes it was written with; a damaged or missing one is written anew, and
the edition is byte for byte the fresh build's either way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
        assert record["sha256"]
        written.unlink()
        meta = written.with_name("meta.json")
        meta.write_text(json.dumps(json.loads(meta.read_text()) | {"written": record}))
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
