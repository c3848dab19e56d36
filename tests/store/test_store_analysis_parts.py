"""An edition stores each analysis as a folder of part files of whole indicators (format 2):
read in order they are the table the build made, through ``KnowledgeBase.analysis`` and the
SQL views alike; an edition of format 1 (one file per analysis) is still read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.errors import EditionError, UnknownIdError
from welfare_observatory.store import KnowledgeBase, edition
from welfare_observatory.store.edition import (
    AnalysisPart,
    analysis_parts,
    combined_digest,
    file_sha256,
    write_build,
)

from .test_store_editions import BIELLA, EMPTY_FINDINGS, EMPTY_LINEAGE, manifest, observations


def trend(indicators: int, rows_each: int = 3) -> pa.Table:
    """A trend-like table sorted by indicator, ``rows_each`` territories each."""
    ids = [f"IND_{i:03d}" for i in range(indicators) for _ in range(rows_each)]
    territories = [f"0960{t:02d}" for _ in range(indicators) for t in range(rows_each)]
    return pa.table(
        {
            "indicator": ids,
            "territory": territories,
            "cagr": [float(i) / 7 for i in range(len(ids))],
        }
    )


def write(root: Path, build_id: str, analyses: dict[str, pa.Table], links: object = None) -> Path:
    write_build(
        root,
        manifest("2025", build_id),
        observations=observations(BIELLA),
        lineage=EMPTY_LINEAGE,
        findings=EMPTY_FINDINGS,
        analyses=analyses,
        analysis_links=links,  # type: ignore[arg-type]
    )
    return root / "2025" / build_id


def test_an_analysis_is_read_back_in_its_order_from_many_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every indicator its own file: 12 parts, so part-10 must follow part-9, not part-1.
    monkeypatch.setattr(edition, "ANALYSIS_PART_ROWS", 1)
    monkeypatch.setattr(edition, "_CUT_ONE_IN", 1)
    table = trend(12)
    build = write(tmp_path, "b-1", {"trend": table})
    files = sorted((build / "analyses" / "trend").iterdir())
    assert len(files) == 12
    record = json.loads((build / "manifest.json").read_text())["tables"]["analyses/trend"]
    assert record["files"] == [f"part-{n}.parquet" for n in range(12)]
    assert record["rows"] == 36
    assert record["sha256"] == combined_digest(
        [file_sha256(build / "analyses" / "trend" / f) for f in record["files"]]
    )
    kb = KnowledgeBase.open(tmp_path)
    assert kb.analysis("trend").to_dict("list") == table.to_pydict()
    sql = kb.query("SELECT indicator, territory, cagr FROM analysis_trend")
    assert sql["indicator"].tolist() == table.column("indicator").to_pylist()
    assert sql["cagr"].tolist() == table.column("cagr").to_pylist()
    # Each file holds whole indicators.
    held = [pq.read_table(build / "analyses" / "trend" / f)["indicator"] for f in record["files"]]
    assert [c.unique().to_pylist() for c in held] == [[f"IND_{i:03d}"] for i in range(12)]


def test_an_analysis_not_sorted_by_indicator_is_one_file(tmp_path: Path) -> None:
    ranked = pa.table({"indicator": ["A", "B", "A"], "rank": [1, 2, 3]})
    build = write(tmp_path, "b-1", {"early_warnings": ranked, "empty": ranked.slice(0, 0)})
    assert [p.name for p in (build / "analyses" / "early_warnings").iterdir()] == ["part-0.parquet"]
    kb = KnowledgeBase.open(tmp_path)
    assert kb.analysis("early_warnings")["rank"].tolist() == [1, 2, 3]
    assert kb.analysis("empty").columns.tolist() == ["indicator", "rank"]
    with pytest.raises(UnknownIdError, match="no analysis 'early_warning'") as info:
        kb.analysis("early_warning")
    assert info.value.suggestions == ["early_warnings"]


def test_an_edition_of_format_1_is_still_read(tmp_path: Path) -> None:
    """One file per analysis under ``analyses/``, as builds before format 2 wrote them."""
    table = trend(3)
    build = write(tmp_path, "b-1", {"trend": table})
    folder = build / "analyses"
    (folder / "trend" / "part-0.parquet").rename(folder / "trend.parquet")
    shutil.rmtree(folder / "trend")
    record = json.loads((build / "manifest.json").read_text())
    record["format_version"] = 1
    record["tables"]["analyses/trend"] = {
        "rows": 9,
        "sha256": file_sha256(folder / "trend.parquet"),
        "files": ["trend.parquet"],
    }
    (build / "manifest.json").write_text(json.dumps(record))
    kb = KnowledgeBase.open(tmp_path)
    assert kb.analysis("trend")["indicator"].tolist() == table["indicator"].to_pylist()
    assert kb.query("SELECT count(*) AS n FROM analysis_trend")["n"].tolist() == [9]
    # A build of the same id in the old layout is written again in this one, not kept.
    write(tmp_path, "b-1", {"trend": table})
    assert (folder / "trend" / "part-0.parquet").is_file()
    assert json.loads((build / "manifest.json").read_text())["format_version"] == 2


@pytest.mark.parametrize("name", ["../../../outside.parquet", "/etc/passwd", "..", "a/b"])
def test_a_manifest_naming_an_analysis_file_outside_its_folder_is_refused(
    tmp_path: Path, name: str
) -> None:
    build = write(tmp_path, "b-1", {"trend": trend(2)})
    record = json.loads((build / "manifest.json").read_text())
    record["tables"]["analyses/trend"]["files"] = [name]
    (build / "manifest.json").write_text(json.dumps(record))
    kb = KnowledgeBase.open(tmp_path)
    with pytest.raises(EditionError, match="outside its build"):
        kb.analysis("trend")
    with pytest.raises(EditionError, match="outside its build"):
        kb.query("SELECT 1")


class Links:
    """An ``AnalysisLinks`` that offers one earlier file for every part, with a digest."""

    def __init__(self, earlier: Path, sha256: str) -> None:
        self.earlier, self.sha256 = earlier, sha256
        self.written: list[tuple[str, str]] = []

    def earlier_analysis(self, part: AnalysisPart) -> tuple[Path, str] | None:
        return self.earlier, self.sha256

    def written_analysis(self, part: AnalysisPart, sha256: str) -> None:
        self.written.append((part.file, sha256))


@pytest.mark.parametrize("harm", ["none", "damaged", "missing"])
def test_an_earlier_analysis_file_is_linked_only_when_it_has_its_digest(
    tmp_path: Path, harm: str
) -> None:
    table = trend(2)
    first = write(tmp_path / "first", "b-1", {"trend": table})
    earlier = first / "analyses" / "trend" / "part-0.parquet"
    links = Links(earlier, file_sha256(earlier))
    if harm == "damaged":
        data = bytearray(earlier.read_bytes())
        data[len(data) // 2] ^= 0xFF
        earlier.write_bytes(bytes(data))
    elif harm == "missing":
        earlier.unlink()
    again = write(tmp_path / "again", "b-1", {"trend": table}, links)
    part = again / "analyses" / "trend" / "part-0.parquet"
    assert (part.stat().st_nlink > 1) == (harm == "none")
    assert links.written == [("analyses/trend/part-0.parquet", file_sha256(part))]
    fresh = write(tmp_path / "fresh", "b-1", {"trend": table})
    assert part.read_bytes() == (fresh / "analyses" / "trend" / "part-0.parquet").read_bytes()


def _consecutive(ids: list[str]) -> bool:
    """Whether each id's rows follow one another."""
    seen: set[str] = set()
    for n, value in enumerate(ids):
        if n and ids[n - 1] == value:
            continue
        if value in seen:
            return False
        seen.add(value)
    return True


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=40), max_size=30),
    least=st.integers(min_value=1, max_value=100),
    shuffled=st.booleans(),
)
def test_the_parts_of_an_analysis_are_its_rows_in_order_in_whole_indicators(
    sizes: list[int], least: int, shuffled: bool
) -> None:
    ids = [f"I{n:02d}" for n, size in enumerate(sizes) for _ in range(size)]
    if shuffled and len(set(ids)) > 1:
        ids = ids[1:] + ids[:1]  # the first indicator's rows are no longer consecutive
    table = pa.table({"indicator": ids, "row": list(range(len(ids)))})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(edition, "ANALYSIS_PART_ROWS", least)
        parts = analysis_parts("trend", table)
    # One after the other, the parts cover the table exactly.
    assert [p.start for p in parts] == [sum(p.rows for p in parts[:n]) for n in range(len(parts))]
    assert sum(p.rows for p in parts) == table.num_rows
    names = [f"analyses/trend/part-{n}.parquet" for n in range(len(parts))]
    assert [p.file for p in parts] == names
    if not table.num_rows or not _consecutive(ids):
        assert [(p.indicators, p.start, p.rows) for p in parts] == [((), 0, table.num_rows)]
        return
    for part in parts:
        held = table.slice(part.start, part.rows)["indicator"].unique().to_pylist()
        assert held == list(part.indicators)  # whole indicators, in the table's order
    assert [i for p in parts for i in p.indicators] == list(dict.fromkeys(ids))
    # Every part but the last holds at least the least number of rows.
    assert all(p.rows >= least for p in parts[:-1])
