"""Editions: written whole or not at all, read back by filters, SQL and diffs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from welfare_observatory.errors import EditionError, StoreError, UnknownIdError
from welfare_observatory.model.observation import observation_schema
from welfare_observatory.store import KnowledgeBase
from welfare_observatory.store.edition import Manifest, publish, read_pointer, write_build


def observations(values: dict[tuple[str, str], float], year: int = 2023) -> pa.Table:
    rows: list[dict[str, Any]] = []
    for (indicator, territory), value in values.items():
        rows.append(
            {
                "indicator": indicator,
                "territory": territory,
                "period": f"{year}-01-01",
                "period_start": date(year, 1, 1),
                "sex": "_T",
                "value": value,
                "unit": "person",
                "obs_status": "A",
                "conf_status": "F",
                "flags": None,
                "source": "istat",
                "lineage": "s1",
            }
        )
    table = pa.Table.from_pylist(rows, schema=observation_schema(("sex",)))
    return table.append_column("domain", pa.array(["demography"] * table.num_rows))


def manifest(edition: str, build: str) -> Manifest:
    return Manifest(
        observatory="biella",
        edition=edition,
        build=build,
        created=f"2026-01-01T00:00:0{len(build) % 10}",
        library_version="0.1.0",
        config_digest="c" * 64,
        reference_date="2024-01-01",
        territory="096",
    )


EMPTY_LINEAGE = pa.table({"step": pa.array([], pa.string())})
EMPTY_FINDINGS = pa.table({"code": pa.array([], pa.string())})


def build(root: Path, edition: str, build_id: str, values: dict[tuple[str, str], float]) -> None:
    write_build(
        root,
        manifest(edition, build_id),
        observations=observations(values),
        lineage=EMPTY_LINEAGE,
        findings=EMPTY_FINDINGS,
        analyses={"benchmark": pa.table({"indicator": ["POP_TOTAL"], "rank": [1]})},
    )


BIELLA = {("POP_TOTAL", "096004"): 42619.0, ("POP_TOTAL", "096"): 168823.0}


def test_a_build_reads_back_by_filters(tmp_path: Path) -> None:
    build(tmp_path, "2025", "b-1", BIELLA)
    kb = KnowledgeBase.open(tmp_path)
    [info] = kb.editions()
    assert (info.name, info.status, info.observations) == ("2025", "draft", 2)
    frame = kb.observations(indicator="POP_TOTAL", territory="096004")
    assert frame["value"].tolist() == [42619.0]
    assert kb.to_arrow(territory=["096", "096004"]).num_rows == 2
    assert kb.to_arrow(sex="_T").num_rows == 2
    with pytest.raises(UnknownIdError, match="no column 'age'"):
        kb.to_arrow(age="Y65T74")


def test_sql_sees_observations_findings_lineage_and_analyses(tmp_path: Path) -> None:
    build(tmp_path, "2025", "b-1", BIELLA)
    kb = KnowledgeBase.open(tmp_path)
    total = kb.query("SELECT sum(value) AS s FROM observations WHERE territory = '096004'")
    assert total["s"].tolist() == [42619.0]
    assert kb.query("SELECT rank FROM analysis_benchmark")["rank"].tolist() == [1]
    with pytest.raises(StoreError, match="query failed") as info:
        kb.query("SELECT * FROM nowhere")
    assert "observations" in (info.value.hint or "")


def test_diff_lists_new_removed_and_revised_values(tmp_path: Path) -> None:
    build(tmp_path, "2024", "b-1", {**BIELLA, ("POP_TOTAL", "096005"): 100.0})
    build(
        tmp_path,
        "2025",
        "b-22",
        {
            ("POP_TOTAL", "096004"): 42600.0,
            ("POP_TOTAL", "096"): 168823.0,
            ("BIRTHS", "096"): 900.0,
        },
    )
    diff = KnowledgeBase.open(tmp_path).diff("2024", "2025")
    changes = {(row.territory, row.change) for row in diff.itertuples()}
    assert changes == {("096", "new"), ("096005", "removed"), ("096004", "revised")}
    revised = diff[diff["change"] == "revised"].iloc[0]
    assert (revised["value_a"], revised["value_b"]) == (42619.0, 42600.0)
    assert len(KnowledgeBase.open(tmp_path).diff("2024", "2025", tolerance=50)) == 2


def test_a_published_edition_is_frozen(tmp_path: Path) -> None:
    build(tmp_path, "2025", "b-1", BIELLA)
    pointer = publish(tmp_path, "2025")
    assert pointer.status == "published" and pointer.published
    with pytest.raises(EditionError, match="published and frozen") as info:
        build(tmp_path, "2025", "b-2", BIELLA)
    assert "new 'edition'" in (info.value.hint or "")
    assert KnowledgeBase.open(tmp_path).edition("2025").build == "b-1"


def test_rebuilding_a_draft_keeps_a_few_earlier_builds(tmp_path: Path) -> None:
    for n in range(5):
        build(tmp_path, "2025", f"b-{n}", BIELLA)
    pointer = read_pointer(tmp_path / "2025")
    assert pointer is not None
    assert pointer.build == "b-4" and pointer.history == ("b-3", "b-2")
    assert sorted(p.name for p in (tmp_path / "2025").iterdir() if p.is_dir()) == [
        "b-2",
        "b-3",
        "b-4",
    ]


def test_a_failed_write_leaves_the_previous_build_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(tmp_path, "2025", "b-1", BIELLA)
    from welfare_observatory.store import edition

    def full_disk(table: pa.Table, path: Path, **options: bool) -> dict[str, Any]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(edition, "write_parquet", full_disk)
    with pytest.raises(StoreError, match="No space left on device") as info:
        build(tmp_path, "2025", "b-2", {("POP_TOTAL", "096004"): 1.0})
    assert "previous build is untouched" in (info.value.hint or "")
    kb = KnowledgeBase.open(tmp_path)
    assert kb.edition("2025").build == "b-1"
    assert kb.observations(territory="096004")["value"].tolist() == [42619.0]
    assert not [p for p in (tmp_path / "2025").iterdir() if p.name.startswith(".building-")]


def test_unknown_edition_and_missing_knowledge_base(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no knowledge base"):
        KnowledgeBase.open(tmp_path / "absent")
    with pytest.raises(EditionError, match="has no edition yet"):
        KnowledgeBase.open(tmp_path).edition()
    build(tmp_path, "2025", "b-1", BIELLA)
    with pytest.raises(UnknownIdError, match="no edition '2052'") as info:
        KnowledgeBase.open(tmp_path).edition("2052")
    assert "2025" in (info.value.hint or "")


def test_a_newer_format_is_refused_with_a_hint(tmp_path: Path) -> None:
    build(tmp_path, "2025", "b-1", BIELLA)
    pointer_file = tmp_path / "2025" / "EDITION.json"
    data = json.loads(pointer_file.read_text())
    data["format_version"] = 99
    pointer_file.write_text(json.dumps(data))
    with pytest.raises(EditionError, match="format version 99") as info:
        KnowledgeBase.open(tmp_path).editions()
    assert "upgrade" in (info.value.hint or "")


KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from test_store_editions import build
    values = {{("POP_TOTAL", f"{{i:06d}}"): float(i) for i in range(200_000)}}
    for n in range(1000):
        build(Path({root!r}), "2025", f"b-big-{{n}}", values)
    """
)


@pytest.mark.parametrize("delay", [0.3, 0.8, 1.5, 2.5])
def test_a_killed_build_never_damages_the_previous_edition(tmp_path: Path, delay: float) -> None:
    build(tmp_path, "2025", "b-1", BIELLA)
    script = KILLED_WRITER.format(tests=str(Path(__file__).parent), root=str(tmp_path))
    process = subprocess.Popen([sys.executable, "-c", script])
    time.sleep(delay)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    kb = KnowledgeBase.open(tmp_path)
    current = kb.edition("2025")
    frame = kb.observations(edition="2025")
    if current.build == "b-1":
        assert sorted(frame["value"].tolist()) == [42619.0, 168823.0]
    else:
        assert current.build.startswith("b-big-")
        assert len(frame) == 200_000


def test_kb_commands(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from welfare_observatory.cli.main import cli

    build(tmp_path, "2024", "b-1", BIELLA)
    build(tmp_path, "2025", "b-22", {("POP_TOTAL", "096004"): 42600.0})
    runner = CliRunner()
    kb = ["--kb", str(tmp_path)]
    listing = runner.invoke(cli, ["kb", "list", *kb, "--json"])
    assert listing.exit_code == 0, listing.output
    assert [e["name"] for e in json.loads(listing.output)] == ["2024", "2025"]
    shown = runner.invoke(cli, ["kb", "show", "2024", *kb])
    assert shown.exit_code == 0 and "096" in shown.output
    queried = runner.invoke(
        cli, ["kb", "query", "SELECT count(*) AS n FROM observations", *kb, "--json"]
    )
    assert json.loads(queried.output) == [{"n": 1}]
    diffed = runner.invoke(cli, ["kb", "diff", "2024", "2025", *kb])
    assert "0 new, 1 removed, 1 revised between 2024 and 2025" in diffed.output
    published = runner.invoke(cli, ["kb", "publish", "2024", *kb])
    assert published.exit_code == 0 and "edition 2024 published" in published.output


@pytest.mark.parametrize("links", [True, False])
def test_an_unchanged_partition_is_taken_from_the_earlier_build_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, links: bool
) -> None:

    two_domains = observations(BIELLA)
    health = observations({("LIFE_EXP", "096"): 83.1}).drop_columns(["domain"])
    health = health.append_column("domain", pa.array(["health"]))
    table = pa.concat_tables([two_domains, health])

    def write(root: Path, build_id: str, unchanged: dict[str, Path] | None = None) -> Path:
        from .test_store_domain_split import ByDomain

        write_build(
            root,
            manifest("2025", build_id),
            observations=table,
            lineage=EMPTY_LINEAGE,
            findings=EMPTY_FINDINGS,
            links=None if unchanged is None else ByDomain(unchanged),
        )
        return root / "2025" / build_id

    fresh = write(tmp_path / "fresh", "b-1")
    earlier = write(tmp_path / "kb", "b-0")
    if not links:  # a file system without hard links: the file is copied
        monkeypatch.setattr(os, "link", lambda *_: (_ for _ in ()).throw(OSError(1, "no")))
    part = Path("observations/domain=demography/part-0.parquet")
    rebuilt = write(tmp_path / "kb", "b-1", {"demography": earlier / part})
    assert (rebuilt / part).stat().st_nlink == (2 if links else 1)
    for name in (part, Path("observations/domain=health/part-0.parquet")):
        assert (rebuilt / name).read_bytes() == (fresh / name).read_bytes()
    manifests = [json.loads((b / "manifest.json").read_text()) for b in (rebuilt, fresh)]
    assert manifests[0]["tables"] == manifests[1]["tables"]
    # The earlier build may be pruned: the linked file stays readable in the new one.
    for n in range(2, 4):
        build(tmp_path / "kb", "2025", f"b-{n}", BIELLA)
    assert not earlier.exists() and rebuilt.exists()
    assert (rebuilt / part).read_bytes() == (fresh / part).read_bytes()
